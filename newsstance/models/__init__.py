"""Model stage: the base transformer and the saved newsstance model folder."""
