"""Localisers: a candidate pair's similarity matrix -> copied segments (boxes with scores)."""
