"""Prediction stage: binding-site predictions on new structures, with outputs for people and viewers."""
