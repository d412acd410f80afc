"""Training stage: fine-tuning with the Hugging Face Trainer, provenance and the model card."""
