"""The embedded action demo: synthetic clips in the UCF layout whose classes differ by motion only.

Every clip shows one object (a sprite) over a background; its class is how
the object moves: drifting right or left, rotating clockwise or anticlockwise,
zooming in or out, bouncing (periodic, vertical) or swinging (periodic,
horizontal). Start position, angle, size, phase and speed are drawn per clip
so that a single frame is ambiguous: the two classes of a pair of opposite
directions visit the same poses in reverse order (tested), so only the order
of the frames tells them apart; across kinds, where the object is and how big
it is overlap (every clip draws its size from the range a zoom sweeps).

A group (``gGG``) is one background and one object, like one long source
video of UCF50; its clips (``cCC``) differ in start, speed and phase, so
clips of a group look alike and the group-held-out protocols matter here as
they do on UCF50. Group ``gGG`` has the same look in every class (one scene
filmed doing every motion): the look then tells nothing about the class, and
a network that learns looks instead of motion fails on held-out groups.

Two rendering domains (for the severe pipeline's domain shift):

* ``photos``: scikit-image's photographs as slowly panned backgrounds, solid
  polygons as objects;
* ``shapes``: the VSC demo's procedural backdrops (gradients and drifting
  stripes), textured photo discs as objects.

Backgrounds of a domain never appear in the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from video_similarity.demo.params import ActionDemoParams
from video_similarity.demo.scenes import PHOTO_NAMES, load_photo, random_shapes_scene

#: Class name -> (motion, sign). Pairs of opposite directions differ only in the order of the frames.
MOTIONS: dict[str, tuple[str, int]] = {
    "DriftRight": ("drift", 1), "DriftLeft": ("drift", -1),
    "RotateClockwise": ("rotate", 1), "RotateAnticlockwise": ("rotate", -1),
    "ZoomIn": ("zoom", 1), "ZoomOut": ("zoom", -1),
    "Bounce": ("bounce", 1), "Swing": ("swing", 1),
}
DOMAINS = ("photos", "shapes")
#: Photographs the ``photos`` domain's backgrounds come from; the ``shapes`` domain's objects use the others.
BACKGROUND_PHOTOS = PHOTO_NAMES[:10]




@dataclass(frozen=True)
class Pose:
    """Where the object is in one frame: centre (fractions of the side), angle (radians), radius (fraction)."""

    x: float
    y: float
    angle: float
    radius: float


SIZE_RANGE = (0.7, 1.4)  # the object's size, relative to ``radius``: what a zoom sweeps, and what other clips draw from


def pose(motion: str, sign: int, u: float, start: np.ndarray, speed: float, radius: float = 0.24) -> Pose:
    """The object's pose at ``u`` in [0, 1] of the clip; ``start`` holds 5 uniform draws in [0, 1) fixing the clip's offsets."""
    travel = 0.5 * speed  # a drift crosses half the frame at speed 1
    x0, y0 = 0.3 + 0.4 * start[0], 0.3 + 0.4 * start[1]
    angle0 = 2 * math.pi * start[2]
    phase = 2 * math.pi * start[3]
    low, high = (math.log(f * radius) for f in SIZE_RANGE)
    if motion != "zoom":  # a size drawn log-uniformly from what a zoom sweeps, so the size alone does not tell a zoom
        radius = math.exp(low + (high - low) * start[4])
    if motion == "drift":  # the path is centred on x0, so every position is as likely under both directions
        return Pose(x0 + sign * travel * (u - 0.5), y0, angle0, radius)
    if motion == "rotate":
        return Pose(x0, y0, angle0 + sign * 2 * math.pi * speed * u, radius)
    if motion == "zoom":  # the size sweeps SIZE_RANGE (or back), on a log scale
        middle, half = (low + high) / 2, (high - low) / 2 * min(1.0, speed)
        return Pose(x0, y0, angle0, math.exp(middle + sign * half * (2 * u - 1)))
    if motion == "bounce":  # |sin|: falls, hits the floor, rises, two bounces per clip at speed 1
        return Pose(x0, 0.8 - 0.45 * abs(math.sin(phase + 2 * math.pi * speed * u)), angle0, radius)
    if motion == "swing":  # a pendulum: two swings per clip at speed 1
        return Pose(0.5 + 0.25 * math.sin(phase + 4 * math.pi * speed * u), y0, angle0, radius)
    raise ValueError(f"unknown motion {motion!r}")


@dataclass(frozen=True)
class GroupLook:
    """What one group looks like: its background and its object."""

    domain: str
    background: str | None  # a photograph (photos domain), else a procedural backdrop
    backdrop_seed: int
    sprite_sides: int  # 3..6: a polygon; the shapes domain fills it with a photo texture
    color: tuple[int, int, int]
    texture: str | None
    distractors: tuple[tuple[float, float, float, tuple[int, int, int]], ...]  # x, y, radius, colour


def group_look(domain: str, rng: np.random.Generator, distractors: int) -> GroupLook:
    if domain not in DOMAINS:
        raise ValueError(f"unknown action demo domain {domain!r}; known: {', '.join(DOMAINS)}")
    photos = domain == "photos"
    objects = [p for p in PHOTO_NAMES if p not in BACKGROUND_PHOTOS]
    return GroupLook(
        domain=domain,
        background=str(rng.choice(BACKGROUND_PHOTOS)) if photos else None,
        backdrop_seed=int(rng.integers(1 << 30)),
        sprite_sides=int(rng.integers(3, 7)),
        color=tuple(int(c) for c in rng.integers(40, 256, 3)),
        texture=None if photos else str(rng.choice(objects)),
        distractors=tuple((float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.04, 0.1)),
                           tuple(int(c) for c in rng.integers(0, 256, 3))) for _ in range(distractors)),
    )


def _background(look: GroupLook, size: int, u: float, pan: float) -> Image.Image:
    if look.background is not None:  # a slow pan over the photograph
        photo = load_photo(look.background)
        w, h = photo.size
        side = int(min(w, h) * 0.8)
        left = int((w - side) * (0.5 + pan * (u - 0.5)))
        return photo.crop((left, (h - side) // 2, left + side, (h - side) // 2 + side)).resize((size, size), Image.BILINEAR)
    scene = random_shapes_scene(np.random.default_rng(look.backdrop_seed))
    return Image.fromarray(scene._backdrop(3.0 * u, (size, size)), "RGB")


def _texture(name: str, size: int) -> Image.Image:
    photo = load_photo(name)
    side = min(photo.size)
    return photo.crop((0, 0, side, side)).resize((size, size), Image.BILINEAR)


def render_frame(look: GroupLook, p: Pose, size: int, u: float, pan: float = 0.4) -> np.ndarray:
    image = _background(look, size, u, pan)
    draw = ImageDraw.Draw(image)
    for x, y, r, color in look.distractors:
        draw.ellipse(((x - r) * size, (y - r) * size, (x + r) * size, (y + r) * size), fill=color)
    r = p.radius * size
    points = [(p.x * size + r * math.cos(p.angle + 2 * math.pi * i / look.sprite_sides),
               p.y * size + r * math.sin(p.angle + 2 * math.pi * i / look.sprite_sides)) for i in range(look.sprite_sides)]
    # a marker on one vertex makes rotation visible for every polygon
    marker = (points[0][0] * 0.6 + p.x * size * 0.4, points[0][1] * 0.6 + p.y * size * 0.4)
    if look.texture is None:
        draw.polygon(points, fill=look.color, outline=(0, 0, 0))
    else:
        mask = Image.new("L", (size, size), 0)
        ImageDraw.Draw(mask).polygon(points, fill=255)
        image.paste(_texture(look.texture, size).rotate(math.degrees(-p.angle)), (0, 0), mask)
        draw.polygon(points, outline=(255, 255, 255))
    m = max(1.5, r * 0.18)
    draw.ellipse((marker[0] - m, marker[1] - m, marker[0] + m, marker[1] + m), fill=(255, 255, 255) if look.texture is None else (0, 0, 0))
    return np.asarray(image)


def render_clip(class_name: str, look: GroupLook, rng: np.random.Generator, params: ActionDemoParams) -> list[np.ndarray]:
    motion, sign = MOTIONS[class_name]
    start, speed = rng.random(5), float(rng.choice(params.speeds))
    n = params.frames
    return [render_frame(look, pose(motion, sign, k / max(1, n - 1), start, speed, params.radius), params.size, k / max(1, n - 1), params.pan)
            for k in range(n)]


STAMP = ".action_demo.json"


def write_action_demo(root: str | Path, params: ActionDemoParams, domain: str = "photos") -> list[Path]:
    """Render the demo into ``root/<Class>/v_<Class>_gGG_cCC.mp4``; the paths.

    Files already there are kept while the settings are those of ``root/.action_demo.json``;
    with other settings the demo's own files (``v_*.mp4`` in its class folders) are removed first.
    """
    import json
    from dataclasses import asdict

    from video_similarity.video.encode import write_video

    root = Path(root)
    stamp = json.loads(json.dumps({"params": asdict(params), "domain": domain}))
    previous = json.loads((root / STAMP).read_text()) if (root / STAMP).is_file() else None
    if previous is not None and previous != stamp:
        for stale in (p for c in MOTIONS for p in (root / c).glob("v_*.mp4")):
            stale.unlink()
    paths = []
    for g in range(1, params.groups + 1):
        look = group_look(domain, np.random.default_rng((params.seed, DOMAINS.index(domain), g)), params.distractors)
        for c_index, class_name in enumerate(params.classes):
            for clip in range(1, params.clips_per_group + 1):
                path = root / class_name / f"v_{class_name}_g{g:02d}_c{clip:02d}.mp4"
                clip_rng = np.random.default_rng((params.seed, DOMAINS.index(domain), g, c_index, clip))
                if not path.is_file():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    write_video(path, render_clip(class_name, look, clip_rng, params), params.fps, quality=3)
                paths.append(path)
    root.mkdir(parents=True, exist_ok=True)
    (root / STAMP).write_text(json.dumps(stamp, indent=1))
    return paths
