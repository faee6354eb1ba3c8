"""The embedded demo corpus: synthetic videos in the official VSC-2022 layout."""
