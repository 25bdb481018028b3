"""Shared fixtures: tiny datasets made at test time, and the optional real-data tier."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import soundfile as sf

if TYPE_CHECKING:
    from mgc.runs import Run

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


#: Tracks per class of the session's tiny data: the fewest for which the track split's 25 % test part
#: (round(0.25 * 14) = 4 per class, 12 in all) passes the library's 10-test-track minimum.
TINY_TRACKS_PER_CLASS = 14


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A read-only tiny dataset shared by the session: 3 classes x 14 clips of 30 s (copy it before changing files)."""
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny"), per_class=TINY_TRACKS_PER_CLASS)


def make_features(*, classes=("a", "b", "c"), tracks_per_class: int = 6, segments: int = 10, seed: int = 0):
    """An in-memory FeatureSet of (130, 13) segments: random, but shifted by class so it is learnable.

    Track ids look like GTZAN's (``a.00001``); every track has ``segments`` segments.
    """
    from mgc.features import FeatureSet

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
    return FeatureSet(
        X=np.concatenate(X).astype(np.float32),
        y=np.asarray(y, np.int64),
        track_ids=np.asarray(tids),
        segment_index=np.asarray(seg, np.int64),
        classes=tuple(classes),
        source="synthetic",
        fingerprint="synthetic-test",
    )


@pytest.fixture(scope="session")
def tiny_features():
    """3 classes x 14 tracks x 10 segments of synthetic (130, 13) features (do not modify).

    The track split tests 4 tracks per class (12 in all), validates on 2 and trains on 8.
    """
    return make_features(tracks_per_class=TINY_TRACKS_PER_CLASS)


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
    """An artifacts folder whose ``runs/`` holds 2-epoch MLP, CNN and LSTM runs on ``tiny_dataset``.

    The improved recipe (standardised inputs, Adam 1e-3): two epochs take each network well above
    1.5 x chance on these easy classes, so all three are the pages' default choices
    (:func:`mgc.runs.default_classify_runs`). Made once per session (extract + three short fits,
    about 25 s); read-only: copy it before adding or damaging runs. Point ``MGC_ARTIFACTS`` at it
    (fixture ``with_tiny_runs``) to use it.
    """
    from mgc.features import extract_dataset
    from mgc.training import TrainConfig, train

    art = tmp_path_factory.mktemp("runs-artifacts")
    fs = extract_dataset(tiny_dataset, cache_dir=art / "cache", workers=1)
    for model in TINY_RUN_MODELS:
        train(
            fs,
            TrainConfig(model=model, recipe="improved", split="track", epochs=2, batch_size=64),
            root=art / "runs",
            run_id=f"tiny-{model}",
        )
    return art


@pytest.fixture
def with_tiny_runs(tiny_runs_artifacts, tiny_dataset, monkeypatch) -> Path:
    """``MGC_ARTIFACTS`` at the session's tiny runs and ``MGC_DATA_DIR`` at ``tiny_dataset``."""
    monkeypatch.setenv("MGC_ARTIFACTS", str(tiny_runs_artifacts))
    monkeypatch.setenv("MGC_DATA_DIR", str(tiny_dataset))
    return tiny_runs_artifacts


# --------------------------------------------------------------------------- #
# Synthetic features with real GTZAN track ids (the fault-filtered protocol)
# --------------------------------------------------------------------------- #
def ff_track_ids(genre: str, part: str, n: int) -> list[str]:
    """The first ``n`` track ids of ``genre`` in the embedded fault-filtered ``part``
    ('train', 'validation', 'test')."""
    from mgc.dataset import fault_filtered_lists

    ids = sorted(t for t in fault_filtered_lists()[part] if t.split(".")[0] == genre)
    assert len(ids) >= n, f"the {part} list holds only {len(ids)} {genre} tracks"
    return ids[:n]


def make_ff_features(counts: dict[str, tuple[int, int, int]], *, segments: int = 3, seed: int = 0, extra=()):
    """A FeatureSet whose tracks come from the fault-filtered lists: ``{genre: (n_train, n_valid, n_test)}``.

    ``extra`` adds ``(genre, track_id)`` pairs (e.g. a faulty track in no list). Features are random,
    shifted by class as in :func:`make_features`.
    """
    from mgc.features import FeatureSet

    classes = tuple(sorted(counts))
    tracks = [
        (g, t)
        for g in classes
        for part, n in zip(("train", "validation", "test"), counts[g], strict=True)
        for t in ff_track_ids(g, part, n)
    ]
    tracks += list(extra)
    rng = np.random.default_rng(seed)
    X, y, tids, seg = [], [], [], []
    for g, t in tracks:
        label = classes.index(g)
        centre = np.zeros(13, np.float32)
        centre[label % 13] = 3.0
        X.append(centre + rng.standard_normal((segments, 130, 13)).astype(np.float32))
        y += [label] * segments
        tids += [t] * segments
        seg += list(range(segments))
    return FeatureSet(
        X=np.concatenate(X).astype(np.float32),
        y=np.asarray(y, np.int64),
        track_ids=np.asarray(tids),
        segment_index=np.asarray(seg, np.int64),
        classes=classes,
        source="synthetic-gtzan-ids",
        fingerprint="synthetic-ff",
    )


def fake_run(
    run_id: str,
    model: str = "mlp",
    split: str = "track",
    *,
    recipe: str = "study",
    classes=("a", "b", "c"),
    seg: float = 0.8,
    trk: float | None = 0.9,
    bal: float | None = None,
    loss: float = 0.5,
    label: str | None = None,
    status: str = "finished",
    metrics_from: str | None = None,
    tags=(),
    test_tracks=None,
    tracks=None,
    **metrics,
) -> Run:
    """An in-memory Run (no files) with just what the tables and pickers read."""
    from mgc.runs import Run

    split_info = {"name": split}
    if label is not None:
        split_info["label"] = label
    if test_tracks is not None:
        split_info["test_tracks_per_class"] = dict(test_tracks)
    manifest = {
        "id": run_id,
        "model": model,
        "recipe": recipe,
        "status": status,
        "split": split_info,
        "dataset": {"classes": list(classes)},
        "epochs_run": 3,
        "tags": list(tags),
        "metrics_from": None if metrics_from is None else {"run": metrics_from},
    }
    m = {
        "segment_accuracy": seg,
        "track_accuracy_mean": trk,
        "track_balanced_accuracy": bal,
        "loss": loss,
        "rmse": 0.3,
        "n_tracks": 4,
        "per_class": [],
        "tracks": tracks or [],
        **metrics,
    }
    return Run(id=run_id, path=Path("."), manifest=manifest, history={}, metrics=m)


@pytest.fixture(scope="session")
def ff_features_factory():
    """:func:`make_ff_features`."""
    return make_ff_features
