"""Evaluation stage: metrics (offline), baselines and the report folder."""
