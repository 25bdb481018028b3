"""The Train page's state: features kept in the session, the server's board of training jobs, and its panel.

A job runs in a thread of the server (:class:`mgc.training.JobBoard`), so it outlives
the page that started it; the panel polls its snapshot every second while it runs.
Jobs are private to whoever started them: another visitor neither sees nor stops them
(they learn only that the server is busy), unless whoever runs the server shares them
(``streamlit run app.py -- --share-jobs`` or ``MGC_SHARE_JOBS=1``). Who started a job is
an unguessable token kept in the session and, once a job starts, in the page's URL
(``?jobs=<token>``), so reloading the page (a new session) still shows your job: that
URL is the key to it.
"""

from __future__ import annotations

import os
import re
import sys
import uuid

import pandas as pd
import streamlit as st

from mgc import plots
from mgc.config import model_title
from mgc.training import clock

from .widgets import progress_bar


def _features_key(root: str, classes, kind: str = "mfcc") -> tuple:
    return (root, tuple(sorted(classes))) if kind == "mfcc" else (root, tuple(sorted(classes)), kind)


def current_features(root: str, classes, kind: str = "mfcc"):
    """The FeatureSet of ``kind`` (``"mfcc"`` or ``"embedding"``) this session extracted for ``classes`` of ``root``."""
    return st.session_state.setdefault("features", {}).get(_features_key(root, classes, kind))


def extract_features(root: str, classes, kind: str = "mfcc"):
    """Extract (or read from the disk cache) with a progress bar; kept in the session.

    ``kind="embedding"`` runs the pretrained tagger over every segment (the transfer model's features).
    """
    from mgc.features import EMBEDDING_PARAMS, STUDY_PARAMS, extract_dataset

    params, what = (
        (EMBEDDING_PARAMS, "Embedding segments with the pretrained tagger")
        if kind == "embedding"
        else (STUDY_PARAMS, "Extracting MFCC segments")
    )
    with progress_bar(what) as update:
        fs = extract_dataset(root, params=params, classes=list(classes), on_progress=update)
    st.session_state.setdefault("features", {})[_features_key(root, classes, kind)] = fs
    return fs


#: Environment variable that, set to 1, lets every session see and stop every training job.
SHARE_ENV = "MGC_SHARE_JOBS"


def jobs_shared() -> bool:
    """Whether the server's owner shares training jobs between sessions (off by default)."""
    return "--share-jobs" in sys.argv[1:] or os.environ.get(SHARE_ENV, "").strip().lower() in ("1", "true", "yes")


#: The query parameter that carries the owner token across reloads.
OWNER_PARAM = "jobs"
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def session_owner() -> str:
    """The token that owns this session's training jobs: from the URL (a reload), else a new one."""
    if "job_owner" not in st.session_state:
        token = st.query_params.get(OWNER_PARAM, "")
        st.session_state["job_owner"] = token if _TOKEN.match(token) else uuid.uuid4().hex
    return st.session_state["job_owner"]


@st.cache_resource
def _board(shared: bool):
    from mgc.training import JobBoard

    return JobBoard(shared=shared)


def job_board():
    """The server's one board of training jobs (survives reruns and page switches), shared or not."""
    return _board(jobs_shared())


def start_training(fs, *, models, split, recipe, epochs, batch_size, learning_rate, seed, overrides=None):
    """Start a background job training ``models`` and remember it in the session.

    ``fs`` is one FeatureSet, or ``{"mfcc": ..., "embedding": ...}`` when the transfer
    model trains beside the study's networks. ``overrides`` holds
    :class:`~mgc.training.TrainConfig` fields that replace the recipe's.
    """
    from mgc.training import TrainConfig

    configs = [
        TrainConfig(
            model=m,
            recipe=recipe,
            split=split,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=seed,
            **(overrides or {}),
        )
        for m in models
    ]
    classes = next(iter(fs.values())).classes if isinstance(fs, dict) else fs.classes
    owner = session_owner()
    job = job_board().start(fs, configs, owner=owner, dataset_note=f"classes: {', '.join(classes)}")
    st.session_state["job_id"] = job.id
    st.query_params[OWNER_PARAM] = owner  # a reload of this page keeps showing the job
    return job


#: What the estimate of each model rests on, in words (:func:`mgc.training.time_left`'s ``basis``).
_BASIS = {
    "own epochs": "its own epochs",
    "table": "the per-model epoch-cost table, scaled by the speed measured here",
    "table, reference machine": "the per-model epoch-cost table of the reference machine (nothing measured here yet)",
}


def _eta_help(snap: dict) -> str:
    """What the time left counts and rests on, in words, for the metric's tooltip."""
    if snap["status"] != "running" or snap["eta_seconds"] is None:
        return "Shown while a job runs."
    text = (
        "Every phase counted, per model: loading TensorFlow (once per server), building the network, the "
        "first epoch's graph tracing, the epochs, then evaluating, storing and fitting the trust checks. "
        f"The epochs are priced from {_BASIS.get(snap['eta_basis'], 'its epochs')}; the other phases from "
        "those measured in this job, else from the phase-cost table. "
        f"Central estimate {clock(snap['eta_seconds'])}, expected between {clock(snap['eta_low'])} and "
        f"{clock(snap['eta_high'])}: the range narrows as phases end."
    )
    if snap["eta_overrun"]:
        text += " A phase is taking longer than priced, so only a floor can be given."
    if snap["eta_at_most"]:
        text += " Early stopping may end a model sooner."
    return text


def _model_line(m: dict) -> str:
    """One model of a job in words: its state, what it is doing, and its time left."""
    title, done = model_title(m["model"]), len(m["history"])
    if m["status"] == "queued":
        text = f"**{title}** · queued · {m['epochs']} epochs"
    elif m["status"] == "running":
        batch, batches = m["batches"]
        within = f" · batch {batch}/{batches}" if batches and 0 < batch < batches else ""
        text = f"**{title}** · {m['stage'] or 'starting'}{within} · {done}/{m['epochs']} epochs done"
    else:
        text = f"**{title}** · {m['status']} · {done}/{m['epochs']} epochs"
    if m["eta_text"] is not None and m["status"] in ("queued", "running"):
        text += f" · {m['eta_text']} left"
    return text


def _scores_table(models: list[dict]) -> pd.DataFrame:
    """The stored runs' test scores, one row per model."""
    rows = []
    for m in models:
        s = m["scores"]
        if s is None:
            continue
        rows.append(
            {
                "model": model_title(m["model"]),
                "protocol": s["protocol"],
                "test accuracy (segments)": s["segment_accuracy"],
                "track accuracy": s["track_accuracy"],
                "balanced accuracy": s["balanced_accuracy"],
                "cross-entropy (nats)": s["loss"],
                "test tracks": s["test_tracks"],
                "epochs": f"{len(m['history'])} ({m['status']})" if m["status"] != "finished" else len(m["history"]),
            }
        )
    return pd.DataFrame(rows)


def _show_scores(models: list[dict]) -> None:
    table = _scores_table(models)
    if table.empty:
        return
    st.subheader("Test scores of this job")
    number = st.column_config.NumberColumn(format="%.3f")
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "test accuracy (segments)": number,
            "track accuracy": number,
            "balanced accuracy": st.column_config.NumberColumn(
                format="%.3f", help="Mean recall over the classes present in the test part (of tracks)"
            ),
            "cross-entropy (nats)": number,
        },
    )
    st.caption("Stored as " + ", ".join(f"`{m['run_id']}`" for m in models if m["scores"] is not None) + ".")
    st.page_link(
        "views/results.py",
        label="Compare them with the study and other runs on the Results page",
        icon=":material/leaderboard:",
    )


def _render_job(job_id: str) -> None:
    job = job_board().get(job_id, owner=session_owner())
    if job is None:  # not this session's (and the board is not shared)
        return
    snap = job.snapshot()
    running = snap["status"] == "running"
    done, total = snap["epochs_done"], snap["epochs_total"]
    st.progress(
        min(1.0, snap["epochs_progress"] / total) if total else 0.0,
        text=f"Job {snap['id']}: {snap['status']} · {done}/{total} epochs done (all models)",
    )
    c1, c2, c3, c4 = st.columns([1, 1, 3, 1])
    c1.metric("Elapsed", clock(snap["elapsed_seconds"]))
    c2.metric("Time left", snap["eta_text"] if running and snap["eta_text"] else "-", help=_eta_help(snap))
    c3.markdown("  \n".join(_model_line(m) for m in snap["models"]))
    if running:
        if c4.button("Stop", type="secondary", help="Ends after the current epoch and stores a 'stopped' run"):
            job.stop()
            st.toast("Stopping after the current epoch...")
    if snap["error"]:
        st.error(f"Training failed: {snap['error'].splitlines()[0]}")
    histories = {m["model"]: m["history"] for m in snap["models"] if m["history"] or m["status"] == "running"}
    current = next((m for m in snap["models"] if m["status"] == "running"), None)
    if any(histories.values()):
        epochs = {m["model"]: m["epochs"] for m in snap["models"]}
        st.plotly_chart(plots.live_curves(histories, epochs=epochs), width="stretch")
    elif current is not None:
        batch, batches = current["batches"]
        within = f", batch {batch} of {batches}" if batches and batch else ""
        st.info(
            f"{model_title(current['model'])}: {current['stage'] or 'starting'}{within}. "
            "The live curves appear when its first epoch ends.",
            icon=":material/hourglass_top:",
        )
    _show_scores(snap["models"])  # each model's, as soon as its run is stored
    if not running and st.session_state.get("_job_seen_running") == job_id:
        st.session_state["_job_seen_running"] = None
        st.rerun(scope="app")
    if running:
        st.session_state["_job_seen_running"] = job_id


def training_panel() -> None:
    """This session's training job (any session's when shared), refreshed every second while it runs."""
    board = job_board()
    owner = session_owner()
    job = board.get(st.session_state.get("job_id"), owner=owner) or board.latest(owner=owner)
    if job is None:
        if board.busy():
            st.info(
                "Another session is training on this server (one job at a time). Its progress is private to it; "
                "you can start once it ends."
            )
        else:
            st.info("No training yet in this session. Start one above; it keeps running if you leave the page.")
        return
    if job.running:
        st.fragment(run_every=1.0)(_render_job)(job.id)
    else:
        _render_job(job.id)
