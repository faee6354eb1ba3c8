"""The results table: frame-level vs video-level gaps and the reference rows."""

from video_similarity.retrieval.report import FIVR_ANCHORS, frame_vs_video, results_markdown


def row(encoder, similarity, dsvr):
    return {"encoder": encoder, "weights": "w", "similarity": similarity, "DSVR": dsvr, "CSVR": 0.5, "ISVR": 0.4}


def test_frame_vs_video_takes_the_best_frame_level_method():
    rows = [row("a", "video_level", 0.5), row("a", "chamfer", 0.7), row("a", "topk_chamfer", 0.8), row("b", "chamfer", 0.9)]
    gaps = frame_vs_video(rows)
    assert set(gaps) == {"a"}  # b has no video-level row
    assert gaps["a"]["frame_method"] == "topk_chamfer" and abs(gaps["a"]["gain"] - 0.3) < 1e-12


def test_markdown_has_one_row_per_encoder_and_similarity_and_the_anchors():
    rows = [row("a", "video_level", 0.5), row("a", "chamfer", 0.75)]
    results = {"benchmark": "fivr", "title": "FIVR (5k)", "notes": ["n1"], "rows": rows, "frame_vs_video": frame_vs_video(rows), "anchors": FIVR_ANCHORS}
    text = results_markdown(results)
    assert "| a | w | chamfer | 0.7500 | 0.5000 | 0.4000 |" in text
    assert "| a | 0.5000 | 0.7500 | chamfer | +0.2500 |" in text
    assert "| ViSiL_v | FIVR-200K | 0.8920 | 0.8410 | 0.7020 |" in text and "- n1" in text
