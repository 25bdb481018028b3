"""Tables that compare runs with the study and with each other (plain pandas, no Streamlit)."""

from __future__ import annotations

import pandas as pd

from ..config import MODEL_NAMES, PAPER_TABLE2, STUDY_MODELS, model_title
from ..dataset import THIN_CLASS_TRACKS
from ..errors import ParameterError
from ..runs import Run


def _r(value, digits: int = 4):
    return None if value is None else round(value, digits)


def table2(runs: list[Run]) -> pd.DataFrame:
    """The study's Table 2 beside each run: accuracy and "error", with the differences.

    The paper's error is compared with the run's cross-entropy loss (which it
    matches); the run's RMSE is shown as well. Differences to the paper are given
    only for runs of the paper's task and protocol: GTZAN's ten genres (chance
    10 %) under the segment split; elsewhere they would compare different questions
    (the leakage ladder shows those). The transfer model is not in the study: it
    has no paper figures, and ``in the study`` says so. Balanced accuracy and macro-F1 are
    over the classes present in the test part.
    """
    rows = []
    for r in runs:
        m, man = r.metrics, r.manifest
        # the paper's task and protocol: ten genres, random split over segments
        paper = PAPER_TABLE2.get(man["model"], {}) if len(r.classes) == 10 and man["split"]["name"] == "segment" else {}
        rows.append(
            {
                "model": model_title(man["model"]),
                "in the study": "yes" if man["model"] in STUDY_MODELS else "no: beyond the study",
                "protocol": r.protocol,
                "recipe": r.recipe_label,
                "classes": len(r.classes),
                "chance": round(1 / len(r.classes), 3),
                "paper accuracy": PAPER_TABLE2.get(man["model"], {}).get("accuracy"),
                "segment accuracy": round(m["segment_accuracy"], 4),
                "Δ accuracy": None if not paper else round(m["segment_accuracy"] - paper["accuracy"], 4),
                "track accuracy": _r(m.get("track_accuracy_mean")),
                "balanced accuracy (tracks)": _r(m.get("track_balanced_accuracy")),
                "macro-F1 (tracks)": _r(m.get("track_macro_f1")),
                "paper error (= cross-entropy)": PAPER_TABLE2.get(man["model"], {}).get("error"),
                "cross-entropy loss": round(m["loss"], 4),
                "Δ loss": None if not paper else round(m["loss"] - paper["error"], 4),
                "RMSE": round(m["rmse"], 4),
                "epochs": man["epochs_run"],
                "status": man["status"],
                "test tracks": m.get("n_tracks"),
                "scores from": (man.get("metrics_from") or {}).get("run", ""),
                "run": r.id,
            }
        )
    return pd.DataFrame(rows)


#: The rungs of the leakage ladder, and why each next one is lower.
LADDER = (
    ("segment", "the study's split: random over 3-s segments"),
    ("track", "segments of one song no longer sit on both sides"),
    ("fault-filtered", "songs of one artist no longer sit on both sides"),
)


def leakage_ladder(runs: list[Run]) -> pd.DataFrame | None:
    """The same network and recipe under the segment, track and fault-filtered splits, with the drop at each step.

    One row per (network, recipe, class list, protocol) present among ``runs``
    (the first such run when several; refits, which have no test part of their
    own, are left out). ``drop`` columns subtract this rung from the one just above
    it (segment -> track -> fault-filtered); where a rung is missing, the next one
    shows no drop, since it would mix two leaks.
    """
    found: dict[tuple, dict[str, Run]] = {}
    for r in runs:
        if r.manifest.get("metrics_from"):
            continue
        key = (r.manifest["model"], r.recipe_label, tuple(r.classes))
        found.setdefault(key, {}).setdefault(r.protocol, r)  # "tested on valid" and "on test" are two rungs
    rows = []
    order = {m: i for i, m in enumerate(MODEL_NAMES)}

    def rank(item):  # network, then the study's recipe first, then the most classes
        (model, recipe, classes), _ = item
        return order.get(model, 9), recipe != "study", recipe, -len(classes)

    for (model, recipe, classes), by in sorted(found.items(), key=rank):
        previous: Run | None = None  # the rung just above (a drop is only measured across one leak)
        for name, why in LADDER:
            rung = [by[p] for p in sorted(by) if by[p].manifest["split"]["name"] == name]
            for r in rung:
                m = r.metrics
                row = {
                    "model": model_title(model) + ("" if model in STUDY_MODELS else " (beyond the study)"),
                    "recipe": recipe,
                    "classes": len(classes),
                    "protocol": r.protocol,
                    "test tracks": m.get("n_tracks"),
                    "segment accuracy": round(m["segment_accuracy"], 3),
                    "track accuracy": _r(m.get("track_accuracy_mean"), 3),
                    "balanced accuracy": _r(m.get("track_balanced_accuracy"), 3),
                    "drop (track acc)": None,
                    "drop (balanced)": None,
                    "why": why,
                    "run": r.id,
                }
                if previous is not None:
                    for col, metric in (
                        ("drop (track acc)", "track_accuracy_mean"),
                        ("drop (balanced)", "track_balanced_accuracy"),
                    ):
                        a, b = previous.metrics.get(metric), m.get(metric)
                        row[col] = None if a is None or b is None else round(a - b, 3)
                rows.append(row)
            previous = rung[0] if rung else None
    return pd.DataFrame(rows) if rows else None


def score_row(m: dict) -> pd.DataFrame:
    """One line of the scores in a metrics dict (:func:`mgc.runs.evaluate_predictions`)."""
    return pd.DataFrame(
        [
            {
                "tracks": m.get("n_tracks"),
                "segments": m["n_segments"],
                "track accuracy": _r(m.get("track_accuracy_mean"), 3),
                "balanced accuracy (tracks)": _r(m.get("track_balanced_accuracy"), 3),
                "macro-F1 (tracks)": _r(m.get("track_macro_f1"), 3),
                "segment accuracy": round(m["segment_accuracy"], 3),
                "cross-entropy": round(m["loss"], 3),
                "excluded tracks": m.get("excluded_tracks"),
            }
        ]
    )


def per_class_table(run: Run, level: str = "tracks") -> pd.DataFrame:
    """Precision, recall, F1 and support per class of a run, by ``level`` ('tracks' or 'segments').

    The ``note`` column marks classes absent from the test part and thin ones
    (fewer than :data:`mgc.dataset.THIN_CLASS_TRACKS` test tracks), whose recall
    rests on one or two songs.
    """
    if level not in ("tracks", "segments"):
        raise ParameterError(f"level={level!r} must be 'tracks' or 'segments'")
    rows = run.metrics.get("track_per_class") if level == "tracks" else run.metrics["per_class"]
    if rows is None:
        raise ParameterError(
            f"run {run.id!r} has no per-track metrics (made before they existed, or no track ids)"
            + ("" if level == "segments" else "; choose segments")
        )
    tracks = run.manifest["split"].get("test_tracks_per_class") or {}
    df = pd.DataFrame(rows).round({"precision": 3, "recall": 3, "f1": 3})
    notes = []
    for c in df["class"]:
        n = tracks.get(c)
        notes.append(
            ""
            if n is None or n >= THIN_CLASS_TRACKS
            else "absent from the test part"
            if n == 0
            else f"thin: {n} test track{'s' if n > 1 else ''}"
        )
    df["note"] = notes
    return df


def misclassified(run: Run, track_paths: dict[str, str] | None = None) -> pd.DataFrame:
    """Test tracks whose mean-probability prediction is wrong, with the audio path where known."""
    classes = run.classes
    rows = []
    for t in run.metrics.get("tracks", []):
        if t["mean"] != t["true"]:
            rows.append(
                {
                    "track": t["track_id"],
                    "true": classes[t["true"]],
                    "predicted": classes[t["mean"]],
                    "confidence": round(t["confidence"], 3),
                    "majority vote": classes[t["vote"]],
                    "segments": t["segments"],
                    "path": (track_paths or {}).get(t["track_id"], ""),
                }
            )
    return pd.DataFrame(rows, columns=["track", "true", "predicted", "confidence", "majority vote", "segments", "path"])


def runs_table(runs: list[Run]) -> pd.DataFrame:
    """One line per stored run, for an overview: model, protocol, recipe, what it was trained on (``GTZAN (10)``,
    ``synthetic demo (5)``: :attr:`Run.trained_on` and the class count), the honest scores (track accuracy and
    balanced accuracy over tracks), and the epochs run, with the
    status when the run did not finish (``12 of 100, stopped``)."""
    rows = []
    for r in runs:
        m, man = r.metrics, r.manifest
        epochs = str(man["epochs_run"])
        if man["status"] != "finished":
            epochs += f" of {man.get('epochs_requested', '?')}, {man['status']}"
        rows.append(
            {
                "run": r.id,
                "model": model_title(man["model"]),
                "protocol": r.protocol,
                "recipe": r.recipe_label,
                "trained on": f"{r.trained_on} ({len(r.classes)})",
                "track acc": _r(m.get("track_accuracy_mean"), 3),
                "balanced": _r(m.get("track_balanced_accuracy"), 3),
                "epochs": epochs,
            }
        )
    return pd.DataFrame(rows)
