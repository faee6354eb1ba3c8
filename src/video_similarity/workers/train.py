"""The training entry under torchrun: ``task`` "descriptor" (a VSC ensemble member), "video_transformer", "vid_score" or "clip_classifier".

All run the one loop (:mod:`video_similarity.training.loop`): resume, DDP on
gloo or nccl, this rank's share of each epoch's batches, a checkpoint of the
one format after every epoch. What differs is the task:

* descriptor: embeddings of both sides of every positive pair are
  L2-normalised, gathered across ranks and scored with InfoNCE over the
  2B x 2B global batch (tau) plus KoLeo. Positives are aligned seconds of
  ground-truth segments and every frame with itself (one mild, one hard
  augmentation). Rank 0 exports the trained model to TorchScript.
* video_transformer (the notes' Model #2): input is another encoder's frame
  features (cache items); positives are two random temporal crops of one video
  (feature noise, frame dropout) and annotated pairs (a query and its ND/DS
  video); video vectors are gathered and scored with InfoNCE.
* vid_score (the rank-1's video score, :mod:`video_similarity.models.vid_score`):
  labelled query videos' frame features (cache items) -> "holds copied
  content" logits, BCE; warmup + linear decay of the lr. Rank 0 exports
  TorchScript and writes a report of the validation scores and AP.
* clip_classifier (the action pipelines): clips of the clip archives ->
  class logits, cross-entropy; TVN-1 from scratch or a registry clip
  encoder fine-tuned (:mod:`video_similarity.models.clip_classifier`), Adam
  or SGD with an optional multi-step schedule. Each epoch records the clip
  accuracy of the evaluation videos' first clips (the training curves); rank 0
  then writes the logits of every clip of every evaluation video.

The spec carries every setting (parsed by the node's parameter dataclass);
nothing here has a default of its own.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from torch.distributed.elastic.multiprocessing.errors import record

from video_similarity.distributed import finish, init_worker
from video_similarity.frames.archive import FrameArchive
from video_similarity.workers.common import prepare, read_spec

log = logging.getLogger("video_similarity.train")

SYNTHETIC = "~synthetic"


def rank_share(batches: list, context) -> list:
    """The same batches on every rank (same seed); each rank takes its share, equal step counts."""
    while len(batches) < context.world_size:  # tiny data: every rank still needs a step
        batches = batches + batches
    steps = len(batches) // context.world_size
    return batches[context.rank :: context.world_size][:steps]


# ------------------------------------------------------------------ descriptor members


class FrameCache:
    """Decoded training frames, kept in memory (the demo's fit easily; real runs use a sample).

    Ids starting with ``~synthetic`` are procedurally rendered scenes (see
    ``demo.scenes``): an unlimited supply of distinct images for self-pairs.
    """

    def __init__(self, archives: dict[str, str], size: int, seed: int = 0):
        self.archives, self.size, self.seed, self.frames = archives, size, seed, {}

    def video(self, video_id: str) -> list[np.ndarray]:
        if video_id.startswith(SYNTHETIC) and video_id not in self.frames:
            from video_similarity.demo.scenes import random_shapes_scene

            rng = np.random.default_rng((self.seed, int(video_id[len(SYNTHETIC):])))
            self.frames[video_id] = [random_shapes_scene(rng).render(float(rng.uniform(0, 10)), (2 * self.size, 2 * self.size))]
        if video_id not in self.frames:
            with FrameArchive(self.archives[video_id]) as archive:
                self.frames[video_id] = [prepare(f, 2 * self.size) for f in archive.frames()]
        return self.frames[video_id]

    def __call__(self, key) -> np.ndarray:
        video_id, index = key
        frames = self.video(video_id)
        return frames[min(index, len(frames) - 1)]


def build_pairs(spec: dict, lengths: dict[str, int]) -> list:
    """Positive pairs ((video, frame), (video, frame)): aligned ground-truth seconds, and every frame with itself."""
    from video_similarity.training.augment import ground_truth_pairs, self_pairs

    gt = pd.DataFrame(spec["ground_truth"], columns=["query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end"])
    pairs = ground_truth_pairs(gt, lengths, lengths) if len(gt) else []
    synthetic = {f"{SYNTHETIC}{i}": 1 for i in range(int(spec["synthetic_pairs"]))}
    return pairs + self_pairs({v: lengths[v] for v in spec["self_pair_videos"] if v in lengths}) + self_pairs(synthetic)


class DescriptorTask:
    """InfoNCE + KoLeo over augmented positive pairs of frames."""

    def __init__(self, spec: dict, context):
        from video_similarity.training.augment import FrameAugmenter

        self.spec, self.context, self.name = spec, context, spec["name"]
        seed, size = int(spec["seed"]), int(spec["image_size"])
        self.seed = seed
        self.cache = FrameCache(spec["archives"], size, seed)
        lengths = {}
        for video_id, path in spec["archives"].items():
            with FrameArchive(path) as archive:
                lengths[video_id] = len(archive)
        self.pairs = build_pairs(spec, lengths)
        # the teacher's rows of every clean training frame, computed once by the extraction worker
        teacher = spec.get("teacher") or {}
        self.teacher_weight = float(teacher.get("weight", 0.0))
        self.teacher = {v: np.load(p)["features"] for v, p in (teacher.get("items") or {}).items()}
        self.mild = FrameAugmenter(size, "mild", seed=seed * 1000 + context.rank)
        self.hard = FrameAugmenter(size, "hard", seed=seed * 1000 + 500 + context.rank)

    def batches(self, epoch: int) -> list:
        from video_similarity.training.augment import PairSampler

        batch = int(self.spec["batch_size"])
        return rank_share(list(PairSampler(self.pairs, seed=self.seed * 1000 + epoch).batches(batch, drop_last=True)) or [self.pairs[:batch]], self.context)

    def loss(self, trained, chunk):
        import torch

        from video_similarity.training.augment import to_tensor
        from video_similarity.training.losses import gather_embeddings, info_nce, koleo

        cache = self.cache
        others = [cache(chunk[(j + 1) % len(chunk)][0]) for j in range(len(chunk))]
        left = [self.mild(cache(a), [o]) for (a, _), o in zip(chunk, others)]
        # a frame paired with itself gets one hard view; a copied pair is already edited
        right = [(self.hard if a == b else self.mild)(cache(b), [o]) for (a, b), o in zip(chunk, others)]
        embeddings = trained(to_tensor(left + right).to(self.context.device))
        left_emb = gather_embeddings(embeddings[: len(chunk)])
        right_emb = gather_embeddings(embeddings[len(chunk):])
        loss = info_nce(left_emb, right_emb, tau=float(self.spec["tau"]))
        loss = loss + float(self.spec["koleo_weight"]) * koleo(torch.cat([left_emb, right_emb]))
        if self.teacher_weight > 0:
            loss = loss + self.teacher_weight * self._teacher_term(embeddings[: len(chunk)], chunk)
        return loss

    def _teacher_term(self, student, chunk):
        """Relational distillation of the (augmented) left views towards the teacher's rows of the clean frames."""
        import torch

        from video_similarity.training.losses import relational_distillation

        rows = [i for i, ((video, _), _) in enumerate(chunk) if video in self.teacher]
        if len(rows) < 2:
            return student.sum() * 0.0
        targets = [self.teacher[chunk[i][0][0]][min(chunk[i][0][1], len(self.teacher[chunk[i][0][0]]) - 1)] for i in rows]
        teacher = torch.from_numpy(np.stack(targets)).to(student.device)
        return relational_distillation(student[rows], teacher)


def train_descriptor(spec: dict, context) -> None:
    import torch

    from video_similarity.models.checkpoint import export_torchscript
    from video_similarity.models.descriptor import CHECKPOINT_KIND, DescriptorModel
    from video_similarity.training.loop import fit

    torch.manual_seed(int(spec["seed"]))
    size = int(spec["image_size"])
    model = DescriptorModel(spec["backbone"], dim=int(spec["dim"]), weights_path=spec.get("weights_path"), input_size=size).to(context.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=float(spec["lr"]), weight_decay=float(spec["weight_decay"]))
    task = DescriptorTask(spec, context)
    if context.is_main:
        log.info("%s: %s, %d positive pairs, %d steps/epoch x %d epochs, %d process(es) on %s",
                 spec["name"], spec["backbone"], len(task.pairs), len(task.batches(0)), int(spec["epochs"]), context.world_size, context.device)
    # config rebuilds the model; where its weights started is the member folder's stamp (train_ensemble)
    fit(model, optimizer, task, epochs=int(spec["epochs"]), checkpoint=spec["checkpoint"], kind=CHECKPOINT_KIND, config=model.config, context=context)
    if context.is_main:
        model.eval()
        export_torchscript(model.cpu(), spec["torchscript"], example=torch.zeros(1, 3, size, size))


# ------------------------------------------------------------------ video transformer


def view(frames: np.ndarray, crop: int, noise: float, frame_drop: float, rng: np.random.Generator) -> np.ndarray:
    """A random temporal crop of up to ``crop`` frames, some frames dropped, Gaussian noise (norm ~``noise``), rows re-normalised."""
    length = min(crop, len(frames))
    start = int(rng.integers(0, len(frames) - length + 1))
    x = frames[start : start + length]
    keep = rng.random(len(x)) >= frame_drop
    if keep.sum() >= 1:
        x = x[keep]
    from video_similarity.descriptors import l2_normalize

    x = x + rng.normal(0.0, noise / np.sqrt(x.shape[1]), x.shape).astype(np.float32)  # noise vectors of norm ~noise
    return l2_normalize(x)


def pad(views: list[np.ndarray]):
    """Stack variable-length views into (B, T, D) with a padding mask (True = padded)."""
    import torch

    longest = max(len(v) for v in views)
    x = np.zeros((len(views), longest, views[0].shape[1]), np.float32)
    mask = np.ones((len(views), longest), bool)
    for i, v in enumerate(views):
        x[i, : len(v)] = v
        mask[i, : len(v)] = False
    return torch.from_numpy(x), torch.from_numpy(mask)


class VideoTransformerTask:
    """InfoNCE between video vectors of two views of each positive pair of videos."""

    name = "video encoder"

    def __init__(self, spec: dict, features: dict[str, np.ndarray], context):
        self.spec, self.features, self.context = spec, features, context
        self.seed = int(spec["seed"])
        self.pairs = [((v, 0), (v, 0)) for v in sorted(features)] + [((a, 0), (b, 0)) for a, b in spec["pairs"] if a in features and b in features]
        self.rng = np.random.default_rng(self.seed * 1000 + context.rank)

    def batches(self, epoch: int) -> list:
        from video_similarity.training.augment import PairSampler

        world = self.context.world_size
        batches = list(PairSampler(self.pairs, seed=self.seed * 1000 + epoch).batches(int(self.spec["batch_size"]))) or [self.pairs[: int(self.spec["batch_size"])]]
        batches = [b for b in batches if len(b) >= 2] or batches
        while len(batches) < world:
            batches += batches
        steps = len(batches) // world
        # Every rank computes the same batches; step i uses batches[i*W : (i+1)*W]. The views are gathered
        # across ranks each step (all_gather needs equal sizes), so each step's batches are cut to the shortest.
        groups = [batches[i * world : (i + 1) * world] for i in range(steps)]
        return [group[self.context.rank][: min(len(b) for b in group)] for group in groups]

    def loss(self, trained, batch):
        from video_similarity.models.video_transformer import contrastive_step

        s, device = self.spec, self.context.device
        crop, noise, drop = int(s["crop"]), float(s["noise"]), float(s["frame_drop"])
        a, a_mask = pad([view(self.features[x[0]], crop, noise, drop, self.rng) for x, _ in batch])
        b, b_mask = pad([view(self.features[y[0]], crop, noise, drop, self.rng) for _, y in batch])
        return contrastive_step(trained, a.to(device), a_mask.to(device), b.to(device), b_mask.to(device),
                                tau=float(s["tau"]), gather=self.context.world_size > 1)


def train_video_transformer(spec: dict, context) -> None:
    import torch

    from video_similarity.models.video_transformer import CHECKPOINT_KIND, VideoTransformer
    from video_similarity.training.loop import fit

    torch.manual_seed(int(spec["seed"]))
    features = {v: np.load(p)["features"].astype(np.float32) for v, p in spec["features"].items()}
    features = {v: x for v, x in features.items() if len(x)}
    input_dim = next(iter(features.values())).shape[1]
    config = {"input_dim": input_dim, "dim": int(spec["dim"]), "depth": int(spec["depth"]), "heads": int(spec["heads"]),
              "max_len": int(spec["max_len"]), "dropout": float(spec["dropout"])}
    model = VideoTransformer(**config)
    model.input_mean.copy_(torch.from_numpy(np.concatenate(list(features.values())).mean(axis=0)))
    model = model.to(context.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=float(spec["lr"]), weight_decay=float(spec["weight_decay"]))
    task = VideoTransformerTask(spec, features, context)
    epochs = int(spec["epochs"])
    if context.is_main:
        log.info("Video encoder: %d videos, %d positive pairs (self + annotated), %d steps/epoch x %d epochs, %d process(es) on %s",
                 len(features), len(task.pairs), len(task.batches(0)), epochs, context.world_size, context.device)
    fit(model, optimizer, task, epochs=epochs, checkpoint=spec["checkpoint"], kind=CHECKPOINT_KIND, config=model.config, context=context)


# ------------------------------------------------------------------ video score (copy / no copy per query)


class VideoScoreTask:
    """BCE with logits of "this video holds copied content" over the training ids' padded frame features.

    Class imbalance: when the training ids hold both classes the positive
    term is weighted by pos_weight = n_neg / n_pos (so both classes weigh the
    same in the loss); with one class only there is no weighting. Each epoch
    shuffles the training ids with (seed, epoch), cuts them into batches of
    ``batch_size`` (the last one may be shorter) and gives each rank its share.
    """

    name = "video score"

    def __init__(self, spec: dict, rows: dict[str, np.ndarray], context):
        import torch

        self.spec, self.rows, self.context = spec, rows, context
        self.seed, self.max_frames = int(spec["seed"]), int(spec["max_frames"])
        self.ids = list(spec["train_ids"])
        self.labels = {v: float(spec["labels"][v]) for v in self.ids}
        positives = sum(1 for v in self.ids if self.labels[v] > 0.5)
        self.positives, self.negatives = positives, len(self.ids) - positives
        weight = torch.tensor(self.negatives / positives) if positives and self.negatives else None
        self.criterion = torch.nn.BCEWithLogitsLoss(pos_weight=weight).to(context.device)

    def batches(self, epoch: int) -> list:
        order = np.random.default_rng((self.seed, epoch)).permutation(len(self.ids))
        size = int(self.spec["batch_size"])
        return rank_share([[self.ids[i] for i in order[j : j + size]] for j in range(0, len(order), size)], self.context)

    def loss(self, trained, batch):
        import torch

        from video_similarity.models.vid_score import pad_features

        x, mask = pad_features([self.rows[v] for v in batch], self.max_frames)
        device = self.context.device
        logits = trained(torch.from_numpy(x).to(device), torch.from_numpy(mask).to(device))
        return self.criterion(logits, torch.tensor([self.labels[v] for v in batch], device=device))


def train_vid_score(spec: dict, context) -> None:
    """Train, then on rank 0: TorchScript export and the report (validation ids, or the training ids when there are none)."""
    import json

    import torch

    from video_similarity.atomic import atomic_write
    from video_similarity.models.checkpoint import export_torchscript
    from video_similarity.models.vid_score import CHECKPOINT_KIND, score_videos, video_score_model
    from video_similarity.training.loop import fit, warmup_linear

    train_ids, val_ids = list(spec["train_ids"]), list(spec["val_ids"])
    missing = sorted(v for v in train_ids + val_ids if v not in spec["items"] or v not in spec["labels"])
    if missing:
        raise ValueError(f"vid_score spec: {len(missing)} train/val id(s) without an item or a label, e.g. {missing[:5]}")
    if not train_ids:
        raise ValueError("vid_score spec: no training ids")
    rows = {}
    for video_id in train_ids:
        with np.load(spec["items"][video_id]) as data:
            rows[video_id] = data["features"].astype(np.float32)
    feature_dim = next(iter(rows.values())).shape[1]
    options = {k: int(spec[k]) for k in ("width", "depth", "heads", "max_frames")} | {"dropout": float(spec["dropout"])}
    training = {"lr": float(spec["lr"]), "weight_decay": float(spec["weight_decay"]), "warmup": float(spec["warmup"]),
                "epochs": int(spec["epochs"]), "batch_size": int(spec["batch_size"]), "seed": int(spec["seed"])}
    torch.manual_seed(training["seed"])
    model = video_score_model(feature_dim, **options).to(context.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=training["lr"], weight_decay=training["weight_decay"])
    task = VideoScoreTask(spec, rows, context)
    if context.is_main:
        log.info("%s: %d training videos (%d with copies), %d steps/epoch x %d epochs, %d process(es) on %s", spec["name"], len(train_ids),
                 task.positives, len(task.batches(0)), training["epochs"], context.world_size, context.device)
    # epochs is part of the config: the schedule spans all of them, so a longer run is another run
    fit(model, optimizer, task, epochs=training["epochs"], checkpoint=spec["checkpoint"], kind=CHECKPOINT_KIND,
        config={**model.config, **training}, context=context, schedule=warmup_linear(training["warmup"]))
    if not context.is_main:
        return
    model.eval()
    export_torchscript(model.cpu(), spec["torchscript"])
    evaluated_on, ids = ("val", val_ids) if val_ids else ("train", train_ids)
    scores = score_videos(spec["torchscript"], {v: spec["items"][v] for v in ids}, options["max_frames"])
    labels = [int(spec["labels"][v]) for v in ids]
    report = {"val_ap": average_precision(labels, [scores[v] for v in ids]), "val_videos": len(ids), "val_positives": sum(labels),
              "scores": scores, "evaluated_on": evaluated_on}
    atomic_write(spec["report"], lambda fh: fh.write(json.dumps(report, indent=2).encode()))
    log.info("%s: AP %s over %d %s videos (%d with copies)", spec["name"], report["val_ap"], len(ids), evaluated_on, sum(labels))


def average_precision(labels: list[int], scores: list[float]) -> float | None:
    """sklearn's average precision; None (JSON null) when no video holds a copy (it is undefined then)."""
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(labels, scores)) if any(labels) else None


# ------------------------------------------------------------------ clip classifiers (action recognition, SEVERE fine-tuning)


class ClipClassificationTask:
    """Cross-entropy over clips of the training videos' clip archives (the first clip of each, or every clip)."""

    name = "clip classifier"

    def __init__(self, spec: dict, context, clip_frames: int, input_size: int):
        import torch

        from video_similarity.action.clip_archives import archive_clip_count

        self.spec, self.context = spec, context
        self.clip_frames, self.input_size = clip_frames, input_size
        self.seed = int(spec["seed"])
        self.labels = {v: int(spec["labels"][v]) for v in spec["labels"]}
        train = list(spec["train_ids"])
        if spec["train_clips"] == "all":
            self.examples = [(v, k) for v in train for k in range(archive_clip_count(spec["archives"][v], clip_frames))]
        else:
            self.examples = [(v, 0) for v in train]
        ids = list(spec["eval_ids"])  # in index order (by class): an evenly spaced sample covers every class
        step = max(1, -(-len(ids) // max(1, int(spec["curve_videos"]))))
        self.curve = ids[::step]
        self.criterion = torch.nn.CrossEntropyLoss()

    def clips(self, pairs: list[tuple[str, int]]):
        from video_similarity.action.clip_archives import read_archive_clip
        from video_similarity.video.clips import to_clip_tensor

        return to_clip_tensor([read_archive_clip(self.spec["archives"][v], k, self.clip_frames, self.input_size) for v, k in pairs])

    def batches(self, epoch: int) -> list:
        order = np.random.default_rng((self.seed, epoch)).permutation(len(self.examples))
        size = int(self.spec["batch_size"])
        return rank_share([[self.examples[i] for i in order[j : j + size]] for j in range(0, len(order), size)], self.context)

    def loss(self, trained, batch):
        import torch

        targets = torch.tensor([self.labels[v] for v, _ in batch], device=self.context.device)
        return self.criterion(trained(self.clips(batch).to(self.context.device)), targets)

    def after_epoch(self, model) -> dict:
        """Clip accuracy of the evaluation videos' first clips (no labels: nothing)."""
        import torch

        if not self.curve:
            return {}
        right = 0
        with torch.no_grad():
            for i in range(0, len(self.curve), 32):
                ids = self.curve[i : i + 32]
                predicted = model(self.clips([(v, 0) for v in ids]).to(self.context.device)).argmax(1).cpu().numpy()
                right += int(sum(int(p) == self.labels[v] for p, v in zip(predicted, ids)))
        return {"eval_clip_accuracy": right / len(self.curve)}


def clip_logits(model, archives: dict[str, str], clip_frames: int, input_size: int, device: str, batch_size: int = 16) -> dict[str, np.ndarray]:
    """{video: logits (clips, C)} of every clip of each archive."""
    import torch

    from video_similarity.action.clip_archives import read_archive_clips
    from video_similarity.video.clips import to_clip_tensor

    out = {}
    with torch.no_grad():
        for video_id, path in archives.items():
            clips = read_archive_clips(path, clip_frames, input_size)
            out[video_id] = np.concatenate([model(to_clip_tensor(clips[i : i + batch_size]).to(device)).float().cpu().numpy()
                                            for i in range(0, len(clips), batch_size)])
    return out


def train_clip_classifier(spec: dict, context) -> None:
    import json

    import torch

    from video_similarity.atomic import atomic_write
    from video_similarity.models.clip_classifier import build_classifier, checkpoint_kind
    from video_similarity.training.loop import fit, multistep

    config = dict(spec["model"])
    torch.manual_seed(int(spec["seed"]))
    model = build_classifier(config).to(context.device)
    clip_frames, input_size = int(spec["clip_frames"]), int(spec["input_size"])
    if spec["optimizer"] == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=float(spec["lr"]), momentum=float(spec["momentum"]), weight_decay=float(spec["weight_decay"]))
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=float(spec["lr"]), weight_decay=float(spec["weight_decay"]))
    epochs = int(spec["epochs"])
    milestones = list(spec.get("milestones") or [])
    schedule = multistep(milestones, float(spec["gamma"]), epochs) if milestones else None
    task = ClipClassificationTask(spec, context, clip_frames, input_size)
    if context.is_main:
        log.info("%s: %d training clips of %d classes, %d steps/epoch x %d epochs, %d process(es) on %s", spec["name"], len(task.examples),
                 int(config["num_classes"]), len(task.batches(0)), epochs, context.world_size, context.device)
    training = {k: spec[k] for k in ("lr", "weight_decay", "optimizer", "momentum", "batch_size", "epochs", "milestones", "gamma", "seed",
                                     "train_clips", "clip_frames", "input_size")}
    history = fit(model, optimizer, task, epochs=epochs, checkpoint=spec["checkpoint"], kind=checkpoint_kind(config),
                  config=model.config if config.get("network") == "tvn1" else {**config, "training": training}, context=context, schedule=schedule)
    if not context.is_main:
        return
    model.eval()
    logits = clip_logits(model, {v: spec["archives"][v] for v in spec["eval_ids"]}, clip_frames, input_size, context.device)
    ids = list(logits)
    arrays = {"video_ids": np.asarray([v for v in ids for _ in range(len(logits[v]))]),
              "clip_index": np.asarray([k for v in ids for k in range(len(logits[v]))], np.int64),
              "logits": np.concatenate([logits[v] for v in ids]) if ids else np.zeros((0, int(config["num_classes"])), np.float32)}
    atomic_write(spec["predictions"], lambda fh: np.savez(fh, **arrays))
    atomic_write(spec["history"], lambda fh: fh.write(json.dumps(history, indent=1).encode()))


TASKS = {"descriptor": train_descriptor, "video_transformer": train_video_transformer, "vid_score": train_vid_score,
         "clip_classifier": train_clip_classifier}


@record
def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spec = read_spec()
    if spec.get("task") not in TASKS:
        raise ValueError(f"training spec: task must be one of {sorted(TASKS)}, got {spec.get('task')!r}")
    context = init_worker()
    TASKS[spec["task"]](spec, context)
    finish(context)


if __name__ == "__main__":
    main()
