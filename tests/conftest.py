"""Shared fixtures: tiny datasets made at test time, and the optional real-data tier."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_artifacts(tmp_path_factory, monkeypatch):
    """Every test writes caches and runs to its own folder, never to the checkout."""
    monkeypatch.setenv("MGC_ARTIFACTS", str(tmp_path_factory.mktemp("artifacts")))
    monkeypatch.delenv("MGC_DATA_DIR", raising=False)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data when present (the real GTZAN subset); skips the test otherwise."""
    if not (SHARED / "gtzan-mini" / "genres").is_dir():
        pytest.skip(f"real-data tier: {SHARED} is not present (it ships beside the project, not in it)")
    return SHARED


def _clip(kind: str, i: int, sr: int, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(1000 + i)
    t = np.arange(int(sr * seconds)) / sr
    if kind == "tones":
        f = 220 * 2 ** (rng.integers(0, 12) / 12)
        y = 0.5 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * 2 * f * t)
    elif kind == "noise":
        y = rng.standard_normal(len(t)) * 0.3
    else:  # clicks
        y = np.zeros(len(t))
        y[:: int(sr * rng.uniform(0.2, 0.5))] = 1.0
        y = np.convolve(y, np.exp(-np.arange(400) / 60), mode="same") * 0.5
    return (y + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def write_tiny_dataset(root: Path, *, per_class: int = 4, seconds: float = 30.0, sr: int = 22050) -> Path:
    """``root/genres/<class>/<class>.0000N.wav``: three easy classes, ``per_class`` clips each."""
    for c in ("tones", "noise", "clicks"):
        d = root / "genres" / c
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            sf.write(d / f"{c}.{i:05d}.wav", _clip(c, i + 10 * len(c), sr, seconds), sr, subtype="PCM_16")
    return root


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A read-only tiny dataset shared by the session (copy it before changing files)."""
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny"))


def make_features(*, classes=("a", "b", "c"), tracks_per_class: int = 6, segments: int = 10, seed: int = 0):
    """An in-memory FeatureSet of (130, 13) segments: random, but shifted by class so it is learnable.

    Track ids look like GTZAN's (``a.00001``); every track has ``segments`` segments.
    """
    from mgc.extract import FeatureSet

    rng = np.random.default_rng(seed)
    X, y, tids, seg = [], [], [], []
    for label, c in enumerate(classes):
        centre = np.zeros(13, np.float32)
        centre[label % 13] = 3.0
        for t in range(tracks_per_class):
            track = centre + 0.5 * rng.standard_normal(13).astype(np.float32)
            X.append(track + rng.standard_normal((segments, 130, 13)).astype(np.float32))
            y += [label] * segments
            tids += [f"{c}.{t + 1:05d}"] * segments
            seg += list(range(segments))
    return FeatureSet(X=np.concatenate(X).astype(np.float32), y=np.asarray(y, np.int64), track_ids=np.asarray(tids),
                      segment_index=np.asarray(seg, np.int64), classes=tuple(classes), source="synthetic",
                      fingerprint="synthetic-test")


@pytest.fixture(scope="session")
def tiny_features():
    """3 classes x 6 tracks x 10 segments of synthetic (130, 13) features (do not modify)."""
    return make_features()


@pytest.fixture(scope="session")
def feature_factory():
    """:func:`make_features`, for tests that need other sizes or classes."""
    return make_features


# --------------------------------------------------------------------------- #
# Stored runs for the dashboard tests (AppTest pages, browser)
# --------------------------------------------------------------------------- #
TINY_RUN_MODELS = ("mlp", "cnn", "lstm")


@pytest.fixture(scope="session")
def tiny_runs_artifacts(tmp_path_factory, tiny_dataset) -> Path:
    """An artifacts folder whose ``runs/`` holds 1-epoch MLP, CNN and LSTM runs on ``tiny_dataset``.

    Made once per session (extract + three 1-epoch fits, a few seconds); read-only: copy it before
    adding or damaging runs. Point ``MGC_ARTIFACTS`` at it (fixture ``with_tiny_runs``) to use it.
    """
    from mgc.extract import extract_dataset
    from mgc.train import TrainConfig, train

    art = tmp_path_factory.mktemp("runs-artifacts")
    fs = extract_dataset(tiny_dataset, cache_dir=art / "cache", workers=1)
    for model in TINY_RUN_MODELS:
        train(fs, TrainConfig(model=model, split="track", epochs=1, batch_size=64), root=art / "runs",
              run_id=f"tiny-{model}")
    return art


@pytest.fixture
def with_tiny_runs(tiny_runs_artifacts, tiny_dataset, monkeypatch) -> Path:
    """``MGC_ARTIFACTS`` at the session's tiny runs and ``MGC_DATA_DIR`` at ``tiny_dataset``."""
    monkeypatch.setenv("MGC_ARTIFACTS", str(tiny_runs_artifacts))
    monkeypatch.setenv("MGC_DATA_DIR", str(tiny_dataset))
    return tiny_runs_artifacts
