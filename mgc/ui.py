"""The one Streamlit-aware helper module: cached loaders and progress adapters for pages.

Pages call these instead of the library directly where caching or session state
is involved, so that every page resolves the dataset folder the same way and
shows where its data comes from.

The dataset folder is set by whoever runs the server, never by a web visitor:
``streamlit run app.py -- --data DIR``, or the environment variable
``MGC_DATA_DIR``. With neither, the app uses a synthetic demo dataset that it
writes on first use under ``artifacts/demo``.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from .config import MODEL_TITLES, artifacts_dir
from .errors import MgcError

#: Environment variable naming the dataset folder.
DATA_ENV = "MGC_DATA_DIR"


def _keep_keras_state() -> None:
    """Stop Streamlit from resetting Keras after every script run.

    Streamlit's script runner calls ``keras.backend.clear_session()`` at the end of
    every run once Keras is imported (``_clean_problem_modules`` in
    ``streamlit/runtime/scriptrunner/script_runner.py``). Here models are loaded once
    per server and a training job runs in a thread across reruns, so that reset only
    hurts: it drops TensorFlow's kernel cache (the next prediction costs about 5x),
    resets Keras' global state under the running job, and runs a full garbage
    collection after every click, during which the server answers nothing (an
    upload waited 0.4 s for it). The replacement keeps the rest of the clean-up.
    """
    try:
        from streamlit.runtime.scriptrunner import script_runner
    except ImportError:  # another Streamlit layout: nothing to patch
        return
    if getattr(script_runner._clean_problem_modules, "keeps_keras", False):
        return

    def clean_but_keep_keras() -> None:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            plt.close("all")

    clean_but_keep_keras.keeps_keras = True
    script_runner._clean_problem_modules = clean_but_keep_keras


_keep_keras_state()


@dataclass(frozen=True)
class DataSource:
    """Where the app's dataset comes from."""

    path: Path
    origin: str  # "argument", "environment" or "demo"

    @property
    def is_demo(self) -> bool:
        return self.origin == "demo"

    def describe(self) -> str:
        if self.is_demo:
            return f"synthetic demo dataset (not GTZAN) in `{self.path}`; set {DATA_ENV} or pass `-- --data DIR` to use GTZAN"
        how = "--data" if self.origin == "argument" else DATA_ENV
        return f"`{self.path}` (from {how})"


def _from_argv(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--data" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--data="):
            return arg.split("=", 1)[1]
    return None


def data_source() -> DataSource:
    """The configured dataset folder: ``-- --data DIR``, then ``$MGC_DATA_DIR``, then the demo."""
    arg = _from_argv(sys.argv[1:])
    if arg:
        return DataSource(Path(arg).expanduser(), "argument")
    env = os.environ.get(DATA_ENV)
    if env:
        return DataSource(Path(env).expanduser(), "environment")
    return DataSource(artifacts_dir() / "demo", "demo")


@st.cache_resource(show_spinner="Synthesizing the demo dataset (first use only)...")
def ensure_demo(path: str) -> str:
    """Write the demo dataset once per server (kept on disk between servers)."""
    from .demo import write_demo_dataset

    genres = Path(path) / "genres"
    if not (genres.is_dir() and any(genres.rglob("*.wav"))):
        write_demo_dataset(path)
    return path


def dataset_root() -> Path:
    """The dataset folder, with the demo written first when it is the demo."""
    src = data_source()
    if src.is_demo:
        ensure_demo(str(src.path))
    return src.path


@st.cache_data(show_spinner=False, ttl=60)
def dataset(root: str):
    """:func:`mgc.dataset.find_tracks`, cached for a minute."""
    from .dataset import find_tracks

    return find_tracks(root)


#: The sidebar menu: (script, label, icon). Streamlit's own page list is hidden (config.toml).
MENU = (
    ("app.py", "Home", ":material/home:"),
    ("pages/explore.py", "Explore", ":material/equalizer:"),
    ("pages/train.py", "Train", ":material/model_training:"),
    ("pages/results.py", "Results", ":material/leaderboard:"),
    ("pages/classify.py", "Classify", ":material/music_note:"),
)


def page_header(title: str) -> None:
    """Page config, the sidebar menu, the title and the data-source line: the first call of every page."""
    st.set_page_config(page_title=f"{title} · GTZAN genre lab", page_icon=":material/graphic_eq:", layout="wide")
    with st.sidebar:
        for script, label, icon in MENU:
            st.page_link(script, label=label, icon=icon)
    st.title(title)
    caption_source()


def caption_source() -> None:
    """One line under a page title saying where the data comes from."""
    st.caption(f"Dataset: {data_source().describe()}")


@contextmanager
def progress_bar(text: str):
    """A ``st.progress`` bound to the library's ``on_progress(done, total, message)``, emptied afterwards."""
    bar = st.progress(0.0, text=text)

    def update(done: int, total: int, message: str) -> None:
        bar.progress(done / total if total else 1.0, text=f"{text} {done}/{total}")

    try:
        yield update
    finally:
        bar.empty()


# --------------------------------------------------------------------------- #
# Explore page: cached decoding, example list and dataset survey
# --------------------------------------------------------------------------- #
@st.cache_data(show_spinner="Decoding audio...", max_entries=32)
def decoded(path: str, max_duration: float | None = None):
    """:func:`mgc.audio.decode` of a file on the server (a dataset track or a librosa example), cached."""
    from .audio import decode

    return decode(path, max_duration=max_duration)


@st.cache_data(show_spinner=False, ttl=600)
def example_clips():
    """:func:`mgc.represent.example_clips` (librosa examples available offline), cached."""
    from .represent import example_clips as find

    return find()


@st.cache_data(show_spinner="Reading audio headers...", ttl=60)
def dataset_survey(root: str):
    """:func:`mgc.represent.dataset_survey` of the dataset under ``root``, cached for a minute."""
    from .represent import dataset_survey as survey

    return survey(dataset(root))


# --- home page, run lists ----------------------------------------------------------------


@st.cache_data(show_spinner=False, ttl=30)
def dataset_summary(root: str) -> dict:
    """Tracks per class, unreadable files known to the feature cache, and the cache state."""
    from . import cache
    from .features import STUDY_PARAMS

    ds = dataset(root)
    state = cache.status(cache.cache_file(artifacts_dir() / "cache", ds.genres_dir, STUDY_PARAMS))
    if state["exists"]:
        text = (f"Feature cache: {state['files']} of {len(ds.tracks)} files extracted, {state['failed']} of them "
                "unreadable" + (" (the cache is damaged and will be rebuilt)" if state.get("damaged") else "") + ".")
    else:
        text = "Feature cache: empty. Features are extracted on the Train page; unreadable files are counted then."
    return {"tracks": len(ds.tracks), "classes": len(ds.classes), "counts": ds.counts(),
            "failed": state["failed"] if state["exists"] else None, "text": text}


def class_count_figure(counts: dict):
    """Tracks per class as a bar chart in the class colours."""
    from . import plots

    return plots.class_counts(counts)


def runs_overview():
    """Stored runs as a table (no TensorFlow import), and the damaged ones."""
    import pandas as pd

    from .config import MODEL_TITLES
    from .runs import list_runs

    runs, problems = list_runs()
    rows = []
    for r in runs:
        m, man = r.metrics, r.manifest
        rows.append({
            "run": r.id, "model": MODEL_TITLES.get(man["model"], man["model"]), "protocol": r.protocol,
            "recipe": r.recipe_label, "classes": len(man["dataset"]["classes"]),
            "segment acc": round(m["segment_accuracy"], 3),
            "track acc": None if m.get("track_accuracy_mean") is None else round(m["track_accuracy_mean"], 3),
            "balanced": None if m.get("track_balanced_accuracy") is None else round(m["track_balanced_accuracy"], 3),
            "epochs": man["epochs_run"], "status": man["status"],
        })
    return pd.DataFrame(rows), problems


# --- train page: features and background jobs ------------------------------------------------
def _features_key(root: str, classes) -> tuple:
    return (root, tuple(sorted(classes)))


def current_features(root: str, classes):
    """The FeatureSet this session extracted for ``classes`` of ``root``, or None."""
    return st.session_state.setdefault("features", {}).get(_features_key(root, classes))


def extract_features(root: str, classes):
    """Extract (or read from the disk cache) with a progress bar; kept in the session."""
    from .extract import extract_dataset

    with progress_bar("Extracting MFCC segments") as update:
        fs = extract_dataset(root, classes=list(classes), on_progress=update)
    st.session_state.setdefault("features", {})[_features_key(root, classes)] = fs
    return fs


def show_feature_summary(fs) -> None:
    """Segments and tracks per class, cache use, and the skipped files with reasons."""
    import pandas as pd

    stats = fs.cache_stats
    st.success(f"{len(fs.X):,} segments of {fs.X.shape[1]}x{fs.X.shape[2]} from {fs.n_tracks} tracks, "
               f"{len(fs.classes)} classes ({stats.get('cached', 0)} files from the cache, "
               f"{stats.get('extracted', 0)} extracted).")
    if stats.get("cache_problem"):
        st.warning(f"Feature cache: {stats['cache_problem']}")
    c1, c2 = st.columns([2, 3])
    c1.dataframe(pd.DataFrame([{"class": c, **v} for c, v in fs.counts().items()]), hide_index=True)
    if fs.skipped:
        c2.warning(f"{len(fs.skipped)} file(s) could not be used and were skipped:")
        c2.dataframe(pd.DataFrame(fs.skipped_table()), hide_index=True)


@st.cache_resource
def job_board():
    """The server's one board of training jobs (survives reruns and page switches)."""
    from .jobs import JobBoard

    return JobBoard()


def start_training(fs, *, models, split, recipe, epochs, batch_size, learning_rate, seed, overrides=None):
    """Start a background job training ``models`` and remember it in the session.

    ``overrides`` holds :class:`~mgc.train.TrainConfig` fields that replace the recipe's.
    """
    from .train import TrainConfig

    configs = [TrainConfig(model=m, recipe=recipe, split=split, epochs=epochs, batch_size=batch_size,
                           learning_rate=learning_rate, seed=seed, **(overrides or {})) for m in models]
    job = job_board().start(fs, configs, dataset_note=f"classes: {', '.join(fs.classes)}")
    st.session_state["job_id"] = job.id
    return job


def _clock(seconds) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def _render_job(job_id: str) -> None:
    from . import plots

    job = job_board().get(job_id)
    snap = job.snapshot()
    running = snap["status"] == "running"
    done, total = snap["epochs_done"], snap["epochs_total"]
    st.progress(min(1.0, done / total) if total else 0.0,
                text=f"Job {snap['id']}: {snap['status']} · epoch {done}/{total} (all models)")
    c1, c2, c3, c4 = st.columns([1, 1, 2, 1])
    c1.metric("Elapsed", _clock(snap["elapsed_seconds"]))
    c2.metric("Time left (at most)", _clock(snap["eta_seconds"]) if running else "-")
    c3.markdown("  \n".join(f"**{MODEL_TITLES.get(m['model'], m['model'])}** · {m['status']} · epoch {len(m['history'])}/{m['epochs']}"
                            for m in snap["models"]))
    if running:
        if c4.button("Stop", type="secondary", help="Ends after the current epoch and stores a 'stopped' run"):
            job.stop()
            st.toast("Stopping after the current epoch...")
    if snap["error"]:
        st.error(f"Training failed: {snap['error'].splitlines()[0]}")
    histories = {m["model"]: m["history"] for m in snap["models"] if m["history"]}
    if histories:
        st.plotly_chart(plots.live_curves(histories), width="stretch")
    finished = [m["run_id"] for m in snap["models"] if m["run_id"]]
    if finished:
        st.caption("Stored runs: " + ", ".join(f"`{r}`" for r in finished) + " (see the Results page)")
    if not running and st.session_state.get("_job_seen_running") == job_id:
        st.session_state["_job_seen_running"] = None
        st.rerun(scope="app")
    if running:
        st.session_state["_job_seen_running"] = job_id


def training_panel() -> None:
    """The session's (or the server's latest) training job, refreshed every second while it runs."""
    board = job_board()
    job = board.get(st.session_state.get("job_id")) or board.latest()
    if job is None:
        st.info("No training yet in this server session. Start one above; it keeps running if you leave the page.")
        return
    if job.running:
        st.fragment(run_every=1.0)(_render_job)(job.id)
    else:
        _render_job(job.id)


# --- results and classify pages --------------------------------------------------------------
def all_runs():
    """Stored runs (newest first) and the damaged ones, re-read on every call (cheap: JSON only)."""
    from .runs import list_runs

    return list_runs()


def default_result_runs(runs) -> list[str]:
    """:func:`mgc.runs.default_result_runs`: the shipped reference runs, else the newest three."""
    from .runs import default_result_runs as choose

    return choose(runs)


def _track_paths() -> dict[str, str]:
    try:
        ds = dataset(str(dataset_root()))
    except MgcError:
        return {}
    return {t.track_id: str(t.path) for t in ds.tracks}


def misclassified(run):
    """Misclassified test tracks, with paths of those found in the configured dataset."""
    from .report import misclassified as _m

    return _m(run, _track_paths())


@st.cache_data(show_spinner=False, max_entries=16)
def track_audio(path: str) -> bytes:
    """A dataset track as WAV bytes for ``st.audio`` (decoded, so AU and FLAC play in every browser)."""
    import io

    import soundfile as sf

    from .audio import decode

    d = decode(path)
    buf = io.BytesIO()
    sf.write(buf, d.y, d.sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def comparisons() -> dict[str, list[dict]]:
    """Recipe comparisons stored under ``artifacts/comparisons/<name>/`` (name -> result rows).

    A folder with a damaged result file maps to the error message instead.
    """
    from .crossval import load_results

    out = {}
    folder = artifacts_dir() / "comparisons"
    for d in sorted(p for p in folder.glob("*") if p.is_dir()) if folder.is_dir() else []:
        try:
            rows = load_results(d)
        except MgcError as e:
            out[d.name] = str(e)
            continue
        if rows:
            out[d.name] = rows
    return out


def class_groups(runs) -> dict[tuple, list]:
    """Runs grouped by the tuple of classes they know (most classes first, then most runs)."""
    groups: dict[tuple, list] = {}
    for r in runs:
        groups.setdefault(tuple(r.classes), []).append(r)
    return dict(sorted(groups.items(), key=lambda kv: (-len(kv[0]), -len(kv[1]))))


def default_classify_runs(runs) -> list[str]:
    """:func:`mgc.runs.default_classify_runs`: per network, the best score on the most honest protocol."""
    from .runs import default_classify_runs as choose

    return choose(runs)


@st.cache_resource(show_spinner="Loading models...", max_entries=32)
def _loaded_run(run_id: str, stamp: float):
    from .runs import load_run

    from .classify import warm_up

    run = load_run(run_id)
    warm_up(run)
    return run


def loaded_runs(run_ids) -> list:
    """Runs with their Keras models loaded once per server (reloaded when a run folder changes)."""
    from .runs import runs_dir

    out = []
    for rid in run_ids:
        path = runs_dir() / rid
        out.append(_loaded_run(rid, path.stat().st_mtime if path.exists() else 0.0))
    return out


def evaluate_on_dataset(run_id: str, root: str, split: str | None) -> dict:
    """Score a stored run on the configured dataset (all tracks, or a split's test part), with a progress bar.

    Only the dataset's classes the run knows are extracted; tracks the run trained or
    selected on are dropped by :func:`mgc.train.evaluate_run`, which says how many.
    """
    from .errors import DatasetError
    from .extract import extract_dataset
    from .train import evaluate_run

    run = loaded_runs([run_id])[0]
    ds = dataset(root)
    classes = [c for c in ds.classes if c in run.classes]
    if len(classes) < 1:
        raise DatasetError(f"the dataset at {root!r} has none of the classes run {run_id!r} knows ({', '.join(run.classes)})")
    with progress_bar("Extracting MFCC segments") as update:
        fs = extract_dataset(root, classes=classes, on_progress=update)
    return evaluate_run(run, fs, split=split)


def trust_explainer(run_ids: tuple) -> str:
    """Markdown: each run's fitted thresholds and what they mean (:mod:`mgc.trust`)."""
    from .runs import load_run
    from .trust import load_trust

    lines = ["A model always answers with a genre it knows. Four checks say when not to believe it, each fitted "
             "on tracks the run held out (for the fault-filtered runs: the valid list, artists never heard):",
             "- **not music**: the clip's MFCC statistics are further from the training music than 99 % of held-out "
             "clips (speech, tones), or its timbre moves less than in 99 % of them (noise, drones);",
             "- **low confidence**: the top probability is below the threshold that best separates right from wrong "
             "held-out answers;",
             "- **windows disagree**: too few 3-s windows agree with the clip's answer (same kind of threshold);",
             "- **models disagree**: the chosen models give different genres.", ""]
    for rid in run_ids:
        try:
            t = load_trust(load_run(rid))
        except MgcError as e:
            lines.append(f"- `{rid}`: {e}")
            continue
        if t is None:
            lines.append(f"- `{rid}`: no fitted checks.")
            continue
        d = t.data
        lines.append(f"- `{rid}`: confidence < {d['confidence']['threshold']:.0%}, window agreement < "
                     f"{d['agreement']['threshold']:.0%}, distance > {d['music']['distance_threshold']:.1f}, "
                     f"variation < {d['music']['variation_threshold']:.2f}; fitted on the {t.fitted_on}.")
    return "\n".join(lines)


@st.cache_data(show_spinner="Listening...", max_entries=8)
def classify_upload(data: bytes, name: str, run_ids: tuple):
    """Classify uploaded bytes with the given runs (cached per content and runs)."""
    from .classify import classify

    return classify(data, loaded_runs(run_ids), name=name)
