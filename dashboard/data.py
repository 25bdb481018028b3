"""Where the dashboard's data comes from, and the cached loaders every page shares.

The dataset folder is set by whoever runs the server, never by a web visitor:
``streamlit run app.py -- --data DIR``, or the environment variable
``MGC_DATA_DIR``. With neither, the app uses a synthetic demo dataset that it
writes on first use under ``artifacts/demo``.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from mgc.config import artifacts_dir
from mgc.errors import MgcError

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
            return (
                f"synthetic demo dataset (not GTZAN) in `{self.path}`; set {DATA_ENV} or pass `-- --data DIR` "
                "to use GTZAN"
            )
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
    from mgc.dataset.demo import write_demo_dataset

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
    from mgc.dataset import find_tracks

    return find_tracks(root)


@st.cache_data(show_spinner=False, ttl=30)
def dataset_summary(root: str) -> dict:
    """:func:`mgc.features.extraction_status` of the dataset: tracks per class, known unreadable files, the cache."""
    from mgc.features import extraction_status

    return extraction_status(dataset(root))


@st.cache_data(show_spinner="Checking the audio files...", ttl=300)
def dataset_survey(root: str):
    """:func:`mgc.dataset.dataset_survey` of the dataset under ``root`` (every file decoded), cached 5 minutes."""
    from mgc.dataset import dataset_survey as survey

    return survey(dataset(root))


def track_paths() -> dict[str, str]:
    """Track id -> audio path of the configured dataset (empty when it cannot be read)."""
    try:
        ds = dataset(str(dataset_root()))
    except MgcError:
        return {}
    return {t.track_id: str(t.path) for t in ds.tracks}


@st.cache_data(show_spinner="Decoding audio...", max_entries=32)
def decoded(path: str, max_duration: float | None = None):
    """:func:`mgc.audio.usable` of a file on the server (a dataset track or a librosa example), cached."""
    from mgc.audio import usable

    return usable(path, max_duration=max_duration)


@st.cache_data(show_spinner=False, ttl=600)
def example_clips():
    """:func:`mgc.audio.example_clips` (librosa examples available offline), cached."""
    from mgc.audio import example_clips as find

    return find()


def to_wav(y, sr: int) -> bytes:
    """A mono float signal as 16-bit WAV bytes, encoded in memory (nothing is written to disk): what every browser
    plays, unlike AU (GTZAN's own container)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@st.cache_data(show_spinner=False, max_entries=16)
def track_audio(path: str) -> bytes:
    """A dataset track's first 30 s as WAV bytes for ``st.audio`` (decoded, so AU and FLAC play in every browser)."""
    from mgc.audio import decode
    from mgc.config import TRACK_DURATION

    d = decode(path, max_duration=float(TRACK_DURATION))  # what the features use, and bounded
    return to_wav(d.y, d.sr)
