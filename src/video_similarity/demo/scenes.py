"""Continuous-time scenes the demo videos are rendered from.

A scene is a small, picklable description; ``render(t, size)`` draws it at any
time and size. References are scenes sampled at their frame rate; a copied
segment re-renders the reference's own frames, so ground-truth times are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

#: Real photographs bundled with scikit-image (no download). ``cat`` duplicates
#: ``chelsea`` and is left out so that train and test never share a picture.
PHOTO_NAMES = (
    "astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins",
    "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "moon",
    "retina", "rocket", "stereo_motorcycle",
)
#: Real photographs that other installed packages ship (read from the package at run time, never copied):
#: scikit-learn's sample images (CC BY 2.0: china.jpg by danielbuechele, flower.jpg by vultilion, on Flickr)
#: and matplotlib's Grace Hopper portrait (a U.S. Navy photograph, public domain). The VSC demo corpus uses
#: them too; the FIVR-shaped demo keeps to PHOTO_NAMES.
PACKAGED_PHOTOS = ("china", "flower", "grace_hopper")
CORPUS_PHOTOS = PHOTO_NAMES + PACKAGED_PHOTOS


def _packaged_photo(name: str) -> np.ndarray:
    if name == "grace_hopper":
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as handle:
            return np.asarray(Image.open(handle).convert("RGB"))
    from sklearn.datasets import load_sample_image

    return load_sample_image(f"{name}.jpg")


@lru_cache(maxsize=32)
def load_photo(name: str) -> Image.Image:
    """One bundled sample photograph (scikit-image's, or see PACKAGED_PHOTOS) as an RGB PIL image."""
    import skimage.data

    if name not in CORPUS_PHOTOS:
        raise ValueError(f"unknown demo photograph {name!r}; known: {', '.join(CORPUS_PHOTOS)}")
    image = _packaged_photo(name) if name in PACKAGED_PHOTOS else getattr(skimage.data, name)()
    if isinstance(image, tuple):  # stereo_motorcycle returns (left, right, disparity)
        image = image[0]
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return Image.fromarray(image[..., :3].astype(np.uint8), "RGB")


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)


@dataclass(frozen=True)
class Walker:
    """A person-sized figure walking across the frame: motion in part of the picture, the rest still.

    Sizes and positions are fractions of the frame; the figure walks at
    ``speed`` (widths per second) and turns at the frame's edges.
    """

    clothes: tuple[int, int, int]
    skin: tuple[int, int, int]
    height: float  # of the frame's height
    x: float  # at t = 0
    feet: float  # height of the feet
    speed: float
    phase: float  # of the gait, in cycles

    def draw(self, draw: ImageDraw.ImageDraw, t: float, size: tuple[int, int]) -> None:
        w, h = size
        tall = self.height * h
        x = _bounce(self.x + self.speed * t, 0.05, 0.95) * w
        feet = self.feet * h
        hip, shoulder = feet - 0.48 * tall, feet - 0.8 * tall
        swing = 0.22 * tall * np.sin(2 * np.pi * (1.6 * t + self.phase))  # about 1.6 steps per second
        limb = max(1, int(0.07 * tall))
        for sign in (1, -1):
            draw.line([(x, hip), (x + sign * swing / 2, feet)], fill=self.clothes, width=limb)
            draw.line([(x, shoulder + 0.05 * tall), (x - sign * swing / 3, hip + 0.05 * tall)], fill=self.skin, width=max(1, limb // 2))
        draw.rounded_rectangle((x - 0.11 * tall, shoulder, x + 0.11 * tall, hip + 0.04 * tall), radius=0.05 * tall, fill=self.clothes)
        head = 0.09 * tall
        draw.ellipse((x - head, shoulder - 2 * head, x + head, shoulder), fill=self.skin)


@dataclass(frozen=True)
class PhotoScene:
    """A camera over a photograph (still, panning slowly, or moving), with people-scale figures walking in it.

    ``zoom`` is the fraction of the largest box of the output's aspect ratio that
    fits the photo; ``center`` is in fractions of the photo; both are
    interpolated from start to end over ``duration`` seconds.
    """

    photo: str
    center_start: tuple[float, float]
    center_end: tuple[float, float]
    zoom_start: float
    zoom_end: float
    duration: float
    walkers: tuple[Walker, ...] = ()

    def box(self, t: float, size: tuple[int, int]) -> tuple[float, float, float, float]:
        image = load_photo(self.photo)
        pw, ph = image.size
        aspect = size[0] / size[1]
        full_w, full_h = (pw, pw / aspect) if pw / aspect <= ph else (ph * aspect, ph)
        a = _smoothstep(t / self.duration if self.duration > 0 else 0.0)
        zoom = self.zoom_start + a * (self.zoom_end - self.zoom_start)
        cx = self.center_start[0] + a * (self.center_end[0] - self.center_start[0])
        cy = self.center_start[1] + a * (self.center_end[1] - self.center_start[1])
        bw, bh = full_w * zoom, full_h * zoom
        x0 = min(max(cx * pw - bw / 2, 0.0), pw - bw)
        y0 = min(max(cy * ph - bh / 2, 0.0), ph - bh)
        return (x0, y0, x0 + bw, y0 + bh)

    def render(self, t: float, size: tuple[int, int]) -> np.ndarray:
        image = load_photo(self.photo).resize(size, Image.BILINEAR, box=self.box(t, size))
        if self.walkers:
            draw = ImageDraw.Draw(image)
            for walker in self.walkers:
                walker.draw(draw, t, size)
        return np.asarray(image)


@dataclass(frozen=True)
class Shape:
    kind: str  # ellipse | rectangle | triangle
    color: tuple[int, int, int]
    radius: float  # fraction of the frame's shorter side
    position: tuple[float, float]  # at t = 0, fractions of width and height
    velocity: tuple[float, float]  # fractions per second; shapes bounce off the borders
    spin: float  # degrees per second


def _bounce(x: float, lo: float, hi: float) -> float:
    span = hi - lo
    if span <= 0:
        return (lo + hi) / 2
    y = (x - lo) % (2 * span)
    return lo + (y if y <= span else 2 * span - y)


@lru_cache(maxsize=8)
def _backdrop_grid(colors, angle: float, stripes: float, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """What a backdrop's frames share (computed once per video, not per frame): the stripes' phase and the gradient."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    x /= max(w, 1)
    y /= max(h, 1)
    g = (np.cos(angle) * x + np.sin(angle) * y + 1) / 2
    c0, c1 = (np.asarray(c, np.float32) for c in colors)
    phase, base = stripes * (x - y * 0.5), c0 * (1 - g[..., None]) + c1 * g[..., None]
    phase.flags.writeable = base.flags.writeable = False
    return phase, base


@dataclass(frozen=True)
class ShapesScene:
    """Procedurally rendered footage: shapes moving over a drifting textured backdrop."""

    colors: tuple[tuple[int, int, int], tuple[int, int, int]]
    angle: float  # gradient direction, radians
    stripes: float  # texture frequency (cycles per frame width)
    drift: float  # texture phase speed (cycles per second)
    shapes: tuple[Shape, ...]

    def _backdrop(self, t: float, size: tuple[int, int]) -> np.ndarray:
        stripes, base = _backdrop_grid(self.colors, self.angle, self.stripes, size)
        texture = 0.5 + 0.5 * np.sin(2 * np.pi * (stripes + self.drift * t))
        return np.clip(base * (0.75 + 0.25 * texture[..., None]), 0, 255).astype(np.uint8)

    def render(self, t: float, size: tuple[int, int]) -> np.ndarray:
        w, h = size
        image = Image.fromarray(self._backdrop(t, size), "RGB")
        draw = ImageDraw.Draw(image)
        short = min(w, h)
        for shape in self.shapes:
            r = shape.radius * short
            cx = _bounce(shape.position[0] + shape.velocity[0] * t, r / w, 1 - r / w) * w
            cy = _bounce(shape.position[1] + shape.velocity[1] * t, r / h, 1 - r / h) * h
            if shape.kind == "ellipse":
                draw.ellipse((cx - r, cy - r * 0.7, cx + r, cy + r * 0.7), fill=shape.color, outline=(0, 0, 0))
            else:
                n = 4 if shape.kind == "rectangle" else 3
                a0 = np.deg2rad(shape.spin * t)
                pts = [(cx + r * np.cos(a0 + 2 * np.pi * i / n), cy + r * np.sin(a0 + 2 * np.pi * i / n)) for i in range(n)]
                draw.polygon(pts, fill=shape.color, outline=(0, 0, 0))
        return np.asarray(image)


@dataclass(frozen=True)
class Shots:
    """Shots one after the other (cuts), as footage is: each a scene of its own with its duration in seconds."""

    shots: tuple[tuple[float, "PhotoScene | ShapesScene"], ...]

    def render(self, t: float, size: tuple[int, int]) -> np.ndarray:
        start = 0.0
        for duration, scene in self.shots:
            if t < start + duration:
                return scene.render(t - start, size)
            start += duration
        duration, scene = self.shots[-1]
        return scene.render(t - start + duration, size)

    @property
    def photos(self) -> set[str]:
        return {scene.photo for _, scene in self.shots if isinstance(scene, PhotoScene)}


Scene = PhotoScene | ShapesScene | Shots

#: How the camera moves in a shot over a photograph.
CAMERA_MOVES = ("static", "slow", "move")


def random_walkers(rng: np.random.Generator) -> tuple[Walker, ...]:
    """One to three people walking at a walker's pace (3 to 12 % of the frame's width per second)."""
    u = rng.uniform
    return tuple(
        Walker(
            clothes=tuple(int(c) for c in rng.integers(0, 256, 3)),
            skin=tuple(int(c) for c in (u(90, 240), u(60, 200), u(40, 170))),
            height=float(u(0.25, 0.55)),
            x=float(u(0.1, 0.9)),
            feet=float(u(0.7, 0.97)),
            speed=float(u(0.03, 0.12) * rng.choice([-1, 1])),
            phase=float(u(0, 1)),
        )
        for _ in range(int(rng.integers(1, 4)))
    )


def random_photo_scene(rng: np.random.Generator, photo: str, duration: float, camera: str = "move", walkers: bool = False) -> PhotoScene:
    """A shot over ``photo``: a camera move (zooming in or out, or panning), a still camera, or a slow pan (at most
    6 % of the photo over the shot); ``walkers`` adds people-scale figures walking through it."""
    u = rng.uniform
    if camera == "move":
        start, end = (float(u(0.3, 0.7)), float(u(0.3, 0.7))), (float(u(0.3, 0.7)), float(u(0.3, 0.7)))
        zoom, zoom_end = float(u(0.45, 1.0)), float(u(0.45, 1.0))
    elif camera in ("static", "slow"):
        start, zoom = (float(u(0.3, 0.7)), float(u(0.3, 0.7))), float(u(0.45, 1.0))
        end, zoom_end = start, zoom
        if camera == "slow":
            end = (start[0] + float(u(-0.06, 0.06)), start[1] + float(u(-0.03, 0.03)))
            zoom_end = min(1.0, max(0.45, zoom + float(u(-0.04, 0.04))))
    else:
        raise ValueError(f"unknown camera move {camera!r}; known: {', '.join(CAMERA_MOVES)}")
    return PhotoScene(photo, start, end, zoom, zoom_end, float(duration), random_walkers(rng) if walkers else ())


def random_shapes_scene(rng: np.random.Generator) -> ShapesScene:
    u = rng.uniform
    shapes = tuple(
        Shape(
            kind=str(rng.choice(["ellipse", "rectangle", "triangle"])),
            color=tuple(int(c) for c in rng.integers(0, 256, 3)),
            radius=float(u(0.06, 0.2)),
            position=(float(u(0.1, 0.9)), float(u(0.1, 0.9))),
            velocity=(float(u(-0.35, 0.35)), float(u(-0.35, 0.35))),
            spin=float(u(-90, 90)),
        )
        for _ in range(int(rng.integers(3, 8)))
    )
    colors = tuple(tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(2))
    return ShapesScene(colors, float(u(0, 2 * np.pi)), float(u(1, 6)), float(u(-0.5, 0.5)), shapes)
