"""Self-supervised training of the frame descriptor model."""
