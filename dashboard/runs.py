"""Stored runs in the dashboard: the run listing and models loaded once per server, clips classified and played,
runs scored on the dataset."""

from __future__ import annotations

import os

import streamlit as st

from mgc.errors import DatasetError

from .data import dataset, track_paths
from .widgets import progress_bar

#: The files of a run folder whose identity tells that the run changed (trust.json is read where it is used).
_RUN_FILES = ("manifest.json", "metrics.json", "history.json")


def _identity(base: str) -> tuple:
    """Every run folder's name with the size, modification time and inode of its listed files: what changes when a
    run is written, renamed into place, replaced or deleted (a few ``stat`` calls, no file read)."""
    out = []
    try:
        folders = sorted(os.scandir(base), key=lambda e: e.name)
    except OSError:
        return ()
    for entry in folders:
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        files = []
        for name in _RUN_FILES:
            try:
                st_ = os.stat(os.path.join(entry.path, name))
            except OSError:
                files.append(None)
            else:
                files.append((st_.st_size, st_.st_mtime_ns, st_.st_ino))
        out.append((entry.name, tuple(files)))
    return tuple(out)


@st.cache_resource(show_spinner=False, max_entries=4)
def _listing(base: str, identity: tuple):
    from mgc.runs import list_runs

    return list_runs(base)


def stored_runs():
    """:func:`mgc.runs.list_runs` of the runs folder, read again only when a run in it changes.

    Every page lists the runs on every rerun; reading 20 runs' manifests, metrics and
    histories took about 0.2 s idle and over 1 s on a loaded machine. The listing is kept
    per server, keyed by each run file's identity (:func:`_identity`), so a run trained,
    stopped or deleted shows at the next rerun. The runs are shared between sessions:
    pages only read them.
    """
    from mgc.runs import runs_dir

    base = str(runs_dir())
    return _listing(base, _identity(base))


@st.cache_resource(show_spinner=False, max_entries=64)
def _runs_figure(kind: str, run_ids: tuple, base: str, identity: tuple, args: tuple):
    from mgc import plots
    from mgc.analysis import report

    by_id = {r.id: r for r in _listing(base, identity)[0]}
    runs = [by_id[i] for i in run_ids]
    if kind == "leakage_ladder":
        ladder = report.leakage_ladder(runs)
        return None if ladder is None else plots.leakage_ladder(ladder)
    if kind == "confusion_matrix":
        return plots.confusion_matrix(runs[0], level=args[0])
    return getattr(plots, kind)(runs, *args)


def runs_figure(kind: str, runs, *args):
    """A Results figure of some stored runs (``plots.study_curves``, ``plots.confusion_matrix`` of one run,
    ``'leakage_ladder'``), made once per server for these runs, their files' identity and ``args``.

    Building the page's plotly figures took about 1 s of every rerun (the curves of 20 runs alone 0.6 s);
    the page hands them to ``st.plotly_chart`` and never changes them.
    """
    from mgc.runs import runs_dir

    base = str(runs_dir())
    return _runs_figure(kind, tuple(r.id for r in runs), base, _identity(base), tuple(args))


def _tree_identity(folder: str) -> tuple:
    """(path, size, mtime) of every file under ``folder``: what changes when a comparison is written."""
    out = []
    for dirpath, _, files in os.walk(folder):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            try:
                st_ = os.stat(path)
            except OSError:
                continue
            out.append((path, st_.st_size, st_.st_mtime_ns))
    return tuple(sorted(out))


@st.cache_resource(show_spinner=False, max_entries=4)
def _comparisons(folder: str, identity: tuple) -> dict:
    from mgc import plots
    from mgc.training import load_comparisons, summarize, variant_settings

    out = {}
    for name, rows in load_comparisons(folder).items():
        if isinstance(rows, str):
            out[name] = rows
        else:
            out[name] = (rows, plots.recipe_comparison(rows), summarize(rows), variant_settings(rows))
    return out


def comparisons(folder: str) -> dict:
    """The stored recipe comparisons under ``folder``: name -> (rows, figure, summary, settings), or the reason a
    damaged one is skipped; read and drawn once per server until a file under ``folder`` changes."""
    return _comparisons(folder, _tree_identity(folder))


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


#: Seconds of a clip the Classify page analyses at most (:func:`mgc.analysis.classify`'s ``max_duration``).
CLASSIFY_SECONDS = 600.0


@st.cache_resource(show_spinner=False, max_entries=2)
def decoded_upload(data: bytes, name: str):
    """An upload or a recording decoded once, at its own rate (the first :data:`CLASSIFY_SECONDS`).

    The models and the player resample it to the rates they need (:func:`mgc.audio.resampled`):
    the same samples a decode at each rate gives, with one decode. Kept as a resource (not copied
    per use); its samples are read-only.
    """
    from mgc.audio import decode

    d = decode(data, sr=None, max_duration=CLASSIFY_SECONDS, name=name)
    d.y.flags.writeable = False
    return d


@st.cache_data(show_spinner="Listening...", max_entries=8)
def classify_upload(data: bytes, name: str, run_ids: tuple):
    """Classify uploaded bytes with the given runs (cached per content and runs), from :func:`decoded_upload`."""
    from mgc.analysis import classify

    return classify(decoded_upload(data, name), loaded_runs(run_ids), name=name, max_duration=CLASSIFY_SECONDS)


#: Seconds of a clip the Classify page's player holds at most: 16-bit mono WAV at the study's rate, about 13 MB.
PLAYER_SECONDS = 300.0


@st.cache_data(show_spinner=False, max_entries=4)
def playable(data: bytes, name: str) -> tuple[bytes, float]:
    """An upload or a recording as the study's networks hear it (mono, 22050 Hz), as WAV bytes every browser plays.

    Browsers cannot play AU, GTZAN's own container, and an uploaded ``.au`` gave a dead player: the
    clip (decoded once for the models and the player, :func:`decoded_upload`) is resampled through the
    one readability rule, at most :data:`PLAYER_SECONDS`, and encoded in memory; nothing is written to
    disk. Returns the WAV bytes and the seconds they hold.
    """
    from mgc.audio import usable
    from mgc.config import SR

    from .data import to_wav

    d = usable(decoded_upload(data, name), sr=SR, max_duration=PLAYER_SECONDS, name=name)
    return to_wav(d.y, d.sr), d.duration


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
