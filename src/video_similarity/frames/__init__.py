"""Per-video frame archives: decoded, resized frames stored as JPEG in a zip."""
