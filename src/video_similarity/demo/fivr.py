"""A FIVR-shaped mini retrieval dataset, rendered like the demo corpus, labels by construction.

Each query set is one photograph. Its query is a camera move over the photo;
its related videos are, by construction:

- ND (near-duplicate): the whole query, re-rendered with frame edits;
- DS (duplicate scene): a segment of the query embedded in unrelated footage;
- CS (complementary scene): the same photo at the same time seen by another
  camera (a perturbed path: shifted centre, different zoom, size and frame rate);
- IS (incident scene): the same photo but a tight view of a different part of
  it, so no segment is shared.

Distractors are shape footage and photographs no query set uses. The split
``eval`` is what is evaluated; ``train`` (other photographs) is training data
for the video encoder. Written as ``videos/<id>.mp4`` plus ``annotation.json``
(FIVR format) and id lists ``queries.txt``, ``database.txt``, ``train.txt``,
``train_queries.txt``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from video_similarity.demo.corpus import EditSpec, Piece, QuerySpec, ReferenceSpec, _render_task
from video_similarity.demo.params import FivrDemoConfig
from video_similarity.demo.scenes import PHOTO_NAMES, PhotoScene, random_photo_scene, random_shapes_scene
from video_similarity.parallel import run_parallel
from video_similarity.video.edits import MILD_EDITS

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "demo_fivr.json"
LABELS = ("ND", "DS", "CS", "IS")
#: Edits for ND/DS copies: every frame edit that needs no extra footage.
COPY_EDITS = MILD_EDITS + ("crop", "flip", "rotate", "pad", "text", "sticker")




@dataclass(frozen=True)
class FivrDemoPlan:
    config: FivrDemoConfig
    videos: tuple  # ReferenceSpec | QuerySpec, all rendered to videos/<id>.mp4
    annotation: dict[str, dict[str, list[str]]]
    lists: dict[str, list[str]]  # queries, database, train, train_queries


def _other_view(rng: np.random.Generator, scene: PhotoScene) -> PhotoScene:
    """The same moment seen by another camera: shifted centres, rescaled zoom."""
    shift = lambda c: tuple(float(np.clip(x + rng.uniform(-0.12, 0.12), 0.2, 0.8)) for x in c)  # noqa: E731
    scale = lambda z: float(np.clip(z * rng.uniform(0.7, 0.9), 0.3, 1.0))  # noqa: E731
    return PhotoScene(scene.photo, shift(scene.center_start), shift(scene.center_end), scale(scene.zoom_start), scale(scene.zoom_end), scene.duration)


def _incident_view(rng: np.random.Generator, scene: PhotoScene, duration: float) -> PhotoScene:
    """A tight view of another part of the same photo: same source, no shared segment."""
    centre = np.asarray(scene.center_start)
    corner = np.where(centre < 0.5, 0.75, 0.25) + rng.uniform(-0.05, 0.05, 2)
    drift = corner + rng.uniform(-0.05, 0.05, 2)
    zoom = float(rng.uniform(0.35, 0.45))
    return PhotoScene(scene.photo, tuple(map(float, corner)), tuple(map(float, drift)), zoom, zoom * float(rng.uniform(0.9, 1.1)), duration)


def _edits(rng: np.random.Generator, config: FivrDemoConfig) -> tuple[EditSpec, ...]:
    names = rng.choice(COPY_EDITS, size=int(rng.integers(1, config.max_edits + 1)), replace=False)
    return tuple(EditSpec(str(n), int(rng.integers(2**31))) for n in names)


def _copy(video_id: str, split: str, source: ReferenceSpec, start: float, length: float, lead: float, tail: float,
          fillers: list, edits: tuple[EditSpec, ...], quality: int) -> QuerySpec:
    pieces, t = [], 0.0
    if lead > 0:
        pieces.append(Piece(0.0, lead, scene=fillers[0]))
        t = lead
    pieces.append(Piece(t, t + length, reference=source, ref_start=start))
    t += length
    if tail > 0:
        pieces.append(Piece(t, t + tail, scene=fillers[1]))
        t += tail
    n_frames = max(1, round(t * source.fps))
    return QuerySpec(video_id, split, source.fps, source.size, n_frames, tuple(pieces), edits, (), None, None, quality, lead > 0)


def plan_fivr_demo(config: FivrDemoConfig) -> FivrDemoPlan:
    """Every video, label and list of the mini dataset, decided from the seed."""
    rng = np.random.default_rng(config.seed)
    photos = [PHOTO_NAMES[i] for i in rng.permutation(len(PHOTO_NAMES))]
    n_sets = sum(config.query_sets.values())
    set_photos, spare_photos = photos[:n_sets], photos[n_sets:]
    u = rng.uniform

    def size_fps():
        return tuple(int(x) for x in config.sizes[int(rng.integers(len(config.sizes)))]), float(rng.choice(config.frame_rates))

    def filler(duration: float):
        if spare_photos and rng.random() < 0.5:
            return random_photo_scene(rng, str(rng.choice(spare_photos)), duration)
        return random_shapes_scene(rng)

    videos: list = []
    annotation: dict[str, dict[str, list[str]]] = {}
    lists: dict[str, list[str]] = {"queries": [], "database": [], "train": [], "train_queries": []}
    photo_iter = iter(set_photos)
    for split, n in config.query_sets.items():
        prefix = split[0]
        split_videos: list = []
        for s in range(1, n + 1):
            set_id = f"{prefix}{s:02d}"
            size, fps = size_fps()
            duration = float(u(*config.query_duration))
            scene = random_photo_scene(rng, next(photo_iter), duration)
            query = ReferenceSpec(f"{set_id}_query", split, scene, fps, size, max(2, round(duration * fps)), config.quality)
            labels: dict[str, list[str]] = {}
            related: list = []
            for k in range(1, config.per_set.get("ND", 0) + 1):
                related.append(("ND", _copy(f"{set_id}_nd{k}", split, query, 0.0, query.duration, 0.0, 0.0, [], _edits(rng, config), config.quality)))
            for k in range(1, config.per_set.get("DS", 0) + 1):
                length = min(float(u(*config.copy_duration)), query.duration)
                start = round(float(u(0, query.duration - length)), 3)
                lead, tail = (round(float(u(*config.filler_duration)), 3) for _ in range(2))
                edits = _edits(rng, config) if rng.random() < 0.5 else ()
                related.append(("DS", _copy(f"{set_id}_ds{k}", split, query, start, length, lead, tail, [filler(lead), filler(tail)], edits, config.quality)))
            for k in range(1, config.per_set.get("CS", 0) + 1):
                size_k, fps_k = size_fps()
                related.append(("CS", ReferenceSpec(f"{set_id}_cs{k}", split, _other_view(rng, scene), fps_k, size_k, max(2, round(duration * fps_k)),
                                                    config.quality)))
            for k in range(1, config.per_set.get("IS", 0) + 1):
                size_k, fps_k = size_fps()
                d = float(u(*config.query_duration))
                related.append(("IS", ReferenceSpec(f"{set_id}_is{k}", split, _incident_view(rng, scene, d), fps_k, size_k, max(2, round(d * fps_k)),
                                                    config.quality)))
            for label, spec in related:
                labels.setdefault(label, []).append(spec.video_id)
            annotation[query.video_id] = labels
            split_videos += [query] + [spec for _, spec in related]
            lists["queries" if split == "eval" else "train_queries"].append(query.video_id)
        for d in range(1, config.distractors.get(split, 0) + 1):
            size, fps = size_fps()
            duration = float(u(*config.distractor_duration))
            scene = filler(duration) if rng.random() < 0.6 else random_shapes_scene(rng)
            split_videos.append(ReferenceSpec(f"{prefix}_distractor{d:02d}", split, scene, fps, size, max(2, round(duration * fps)), config.quality))
        if split == "eval":
            lists["database"] += [v.video_id for v in split_videos if v.video_id not in lists["queries"]]
        else:
            lists["train"] += [v.video_id for v in split_videos]
        videos += split_videos
    return FivrDemoPlan(config, tuple(videos), annotation, lists)


def write_fivr_demo(plan: FivrDemoPlan, root: str | Path, workers: int | None = None) -> Path:
    """Render ``plan`` under ``root`` (videos/, annotation.json, id lists); reuse an identical build."""
    root = Path(root)
    manifest = root / MANIFEST
    fingerprint = plan.config.fingerprint()
    paths = [root / "videos" / f"{v.video_id}.mp4" for v in plan.videos]
    if manifest.is_file():
        try:
            current = json.loads(manifest.read_text()).get("fingerprint") == fingerprint
        except (OSError, json.JSONDecodeError):
            current = False
        if current and all(p.is_file() for p in paths):
            log.info("FIVR-shaped demo at %s is up to date (fingerprint %s)", root, fingerprint)
            return root
        manifest.unlink()
    (root / "videos").mkdir(parents=True, exist_ok=True)
    tasks = list(zip(plan.videos, paths))
    log.info("Rendering the FIVR-shaped demo: %d videos into %s", len(tasks), root)
    for _ in run_parallel(_render_task, tasks, workers, desc="FIVR demo videos"):
        pass
    (root / "annotation.json").write_text(json.dumps(plan.annotation, indent=1))
    for name, ids in plan.lists.items():
        (root / f"{name}.txt").write_text("".join(f"{i}\n" for i in ids))
    manifest.write_text(json.dumps({"fingerprint": fingerprint, "config": asdict(plan.config)}, indent=2, default=str))
    return root
