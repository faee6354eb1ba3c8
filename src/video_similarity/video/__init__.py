"""Video decoding, encoding and VSC-style edits (PyAV + numpy/Pillow)."""
