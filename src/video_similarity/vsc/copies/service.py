"""What the copy commands do, given the loaded models and parsed settings (the CLI loads them from the catalog).

``find_copies``: the user's videos archived, embedded as ``infer_query`` embeds a
query (``vsc/queries.py``), searched in the copy index and localised.
``add_references`` / ``remove_references``: a new version of the index
(``copies/index.py``). ``build_copy_index``: the version the ``vsc_matching``
pipeline publishes from the evaluated split's references, keeping what users
added and removed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from video_similarity.descriptors import Descriptors, select
from video_similarity.errors import UserError
from video_similarity.params import SearchIndexParams
from video_similarity.vsc.copies.index import (
    REFERENCE_COLUMNS, CopyIndex, IndexMissing, build_command, check_stamp, open_index, publish, search_params, writer_lock,
)
from video_similarity.vsc.copies.inputs import InputVideo, check_videos
from video_similarity.vsc.copies.params import FindCopiesParams
from video_similarity.vsc.copies.search import localize_candidates, search_candidates

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """The parameter sections the copy index depends on, parsed once."""

    find: FindCopiesParams
    preprocess: object  # PreprocessParams
    scene: object  # SceneDetectionParams
    video_score: object  # VideoScoreParams
    inference: object  # InferenceParams
    matching: object  # MatchingParams (its tn and network sections configure the localisers)
    launch: dict  # params:launch, run in this process (one video's work is smaller than a worker's start-up)
    search: SearchIndexParams  # the index every search goes through (the copy index's kind, score normalisation's noise search)

    @classmethod
    def from_params(cls, params: dict, in_process: bool = True) -> Settings:
        """The sections of ``params`` (all parameters, or just these sections); ``in_process``: the commands' launch."""
        from video_similarity.pipelines.infer_query.params import SceneDetectionParams, VideoScoreParams
        from video_similarity.pipelines.infer_ref.params import InferenceParams
        from video_similarity.pipelines.preprocess.params import PreprocessParams
        from video_similarity.pipelines.vsc_matching.params import MatchingParams

        launch = dict(params.get("launch") or {})
        if in_process:
            launch.update({"nproc_per_node": 1, "nnodes": 1, "rdzv_endpoint": None, "in_process": True})
        return cls(FindCopiesParams.from_params(params.get("find_copies")), PreprocessParams.from_params(params.get("preprocess")),
                   SceneDetectionParams.from_params(params.get("scene_detection")), VideoScoreParams.from_params(params.get("video_score")),
                   InferenceParams.from_params(params.get("inference")), MatchingParams.from_params(params.get("vsc_matching")), launch,
                   SearchIndexParams.from_params(params.get("search_index")))


@dataclass(frozen=True)
class Models:
    """What the descriptor track trained and chose (catalog entries): a query is embedded with these."""

    ensemble_members: dict
    descriptor_settings: dict
    pca_model: object
    noise_bank: Descriptors
    vid_score_model: dict | None
    alignment_model: dict | None

    @property
    def settings(self):
        from video_similarity.vsc.settings import DescriptorSettings

        return DescriptorSettings.from_dict(self.descriptor_settings)


@dataclass(frozen=True)
class Folders:
    index: Path  # the copy index (copy_index_store)
    additions: Path  # added references: archives, embeddings (reference_additions_store)
    queries: Path | None = None  # the user's videos: archives, scene parts, embeddings (find_copies_store)


def _digest(array: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def index_stamp(models: Models, settings: Settings) -> dict:
    """The identity of what the index's rows and thresholds were made with: a query must be embedded and localised the same way."""
    from video_similarity.extraction import encoder_stamp
    from video_similarity.vsc.ensemble import members_of

    pca = models.pca_model
    stamp = {
        "archives": asdict(settings.preprocess.archive_settings()),
        "members": {name: encoder_stamp(entry) for name, entry in members_of(models.ensemble_members, models.settings).items()},
        "descriptor_settings": {k: v for k, v in models.descriptor_settings.items() if k not in ("note", "source")},
        "pca": "none" if getattr(pca, "components", None) is None else _digest(np.concatenate([pca.mean.ravel(), pca.components.ravel(),
                                                                                               pca.scale.ravel()])),
        "noise_bank": _digest(models.noise_bank.features),
        "scene_detection": asdict(settings.scene),
        "video_score": {"enabled": settings.video_score.enabled, "model": _model_digest(models.vid_score_model)},
        "localizers": {"tn": asdict(settings.matching.tn), "network": asdict(settings.matching.network),
                       "network_model": _model_digest(models.alignment_model)},
    }
    return json.loads(json.dumps(stamp, default=str))  # as the manifest will read back (tuples as lists)


def _model_digest(manifest: dict | None) -> str | None:
    """SHA-256 of a trained model's TorchScript file (a model manifest's ``torchscript``), None without one."""
    from video_similarity.cache import file_digest

    path = (manifest or {}).get("torchscript")
    return file_digest(path) if path and Path(path).is_file() else None


def _localizer(name: str, models: Models, settings: Settings):
    from video_similarity.vsc.localization.registry import build_localizer

    model = (models.alignment_model or {}).get("torchscript")
    if name == "network" and not (model and Path(model).is_file()):
        raise UserError("the 'network' localiser is not trained: run kedro run --pipeline=vsc_matching, or pass "
                        "--params find_copies.localizer=tn")
    return build_localizer(name, settings.matching, model)


# ------------------------------------------------------------------ archives of the user's videos


def archive_videos(videos: list[InputVideo], folder: Path, settings: Settings, role: str) -> tuple[dict[str, str], dict[str, str]]:
    """Frame archives of ``videos`` in ``folder`` (only new or changed sources are decoded): ({id: archive}, {path: error})."""
    from video_similarity.frames.preprocess import preprocess_videos

    if not videos:
        return {}, {}
    table = pd.DataFrame({"video_id": [v.video_id for v in videos], "split": "find_copies", "role": role,
                          "path": [str(v.path) for v in videos]})
    manifest, _ = preprocess_videos(table, folder, settings.preprocess.archive_settings(), workers=1, only_missing=True)
    archives, errors = {}, {}
    by_id = {v.video_id: v for v in videos}
    for row in manifest.itertuples(index=False):
        video = by_id[row.video_id]
        if row.status == "failed" or not row.archive:
            errors[str(video.path)] = row.error if str(video.path) in str(row.error) else f"{video.path}: {row.error}"
        elif row.n_frames < 1:
            errors[str(video.path)] = f"{video.path}: no frame could be sampled"
        else:
            archives[row.video_id] = row.archive
    return archives, errors


# ------------------------------------------------------------------ find-copies


@dataclass
class VideoResult:
    """One input's answer: its matches (best first; ref_path added) or the error that stopped it."""

    video: str
    matches: pd.DataFrame | None = None
    error: str | None = None
    video_id: str | None = None  # its cache id (archive, embeddings)
    video_score: float | None = None
    suppressed: bool = False


@dataclass
class FindResult:
    results: list[VideoResult]
    threshold: float
    localizer: str
    index: CopyIndex
    timings: dict[str, float] = field(default_factory=dict)
    query_frames: Descriptors | None = None  # each answered input's every second (score-normalised), for figures
    archives: dict[str, str] = field(default_factory=dict)  # {video_id: its frame archive}


def load_index(folders: Folders, models: Models, settings: Settings, env: str | None) -> CopyIndex:
    """The current copy index, refused when the current models or settings are not the ones it was built with."""
    try:
        copy_index = open_index(folders.index)
    except IndexMissing:
        raise IndexMissing(f"no copy index is built for this dataset ({folders.index}): run {build_command(env)}") from None
    check_stamp(copy_index, index_stamp(models, settings), env)
    return copy_index


def find_copies(paths: list[str], models: Models, settings: Settings, folders: Folders, copy_index: CopyIndex,
                min_score: float | None = None) -> FindResult:
    """Every input's copied segments of the index's references with a score >= the threshold, best first."""
    config = settings.find
    threshold = float(min_score) if min_score is not None else (config.threshold if config.threshold is not None
                                                                 else copy_index.threshold(config.localizer))
    localizer = _localizer(config.localizer, models, settings)
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    inputs = check_videos(paths, config.min_duration)
    archives, failed = archive_videos(inputs.videos, folders.queries / "archives", settings, "query")
    timings["decode"] = time.perf_counter() - clock
    answered = [v for v in inputs.videos if v.video_id in archives]
    results = {path: VideoResult(path, error=error) for path, error in {**inputs.errors, **failed}.items()}
    found = FindResult([], threshold, config.localizer, copy_index, timings, archives=archives)
    if answered:
        clock = time.perf_counter()
        queries = _query_descriptors(answered, archives, models, settings, folders.queries)
        timings["embed"] = time.perf_counter() - clock
        clock = time.perf_counter()
        candidates = search_candidates(copy_index.index, copy_index.descriptors.video_ids, queries.searched, config.retrieval_per_query,
                                       config.candidates_per_query)
        candidates = candidates[~candidates["query_id"].isin(queries.suppressed)]
        timings["search"] = time.perf_counter() - clock
        clock = time.perf_counter()
        matches = localize_candidates(localizer, candidates, queries.frames, copy_index.descriptors, config.localize_per_query)
        timings["localize"] = time.perf_counter() - clock
        matches = matches[matches["score"] >= threshold]
        paths_of = dict(zip(copy_index.references["ref_id"], copy_index.references["path"]))
        for video in answered:
            mine = matches[matches["query_id"] == video.video_id].drop(columns="query_id").reset_index(drop=True)
            mine.insert(1, "ref_path", mine["ref_id"].map(paths_of))
            value = queries.video_scores.get(video.video_id)
            results[str(video.path)] = VideoResult(str(video.path), mine, video_id=video.video_id, suppressed=video.video_id in queries.suppressed,
                                                   video_score=None if value is None or value != value else float(value))
        found.query_frames = queries.frames
        for video in answered:
            if video.video_id in queries.failed:
                results[str(video.path)] = VideoResult(str(video.path), error=f"{video.path}: could not be embedded "
                                                                                f"({queries.failed[video.video_id]})")
    order = {str(v.path): k for k, v in enumerate(inputs.videos)}
    found.results = sorted(results.values(), key=lambda r: order.get(r.video, -1))
    return found


@dataclass(frozen=True)
class _Queries:
    searched: Descriptors  # as the query submission: scene parts, de-duplication, the budget, score-normalised
    frames: Descriptors  # every second, score-normalised (the localiser's rows); suppressed videos left out
    suppressed: set[str]
    video_scores: dict[str, float]
    failed: dict[str, str]  # {video_id: why it has no rows}


def _query_descriptors(videos: list[InputVideo], archives: dict[str, str], models: Models, settings: Settings, folder: Path) -> _Queries:
    """The inputs embedded as infer_query embeds a split's queries (scene parts, video score, members, de-duplication, budget, beta)."""
    from video_similarity.vsc.boosters import suppress
    from video_similarity.vsc.dedup import fit_budget
    from video_similarity.vsc.queries import detect_scene_parts, embed_queries
    from video_similarity.vsc.score_norm import normalize_queries
    from video_similarity.vsc.video_scores import score_queries

    descriptor_settings, cache = models.settings, folder / "embeddings"
    parts = detect_scene_parts(archives, folder / "scene_parts", settings.scene.thresholds(), progress=False)[0] if settings.scene.enabled else {}
    scores = score_queries(models.vid_score_model if settings.video_score.enabled else None, descriptor_settings.video_score_threshold,
                           archives, cache, settings.launch, settings.inference.batch_size, settings.video_score.batch_size,
                           off_reason=None if settings.video_score.enabled else "video_score.enabled is false")
    job = f"call_{os.getpid()}"  # merged files of this call only (calls may run side by side)
    try:
        embedded = embed_queries(models.ensemble_members, descriptor_settings, models.pca_model, archives, parts,
                                 settings.scene.parts_replace_frames, cache, job, settings.inference.batch_size, settings.launch)
    finally:
        shutil.rmtree(cache / "merged" / job, ignore_errors=True)
        shutil.rmtree(cache / "merged" / f"{job}_parts", ignore_errors=True)
    embedded_ids = set(embedded.frames.video_ids.tolist())
    failed = {v.video_id: _embedding_failure(cache, models, v.video_id) for v in videos if v.video_id not in embedded_ids}
    suppressed = set(scores.loc[scores["suppressed"], "video_id"])
    rows = pd.Series(embedded.frames.video_ids).value_counts()
    budget = int(sum(np.ceil(v.duration) if np.isfinite(v.duration) else int(rows.get(v.video_id, 0)) for v in videos))  # no duration: its frames'

    searched, low = suppress(fit_budget(embedded.searched, budget), suppressed)
    noise, beta = models.noise_bank.features, descriptor_settings.beta
    live = ~np.isin(embedded.frames.video_ids, sorted(suppressed))
    frames = embedded.frames
    search = settings.search
    return _Queries(Descriptors(searched.video_ids, searched.timestamps, normalize_queries(searched.features, noise, beta, low, search)),
                    Descriptors(frames.video_ids[live], frames.timestamps[live], normalize_queries(frames.features[live], noise, beta, search=search)),
                    suppressed, dict(zip(scores["video_id"], scores["score"])), failed)


def _embedding_failure(cache: Path, models: Models, video_id: str) -> str:
    """Why a video has no rows: the worker's record if it is still there (another call may have cleared it), else plainly."""
    from video_similarity.extraction import failures
    from video_similarity.vsc.ensemble import members_of

    for name in members_of(models.ensemble_members, models.settings):
        reason = failures(cache / name).get(video_id)
        if reason:
            return reason
    return "no frame could be embedded"


# ------------------------------------------------------------------ the index's references


def reference_rows(archives: dict[str, str], models: Models, settings: Settings, cache: Path, job: str) -> Descriptors:
    """Score-normalised reference rows of ``archives``, as ``infer_ref`` makes them (every second, no de-duplication)."""
    from video_similarity.vsc.ensemble import embed_with_ensemble, project
    from video_similarity.vsc.score_norm import normalize_references

    if not archives:
        return Descriptors(np.zeros(0, dtype=str), np.zeros((0, 2), np.float32), np.zeros((0, models.noise_bank.dim), np.float32))
    try:
        embedded = project(embed_with_ensemble(models.ensemble_members, models.settings, archives, cache, job,
                                               settings.inference.batch_size, settings.launch), models.pca_model)
    finally:
        shutil.rmtree(cache / "merged" / job, ignore_errors=True)
    return Descriptors(embedded.video_ids, embedded.timestamps, normalize_references(embedded.features, models.noise_bank.features))


def _reference_id(path: Path) -> str:
    return path.stem


def add_references(paths: list[str], models: Models, settings: Settings, folders: Folders, env: str | None) -> dict:
    """New or changed reference videos into a new version of the index (ids: the files' names); what was done.

    Everything slow (decoding, embedding) is cached per video before the
    index is touched, so a killed run costs nothing but its in-flight video
    and a rerun finishes the job; the new version is published whole.
    """
    from video_similarity.frames.archive import source_key

    inputs = check_videos(paths, settings.find.min_duration, make_id=_reference_id)
    errors = dict(inputs.errors)
    with writer_lock(folders.index):
        copy_index = load_index(folders, models, settings, env)
        known = copy_index.references.set_index("ref_id")
        keys = {video.path: source_key(video.path) for video in inputs.videos}  # read once: path, size, time, fingerprint
        todo, unchanged, seen = [], [], {}
        for video in inputs.videos:
            if video.video_id in seen:
                errors[str(video.path)] = f"{video.path}: reference id {video.video_id!r} is also {seen[video.video_id]}'s: rename one of them"
                continue
            seen[video.video_id] = video.path
            if video.video_id in known.index:
                row = known.loc[video.video_id]
                if row["origin"] != "added":
                    errors[str(video.path)] = (f"{video.path}: reference id {video.video_id!r} is a reference of the dataset "
                                               f"({row['path']}): rename the file")
                    continue
                if Path(row["path"]).resolve() == video.path.resolve() and row["source_key"] == keys[video.path]:
                    unchanged.append(video.video_id)
                    continue
            todo.append(video)
        archives, failed = archive_videos(todo, folders.additions / "archives", settings, "reference")
        errors.update(failed)
        rows = reference_rows(archives, models, settings, folders.additions / "embeddings", f"add_{os.getpid()}")
        embedded = set(rows.video_ids.tolist())
        for video in todo:
            if video.video_id in archives and video.video_id not in embedded:
                errors[str(video.path)] = f"{video.path}: could not be embedded"
        added = [v for v in todo if v.video_id in embedded]
        if added:
            new = pd.DataFrame({"ref_id": [v.video_id for v in added], "path": [str(v.path.resolve()) for v in added],
                                "archive": [archives[v.video_id] for v in added], "origin": "added",
                                "source_key": [keys[v.path] for v in added]})
            _publish_with(folders, copy_index, new, rows, removed=set())
    return {"added": [v.video_id for v in added], "unchanged": unchanged, "errors": errors}


def remove_references(ids: list[str], models: Models, settings: Settings, folders: Folders, env: str | None) -> dict:
    """References (dataset or added) out of a new version of the index; unknown ids are errors."""
    with writer_lock(folders.index):
        copy_index = load_index(folders, models, settings, env)
        present = set(copy_index.references["ref_id"])
        errors = {i: f"{i}: no reference with this id in the copy index" for i in ids if i not in present}
        gone = sorted(set(ids) & present)
        if gone:
            if len(gone) == len(present):
                raise UserError("removing every reference would leave an empty index")
            _publish_with(folders, copy_index, pd.DataFrame(columns=REFERENCE_COLUMNS), None, removed=set(gone))
    return {"removed": gone, "errors": errors}


def _publish_with(folders: Folders, copy_index: CopyIndex, new: pd.DataFrame, rows: Descriptors | None, removed: set[str]) -> str:
    """The current version with ``new`` references (rows ``rows``; an id already there is replaced) and without ``removed``."""
    drop = removed | set(new["ref_id"])
    references = pd.concat([copy_index.references[~copy_index.references["ref_id"].isin(drop)], new], ignore_index=True)
    keep = ~np.isin(copy_index.descriptors.video_ids, sorted(drop))
    old = copy_index.descriptors
    parts = [Descriptors(old.video_ids[keep], old.timestamps[keep], old.features[keep])] + ([rows] if rows is not None and len(rows) else [])
    descriptors = Descriptors(np.concatenate([p.video_ids for p in parts]), np.concatenate([p.timestamps for p in parts]),
                              np.concatenate([p.features for p in parts]))
    dataset_removed = {r for r in removed if r in set(copy_index.references.loc[copy_index.references["origin"] == "dataset", "ref_id"])}
    manifest = {**copy_index.manifest, "removed": sorted(set(copy_index.manifest.get("removed") or ()) | dataset_removed)}
    return publish(folders.index, manifest, references, descriptors, search_params(copy_index.manifest))


def build_copy_index(reference_descriptors: Descriptors, dataset_references: pd.DataFrame, thresholds: dict, models: Models,
                     settings: Settings, folders: Folders) -> dict:
    """The ``vsc_matching`` pipeline's version: the evaluated split's references, plus those users added, minus those they removed.

    Added references are embedded again (their cached items, unless the models changed).
    """
    with writer_lock(folders.index):
        try:
            previous = open_index(folders.index)
        except IndexMissing:
            previous = None
        dataset_ids = set(dataset_references["ref_id"])
        removed = set((previous.manifest.get("removed") or ()) if previous else ()) & dataset_ids
        added = previous.references[previous.references["origin"] == "added"] if previous else pd.DataFrame(columns=REFERENCE_COLUMNS)
        added = added[~added["ref_id"].isin(dataset_ids - removed)]  # an added id may replace a removed dataset reference
        sources = [InputVideo(Path(p), r, float("nan")) for r, p in zip(added["ref_id"], added["path"]) if Path(p).is_file()]
        for ref in sorted(set(added["ref_id"]) - {v.video_id for v in sources}):
            log.warning("Copy index: the added reference %s's video is gone; it leaves the index (add it again with kedro add-references)", ref)
        # archived again when the archive settings changed (each archive is current or redone), then embedded with the current models
        archives, failed = archive_videos(sources, folders.additions / "archives", settings, "reference")
        for path, error in failed.items():
            log.warning("Copy index: an added reference could not be archived again and leaves the index: %s", error)
        rows = reference_rows(archives, models, settings, folders.additions / "embeddings", "rebuild")
        added = added[added["ref_id"].isin(set(rows.video_ids.tolist()))].copy()
        added["archive"] = added["ref_id"].map(archives)
        base = dataset_references[~dataset_references["ref_id"].isin(removed)]
        base_rows = select(reference_descriptors, set(base["ref_id"]))
        base = base[base["ref_id"].isin(set(base_rows.video_ids.tolist()))]
        references = pd.concat([base, added], ignore_index=True)
        descriptors = Descriptors(np.concatenate([base_rows.video_ids, rows.video_ids]), np.concatenate([base_rows.timestamps, rows.timestamps]),
                                  np.concatenate([base_rows.features, rows.features]))
        manifest = {"stamp": index_stamp(models, settings), "thresholds": thresholds, "removed": sorted(removed),
                    "split": settings.inference.split}
        version = publish(folders.index, manifest, references, descriptors, settings.search)
    log.info("Copy index %s: %d references (%d added by users, %d removed), %d rows", version, len(references), len(added), len(removed),
             len(descriptors))
    return {**manifest, "version": version, "references": len(references), "added": len(added), "rows": len(descriptors),
            "folder": str(folders.index)}
