"""Stored runs in the dashboard: models loaded once per server, clips classified, runs scored on the dataset."""

from __future__ import annotations

import streamlit as st

from mgc.errors import DatasetError

from .data import dataset, track_paths
from .widgets import progress_bar


def misclassified(run):
    """:func:`mgc.analysis.misclassified`, with the paths of the tracks found in the configured dataset."""
    from mgc.analysis import misclassified as wrong

    return wrong(run, track_paths())


@st.cache_resource(show_spinner="Loading models...", max_entries=32)
def _loaded_run(run_id: str, stamp: float):
    from mgc.analysis import warm_up
    from mgc.runs import load_run

    run = load_run(run_id)
    warm_up(run)
    return run


def loaded_runs(run_ids) -> list:
    """Runs with their Keras models loaded once per server (reloaded when a run folder changes)."""
    from mgc.runs import runs_dir

    out = []
    for rid in run_ids:
        path = runs_dir() / rid
        out.append(_loaded_run(rid, path.stat().st_mtime if path.exists() else 0.0))
    return out


@st.cache_data(show_spinner="Listening...", max_entries=8)
def classify_upload(data: bytes, name: str, run_ids: tuple):
    """Classify uploaded bytes with the given runs (cached per content and runs)."""
    from mgc.analysis import classify

    return classify(data, loaded_runs(run_ids), name=name)


def evaluate_on_dataset(run_id: str, root: str, split: str | None) -> dict:
    """Score a stored run on the configured dataset (all tracks, or a split's test part), with a progress bar.

    Only the dataset's classes the run knows are extracted; tracks the run trained or
    selected on are dropped by :func:`mgc.analysis.evaluate_run`, which says how many.
    """
    from mgc.analysis import evaluate_run
    from mgc.features import extract_dataset, kind_of, params_from_dict

    run = loaded_runs([run_id])[0]
    ds = dataset(root)
    classes = [c for c in ds.classes if c in run.classes]
    if len(classes) < 1:
        raise DatasetError(
            f"the dataset at {root!r} has none of the classes run {run_id!r} knows ({', '.join(run.classes)})"
        )
    params = params_from_dict(run.manifest["features"])
    what = (
        "Embedding segments with the pretrained tagger"
        if kind_of(params) == "embedding"
        else "Extracting MFCC segments"
    )
    with progress_bar(what) as update:
        fs = extract_dataset(root, params=params, classes=classes, on_progress=update)
    return evaluate_run(run, fs, split=split)
