"""Training augmentations and positive pairs for frame-descriptor learning.

The VSC-2022 rank-1 descriptor was trained contrastively: two augmented views of
one frame (or a ground-truth copy and its source frame) must embed close
together. The views are made with the same VSC-style edits that generated the
queries (``video_similarity.video.edits``), plus what only training needs: a
random resized crop, JPEG re-compression, and overlays or picture-in-picture
that use *other frames* of the batch, so that the model learns to ignore
foreign content that really is video footage.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from PIL import Image

from video_similarity.video.edits import Blur, Crop, Edit, Noise, apply_edits, sample_edit

Frame = np.ndarray
FrameKey = tuple[str, int]  # (video_id, frame index in its archive)
Pair = tuple[FrameKey, FrameKey]

STRENGTHS = ("mild", "hard")


# --------------------------------------------------------------------------- edits


@dataclass(frozen=True)
class Resize:
    """Resize to a square ``size``: the model sees fixed-size inputs."""

    size: int
    name: str = "resize"

    def __call__(self, image: Frame, index: int) -> Frame:
        if image.shape[:2] == (self.size, self.size):
            return image
        pil = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB")
        return np.asarray(pil.resize((self.size, self.size), Image.BILINEAR), dtype=np.uint8)


@dataclass(frozen=True)
class Jpeg:
    """JPEG re-compression: copies are re-encoded, often at low quality."""

    quality: int
    name: str = "jpeg"

    def __call__(self, image: Frame, index: int) -> Frame:
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB").save(buffer, "JPEG", quality=self.quality)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            return np.asarray(decoded.convert("RGB"), dtype=np.uint8)


def random_crop_box(
    height: int,
    width: int,
    rng: np.random.Generator,
    scale: tuple[float, float],
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[float, float, float, float]:
    """A crop box (fractions l, t, r, b) covering ``scale`` of the area at aspect ``ratio``.

    Same recipe as torchvision's RandomResizedCrop, except that when no box of
    the drawn shape fits (elongated frames, e.g. 37x91) the last draw is clipped
    to the frame, so that the crop still moves along the long side.
    """
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = max(1, round(math.sqrt(target * aspect)))
        h = max(1, round(math.sqrt(target / aspect)))
        if w <= width and h <= height:
            break
    w, h = min(w, width), min(h, height)
    x0 = int(rng.integers(0, width - w + 1))
    y0 = int(rng.integers(0, height - h + 1))
    return (x0 / width, y0 / height, (x0 + w) / width, (y0 + h) / height)


def _background_from(other: Frame):
    """A pip background function that shows ``other`` stretched to the frame size."""

    def background(index: int, size: tuple[int, int]) -> Frame:
        pil = Image.fromarray(np.ascontiguousarray(other, dtype=np.uint8), "RGB")
        return np.asarray(pil.resize(size, Image.BILINEAR), dtype=np.uint8)

    return background


def _as_rgb(frame: Frame) -> Frame:
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim != 3 or frame.shape[2] not in (3, 4) or frame.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 frame (H, W, 3), got {frame.dtype} {frame.shape}")
    return np.ascontiguousarray(frame[:, :, :3])


# --------------------------------------------------------------------------- augmenter

#: Probability of each optional step. Mild views stay close to the original
#: (used for the anchor view); hard views imitate the strongest VSC queries.
MILD_PROBS = {"flip": 0.5, "color": 0.5, "brightness": 0.8, "blur": 0.2, "noise": 0.2, "jpeg": 0.5}
HARD_PROBS = {
    "flip": 0.5, "crop": 0.3, "rotate": 0.25, "pad": 0.25, "pip": 0.2, "overlay": 0.3,
    "text": 0.25, "sticker": 0.25, "color": 0.5, "brightness": 0.7, "grayscale": 0.15,
    "blur": 0.25, "noise": 0.2, "downscale": 0.25, "jpeg": 0.7,
}
#: Area kept by the initial random resized crop.
CROP_SCALE = {"mild": (0.6, 1.0), "hard": (0.3, 1.0)}


class FrameAugmenter:
    """Random VSC-style edit chains for contrastive training.

    Each call draws a new chain from the augmenter's own generator, so a seeded
    augmenter yields the same sequence of views. Give each data-loader worker
    its own seed (``reseed``), or all workers would draw identical views.
    """

    def __init__(self, size: int, strength: str = "mild", seed: int | None = None):
        if strength not in STRENGTHS:
            raise ValueError(f"strength must be one of {STRENGTHS}, got {strength!r}")
        if size < 8:
            raise ValueError(f"size must be at least 8 pixels, got {size}")
        self.size = int(size)
        self.strength = strength
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int | None) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, frame: Frame, others: Sequence[Frame] | None = None) -> Frame:
        """One augmented view of ``frame``, exactly (size, size, 3) uint8.

        ``others`` (other frames, e.g. from the same batch) feed the hard
        ``overlay`` and ``pip`` edits; without them those edits are skipped.
        """
        frame = _as_rgb(frame)
        edits = self.sample_chain(frame.shape[:2], [_as_rgb(o) for o in others or ()])
        out = apply_edits(frame, edits, 0)
        assert out.shape == (self.size, self.size, 3) and out.dtype == np.uint8
        return out

    def sample_chain(self, shape: tuple[int, int], others: Sequence[Frame] = ()) -> list[Edit]:
        """The edits of one view of a frame of ``shape`` (H, W), in application order."""
        rng = self.rng
        box = random_crop_box(shape[0], shape[1], rng, CROP_SCALE[self.strength])
        chain: list = [Crop(box), Resize(self.size)]
        chain += self._mild(rng) if self.strength == "mild" else self._hard(rng, others)
        chain.append(Resize(self.size))  # pads, crops and downscales change the size
        chain.append(self._jpeg(rng))
        return [edit for edit in chain if edit is not None]

    def _mild(self, rng: np.random.Generator) -> list:
        p = MILD_PROBS
        chain = [
            sample_edit("flip", rng) if rng.random() < p["flip"] else None,
            sample_edit("color", rng) if rng.random() < p["color"] else None,
            sample_edit("brightness", rng) if rng.random() < p["brightness"] else None,
            Blur(float(rng.uniform(0.3, 1.2))) if rng.random() < p["blur"] else None,
            Noise(float(rng.uniform(2, 8)), int(rng.integers(2**31))) if rng.random() < p["noise"] else None,
        ]
        return chain

    def _hard(self, rng: np.random.Generator, others: Sequence[Frame]) -> list:
        p = HARD_PROBS
        chain = []
        for name in ("flip", "crop", "rotate", "pad", "pip", "overlay", "text", "sticker",
                     "color", "brightness", "grayscale", "blur", "noise", "downscale"):
            if rng.random() >= p[name]:
                continue
            if name in ("pip", "overlay"):
                if not others:
                    continue
                other = others[int(rng.integers(len(others)))]
                chain.append(sample_edit(name, rng, overlay_image=other, background=_background_from(other)))
            else:
                chain.append(sample_edit(name, rng))
        return chain

    def _jpeg(self, rng: np.random.Generator) -> Jpeg | None:
        if rng.random() >= (MILD_PROBS if self.strength == "mild" else HARD_PROBS)["jpeg"]:
            return None
        heavy = self.strength == "hard" and rng.random() < 0.5
        return Jpeg(int(rng.integers(10, 40) if heavy else rng.integers(50, 96)))


def to_tensor(images: Sequence[Frame]) -> torch.Tensor:
    """Stack equal-size RGB uint8 frames into a (B, 3, H, W) float tensor in [0, 1]."""
    if len(images) == 0:
        raise ValueError("to_tensor needs at least one image")
    batch = np.stack([_as_rgb(image) for image in images])
    return torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0).contiguous()


# --------------------------------------------------------------------------- positive pairs


def aligned_frames(
    query_start: float, query_end: float, ref_start: float, ref_end: float, query_length: int, ref_length: int
) -> list[tuple[int, int]]:
    """(query frame, reference frame) index pairs of one copied segment, at 1 fps.

    Query frame k covers [k, k+1); it is in the segment when its midpoint is.
    The reference frame follows the linear time map of the segment, so a speed
    change (query span != reference span) is followed.
    """
    if query_end <= query_start or query_length <= 0 or ref_length <= 0:
        return []
    first = max(0, math.ceil(query_start - 0.5))
    last = min(query_length, math.ceil(query_end - 0.5))  # exclusive
    rate = (ref_end - ref_start) / (query_end - query_start)
    pairs = []
    for k in range(first, last):
        ref = math.floor(ref_start + (k + 0.5 - query_start) * rate)
        pairs.append((k, min(max(ref, 0), ref_length - 1)))
    return pairs


def ground_truth_pairs(
    matching_gt: pd.DataFrame, query_lengths: Mapping[str, int], ref_lengths: Mapping[str, int]
) -> list[Pair]:
    """Aligned (query frame, reference frame) positives from the VSC matching ground truth.

    ``*_lengths`` give each archived video's frame count; rows whose query or
    reference has no archive are skipped (nothing to train on). Duplicates from
    overlapping rows are kept once, in order.
    """
    pairs: dict[Pair, None] = {}
    for row in matching_gt.itertuples(index=False):
        query_id, ref_id = str(row.query_id), str(row.ref_id)
        if query_id not in query_lengths or ref_id not in ref_lengths:
            continue
        aligned = aligned_frames(
            float(row.query_start), float(row.query_end), float(row.ref_start), float(row.ref_end),
            int(query_lengths[query_id]), int(ref_lengths[ref_id]),
        )
        for q, r in aligned:
            pairs[((query_id, q), (ref_id, r))] = None
    return list(pairs)


def self_pairs(lengths: Mapping[str, int]) -> list[Pair]:
    """(frame, same frame) positives: two different augmentations make the views differ."""
    return [((video_id, k), (video_id, k)) for video_id, n in lengths.items() for k in range(int(n))]


class PairSampler:
    """Shuffled batches of positive pairs in which no video appears twice.

    Contrastive losses use the other pairs of a batch as negatives; two frames
    of one video are often near-duplicates, so they would be false negatives.
    """

    def __init__(self, pairs: Sequence[Pair], seed: int | None = None):
        self.pairs = list(pairs)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.pairs)

    def batches(self, batch_size: int, drop_last: bool = False) -> Iterator[list[Pair]]:
        """One epoch: every pair once. Late batches may be short when few videos remain."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        queue = [self.pairs[i] for i in self.rng.permutation(len(self.pairs))]
        while queue:
            batch, used, skipped, i = [], set(), [], 0
            while i < len(queue) and len(batch) < batch_size:
                pair = queue[i]
                i += 1
                videos = {pair[0][0], pair[1][0]}
                if videos & used:
                    skipped.append(pair)
                else:
                    batch.append(pair)
                    used |= videos
            queue = skipped + queue[i:]
            if not drop_last or len(batch) == batch_size:
                yield batch
