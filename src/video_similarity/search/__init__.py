"""Descriptor search helpers: score normalisation against a noise bank (VSC-2022 protocol)."""
