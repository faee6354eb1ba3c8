"""VSC-style video edits on RGB uint8 frames (numpy in, numpy out).

Each edit is a small frozen dataclass whose random parameters are drawn once
(``sample_edit``) and then applied to every frame of a video, as the VSC-2022
query generator did. The same edits serve the demo corpus and, later, the
training augmentations. Temporal edits (speed, frame-rate change, low-quality
re-encode) are not frame functions; the corpus builder applies them, and they
are listed in ``TEMPORAL_EDITS`` so that edit names stay in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

Frame = np.ndarray
BackgroundFn = Callable[[int, tuple[int, int]], Frame]  # (frame index, (w, h)) -> frame


def _pil(image: Frame) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB")


def _np(image: Image.Image) -> Frame:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


@dataclass(frozen=True)
class Crop:
    """Keep a sub-rectangle given as fractions (left, top, right, bottom)."""

    box: tuple[float, float, float, float]
    name: str = "crop"

    def __call__(self, image: Frame, index: int) -> Frame:
        h, w = image.shape[:2]
        l, t, r, b = self.box
        x0, y0 = int(l * w), int(t * h)
        x1, y1 = max(x0 + 2, int(r * w)), max(y0 + 2, int(b * h))
        return image[y0:y1, x0:x1]


@dataclass(frozen=True)
class Flip:
    horizontal: bool = True
    name: str = "flip"

    def __call__(self, image: Frame, index: int) -> Frame:
        return image[:, ::-1] if self.horizontal else image[::-1]


@dataclass(frozen=True)
class Rotate:
    """Rotate by a multiple of 90 degrees (exact) or a small angle (keeps the size)."""

    degrees: float
    fill: tuple[int, int, int] = (0, 0, 0)
    name: str = "rotate"

    def __call__(self, image: Frame, index: int) -> Frame:
        if self.degrees % 90 == 0:
            return np.rot90(image, int(self.degrees // 90) % 4)
        return _np(_pil(image).rotate(self.degrees, Image.BILINEAR, fillcolor=self.fill))


@dataclass(frozen=True)
class Pad:
    """Add borders (fractions of width/height on each side) of one colour."""

    sides: tuple[float, float, float, float]
    color: tuple[int, int, int]
    name: str = "pad"

    def __call__(self, image: Frame, index: int) -> Frame:
        h, w = image.shape[:2]
        l, t, r, b = (int(f * s) for f, s in zip(self.sides, (w, h, w, h)))
        out = np.empty((h + t + b, w + l + r, 3), np.uint8)
        out[:] = self.color
        out[t : t + h, l : l + w] = image
        return out


@dataclass(frozen=True)
class Blur:
    sigma: float
    name: str = "blur"

    def __call__(self, image: Frame, index: int) -> Frame:
        return _np(_pil(image).filter(ImageFilter.GaussianBlur(self.sigma)))


@dataclass(frozen=True)
class Noise:
    """Gaussian pixel noise, different in every frame but reproducible."""

    std: float
    seed: int
    name: str = "noise"

    def __call__(self, image: Frame, index: int) -> Frame:
        rng = np.random.default_rng((self.seed, index))
        noisy = image.astype(np.float32) + rng.normal(0, self.std, image.shape)
        return np.clip(noisy, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Color:
    """Per-channel gains and a saturation change."""

    gains: tuple[float, float, float]
    saturation: float
    name: str = "color"

    def __call__(self, image: Frame, index: int) -> Frame:
        scaled = np.clip(image.astype(np.float32) * np.asarray(self.gains), 0, 255)
        return _np(ImageEnhance.Color(_pil(scaled.astype(np.uint8))).enhance(self.saturation))


@dataclass(frozen=True)
class Brightness:
    """Brightness and contrast change."""

    brightness: float
    contrast: float
    name: str = "brightness"

    def __call__(self, image: Frame, index: int) -> Frame:
        pil = ImageEnhance.Brightness(_pil(image)).enhance(self.brightness)
        return _np(ImageEnhance.Contrast(pil).enhance(self.contrast))


@dataclass(frozen=True)
class Grayscale:
    name: str = "grayscale"

    def __call__(self, image: Frame, index: int) -> Frame:
        return _np(_pil(image).convert("L"))


@dataclass(frozen=True)
class Downscale:
    """Shrink the frame (the copy is delivered at a lower resolution)."""

    factor: float
    name: str = "downscale"

    def __call__(self, image: Frame, index: int) -> Frame:
        h, w = image.shape[:2]
        size = (max(16, round(w * self.factor)), max(16, round(h * self.factor)))
        return _np(_pil(image).resize(size, Image.BILINEAR))


@dataclass(frozen=True)
class Text:
    """A caption burned into the frame."""

    text: str
    position: tuple[float, float]
    size_fraction: float
    color: tuple[int, int, int]
    name: str = "text"

    def __call__(self, image: Frame, index: int) -> Frame:
        pil = _pil(image)
        h, w = image.shape[:2]
        font = ImageFont.load_default(size=max(8, int(self.size_fraction * h)))
        draw = ImageDraw.Draw(pil)
        xy = (int(self.position[0] * w), int(self.position[1] * h))
        draw.text(xy, self.text, fill=self.color, font=font, stroke_width=1, stroke_fill=(0, 0, 0))
        return _np(pil)


@dataclass(frozen=True)
class Sticker:
    """An emoji-like drawing (smiley, star or heart) pasted over the frame."""

    shape: str
    center: tuple[float, float]
    size_fraction: float
    color: tuple[int, int, int]
    name: str = "sticker"

    def __call__(self, image: Frame, index: int) -> Frame:
        pil = _pil(image)
        h, w = image.shape[:2]
        r = max(4, int(self.size_fraction * min(w, h) / 2))
        cx, cy = int(self.center[0] * w), int(self.center[1] * h)
        draw = ImageDraw.Draw(pil)
        if self.shape == "smiley":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=self.color, outline=(0, 0, 0))
            e = max(1, r // 6)
            for dx in (-r // 3, r // 3):
                draw.ellipse((cx + dx - e, cy - r // 3 - e, cx + dx + e, cy - r // 3 + e), fill=(0, 0, 0))
            draw.arc((cx - r // 2, cy - r // 3, cx + r // 2, cy + r // 2), 20, 160, fill=(0, 0, 0), width=max(1, r // 8))
        else:
            n = 5 if self.shape == "star" else 40
            angles = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False) - np.pi / 2
            if self.shape == "star":
                radii = np.where(np.arange(2 * n) % 2 == 0, r, r * 0.45)
                pts = [(cx + q * np.cos(a), cy + q * np.sin(a)) for q, a in zip(radii, angles)]
            else:  # heart curve
                s = np.linspace(0, 2 * np.pi, 2 * n)
                pts = [
                    (cx + r * 16 * np.sin(u) ** 3 / 17,
                     cy - r * (13 * np.cos(u) - 5 * np.cos(2 * u) - 2 * np.cos(3 * u) - np.cos(4 * u)) / 17)
                    for u in s
                ]
            draw.polygon(pts, fill=self.color, outline=(0, 0, 0))
        return _np(pil)


@dataclass(frozen=True)
class Overlay:
    """Another image pasted over part of the frame, opaque or blended."""

    image: np.ndarray = field(repr=False, compare=False)
    box: tuple[float, float, float, float] = (0.5, 0.5, 0.9, 0.9)
    alpha: float = 1.0
    name: str = "overlay"

    def __call__(self, image: Frame, index: int) -> Frame:
        h, w = image.shape[:2]
        x0, y0 = int(self.box[0] * w), int(self.box[1] * h)
        x1, y1 = max(x0 + 2, int(self.box[2] * w)), max(y0 + 2, int(self.box[3] * h))
        patch = np.asarray(_pil(self.image).resize((x1 - x0, y1 - y0), Image.BILINEAR), np.float32)
        out = image.copy()
        region = out[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = (self.alpha * patch + (1 - self.alpha) * region).astype(np.uint8)
        return out


@dataclass(frozen=True)
class PictureInPicture:
    """The frame shrunk into a window on top of unrelated background footage."""

    background: BackgroundFn = field(repr=False, compare=False)
    box: tuple[float, float, float, float] = (0.1, 0.1, 0.6, 0.6)
    name: str = "pip"

    def __call__(self, image: Frame, index: int) -> Frame:
        h, w = image.shape[:2]
        out = np.array(self.background(index, (w, h)), dtype=np.uint8)
        x0, y0 = int(self.box[0] * w), int(self.box[1] * h)
        x1, y1 = max(x0 + 2, int(self.box[2] * w)), max(y0 + 2, int(self.box[3] * h))
        out[y0:y1, x0:x1] = _np(_pil(image).resize((x1 - x0, y1 - y0), Image.BILINEAR))
        return out


@dataclass(frozen=True)
class Stack:
    """The frame beside (``axis`` 1) or above (``axis`` 0) unrelated footage of its size: a compilation.

    An optional static bar of ``separator`` pixels sits between the two scenes.
    """

    background: BackgroundFn = field(repr=False, compare=False)
    axis: int = 1
    copy_first: bool = True  # the copy is on the left / at the top
    separator: int = 0
    color: tuple[int, int, int] = (0, 0, 0)
    name: str = "side_by_side"

    def __call__(self, image: Frame, index: int) -> Frame:
        h, w = image.shape[:2]
        other = np.array(self.background(index, (w, h)), dtype=np.uint8)
        bar = np.empty((h, self.separator, 3) if self.axis == 1 else (self.separator, w, 3), np.uint8)
        bar[:] = self.color
        parts = [image, bar, other] if self.copy_first else [other, bar, image]
        return np.concatenate(parts, axis=self.axis)


@dataclass(frozen=True)
class StaticFrame:
    """The frame inside a static frame: letterbox or pillarbox bars of one colour, or a textured border with a caption.

    ``sides`` are fractions of width / height (left, top, right, bottom); the
    texture (``texture_seed`` not None) and the caption are the same in every frame.
    """

    sides: tuple[float, float, float, float]
    color: tuple[int, int, int]
    texture_seed: int | None = None
    caption: str = ""
    name: str = "letterbox"

    def __call__(self, image: Frame, index: int) -> Frame:
        h, w = image.shape[:2]
        l, t, r, b = (max(0, int(f * s)) for f, s in zip(self.sides, (w, h, w, h)))
        out = np.empty((h + t + b, w + l + r, 3), np.uint8)
        out[:] = self.color
        if self.texture_seed is not None:
            rng = np.random.default_rng(self.texture_seed)
            cells = rng.integers(0, 256, (max(1, out.shape[0] // 12 + 1), max(1, out.shape[1] // 12 + 1), 3))
            texture = np.kron(cells, np.ones((12, 12, 1)))[: out.shape[0], : out.shape[1]]
            out[:] = (0.5 * texture + 0.5 * np.asarray(self.color)).astype(np.uint8)
        if self.caption:
            pil = _pil(out)
            band = max(t, b)
            font = ImageFont.load_default(size=max(8, int(0.6 * band)) if band else 10)
            y = 0 if t >= b else h + t
            ImageDraw.Draw(pil).text((l + 4, y + max(0, band // 8)), self.caption, fill=(255, 255, 255), font=font, stroke_width=1, stroke_fill=(0, 0, 0))
            out = np.array(pil, dtype=np.uint8)
        out[t : t + h, l : l + w] = image
        return out


Edit = (
    Crop | Flip | Rotate | Pad | Blur | Noise | Color | Brightness | Grayscale
    | Downscale | Text | Sticker | Overlay | PictureInPicture | Stack | StaticFrame
)

#: Edits that keep the content recognisable pixel-for-pixel after a resize.
MILD_EDITS = ("blur", "noise", "color", "brightness", "grayscale", "downscale")
#: Frame edits that move, hide or replace content.
STRONG_EDITS = (
    "crop", "flip", "rotate", "pad", "text", "sticker", "overlay", "pip",
    # layouts the query boosters exist for: stacked with other footage, inside a static frame
    "side_by_side", "top_bottom", "letterbox", "border",
)
#: Edits that need unrelated background footage.
BACKGROUND_EDITS = ("pip", "side_by_side", "top_bottom")
#: Edits of time or encoding, applied by the video writer, not per frame.
TEMPORAL_EDITS = ("speed", "fps", "reencode")
FRAME_EDITS = MILD_EDITS + STRONG_EDITS
ALL_EDITS = FRAME_EDITS + TEMPORAL_EDITS

_WORDS = ("viral", "LOL", "wow", "breaking", "2022", "copy", "meme", "news", "subscribe", "omg")


def _color(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, 3))


def sample_edit(
    name: str,
    rng: np.random.Generator,
    overlay_image: np.ndarray | None = None,
    background: BackgroundFn | None = None,
) -> Edit:
    """Draw the random parameters of one frame edit.

    ``overlay`` needs ``overlay_image`` and ``pip`` needs ``background``.
    """
    u = rng.uniform
    if name == "crop":
        w, h = u(0.5, 0.85), u(0.5, 0.85)
        l, t = u(0, 1 - w), u(0, 1 - h)
        return Crop((l, t, l + w, t + h))
    if name == "flip":
        return Flip(horizontal=bool(rng.random() < 0.8))
    if name == "rotate":
        degrees = float(rng.choice([90, 180, 270])) if rng.random() < 0.4 else float(u(5, 25) * rng.choice([-1, 1]))
        return Rotate(degrees, _color(rng))
    if name == "pad":
        return Pad(tuple(float(x) for x in u(0.02, 0.25, 4)), _color(rng))
    if name == "blur":
        return Blur(float(u(1.0, 3.0)))
    if name == "noise":
        return Noise(float(u(5, 20)), int(rng.integers(2**31)))
    if name == "color":
        return Color(tuple(float(x) for x in u(0.7, 1.3, 3)), float(u(0.3, 1.7)))
    if name == "brightness":
        return Brightness(float(u(0.6, 1.4)), float(u(0.7, 1.3)))
    if name == "grayscale":
        return Grayscale()
    if name == "downscale":
        return Downscale(float(u(0.3, 0.6)))
    if name == "text":
        words = " ".join(rng.choice(_WORDS, size=int(rng.integers(1, 4))))
        return Text(words, (float(u(0, 0.5)), float(u(0, 0.8))), float(u(0.08, 0.18)), _color(rng))
    if name == "sticker":
        return Sticker(
            str(rng.choice(["smiley", "star", "heart"])),
            (float(u(0.15, 0.85)), float(u(0.15, 0.85))),
            float(u(0.2, 0.4)),
            _color(rng),
        )
    if name == "overlay":
        if overlay_image is None:
            raise ValueError("the overlay edit needs an overlay image")
        w, h = u(0.25, 0.5), u(0.25, 0.5)
        l, t = u(0, 1 - w), u(0, 1 - h)
        return Overlay(overlay_image, (l, t, l + w, t + h), float(rng.choice([1.0, u(0.5, 0.8)])))
    if name == "pip":
        if background is None:
            raise ValueError("the pip edit needs a background")
        w = u(0.45, 0.7)
        l, t = u(0, 1 - w), u(0, 1 - w)
        return PictureInPicture(background, (l, t, l + w, t + w))
    if name in ("side_by_side", "top_bottom"):
        if background is None:
            raise ValueError(f"the {name} edit needs a background")
        separator = int(rng.choice([0, 0, 2, 4, 6]))
        return Stack(background, 1 if name == "side_by_side" else 0, bool(rng.random() < 0.5), separator, _color(rng), name)
    if name == "letterbox":
        f = float(u(0.1, 0.25))
        sides = (0.0, f, 0.0, f) if rng.random() < 0.5 else (f, 0.0, f, 0.0)  # letterbox or pillarbox
        return StaticFrame(sides, tuple(int(c) for c in rng.integers(0, 40, 3)), name="letterbox")
    if name == "border":
        sides = tuple(float(x) for x in u(0.08, 0.2, 4))
        words = " ".join(rng.choice(_WORDS, size=int(rng.integers(1, 3))))
        return StaticFrame(sides, _color(rng), int(rng.integers(2**31)), words, name="border")
    raise ValueError(f"unknown frame edit {name!r}; known: {', '.join(FRAME_EDITS)}")


def apply_edits(image: Frame, edits: list[Edit] | tuple[Edit, ...], index: int) -> Frame:
    """Apply a chain of edits in order to one frame."""
    for edit in edits:
        image = edit(image, index)
    return np.ascontiguousarray(image)
