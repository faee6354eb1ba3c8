"""retrieval through the shipped conf/fivr and conf/cc_web on folders of a few real ids.

The videos are the test demo's, copied under FIVR-5K and CC_WEB_VIDEO ids, so every
other listed video is missing: the run must report them and still score what it found.
Encoders are cut to the fast ones with runtime parameters; everything else (lists,
annotations from data/annotations, all_db, the transductive video encoder) is the env's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.pipelines.conftest import REPO, latest_results, run_pipeline
from video_similarity.config import dataset_name
from video_similarity.metrics.fivr import positives, read_id_list

DATA = Path("data")
# every encoder name conf/base, conf/fivr or conf/cc_web configures
ZOO = sorted({name for env in ("base", "fivr", "cc_web")
              for name in yaml.safe_load((REPO / f"conf/{env}/parameters_retrieval.yml").read_text())["retrieval"]["encoders"]})


def only(encoders: dict) -> dict:
    """``retrieval.encoders`` runtime parameters keeping just ``encoders`` (null removes an entry)."""
    return {name: encoders.get(name) for name in ZOO}


@pytest.fixture(scope="module")
def demo_videos(retrieval_run) -> Path:
    return retrieval_run / DATA / "01_raw/test_fivr/videos"


def pick_related(annotation: dict, query: str, in_db: set[str]) -> dict[str, str] | None:
    """One database video per label ND, DS, CS of ``query``, each outside the stronger labels' lists."""
    picked, stronger = {}, set()
    for label in ("ND", "DS", "CS"):
        candidates = sorted(set(annotation[query].get(label, ())) & in_db - stronger)
        if not candidates:
            return None
        picked[label] = candidates[0]
        stronger |= set(annotation[query][label])
    return picked


@pytest.fixture(scope="module")
def fivr_folder(demo_videos, tmp_path_factory):
    """Two FIVR-5K queries with an ND, a DS and a CS video each, three unrelated database videos, one corrupt file."""
    annotations = REPO / "data/annotations/fivr"
    annotation = json.loads((annotations / "annotation.json").read_text())
    queries = read_id_list(annotations / "fivr-5k-queries.txt")
    database = read_id_list(annotations / "fivr-5k-database.txt")
    in_db = set(database)
    labelled = {q: {v for videos in annotation[q].values() for v in videos} for q in queries}
    picks = {q: p for q in queries if (p := pick_related(annotation, q, in_db))}
    # two queries whose picked videos the other query does not label, so each query's found positives are known
    first, second = next(
        (a, b) for a in picks for b in picks
        if a != b and not set(picks[a].values()) & labelled[b] and not set(picks[b].values()) & labelled[a]
    )
    folder = tmp_path_factory.mktemp("fivr_videos")
    names = {}
    for k, query in enumerate((first, second), start=1):
        names[f"e0{k}_query"] = query
        names.update({f"e0{k}_{label.lower()}1": video for label, video in picks[query].items()})
    unrelated = [v for v in database if not any(v in labelled[q] for q in (first, second)) and v not in names.values()]
    names.update({f"e_distractor0{i}": unrelated[i - 1] for i in (1, 2, 3)})
    for demo, video in names.items():
        shutil.copy(demo_videos / f"{demo}.mp4", folder / f"{video}.mp4")
    corrupt = unrelated[3]
    (folder / f"{corrupt}.mp4").write_bytes(b"\x00not a video" * 300)
    found = set(names.values()) | {corrupt}
    all_db = set(queries) | in_db
    # mAP can be at most the mean over the two queries of (found positives / all positives in all_db)
    bound = {
        task: sum(len(positives(annotation[q], task) & found - {q}) / len(positives(annotation[q], task) & all_db) for q in (first, second)) / 2
        for task in ("DSVR", "CSVR", "ISVR")
    }
    return {"folder": folder, "corrupt": corrupt, "found": found, "listed": len(all_db), "bound": bound}


FIVR_PARAMS = {
    "retrieval": {
        "batch_size": 4,
        "encoders": only({"resnet50_avgpool": {"options": {"input_size": 64}}, "pdq": {}}),
        "video_encoder": {"dim": 32, "heads": 2, "depth": 1, "max_len": 16, "epochs": 1, "batch_size": 4, "crop": 4},
    },
}


@pytest.fixture(scope="module")
def fivr_run(project, fivr_folder):
    run_pipeline(project, "retrieval", env="fivr", runtime_params={"fivr_root": str(fivr_folder["folder"]), **FIVR_PARAMS})
    return project


def test_fivr_env_reports_missing_videos_and_scores_what_it_found(fivr_run, fivr_folder):
    ds = dataset_name("fivr", fivr_folder["folder"])  # the root's own data folder
    n_found = len(fivr_folder["found"])
    report = json.loads((fivr_run / DATA / f"08_reporting/{ds}/retrieval_ingest_report.json").read_text())
    assert report["counts"]["queries"] == 50 and report["counts"]["database"] == 5000
    assert report["counts"]["found"]["query"] == 2 and report["counts"]["missing"]["query"] == 48
    assert report["counts"]["found"]["database"] == n_found - 2
    results = latest_results(fivr_run, ds)
    assert fivr_folder["listed"] == 5049  # eCrhXArKE24 is both a query and a database video
    assert results["all_db"] == "all" and results["missing_videos"] == 5049 - n_found
    assert results["failed_videos"] == [fivr_folder["corrupt"]]
    assert {r["encoder"] for r in results["rows"]} == {"resnet50_avgpool", "pdq", "video_transformer"}
    for row in results["rows"]:
        assert row["n_queries"] == 2
        # every missing positive is a miss: at most the found share of each query's positives
        assert all(0 < row[t] <= fivr_folder["bound"][t] + 1e-12 for t in ("DSVR", "CSVR", "ISVR")), (row, fivr_folder["bound"])
    assert fivr_folder["bound"]["DSVR"] < 0.1
    table = (fivr_run / DATA / f"08_reporting/{ds}/retrieval_results.md").read_text()
    assert f"videos missing from the folder: {5049 - n_found} of 5049 listed" in table
    assert "all_db convention: 'all'" in table and fivr_folder["corrupt"] in table
    encoder = json.loads((fivr_run / DATA / f"06_models/{ds}/retrieval/video_encoder.json").read_text())
    assert encoder["trained_on"].startswith("database videos") and encoder["n_videos"] == n_found - 3  # no queries, no corrupt


def test_fivr_env_available_only_restricts_all_db_to_decoded_videos(fivr_run, fivr_folder):
    ds = dataset_name("fivr", fivr_folder["folder"])
    everything = {(row["encoder"], row["similarity"]): row for row in latest_results(fivr_run, ds)["rows"]}
    params = {"fivr_root": str(fivr_folder["folder"]), "all_db": "available", **FIVR_PARAMS}
    run_pipeline(fivr_run, "retrieval", env="fivr", runtime_params=params, from_nodes=["evaluate_retrieval"])
    results = latest_results(fivr_run, ds)
    assert results["all_db"] == "available"
    ranked = len(fivr_folder["found"]) - 2  # decoded videos but the corrupt one and the query itself
    worst = (1 / (ranked - 1) + 2 / ranked) / 2  # DSVR: the 2 found positives ranked last
    for row in results["rows"]:
        assert row["DSVR"] >= worst - 1e-12 and worst > everything[(row["encoder"], row["similarity"])]["DSVR"], row
    table = (fivr_run / DATA / f"08_reporting/{ds}/retrieval_results.md").read_text()
    assert "'available only'" in table


@pytest.fixture(scope="module")
def cc_web_folder(demo_videos, tmp_path_factory):
    """Sets 1 and 2: the query, a positive (E) and a negative (X) each, and a video of set 3."""
    gt = json.loads((REPO / "data/annotations/cc_web_video/cc_web_video.json").read_text())
    folder = tmp_path_factory.mktemp("cc_web_videos")
    by_number = {n: v for v, n in gt["index"].items()}
    names = {}
    for k in (1, 2):
        query = gt["queries"][k - 1]
        labels = gt["ground_truth"][k - 1]
        names[f"e0{k}_query"] = query
        names[f"e0{k}_nd1"] = next(by_number[int(n)] for n, label in labels.items() if label == "E" and by_number[int(n)] != query)
        names[f"e0{k}_cs1"] = next(by_number[int(n)] for n, label in labels.items() if label == "X")
    names["e_distractor01"] = next(v for v in gt["index"] if v.startswith("3/") and v not in gt["queries"])
    for demo, video in names.items():
        target = folder / f"{video}.mp4"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(demo_videos / f"{demo}.mp4", target)
    return {"folder": folder, "names": names, "n_indexed": len(gt["index"])}


def test_cc_web_env_scores_the_four_variants_as_the_command_does(project, cc_web_folder):
    params = {"cc_web_root": str(cc_web_folder["folder"]),
              "retrieval": {"encoders": only({"pdq": {}}), "video_encoder": {"enabled": False}}}
    run_pipeline(project, "retrieval", env="cc_web", runtime_params=params)
    ds = dataset_name("cc_web", cc_web_folder["folder"])
    results = latest_results(project, ds)
    assert results["benchmark"] == "cc_web" and results["all_db"] is None
    assert results["missing_videos"] == cc_web_folder["n_indexed"] - len(cc_web_folder["names"])
    exhaustive = {"video_level", "chamfer", "symmetric_chamfer", "topk_chamfer"}
    assert {r["similarity"] for r in results["rows"]} == exhaustive | {f"{m} re-ranked" for m in exhaustive - {"video_level"}}
    variants = ("cc_web", "cc_web_star", "cc_web_c", "cc_web_star_c")
    row = next(r for r in results["rows"] if r["similarity"] == "chamfer")
    assert row["n_queries"] == 2 and all(0 < row[v] < 1 for v in variants), row
    printed = subprocess.run(
        [sys.executable, "-m", "video_similarity.metrics.cc_web", "--ground-truth",
         str(REPO / "data/annotations/cc_web_video/cc_web_video.json"), "--similarities", row["similarities_file"]],
        capture_output=True, text=True, check=True, cwd=project,
    )
    assert {v: json.loads(printed.stdout)[v] for v in variants} == {v: row[v] for v in variants}
    assert "| cc_web | cc_web_star | cc_web_c | cc_web_star_c |" in (project / DATA / f"08_reporting/{ds}/retrieval_results.md").read_text()
