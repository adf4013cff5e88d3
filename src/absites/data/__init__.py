"""Data stage: complex index, content-addressed record cache, batch preparation, PDB download."""
