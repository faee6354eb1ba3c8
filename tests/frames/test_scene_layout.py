"""Scene layout detection on synthetic query videos whose layout the test knows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from video_similarity.frames.params import LayoutThresholds
from video_similarity.frames.scene_layout import (
    Box,
    Layout,
    crop_static_borders,
    detect_layout,
    edge_density,
    split_parts,
    temporal_variance,
)

N_FRAMES = 8
TOLERANCE = 3  # pixels
DARK, BRIGHT, FULL = (0, 60), (200, 255), (0, 255)


def moving_texture(rng, n, height, width, tones=FULL, block=8):
    """Random gray blocks, redrawn and shifted every frame: high variance, edges everywhere but on no fixed line."""
    out = np.empty((n, height, width), np.uint8)
    for k in range(n):
        small = rng.integers(tones[0], tones[1] + 1, (height // block + 2, width // block + 2), dtype=np.uint8)
        big = np.repeat(np.repeat(small, block, axis=0), block, axis=1)
        dy, dx = rng.integers(0, block, 2)
        out[k] = big[dy : dy + height, dx : dx + width]
    return np.repeat(out[..., None], 3, axis=3)


def video(shape, scenes, n=N_FRAMES, seed=0):
    """A black canvas with moving texture in each (box, tones) of ``scenes``."""
    rng = np.random.default_rng(seed)
    frames = np.zeros((n, *shape, 3), np.uint8)
    for box, tones in scenes:
        frames[:, box.top : box.bottom, box.left : box.right] = moving_texture(rng, n, box.height, box.width, tones)
    return frames


def caption_border(height, width, seed=1):
    """A static dark-blue textured strip (smooth, under the Canny thresholds) with white text on it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    shade = 30 + 10 * np.sin(x / 23.0) + 8 * np.cos(y / 11.0) + rng.normal(0, 1.5, (height, width))
    strip = np.stack([shade * 0.5, shade * 0.8, shade * 2.2], axis=2).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(strip)
    vertical = height > width
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    if vertical:
        draw.text((4, height // 3), "LIVE", fill=(255, 255, 255), font=font)
    else:
        draw.text((10, height // 3), "LIVE  news 24", fill=(255, 255, 255), font=font)
    return np.asarray(image)


def bordered(shape, side, size, style, seed=0):
    """A video of moving content with a static border of ``size`` px on ``side``; returns (frames, content box)."""
    height, width = shape
    content = {
        "top": Box(size, 0, height, width),
        "bottom": Box(0, 0, height - size, width),
        "left": Box(0, size, height, width),
        "right": Box(0, 0, height, width - size),
    }[side]
    frames = video(shape, [(content, FULL)], seed=seed)
    if style == "caption":
        border = {"top": Box(0, 0, size, width), "bottom": Box(height - size, 0, height, width),
                  "left": Box(0, 0, height, size), "right": Box(0, width - size, height, width)}[side]
        frames[:, border.top : border.bottom, border.left : border.right] = caption_border(border.height, border.width)
    return frames, content


def assert_boxes(found, expected, tolerance=TOLERANCE):
    assert len(found) == len(expected), f"{found} != {expected}"
    for got, want in zip(found, expected):
        error = np.abs(np.subtract(dataclasses.astuple(got), dataclasses.astuple(want))).max()
        assert error <= tolerance, f"{got} != {want} (off by {error} px)"


def assert_layout(layout: Layout, parts, content=None, min_part=LayoutThresholds().min_part):
    assert_boxes([layout.content], [content or layout.frame])
    assert_boxes(layout.parts, parts)
    for part in layout.parts:
        assert part.height >= min_part and part.width >= min_part
        assert layout.content.top <= part.top and part.bottom <= layout.content.bottom
        assert layout.content.left <= part.left and part.right <= layout.content.right


# Stacked scenes ---------------------------------------------------------------------------------


def test_side_by_side_with_static_bar():
    left, right = Box(0, 0, 288, 252), Box(0, 260, 288, 512)
    layout = detect_layout(video((288, 512), [(left, FULL), (right, FULL)]))
    assert_layout(layout, [left, right])
    # the 8 px static bar between them is trimmed off both parts
    assert layout.parts[0].right <= 252 and layout.parts[1].left >= 260


def test_side_by_side_abutting_at_strong_edge():
    left, right = Box(0, 0, 240, 160), Box(0, 160, 240, 320)
    layout = detect_layout(video((240, 320), [(left, DARK), (right, BRIGHT)]))
    assert_layout(layout, [left, right])


def test_top_and_bottom_with_static_bar():
    top, bottom = Box(0, 0, 140, 512), Box(148, 0, 288, 512)
    layout = detect_layout(video((288, 512), [(top, FULL), (bottom, FULL)]))
    assert_layout(layout, [top, bottom])


def test_top_and_bottom_abutting_at_strong_edge():
    top, bottom = Box(0, 0, 170, 240), Box(170, 0, 320, 240)
    layout = detect_layout(video((320, 240), [(top, BRIGHT), (bottom, DARK)]))
    assert_layout(layout, [top, bottom])


def test_three_side_by_side():
    parts = [Box(0, 0, 288, 165), Box(0, 173, 288, 339), Box(0, 347, 288, 512)]
    layout = detect_layout(video((288, 512), [(part, FULL) for part in parts]))
    assert_layout(layout, parts)


def test_grid_of_four_with_static_bars():
    parts = [Box(0, 0, 140, 252), Box(0, 260, 140, 512), Box(148, 0, 288, 252), Box(148, 260, 288, 512)]
    layout = detect_layout(video((288, 512), [(part, FULL) for part in parts]))
    assert_layout(layout, parts)


def test_grid_of_four_abutting_checkerboard():
    parts = [Box(0, 0, 144, 256), Box(0, 256, 144, 512), Box(144, 0, 288, 256), Box(144, 256, 288, 512)]
    tones = [DARK, BRIGHT, BRIGHT, DARK]
    layout = detect_layout(video((288, 512), list(zip(parts, tones))))
    assert_layout(layout, parts)


def test_split_parts_is_confined_to_the_box_it_is_given():
    left, right = Box(0, 0, 288, 252), Box(0, 260, 288, 512)
    frames = video((288, 512), [(left, FULL), (right, FULL)])
    variance, edges = temporal_variance(frames), edge_density(frames)
    assert_boxes(split_parts(variance, edges, Box(0, 0, 288, 512)), [left, right])
    # the bar lies outside this box: nothing to split
    assert split_parts(variance, edges, Box(0, 0, 288, 250)) == [Box(0, 0, 288, 250)]


# Static borders ---------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["black", "caption"])
@pytest.mark.parametrize(
    "side, shape, size",
    [("top", (288, 512), 40), ("bottom", (288, 512), 48), ("left", (240, 320), 60), ("right", (240, 320), 50)],
)
def test_static_border_is_cropped(side, shape, size, style):
    frames, content = bordered(shape, side, size, style)
    layout = detect_layout(frames)
    assert_layout(layout, [content], content=content)
    assert not layout.is_whole


def test_letterbox_and_pillarbox_together():
    content = Box(36, 64, 252, 448)
    frames = video((288, 512), [(content, FULL)])
    layout = detect_layout(frames)
    assert_layout(layout, [content], content=content)


def test_crop_static_borders_keeps_moving_edges():
    frames = video((288, 512), [(Box(0, 0, 288, 512), FULL)])
    box = crop_static_borders(temporal_variance(frames), edge_density(frames))
    assert box == Box.full(288, 512)


def test_border_inside_which_scenes_are_stacked():
    left, right = Box(40, 0, 248, 252), Box(40, 260, 248, 512)
    layout = detect_layout(video((288, 512), [(left, FULL), (right, FULL)]))
    assert_layout(layout, [left, right], content=Box(40, 0, 248, 512))


# Left whole -------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(288, 512), (240, 320), (320, 240)])
def test_moving_noise_over_the_whole_frame_is_left_whole(shape):
    layout = detect_layout(video(shape, [(Box.full(*shape), FULL)]))
    assert layout.is_whole
    assert layout.parts == (Box.full(*shape),)


def test_fewer_than_min_frames_is_left_whole():
    left, right = Box(0, 0, 288, 252), Box(0, 260, 288, 512)
    frames = video((288, 512), [(left, FULL), (right, FULL)], n=5)
    assert len(detect_layout(frames).parts) == 2  # enough frames: split
    assert detect_layout(frames[:4]).is_whole
    assert len(detect_layout(frames[:4], LayoutThresholds(min_frames=4)).parts) == 2


def test_still_video_is_left_whole():
    still = np.repeat(moving_texture(np.random.default_rng(3), 1, 288, 512), N_FRAMES, axis=0)
    still[:, :40] = 0
    assert detect_layout(still).is_whole


def test_parts_are_at_least_min_part():
    narrow, wide = Box(0, 0, 240, 60), Box(0, 68, 240, 320)
    frames = video((240, 320), [(narrow, FULL), (wide, FULL)])
    layout = detect_layout(frames)
    assert layout.parts == (Box.full(240, 320),)  # a 60 px part is under min_part = 80
    assert_boxes(detect_layout(frames, LayoutThresholds(min_part=50)).parts, [narrow, wide])


def test_depth_cap_limits_the_splits():
    parts = [Box(0, 0, 140, 252), Box(0, 260, 140, 512), Box(148, 0, 288, 252), Box(148, 260, 288, 512)]
    frames = video((288, 512), [(part, FULL) for part in parts])
    layout = detect_layout(frames, LayoutThresholds(max_depth=1))
    assert_boxes(layout.parts, [Box(0, 0, 288, 252), Box(0, 260, 288, 512)])


# Statistics and types ---------------------------------------------------------------------------


def test_statistics():
    frames = video((240, 320), [(Box(0, 100, 240, 320), FULL)])
    variance, edges = temporal_variance(frames), edge_density(frames)
    assert variance.shape == edges.shape == (240, 320) and variance.dtype == np.float64
    assert np.all(variance[:, :100] == 0) and variance[:, 110:].mean() > 1000
    expected = np.var(frames[:, 5, 200].astype(float), axis=0).sum()
    assert variance[5, 200] == pytest.approx(expected)
    assert edges.min() >= 0 and edges.max() <= 1
    assert edges[:, :95].max() == 0  # a black static area has no edges
    assert edges[:, 110:-1].mean() > 0.05  # the sigma finds the texture's edges
    assert edges[5:-5, 99:102].mean(axis=0).max() > 0.4  # and where the content starts


def test_edges_sample_at_most_max_edge_frames():
    frames = video((64, 96), [(Box(0, 0, 64, 96), FULL)], n=7)
    edges = edge_density(frames, LayoutThresholds(max_edge_frames=3))
    assert set(np.unique(edges * 3).round(6)) <= {0.0, 1.0, 2.0, 3.0}


def test_box_and_layout():
    box = Box(2, 3, 10, 20)
    assert (box.height, box.width) == (8, 17)
    image = np.arange(30 * 40).reshape(30, 40)
    assert box.crop(image).shape == (8, 17) and box.crop(image)[0, 0] == image[2, 3]
    assert Box.full(30, 40) == Box(0, 0, 30, 40)
    with pytest.raises(ValueError):
        Box(5, 0, 4, 10)
    frame = Box.full(30, 40)
    assert Layout(frame, frame, (frame,)).is_whole
    assert not Layout(frame, box, (box,)).is_whole
    assert not Layout(frame, frame, (Box(0, 0, 30, 20), Box(0, 20, 30, 40))).is_whole


def test_params_from_yaml_mapping_and_the_thresholds_the_detection_reads():
    from video_similarity.pipelines.infer_query.params import SceneDetectionParams

    assert SceneDetectionParams.from_params(None) == SceneDetectionParams()
    params = SceneDetectionParams.from_params({"min_part": "64", "enabled": False, "split_var": 1})
    assert params.min_part == 64 and params.enabled is False and params.split_var == 1.0
    assert params.thresholds() == LayoutThresholds(min_part=64, split_var=1.0)  # the pipeline's switches are not thresholds
    with pytest.raises(ValueError, match="unknown key"):
        SceneDetectionParams.from_params({"min_parts": 64})


def test_rejects_frames_that_are_not_one_rgb_size():
    with pytest.raises(ValueError):
        detect_layout([])
    with pytest.raises(ValueError):
        detect_layout([np.zeros((10, 10), np.uint8)] * 6)
    with pytest.raises(ValueError):
        detect_layout([np.zeros((10, 10, 3), np.uint8)] * 5 + [np.zeros((10, 12, 3), np.uint8)])


def test_black_bar_with_no_edge_line_where_dim_content_starts():
    # content too dim for the bar's boundary to be a candidate edge line: cut by the flat-strip rule
    content = Box(44, 0, 288, 512)
    frames = video((288, 512), [(content, (0, 110))])
    edges = edge_density(frames)
    assert edges[40:48].mean(axis=1).max() < edges.mean() + LayoutThresholds().border_line_margin
    assert_layout(detect_layout(frames), [content], content=content)


def test_flickering_border_is_cut_at_a_strong_boundary_line():
    # a dark border with faint per-frame noise (too much variance for the static test: median + mean > border_var)
    # ends at a static white rim, a line that is an edge in every frame: cut by the strong-line test
    rng = np.random.default_rng(5)
    frames = video((240, 320), [(Box(0, 58, 240, 320), FULL)])
    frames[:, :, :56] = (30 + rng.normal(0, 4, (N_FRAMES, 240, 56, 3))).round().astype(np.uint8)
    frames[:, :, 56:58] = 255
    variance, edges = temporal_variance(frames), edge_density(frames)
    params = LayoutThresholds()
    strip = variance[:, :56]
    assert np.median(strip) + strip.mean() > params.border_var and strip.mean() < params.border_var_strong
    assert edges[1:-1, 53:58].mean(axis=0).max() > params.border_line_edge
    content = Box(0, 58, 240, 320)
    assert_layout(detect_layout(frames), [content], content=content)
