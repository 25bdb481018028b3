"""Streaming training: a row source over a memory map, epochs drawn as in memory, the same history."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from mgc.errors import ParameterError
from mgc.training import TrainConfig, train
from mgc.training.fit import EpochSampler
from mgc.training.stream import ArrayRows, RowSource, StreamSampler, as_source, moments


def _memmapped(features, tmp_path):
    """The same features with ``X`` in an ``.npy`` file opened with ``mmap_mode='r'``."""
    path = tmp_path / "X.npy"
    np.save(path, features.X)
    X = np.load(path, mmap_mode="r")
    assert isinstance(X, np.memmap)
    return dataclasses.replace(features, X=X)


class CountingRows:
    """A row source that is not an array, and records how many rows each read asked for."""

    def __init__(self, X):
        self.X, self.reads = X, []

    @property
    def shape(self):
        return self.X.shape

    def rows(self, index):
        self.reads.append(len(index))
        return np.asarray(self.X[np.asarray(index)], dtype=np.float32)


def test_array_rows_reads_in_the_order_asked(tmp_path):
    X = np.arange(5 * 3 * 2, dtype=np.float32).reshape(5, 3, 2)
    np.save(tmp_path / "x.npy", X)
    for src in (ArrayRows(X), as_source(np.load(tmp_path / "x.npy", mmap_mode="r"))):
        idx = np.array([4, 0, 4, 2])
        assert np.array_equal(src.rows(idx), X[idx]) and src.rows(idx).dtype == np.float32
        assert src.shape == (5, 3, 2)
        with pytest.raises(ParameterError, match="out of range"):
            src.rows(np.array([5]))
    assert isinstance(as_source(CountingRows(X)), RowSource)
    with pytest.raises(ParameterError, match="cannot be read by row"):
        as_source([[1.0, 2.0]])


def test_moments_in_chunks_match_numpy(tmp_path):
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((300, 7, 4)) * [1, 10, 100, 1000] + [0, -5, 300, 1e4]).astype(np.float32)
    rows = rng.permutation(300)[:200]
    mean, var = moments(X, rows, chunk_rows=17)
    flat = X[rows].reshape(-1, 4).astype(np.float64)
    np.testing.assert_allclose(mean, flat.mean(0), rtol=1e-12)
    np.testing.assert_allclose(var, flat.var(0), rtol=1e-9)
    mapped = _memmapped(dataclasses.replace(_features_like(X)), tmp_path).X
    assert all(np.array_equal(a, b) for a, b in zip(moments(mapped, rows, chunk_rows=17), (mean, var), strict=True))


def _features_like(X):
    from mgc.features import FeatureSet

    n = len(X)
    return FeatureSet(
        X=X,
        y=np.arange(n) % 2,
        track_ids=np.array([f"t{i // 10}" for i in range(n)]),
        segment_index=np.arange(n) % 10,
        classes=("a", "b"),
    )


CONFIGS = {
    "improved": {"recipe": "improved"},
    "every augmentation": {"recipe": "improved", "spec_mask": True, "balanced_sampling": True},
    "windows only": {"recipe": "study", "random_windows": True},
    "mixup, no windows": {"recipe": "study", "mixup": 0.3, "class_weight": True},
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_streamed_epochs_are_the_in_memory_epochs_to_the_bit(name, tiny_features, tmp_path):
    fs = tiny_features
    cfg = TrainConfig(model="cnn", split="track", batch_size=16, seed=5, **CONFIGS[name]).resolved()
    rng = np.random.default_rng(1)
    rows = np.sort(rng.choice(len(fs.y), 300, replace=False))  # a training part with gaps inside tracks
    weights = {0: 0.5, 1: 1.0, 2: 2.0} if cfg.class_weight else None
    memory = EpochSampler(cfg, fs, rows, weights, len(fs.classes))
    counting = CountingRows(_memmapped(fs, tmp_path).X)
    stream = StreamSampler(
        cfg,
        counting,
        y=fs.y,
        track_ids=fs.track_ids,
        segment_index=fs.segment_index,
        rows=rows,
        class_weight=weights,
        n_classes=len(fs.classes),
    )
    assert len(stream) == len(memory)
    for _ in range(3):  # epochs
        memory.new_epoch()
        stream.new_epoch()
        for i in range(len(memory)):
            a, b = memory.batch(i), stream.batch(i)
            assert len(a) == len(b)
            for u, v in zip(a, b, strict=True):
                assert u.dtype == v.dtype and np.array_equal(u, v)
    # each read is one batch's rows: two per example with windows, twice that with mixup partners
    per_example = (2 if cfg.random_windows else 1) * (2 if cfg.mixup else 1)
    assert max(counting.reads[1:]) <= per_example * cfg.batch_size


def test_random_windows_need_segments():
    cfg = TrainConfig(model="transfer", split="track", recipe="study", random_windows=False).resolved()
    cfg = dataclasses.replace(cfg, random_windows=True)
    X = np.zeros((4, 8), np.float32)
    with pytest.raises(ParameterError, match="random windows need segments"):
        StreamSampler(
            cfg,
            X,
            y=np.zeros(4, int),
            track_ids=np.array(["a"] * 4),
            segment_index=np.arange(4),
            rows=np.arange(4),
            class_weight=None,
            n_classes=2,
        )


def _history(run):
    return {k: v for k, v in run.history.items() if k != "seconds"}


@pytest.mark.slow
def test_streaming_from_a_memmap_gives_the_in_memory_history(tiny_features, tmp_path):
    cfg = TrainConfig(model="mlp", split="track", recipe="improved", epochs=3, batch_size=16, seed=2)
    memory = train(tiny_features, cfg, root=tmp_path / "runs", run_id="memory")
    mapped = _memmapped(tiny_features, tmp_path)
    streamed = train(mapped, cfg, root=tmp_path / "runs", run_id="streamed")
    assert streamed.manifest["split"] == memory.manifest["split"]
    assert _history(streamed) == _history(memory)
    assert len(memory.history["val_loss"]) == 3 and all(np.isfinite(memory.history["val_loss"]))
    a, b = memory.predictions(), streamed.predictions()
    assert np.array_equal(a["probs"], b["probs"]) and np.array_equal(a["track_ids"], b["track_ids"])
    assert streamed.metrics == memory.metrics
    # a source that is not an array trains the same way
    other = train(
        dataclasses.replace(tiny_features, X=CountingRows(tiny_features.X)), cfg, root=tmp_path / "runs", run_id="src"
    )
    assert _history(other) == _history(memory)


@pytest.mark.slow
def test_streaming_the_study_recipe_draws_its_own_order(tiny_features, tmp_path):
    cfg = TrainConfig(model="mlp", split="track", recipe="study", epochs=2, batch_size=16, seed=2)
    memory = train(tiny_features, cfg, root=tmp_path / "runs", run_id="memory")
    streamed = train(tiny_features, cfg, root=tmp_path / "runs", run_id="streamed", stream=True)
    again = train(tiny_features, cfg, root=tmp_path / "runs", run_id="again", stream=True)
    assert _history(streamed) == _history(again)  # seeded
    assert streamed.history["epoch"] == memory.history["epoch"] == [1, 2]
    assert all(np.isfinite(streamed.history["loss"]))


# --------------------------------------------------------------------------- #
# The end of a streamed run: trust checks on bounded samples
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def trained(tiny_features, tmp_path_factory):
    cfg = TrainConfig(model="mlp", split="track", recipe="improved", epochs=1, batch_size=16, seed=3)
    return train(tiny_features, cfg, root=tmp_path_factory.mktemp("runs"), run_id="r")


def _trust_json(run):
    import json

    return json.loads((run.path / "trust.json").read_text())


@pytest.mark.slow
def test_trust_checks_fitted_as_the_held_out_rows_say(trained, tiny_features):
    from mgc.runs import fit_trust
    from mgc.runs.trust import fit

    fs, run = tiny_features, trained
    # what the checks must be, computed the plain way: a dict from (track, segment) to row
    pred = run.predictions()
    where = {(t, int(s)): i for i, (t, s) in enumerate(zip(fs.track_ids, fs.segment_index, strict=True))}
    eval_rows = [where[(str(t), int(s))] for t, s in zip(pred["track_ids"], pred["segment_index"], strict=True)]
    train_rows = np.isin(fs.track_ids, run.manifest["split"]["track_ids"]["train"])
    label = run.manifest["split"].get("label", run.manifest["split"]["name"])
    expected = fit(
        X_train=fs.X[train_rows],
        X_eval=fs.X[eval_rows],
        eval_track_ids=pred["track_ids"],
        eval_probs=pred["probs"],
        eval_y=pred["y_true"],
        fitted_on=f"{label} split, test part",
    )
    assert _trust_json(run) == expected
    # the same from a row source that is not an array, with bounds the data stays under
    fit_trust(run, dataclasses.replace(fs, X=CountingRows(fs.X)), max_train_rows=10**6, max_eval_rows=10**6)
    assert _trust_json(run) == expected


@pytest.mark.slow
def test_bounded_trust_checks_read_only_their_samples(trained, tiny_features):
    from mgc.runs import fit_trust

    fs, run = tiny_features, trained
    fit_trust(run, fs)
    full = _trust_json(run)
    rows = CountingRows(fs.X)
    fit_trust(run, dataclasses.replace(fs, X=rows), max_train_rows=50, max_eval_rows=35, seed=1)
    bounded = _trust_json(run)
    n_train = int(np.isin(fs.track_ids, run.manifest["split"]["track_ids"]["train"]).sum())
    n_eval = len(run.predictions()["track_ids"])
    assert sorted(rows.reads) == [30, 50]  # 50 training windows, 3 whole held-out tracks of 10
    # whole held-out tracks (10 windows each here), as many as fit under the bound
    assert bounded["sampled"] == {
        "train_windows": [50, n_train],
        "held_out_tracks": [3, n_eval // 10],
        "held_out_windows": [30, n_eval],
        "seed": 1,
    }
    # the answer thresholds use every held-out track's probabilities: unchanged
    assert bounded["confidence"] == full["confidence"] and bounded["agreement"] == full["agreement"]
    assert bounded["fitted_on"] == full["fitted_on"]
    assert bounded["music"]["distance_threshold"] != full["music"]["distance_threshold"]
    # seeded: the same samples again
    fit_trust(run, fs, max_train_rows=50, max_eval_rows=35, seed=1)
    assert _trust_json(run) == bounded
    fit_trust(run, fs)  # leave the module's run as it was


# --------------------------------------------------------------------------- #
# `mgc train --stream`: from the feature store, without loading every segment
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_cli_train_streams_from_the_feature_store(tiny_dataset, tmp_path, monkeypatch, capsys):
    import json

    from mgc.cli import main
    from mgc.features.store import SegmentSource
    from mgc.runs import load_run

    monkeypatch.setenv("MGC_ARTIFACTS", str(tmp_path / "artifacts"))
    base = ["train", "--data", str(tiny_dataset), "--model", "mlp", "--split", "track", "--recipe", "improved"]
    base += ["--epochs", "2", "--batch-size", "16", "--seed", "4", "--runs", str(tmp_path / "runs")]
    assert main([*base, "--no-stream"]) == 0
    out = capsys.readouterr().out
    assert "streaming" not in out
    memory = load_run(re.findall(r"^run (\S+) \(", out, re.M)[-1], root=tmp_path / "runs")

    def refuse(self):
        raise AssertionError("a streamed run must not load every segment")

    monkeypatch.setattr(SegmentSource, "all_rows", refuse)
    assert main([*base, "--stream"]) == 0
    out = capsys.readouterr().out
    assert f"streaming 420 mfcc segments ({420 * 130 * 13 * 4 / 1e6:.1f} MB) from the feature store" in out
    streamed = load_run(re.findall(r"^run (\S+) \(", out, re.M)[-1], root=tmp_path / "runs")
    assert streamed.id != memory.id and streamed.manifest["split"] == memory.manifest["split"]
    assert _history(streamed) == _history(memory)
    assert np.array_equal(streamed.predictions()["probs"], memory.predictions()["probs"])
    trust = json.loads((streamed.path / "trust.json").read_text())
    assert trust == json.loads((memory.path / "trust.json").read_text())
    # neither flag: streamed above the size (made tiny here), so all_rows is still never called
    from mgc.cli import common

    monkeypatch.setattr(common, "STREAM_ABOVE_BYTES", 0)
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "streaming 420 mfcc segments" in out
    again = load_run(re.findall(r"^run (\S+) \(", out, re.M)[-1], root=tmp_path / "runs")
    assert _history(again) == _history(memory)


def test_cli_stream_needs_a_dataset_folder(tmp_path, capsys):
    from mgc.cli import main

    assert main(["train", "--data", str(tmp_path / "f.npz"), "--model", "mlp", "--stream"]) == 2
    err = capsys.readouterr().err
    assert "--stream reads the feature store of a dataset folder" in err and "f.npz is a features file" in err
