"""Graph stage (I-GEP): residue graphs with features, edges and labels."""

from absites.graph.build import FEATURE_NAMES, ResidueGraph, build_residue_graph, graph_from_complex

__all__ = ["FEATURE_NAMES", "ResidueGraph", "build_residue_graph", "graph_from_complex"]
