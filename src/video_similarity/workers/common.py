"""What every worker shares: reading the job spec, image preparation, atomic array writes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from video_similarity.atomic import atomic_write


def read_spec() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True, help="job spec (JSON) written by video_similarity.launch")
    return json.loads(Path(parser.parse_args().spec).read_text())


def prepare(image: np.ndarray, size: int) -> np.ndarray:
    """The model input for one frame: the whole frame resized to size x size (no crop: copies live at borders too)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def save_array(path: Path, array: np.ndarray) -> None:
    """np.save, atomically: a file that exists is complete."""
    atomic_write(path, lambda handle: np.save(handle, array))
