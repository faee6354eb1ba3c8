"""Where the scenes of a query video sit in its frames: static borders cropped, stacked footage split.

Why: a query often shows the copied video inside something else: a static
frame around it (letterbox or pillarbox bars, a border with a caption or a
logo), or next to other footage (side by side, top and bottom, a grid). A
descriptor of the whole frame then mostly describes the packaging, and a
descriptor of each part (the content box, each stacked scene) is what matches
the reference. This module finds those boxes from the frames alone; the
pipeline embeds each part besides the whole frame.

What the VSC 2022 rank-1 solution did (its ``image_preprocess.py``): for each
query it took the per-pixel temporal variance of the frames and the mean
OpenCV Canny edge map (thresholds 50 and 400), cut a static strip off each side
when the strip is static and edge-free up to a row or column of strong
edges, then split the rest at low-variance bands or strong edge lines.

What differs here: edges come from scikit-image's Canny, which smooths with a
Gaussian before the Sobel gradient (see ``LayoutThresholds.canny_sigma``)
and takes the L2 norm of the gradient (OpenCV's default is L1). Black bars,
which show an edge only where the content starts, are also cut with no
boundary line (the "flat strip" rule in ``crop_static_borders``). The static
bands between parts are trimmed off both parts. Every threshold is a field of
``LayoutThresholds``, and the result is a ``Layout`` of pixel boxes, not
cropped images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from skimage.feature import canny

from video_similarity.frames.params import LayoutThresholds

# ITU-R BT.601 luma, the weights of OpenCV's RGB -> gray conversion.
_GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class Box:
    """A rectangle of a frame in pixels; ``bottom`` and ``right`` are exclusive."""

    top: int
    left: int
    bottom: int
    right: int

    def __post_init__(self):
        if not (0 <= self.top <= self.bottom and 0 <= self.left <= self.right):
            raise ValueError(f"invalid box {self}")

    @classmethod
    def full(cls, height: int, width: int) -> "Box":
        return cls(0, 0, int(height), int(width))

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The box's view of an HxW(xC) image."""
        return image[self.top : self.bottom, self.left : self.right]


@dataclass(frozen=True)
class Layout:
    """The full ``frame``, its ``content`` once static borders are cropped, and the scene ``parts`` of it."""

    frame: Box
    content: Box
    parts: tuple[Box, ...]

    @property
    def is_whole(self) -> bool:
        """No border cropped and no split: the frame is one scene."""
        return self.content == self.frame and self.parts == (self.frame,)


def detect_layout(frames: Sequence[np.ndarray] | np.ndarray, params: LayoutThresholds | None = None) -> Layout:
    """The layout of one query video from its frames (HxWx3 uint8 RGB, all the same size).

    The whole frame (no crop, no split) with fewer than ``min_frames`` frames,
    and for a still video (mean variance below ``border_var``): every rule
    tells content from packaging by motion, and with nothing moving a still
    image's own edges would pass for boundary lines.
    """
    params = params or LayoutThresholds()
    frames = _checked(frames)
    frame = Box.full(*frames[0].shape[:2])
    whole = Layout(frame, frame, (frame,))
    if len(frames) < params.min_frames:
        return whole
    variance = temporal_variance(frames)
    if variance.mean() < params.border_var:
        return whole
    edges = edge_density(frames, params)
    content = crop_static_borders(variance, edges, params)
    return Layout(frame, content, tuple(split_parts(variance, edges, content, params)))


def temporal_variance(frames: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Per-pixel variance over the frames of each of R, G, B, summed over the channels (HxW float64)."""
    frames = _checked(frames)
    total = np.zeros(frames[0].shape, np.float64)
    for frame in frames:
        total += frame
    mean = total / len(frames)
    squares = np.zeros_like(mean)
    for frame in frames:  # two passes: exact zeros for static pixels, no cancellation
        deviation = frame - mean
        squares += deviation * deviation
    return (squares / len(frames)).sum(axis=2)


def edge_density(frames: Sequence[np.ndarray] | np.ndarray, params: LayoutThresholds | None = None) -> np.ndarray:
    """Fraction of (at most ``max_edge_frames`` uniformly sampled) frames in which each pixel is a Canny edge."""
    params = params or LayoutThresholds()
    frames = _checked(frames)
    count = min(len(frames), max(1, params.max_edge_frames))
    sampled = np.unique(np.linspace(0, len(frames) - 1, count).round().astype(int))
    total = np.zeros(frames[0].shape[:2], np.float64)
    for index in sampled:
        # A float image: skimage leaves its range and the thresholds as they are
        # (a uint8 one would be rescaled to [0, 1] and the thresholds divided by 255).
        gray = np.asarray(frames[index], np.float64) @ _GRAY_WEIGHTS
        total += canny(
            gray, sigma=params.canny_sigma, low_threshold=params.canny_low,
            high_threshold=params.canny_high, use_quantiles=False,
        )
    return total / len(sampled)


def crop_static_borders(variance: np.ndarray, edges: np.ndarray, params: LayoutThresholds | None = None) -> Box:
    """The content box: a static strip cut off each side (top, bottom, then left, right within those rows).

    Lines are rows for the top and bottom, columns for the sides, measured over
    the box left by the sides already cut. A strip runs from the side up to
    (not including) a line ``r``; it is cut when at least ``min_strip`` wide, it
    leaves at least ``min_part`` lines of content, and either

    - ``r`` is a candidate boundary line (edge density above the whole map's
      mean + ``border_line_margin``), the strip's edge density is below
      ``border_edge``, and its median + mean variance is below ``border_var``,
      or its mean variance is below ``border_var_strong`` while line ``r``'s
      edge density is above ``border_line_edge``; or
    - (flat strip) every line of the strip has mean variance below
      ``border_var`` and edge density below ``border_edge``, ``r`` is the first
      line that has not, and the strip passes the first test's statistics. A
      black bar has no edge of its own, only one where the content starts, and
      how strong that one is depends on the content; this takes the content
      to start at its first moving or edged line.

    The widest strip that is cut wins on each side.
    """
    params = params or LayoutThresholds()
    height, width = variance.shape
    line_threshold = float(edges.mean()) + params.border_line_margin
    top = _strip_width(variance, edges, line_threshold, params)
    bottom = height - _strip_width(variance[::-1][: height - top], edges[::-1][: height - top], line_threshold, params)
    rows = slice(top, bottom)
    left = _strip_width(variance[rows].T, edges[rows].T, line_threshold, params)
    right = width - _strip_width(
        variance[rows, ::-1][:, : width - left].T, edges[rows, ::-1][:, : width - left].T, line_threshold, params
    )
    return Box(top, left, bottom, right)


def split_parts(
    variance: np.ndarray, edges: np.ndarray, box: Box, params: LayoutThresholds | None = None
) -> list[Box]:
    """The scenes stacked inside ``box``, in reading order (by top, then left); ``[box]`` when there is one.

    A box is cut in two at a static separator band (lines whose variance,
    averaged over ``split_window`` lines, is below ``split_var``; the band and
    the static lines next to it belong to neither part), failing that at a run
    of strong edge lines (edge density above the box's mean +
    ``split_edge_margin``; cut in the run's middle). Bands are looked for
    across the wider axis first (a wide box splits into left and right), then
    the other, before edge lines (same order). Of several cuts the one closest
    to the middle (bands) or the strongest (edge lines) is taken; each part is
    split again, down to ``max_depth`` levels. No cut leaves a part under
    ``min_part`` pixels.
    """
    params = params or LayoutThresholds()
    parts = _split(variance, edges, box, params, 0)
    return sorted(parts, key=lambda part: (part.top, part.left))


def _checked(frames) -> Sequence[np.ndarray] | np.ndarray:
    if len(frames) == 0:
        raise ValueError("scene detection needs at least one frame")
    shape = np.shape(frames[0])
    if len(shape) != 3 or shape[2] != 3:
        raise ValueError(f"frames must be HxWx3 RGB, got {shape}")
    if any(np.shape(frame) != shape for frame in frames):
        raise ValueError("frames of one video must all have the same size")
    return frames


def _strip_width(variance: np.ndarray, edges: np.ndarray, line_threshold: float, params: LayoutThresholds) -> int:
    """Width of the strip to cut, line 0 being at the frame's side (arrays are lines x line length)."""
    lines = variance.shape[0]
    limit = lines - params.min_part
    if limit < params.min_strip:
        return 0
    line_var = variance.mean(axis=1)
    line_edge = edges.mean(axis=1)
    strip_var = np.concatenate([[0.0], np.cumsum(line_var)])  # sums over lines [0, r)
    strip_edge = np.concatenate([[0.0], np.cumsum(line_edge)])

    def static(r: int, strong_line: bool) -> bool:
        mean_var = strip_var[r] / r
        if strip_edge[r] / r >= params.border_edge:
            return False
        if strong_line and mean_var < params.border_var_strong:
            return True
        return mean_var < params.border_var and np.median(variance[:r]) + mean_var < params.border_var

    best = 0
    flat = (line_var < params.border_var) & (line_edge < params.border_edge)
    if not flat.all():  # with no moving or edged line there is no content to start
        r = int(np.argmin(flat))
        if params.min_strip <= r <= limit and static(r, strong_line=False):
            best = r
    candidates = np.flatnonzero(line_edge > line_threshold)
    for r in candidates[::-1]:
        if r > limit or r < params.min_strip:
            continue
        if r <= best:
            break
        if static(int(r), strong_line=bool(line_edge[r] > params.border_line_edge)):
            best = int(r)
            break
    return best


def _split(variance: np.ndarray, edges: np.ndarray, box: Box, params: LayoutThresholds, depth: int) -> list[Box]:
    if depth >= params.max_depth:
        return [box]
    axes = (1, 0) if box.width >= box.height else (0, 1)
    for find in (_band_cut, _edge_cut):
        for axis in axes:
            cut = find(variance, edges, box, axis, params)
            if cut is not None:
                end, start = cut  # first part ends at `end`, second starts at `start` (line offsets in box)
                first, second = _halves(box, axis, end, start)
                return _split(variance, edges, first, params, depth + 1) + _split(
                    variance, edges, second, params, depth + 1
                )
    return [box]


def _line_means(values: np.ndarray, box: Box, axis: int) -> np.ndarray:
    """Per line of ``box`` across ``axis`` (1: columns, 0: rows), the mean of ``values`` over the line."""
    return box.crop(values).mean(axis=1 - axis)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    change = np.flatnonzero(np.diff(padded))
    return list(zip(change[::2].tolist(), change[1::2].tolist()))


def _band_cut(variance, edges, box: Box, axis: int, params: LayoutThresholds) -> tuple[int, int] | None:
    line_var = _line_means(variance, box, axis)
    lines = len(line_var)
    window = max(1, params.split_window)
    if lines < 2 * params.min_part + window:
        return None
    windowed = np.convolve(line_var, np.ones(window) / window, mode="valid")  # windowed[i]: lines [i, i + window)
    low = np.zeros(lines, bool)
    low[window // 2 : window // 2 + len(windowed)] = windowed < params.split_var
    best, best_offset = None, None
    for start, end in _runs(low):
        while start > 0 and line_var[start - 1] < params.split_var:
            start -= 1
        while end < lines and line_var[end] < params.split_var:
            end += 1
        if start < params.min_part or lines - end < params.min_part:
            continue
        offset = abs((start + end) / 2 - lines / 2)
        if best_offset is None or offset < best_offset:
            best, best_offset = (start, end), offset
    return best


def _edge_cut(variance, edges, box: Box, axis: int, params: LayoutThresholds) -> tuple[int, int] | None:
    line_edge = _line_means(edges, box, axis)
    lines = len(line_edge)
    if lines < 2 * params.min_part:
        return None
    strong = line_edge > float(box.crop(edges).mean()) + params.split_edge_margin
    best, best_key = None, None
    for start, end in _runs(strong):
        cut = (start + end) // 2
        if cut < params.min_part or lines - cut < params.min_part:
            continue
        key = (float(line_edge[start:end].max()), -abs(cut - lines / 2))
        if best_key is None or key > best_key:
            best, best_key = (cut, cut), key
    return best


def _halves(box: Box, axis: int, end: int, start: int) -> tuple[Box, Box]:
    if axis == 1:
        return (
            Box(box.top, box.left, box.bottom, box.left + end),
            Box(box.top, box.left + start, box.bottom, box.right),
        )
    return (
        Box(box.top, box.left, box.top + end, box.right),
        Box(box.top + start, box.left, box.bottom, box.right),
    )
