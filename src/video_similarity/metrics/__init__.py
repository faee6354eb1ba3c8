"""Evaluation metrics, each computed exactly as its published reference so numbers compare."""
