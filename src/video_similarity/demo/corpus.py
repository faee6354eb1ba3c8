"""Plan, render and write the embedded demo corpus in the official VSC-2022 layout.

``plan_corpus`` turns a seed and a few sizes into a complete, picklable plan
(every reference, every query's timeline and edits, the exact ground truth);
``write_corpus`` renders it in parallel. Same config -> byte-identical files.
"""

from __future__ import annotations

import json
import logging
import math
import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from video_similarity.demo.params import DemoCorpusConfig
from video_similarity.demo.scenes import (
    CAMERA_MOVES,
    CORPUS_PHOTOS,
    PhotoScene,
    Scene,
    Shots,
    random_photo_scene,
    random_shapes_scene,
)
from video_similarity.parallel import run_parallel, worker_count
from video_similarity.video.edits import BACKGROUND_EDITS, FRAME_EDITS, MILD_EDITS, apply_edits, sample_edit
from video_similarity.video.encode import write_video

log = logging.getLogger(__name__)

#: Bump when rendering changes, so that an existing corpus is rebuilt.
CORPUS_FORMAT = 4
MANIFEST = "demo_corpus.json"






@dataclass(frozen=True)
class ReferenceSpec:
    video_id: str
    split: str
    scene: Scene
    fps: float
    size: tuple[int, int]
    n_frames: int
    quality: int | None = None  # a constant MPEG-4 quantizer ...
    bit_rate: int | None = None  # ... or a bit rate (bits per second)

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps

    def frame(self, index: int) -> np.ndarray:
        index = min(max(index, 0), self.n_frames - 1)
        return self.scene.render(index / self.fps, self.size)


@dataclass(frozen=True)
class Piece:
    """A span [start, end) of a query's timeline: filler footage or a copied reference segment."""

    start: float
    end: float
    scene: Scene | None = None
    reference: ReferenceSpec | None = None
    ref_start: float = 0.0
    speed: float = 1.0


@dataclass(frozen=True)
class EditSpec:
    name: str
    seed: int


@dataclass(frozen=True)
class QuerySpec:
    video_id: str
    split: str
    fps: float
    size: tuple[int, int]  # before frame edits
    n_frames: int
    pieces: tuple[Piece, ...]
    edits: tuple[EditSpec, ...]
    temporal_edits: tuple[str, ...]
    overlay: PhotoScene | None
    background: Scene | None
    quality: int | None  # a constant MPEG-4 quantizer ...
    embedded: bool
    bit_rate: int | None = None  # ... or a bit rate (bits per second)

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps

    @property
    def copies(self) -> tuple[Piece, ...]:
        """The copied reference segments, in timeline order (none, one, or two for the matching track)."""
        return tuple(p for p in self.pieces if p.reference is not None)

    def frame_edits(self) -> list:
        """Instantiate the frame edits (deterministic: each carries its own seed)."""
        overlay = None
        if self.overlay is not None:
            overlay = self.overlay.render(0.0, (160, 120))
        background = None
        if self.background is not None:
            scene, fps = self.background, self.fps
            background = lambda index, size: scene.render(index / fps, size)  # noqa: E731
        return [
            sample_edit(e.name, np.random.default_rng(e.seed), overlay, background)
            for e in self.edits
        ]

    def frames(self, with_edits: bool = True):
        """Render the query frame by frame; ``with_edits=False`` gives the unedited timeline."""
        edits = self.frame_edits() if with_edits else []
        for index in range(self.n_frames):
            t = index / self.fps
            piece = next((p for p in self.pieces if p.start <= t < p.end), self.pieces[-1])
            if piece.reference is not None:
                ref = piece.reference
                content_t = piece.ref_start + (t - piece.start) * piece.speed
                image = ref.frame(math.floor(content_t * ref.fps + 1e-6))
                if ref.size != self.size:  # a second copy of another reference, scaled to this query's frame
                    image = np.asarray(Image.fromarray(image).resize(self.size, Image.BILINEAR))
            else:
                image = piece.scene.render(t - piece.start, self.size)
            yield apply_edits(image, edits, index)


@dataclass(frozen=True)
class CorpusPlan:
    config: DemoCorpusConfig
    references: tuple[ReferenceSpec, ...]
    queries: tuple[QuerySpec, ...]

    def splits(self) -> list[str]:
        return list(self.config.splits)


def _assign_photos(config: DemoCorpusConfig, rng: np.random.Generator) -> dict[str, list[str]]:
    """Deal the photographs to the splits: no photograph is in two splits."""
    order = [CORPUS_PHOTOS[i] for i in rng.permutation(len(CORPUS_PHOTOS))]
    names = list(config.splits)
    return {name: order[i :: len(names)] for i, name in enumerate(names)}


def _camera(config: DemoCorpusConfig, rng: np.random.Generator) -> str:
    x = rng.random()
    return CAMERA_MOVES[0] if x < config.static_fraction else CAMERA_MOVES[1] if x < config.static_fraction + config.slow_fraction else CAMERA_MOVES[2]


def _shot(config: DemoCorpusConfig, rng: np.random.Generator, photo: str, duration: float) -> PhotoScene:
    return random_photo_scene(rng, photo, duration, _camera(config, rng), bool(rng.random() < config.walker_fraction))


def _reference_scene(config: DemoCorpusConfig, rng: np.random.Generator, photo: str, duration: float) -> Scene:
    """One to ``max_shots`` shots over the reference's photograph (one location, several framings, cuts between them)."""
    n = int(rng.integers(1, config.max_shots + 1))
    cuts = np.sort(rng.uniform(0.2, 0.8, n - 1)) * duration if n > 1 else np.zeros(0)
    lengths = np.diff(np.concatenate([[0.0], cuts, [duration]]))
    shots = tuple((float(d), _shot(config, rng, photo, float(d))) for d in lengths)
    return shots[0][1] if n == 1 else Shots(shots)


def _filler_scene(config: DemoCorpusConfig, rng: np.random.Generator, photos: list[str], duration: float) -> Scene:
    if photos and rng.random() < 0.5:
        return _shot(config, rng, str(rng.choice(photos)), duration)
    return random_shapes_scene(rng)


def _bit_rate(rng: np.random.Generator, bpp: tuple[float, float], size: tuple[int, int], fps: float) -> int:
    return int(round(float(rng.uniform(*bpp)) * size[0] * size[1] * fps))


def _plan_split(config: DemoCorpusConfig, split: str, split_no: int, photos: list[str], rng: np.random.Generator):
    size = config.splits[split]
    n_photo_refs = min(round(size.references * config.photo_fraction), max(0, len(photos) - 1))
    ref_photos, filler_photos = photos[:n_photo_refs], photos[n_photo_refs:]
    references = []
    for i in range(size.references):
        fps = float(rng.choice(config.frame_rates))
        frame_size = tuple(int(x) for x in config.sizes[int(rng.integers(len(config.sizes)))])
        n_frames = max(2, round(rng.uniform(*config.reference_duration) * fps))
        scene = _reference_scene(config, rng, ref_photos[i], n_frames / fps) if i < len(ref_photos) else random_shapes_scene(rng)
        bit_rate = _bit_rate(rng, config.reference_bpp, frame_size, fps)
        references.append(ReferenceSpec(f"R{split_no}{i + 1:05d}", split, scene, fps, frame_size, n_frames, bit_rate=bit_rate))

    has_copy = np.ones(size.queries, bool)
    has_copy[: round(size.queries * config.no_copy_fraction)] = False
    rng.shuffle(has_copy)
    queries = []
    for j in range(size.queries):
        # the matching track's additions draw from a stream of their own, so the rest of a query is what it was before them
        extra = np.random.default_rng([config.seed, split_no, j])
        queries.append(_plan_query(config, split, f"Q{split_no}{j + 1:05d}", bool(has_copy[j]) and bool(references), references, filler_photos,
                                   rng, extra))
    return references, queries


def _second_copy(config, rng: np.random.Generator, t: float, first: Piece, references, filler_photos, pieces: list[Piece]) -> float:
    """A gap of unrelated footage, then a second copied segment (of the same reference or another), at the first one's speed."""
    gap = round(float(rng.uniform(*config.filler_duration)), 3)
    pieces.append(Piece(t, t + gap, scene=_filler_scene(config, rng, filler_photos, gap)))
    t += gap
    ref = first.reference if rng.random() < 0.5 or len(references) < 2 else references[int(rng.integers(len(references)))]
    length = max(min(float(rng.uniform(*config.copy_duration)), ref.duration - 0.5), min(1.0, ref.duration))
    ref_start = round(float(rng.uniform(0, max(0.0, ref.duration - length))), 3)
    span = round(length / first.speed, 3)
    pieces.append(Piece(t, t + span, reference=ref, ref_start=ref_start, speed=first.speed))
    return t + span


def _plan_query(config, split, video_id, copy, references, filler_photos, rng, extra) -> QuerySpec:
    u = rng.uniform
    kind = rng.random()
    if kind < config.unedited_fraction:
        names: list[str] = []
    elif kind < config.unedited_fraction + config.mild_fraction:
        names = list(rng.choice(MILD_EDITS, size=int(rng.integers(1, 3)), replace=False))
    else:
        names = list(rng.choice(FRAME_EDITS, size=int(rng.integers(1, config.max_edits + 1)), replace=False))
    strong = kind >= config.unedited_fraction + config.mild_fraction
    temporal = []
    speed = 1.0
    if copy and strong and rng.random() < 0.25:
        speed = float(rng.choice([0.5, 0.75, 1.5, 2.0]))
        temporal.append("speed")
    reencode = bool(kind >= config.unedited_fraction and rng.random() < 0.2)
    if reencode:
        temporal.append("reencode")

    pieces: list[Piece] = []
    t = 0.0
    embedded = False
    if copy:
        ref = references[int(rng.integers(len(references)))]
        fps = ref.fps
        if kind >= config.unedited_fraction and rng.random() < 0.3:
            fps = float(rng.choice([r for r in config.frame_rates if r != ref.fps] or [ref.fps]))
            if fps != ref.fps:
                temporal.append("fps")
        frame_size = ref.size
        length = min(float(u(*config.copy_duration)), ref.duration - 0.5)
        length = max(length, min(1.0, ref.duration))
        ref_start = round(float(u(0, max(0.0, ref.duration - length))), 3)
        embedded = bool(rng.random() < config.embedded_fraction)
        if embedded:
            lead = round(float(u(*config.filler_duration)), 3)
            pieces.append(Piece(0.0, lead, scene=_filler_scene(config, rng, filler_photos, lead)))
            t = lead
        span = round(length / speed, 3)
        pieces.append(Piece(t, t + span, reference=ref, ref_start=ref_start, speed=speed))
        t += span
        if extra.random() < config.two_copy_fraction:
            t = _second_copy(config, extra, t, pieces[-1], references, filler_photos, pieces)
            temporal.append("two_copies")
        if embedded:
            if extra.random() < config.long_filler_fraction:  # the copy inside longer unrelated footage
                lead = round(float(extra.uniform(*config.long_filler_duration)), 3)
                pieces.insert(0, Piece(0.0, lead, scene=_filler_scene(config, extra, filler_photos, lead)))
                pieces[1:] = [dataclasses.replace(p, start=p.start + lead, end=p.end + lead) for p in pieces[1:]]
                t += lead
                temporal.append("long_filler")
            tail = round(float(u(*config.filler_duration)), 3)
            pieces.append(Piece(t, t + tail, scene=_filler_scene(config, rng, filler_photos, tail)))
            t += tail
    else:
        fps = float(rng.choice(config.frame_rates))
        frame_size = tuple(int(x) for x in config.sizes[int(rng.integers(len(config.sizes)))])
        total = float(u(*config.no_copy_query_duration))
        cut = total * float(u(0.3, 0.7)) if rng.random() < 0.5 else total
        pieces.append(Piece(0.0, cut, scene=_filler_scene(config, rng, filler_photos, cut)))
        if cut < total:
            pieces.append(Piece(cut, total, scene=_filler_scene(config, rng, filler_photos, total - cut)))
        t = total
    overlay = background = None
    if "overlay" in names:
        overlay = random_photo_scene(rng, str(rng.choice(filler_photos)), 1.0) if filler_photos else None
        if overlay is None:
            names.remove("overlay")
    if set(names) & set(BACKGROUND_EDITS):
        background = _filler_scene(config, rng, filler_photos, t)
    edits = tuple(EditSpec(str(n), int(rng.integers(2**31))) for n in names)
    n_frames = max(1, round(t * fps))
    bit_rate = _bit_rate(rng, config.reencode_bpp if reencode else config.query_bpp, frame_size, fps)
    return QuerySpec(video_id, split, fps, frame_size, n_frames, tuple(pieces), edits, tuple(temporal), overlay, background, None, embedded,
                     bit_rate)


def plan_corpus(config: DemoCorpusConfig) -> CorpusPlan:
    """Everything about the corpus, decided from the seed before any pixel is drawn."""
    rng = np.random.default_rng(config.seed)
    photos = _assign_photos(config, rng)
    references, queries = [], []
    for split_no, split in enumerate(config.splits, start=1):
        refs, qs = _plan_split(config, split, split_no, photos[split], rng)
        references += refs
        queries += qs
    return CorpusPlan(config, tuple(references), tuple(queries))


# ---------------------------------------------------------------- tables


def ground_truth(plan: CorpusPlan) -> pd.DataFrame:
    """Matching ground truth: one row per copied segment, times in seconds."""
    rows = []
    for q in plan.queries:
        for piece in q.copies:
            q_end = min(piece.end, q.duration)
            if q_end <= piece.start:
                continue
            rows.append({
                "split": q.split,
                "query_id": q.video_id,
                "ref_id": piece.reference.video_id,
                "query_start": round(piece.start, 3),
                "query_end": round(q_end, 3),
                "ref_start": round(piece.ref_start, 3),
                "ref_end": round(piece.ref_start + (q_end - piece.start) * piece.speed, 3),
            })
    return pd.DataFrame(rows, columns=["split", "query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end"])


def query_edits(plan: CorpusPlan) -> pd.DataFrame:
    """Which edits each query got (frame edits in order, then temporal ones)."""
    rows = [
        {
            "split": q.split,
            "query_id": q.video_id,
            "has_copy": bool(q.copies),
            "embedded": q.embedded,
            "edits": ";".join([e.name for e in q.edits] + list(q.temporal_edits)),
        }
        for q in plan.queries
    ]
    return pd.DataFrame(rows, columns=["split", "query_id", "has_copy", "embedded", "edits"])


def _output_size(q: QuerySpec) -> tuple[int, int]:
    first = next(iter(q.frames()))
    h, w = first.shape[:2]
    return w - w % 2, h - h % 2


def _metadata(videos, sizes, rng) -> pd.DataFrame:
    rows = [
        {
            "video_id": v.video_id,
            "duration_sec": round(v.duration, 3),
            "frames_per_sec": v.fps,
            "width": sizes[v.video_id][0],
            "height": sizes[v.video_id][1],
            "rn": int(rng.integers(1_000_000)),
        }
        for v in videos
    ]
    return pd.DataFrame(rows).sort_values("video_id")


# ---------------------------------------------------------------- writing


def _render_task(task) -> tuple[str, tuple[int, int]]:
    spec, path = task
    encoding = {"bit_rate": spec.bit_rate, **({"quality": spec.quality} if spec.quality is not None else {})}
    if isinstance(spec, ReferenceSpec):
        write_video(path, (spec.frame(i) for i in range(spec.n_frames)), spec.fps, **encoding)
        return spec.video_id, spec.size
    write_video(path, spec.frames(), spec.fps, **encoding)
    return spec.video_id, _output_size(spec)


def video_path(root: Path, spec) -> Path:
    role = "reference" if isinstance(spec, ReferenceSpec) else "query"
    return root / spec.split / role / f"{spec.video_id}.mp4"


def write_corpus(plan: CorpusPlan, root: str | Path, workers: int | None = None) -> Path:
    """Render ``plan`` under ``root`` in the official layout; reuse a complete identical build."""
    root = Path(root)
    fingerprint = plan.config.fingerprint()
    manifest = root / MANIFEST
    specs = list(plan.references) + list(plan.queries)
    if manifest.is_file():
        try:
            done = json.loads(manifest.read_text()).get("fingerprint") == fingerprint
        except (OSError, json.JSONDecodeError):
            done = False
        if done and all(video_path(root, s).is_file() for s in specs):
            log.info("Demo corpus at %s is up to date (fingerprint %s)", root, fingerprint)
            return root
        manifest.unlink()
    root.mkdir(parents=True, exist_ok=True)
    tasks = [(s, video_path(root, s)) for s in specs]
    log.info("Rendering the demo corpus: %d videos into %s with %d workers", len(tasks), root, worker_count(workers, len(tasks)))
    sizes = dict(run_parallel(_render_task, tasks, workers, desc="demo corpus"))
    rng = np.random.default_rng(plan.config.seed + 1)
    gt = ground_truth(plan)
    edits = query_edits(plan)
    for split in plan.splits():
        refs = [r for r in plan.references if r.split == split]
        queries = [q for q in plan.queries if q.split == split]
        _metadata(queries, sizes, rng).to_csv(root / f"{split}_query_metadata.csv", index=False)
        _metadata(refs, sizes, rng).to_csv(root / f"{split}_reference_metadata.csv", index=False)
        split_gt = gt[gt["split"] == split].drop(columns="split")
        split_gt.to_csv(root / f"{split}_matching_ground_truth.csv", index=False)
        split_gt[["query_id", "ref_id"]].drop_duplicates().to_csv(root / f"{split}_descriptor_ground_truth.csv", index=False)
        edits[edits["split"] == split].drop(columns="split").to_csv(root / f"{split}_query_edits.csv", index=False)
    manifest.write_text(json.dumps({"fingerprint": fingerprint, "config": asdict(plan.config)}, indent=2, default=str))
    return root
