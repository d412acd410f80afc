"""Data stage: sentence tables, PolNeAR offsets, context construction and splits."""
