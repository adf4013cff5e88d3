"""Evaluation stage: residue-level metrics, pooled and per complex."""
