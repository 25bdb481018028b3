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

from .config import artifacts_dir

#: Environment variable naming the dataset folder.
DATA_ENV = "MGC_DATA_DIR"


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
