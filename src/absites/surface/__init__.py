"""Surface stage (O-GEP): molecular surface meshes, vertex maps and labels, spectral descriptors."""
