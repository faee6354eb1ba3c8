"""What the workers share: frames resized to an encoder's input."""

from __future__ import annotations

import numpy as np
from PIL import Image


def prepare(image: np.ndarray, size: int | None = None, short_side: int | None = None) -> np.ndarray:
    """One frame as an encoder takes it: resized whole to ``size`` x ``size`` (no crop: copies live at
    borders too), or so that its shorter side is ``short_side``, or as it is."""
    height, width = image.shape[:2]
    if size:
        target = (int(size), int(size))
    elif short_side:
        scale = int(short_side) / min(height, width)
        target = (max(1, round(width * scale)), max(1, round(height * scale)))
    else:
        return image
    if target == (width, height):
        return image
    return np.asarray(Image.fromarray(image).resize(target, Image.BILINEAR))
