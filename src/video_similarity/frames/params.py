"""The frame-level domain's parameters, with their defaults in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LayoutThresholds:
    """The thresholds of the scene layout detection (``frames/scene_layout.py``); ``params:scene_detection`` holds them."""

    min_frames: int = 5
    """With fewer frames the statistics mean nothing: the whole frame is returned."""
    max_edge_frames: int = 20
    """The edge map is averaged over at most this many uniformly sampled frames."""
    canny_sigma: float = 0.5
    """Gaussian smoothing before skimage's Canny.

    The thresholds below are OpenCV's, which act on the Sobel magnitude of the
    unsmoothed 0..255 image (a step of 100 gray levels peaks at 400). skimage
    always smooths first, which lowers a step's peak: by 11% at sigma 0.5, by
    36% at skimage's default sigma 1 (a step then needs 156 levels to reach
    400). 0.5 keeps OpenCV's meaning of the thresholds within ~11% while still
    damping the single-pixel compression noise that the low threshold (a step
    of ~13 levels) would otherwise let the hysteresis follow.
    """
    canny_low: float = 50.0
    """Canny hysteresis low threshold on the Sobel magnitude of the 0..255 gray frame."""
    canny_high: float = 400.0
    """Canny hysteresis high threshold on the Sobel magnitude of the 0..255 gray frame."""
    border_line_margin: float = 0.125
    """A row/column is a candidate border line when its edge density exceeds the map's mean by this."""
    border_var: float = 75.0
    """A strip is static when its median + mean variance (summed over RGB) is below this..."""
    border_var_strong: float = 250.0
    """...or when its mean variance is below this and its boundary line is a strong edge line."""
    border_edge: float = 0.0225
    """A strip is cut only when its edge density (mean of the edge map over it) is below this."""
    border_line_edge: float = 0.65
    """A boundary line is strong when its edge density exceeds this (see ``border_var_strong``)."""
    min_strip: int = 5
    """Border strips narrower than this (pixels) are not cut."""
    split_window: int = 5
    """Lines averaged when looking for a static separator band."""
    split_var: float = 0.1
    """A line whose variance, averaged over ``split_window`` lines, is below this lies in a separator band."""
    split_edge_margin: float = 0.45
    """A line whose edge density exceeds the box's mean edge density by this separates two parts."""
    min_part: int = 80
    """Every part (and the content box) is at least this many pixels along a split (crop) axis."""
    max_depth: int = 3
    """Recursion depth of the splits: up to 2**max_depth parts."""
