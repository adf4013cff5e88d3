"""Model stage: baselines, I-GEP graph networks, O-GEP surface networks."""
