"""Tables that compare runs with the study and with each other (plain pandas, no Streamlit)."""

from __future__ import annotations

import pandas as pd

from .config import MODEL_TITLES, PAPER_TABLE2
from .runs import Run


def table2(runs: list[Run]) -> pd.DataFrame:
    """The study's Table 2 beside each run: accuracy and "error", with the differences.

    The paper's error is compared with the run's cross-entropy loss (which it
    matches); the run's RMSE is shown as well.
    """
    rows = []
    for r in runs:
        m, man = r.metrics, r.manifest
        paper = PAPER_TABLE2.get(man["model"], {})
        rows.append({
            "model": MODEL_TITLES.get(man["model"], man["model"]),
            "split": man["split"]["name"],
            "recipe": r.recipe_label,
            "classes": len(r.classes),
            "chance": round(1 / len(r.classes), 3),
            "paper accuracy": paper.get("accuracy"),
            "segment accuracy": round(m["segment_accuracy"], 4),
            "Δ accuracy": None if not paper else round(m["segment_accuracy"] - paper["accuracy"], 4),
            "track accuracy": None if m.get("track_accuracy_mean") is None else round(m["track_accuracy_mean"], 4),
            "paper error (= cross-entropy)": paper.get("error"),
            "cross-entropy loss": round(m["loss"], 4),
            "Δ loss": None if not paper else round(m["loss"] - paper["error"], 4),
            "RMSE": round(m["rmse"], 4),
            "epochs": man["epochs_run"],
            "test tracks": m.get("n_tracks"),
            "run": r.id,
        })
    return pd.DataFrame(rows)


def leakage_gaps(runs: list[Run]) -> pd.DataFrame | None:
    """Segment-split minus track-split accuracy for each model and recipe present under both."""
    rows = []
    key = lambda r: (r.manifest["model"], r.recipe_label, tuple(r.classes))  # noqa: E731
    by_split: dict[tuple, dict[str, Run]] = {}
    for r in runs:
        by_split.setdefault(key(r), {}).setdefault(r.manifest["split"]["name"], r)
    for (model, recipe, _), splits in by_split.items():
        if "segment" in splits and "track" in splits:
            seg, trk = splits["segment"].metrics, splits["track"].metrics
            rows.append({
                "model": MODEL_TITLES.get(model, model), "recipe": recipe,
                "segment split: segment acc": round(seg["segment_accuracy"], 4),
                "track split: segment acc": round(trk["segment_accuracy"], 4),
                "gap (segment acc)": round(seg["segment_accuracy"] - trk["segment_accuracy"], 4),
                "gap (track acc)": None if seg.get("track_accuracy_mean") is None or trk.get("track_accuracy_mean") is None
                else round(seg["track_accuracy_mean"] - trk["track_accuracy_mean"], 4),
            })
    return pd.DataFrame(rows) if rows else None


def per_class_table(run: Run) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (segments) of a run."""
    df = pd.DataFrame(run.metrics["per_class"])
    return df.round({"precision": 3, "recall": 3, "f1": 3})


def misclassified(run: Run, track_paths: dict[str, str] | None = None) -> pd.DataFrame:
    """Test tracks whose mean-probability prediction is wrong, with the audio path where known."""
    classes = run.classes
    rows = []
    for t in run.metrics.get("tracks", []):
        if t["mean"] != t["true"]:
            rows.append({"track": t["track_id"], "true": classes[t["true"]], "predicted": classes[t["mean"]],
                         "confidence": round(t["confidence"], 3), "majority vote": classes[t["vote"]],
                         "segments": t["segments"], "path": (track_paths or {}).get(t["track_id"], "")})
    return pd.DataFrame(rows, columns=["track", "true", "predicted", "confidence", "majority vote", "segments", "path"])

