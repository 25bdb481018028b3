"""Unit tests of mgc.training.augment (random windows, mixup) and of training with them."""

from __future__ import annotations

import numpy as np
import pytest

from mgc.dataset import make_split
from mgc.errors import ParameterError
from mgc.training import TrainConfig, train
from mgc.training.augment import mixup, random_windows, training_runs


def _rows(tracks: dict[str, list[int]], frames: int = 4, n_mfcc: int = 2):
    """Segments whose every value encodes (track number, segment index, frame) so windows can be traced."""
    X, tid, seg = [], [], []
    for t_no, (t, segments) in enumerate(tracks.items()):
        for s in segments:
            f = np.arange(frames, dtype=np.float32)
            X.append(np.stack([1000 * t_no + 10 * s + f / 10] * n_mfcc, axis=1))
            tid.append(t)
            seg.append(s)
    return np.array(X), np.array(tid), np.array(seg)


def test_runs_join_consecutive_segments_and_stop_at_gaps():
    # track a: segments 0,1,2 then a gap (3 is elsewhere) then 5; track b: 1 alone; shuffled row order
    X, tid, seg = _rows({"a": [2, 0, 5, 1], "b": [1]})
    runs = training_runs(X, track_ids=tid, segment_index=seg)
    spans = {(str(t), int(s)): int(b - a) for t, s, a, b in zip(tid, seg, runs.start, runs.stop, strict=True)}
    assert spans == {("a", 0): 12, ("a", 1): 12, ("a", 2): 12, ("a", 5): 4, ("b", 1): 4}
    # the run of a/0..2 holds its segments in order
    a0 = int(runs.start[list(zip(tid, seg, strict=True)).index(("a", 0))])
    np.testing.assert_array_equal(runs.frames[a0 : a0 + 12, 0], np.concatenate([X[1, :, 0], X[3, :, 0], X[0, :, 0]]))


def test_unknown_tracks_or_positions_make_one_segment_runs():
    X, tid, seg = _rows({"": [0, 1], "c": [0, 1]})
    seg = np.array([0, 1, -1, 1])  # c's first position unknown
    runs = training_runs(X, track_ids=tid, segment_index=seg)
    assert (runs.stop - runs.start).tolist() == [4, 4, 4, 4]


def test_windows_stay_inside_their_run_and_vary():
    X, tid, seg = _rows({"a": [0, 1, 2], "b": [0, 1, 2]}, frames=4)
    runs = training_runs(X, track_ids=tid, segment_index=seg)
    rng = np.random.default_rng(0)
    offsets = set()
    for _ in range(50):
        W = random_windows(runs, rng)
        assert W.shape == X.shape
        for row, w in enumerate(W):
            track_no = int(w[0, 0] // 1000)
            assert track_no == (0 if tid[row] == "a" else 1)  # never crosses into another track
            # consecutive frames of one track: 10 * segment + frame / 10, frames 0..3 then the next segment
            position = np.round((w[:, 0] - 1000 * track_no) * 10).astype(int)
            flat = (position // 100) * 4 + position % 100
            assert np.all(np.diff(flat) == 1)
            offsets.add(int(flat[0]))
    assert offsets == set(range(9))  # every start frame of a 12-frame run, 4-frame windows


def test_windows_never_reach_validation_or_test_segments(tiny_features):
    f = tiny_features
    split = make_split("segment", y=f.y, track_ids=f.track_ids, seed=0)
    rows = split.train
    runs = training_runs(f.X[rows], track_ids=f.track_ids[rows], segment_index=f.segment_index[rows])
    held_out = {f.X[i].tobytes() for i in np.concatenate([split.validation, split.test])}
    frames = runs.frames.reshape(-1, f.X.shape[1], f.X.shape[2])
    assert len(frames) == len(rows)
    assert not any(seg.tobytes() in held_out for seg in frames)


def test_mixup_blends_inputs_labels_and_weights_alike():
    rng = np.random.default_rng(1)
    X = np.arange(6, dtype=np.float32).reshape(3, 2) * 10
    Y = np.eye(3, dtype=np.float32)
    w = np.array([1.0, 2.0, 4.0], dtype=np.float32)
    Xm, Ym, wm = mixup(X, Y, alpha=0.4, rng=rng, weights=w)
    np.testing.assert_allclose(Ym.sum(1), 1, rtol=1e-6)
    assert not np.array_equal(Xm, X)
    for i in range(3):
        pair = np.flatnonzero(Ym[i] > 1e-6)
        if len(pair) == 1:  # paired with itself (or lam rounded to 1): unchanged
            np.testing.assert_allclose(Xm[i], X[pair[0]], rtol=1e-5)
            continue
        a, b = pair  # the weight that blends the labels blends the inputs and the sample weights too
        lam = Ym[i, a]
        np.testing.assert_allclose(Xm[i], lam * X[a] + (1 - lam) * X[b], rtol=1e-5)
        np.testing.assert_allclose(wm[i], lam * w[a] + (1 - lam) * w[b], rtol=1e-5)
    with pytest.raises(ParameterError, match="alpha=0 must be > 0"):
        mixup(X, Y, alpha=0, rng=rng)


def test_training_runs_rejects_mismatched_arrays():
    X, tid, seg = _rows({"a": [0, 1]})
    with pytest.raises(ParameterError, match="must have the same length"):
        training_runs(X, track_ids=tid[:1], segment_index=seg)


@pytest.mark.slow
@pytest.mark.parametrize("kwargs", [{"random_windows": True}, {"mixup": 0.4, "class_weight": True}])
def test_augmented_training_is_seeded_and_recorded(tiny_features, tmp_path, kwargs):
    cfg = TrainConfig(model="mlp", split="track", epochs=2, batch_size=16, seed=5, **kwargs)
    a = train(tiny_features, cfg, root=tmp_path, run_id="a")
    b = train(tiny_features, cfg, root=tmp_path, run_id="b")
    plain = train(
        tiny_features,
        TrainConfig(model="mlp", split="track", epochs=2, batch_size=16, seed=5),
        root=tmp_path,
        run_id="plain",
    )
    assert a.history["loss"] == b.history["loss"]
    assert a.history["loss"] != plain.history["loss"]  # the augmentation changed what was trained on
    for k, v in kwargs.items():
        assert a.manifest["config"][k] == v
    # validation and test metrics are on the untouched segments
    assert len(a.history["val_accuracy"]) == 2 and a.metrics["n_segments"] == plain.metrics["n_segments"]


def test_bad_mixup():
    with pytest.raises(ParameterError, match=r"mixup=-1 must be in \[0, 10\]"):
        TrainConfig(mixup=-1)
