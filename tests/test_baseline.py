"""Unit tests of mgc.analysis.baseline: segment statistics, the SVM baseline, and the paired sign test."""

from __future__ import annotations

import numpy as np
import pytest

from mgc.analysis.baseline import paired_tracks, segment_stats, svm_baseline
from mgc.errors import ParameterError
from mgc.runs import evaluate_predictions


def _tracks(fs, *, numbers, classes=None):
    """Track ids ``<class>.0000N`` of ``fs`` for the given track numbers (and classes)."""
    classes = fs.classes if classes is None else classes
    return [f"{c}.{n:05d}" for c in classes for n in numbers]


def _score(fs, result):
    return evaluate_predictions(result.probs, fs.y[result.rows], fs.track_ids[result.rows], fs.classes)


# --------------------------------------------------------------------------- #
# segment_stats
# --------------------------------------------------------------------------- #
def test_segment_stats_are_the_mean_then_the_std_over_frames():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 130, 13)).astype(np.float32) * 2 + 5
    s = segment_stats(X)
    assert s.shape == (4, 26) and s.dtype == np.float32
    np.testing.assert_allclose(s[:, :13], X.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(s[:, 13:], X.std(axis=1), rtol=1e-5)
    # a constant segment: its value, no spread
    const = np.full((1, 130, 13), 3.0, np.float32)
    np.testing.assert_array_equal(segment_stats(const), np.r_[np.full(13, 3.0), np.zeros(13)][None].astype(np.float32))


@pytest.mark.parametrize("bad", [np.zeros((130, 13)), np.zeros((2, 0, 13)), np.full((1, 130, 13), np.nan)])
def test_segment_stats_refuses_what_is_not_a_stack_of_finite_segments(bad):
    with pytest.raises(ParameterError, match="X"):
        segment_stats(bad)


# --------------------------------------------------------------------------- #
# svm_baseline
# --------------------------------------------------------------------------- #
def test_svm_learns_an_easy_set_and_returns_the_test_rows(feature_factory):
    fs = feature_factory(tracks_per_class=6, segments=10, seed=1)
    train, test = _tracks(fs, numbers=range(1, 5)), _tracks(fs, numbers=(5, 6))
    res = svm_baseline(fs, train_tracks=train, test_tracks=test)
    assert sorted(set(fs.track_ids[res.rows])) == sorted(test)
    assert sorted(set(fs.track_ids[res.train_rows])) == sorted(train)
    assert len(res.rows) == 6 * 10 and res.probs.shape == (60, 3)
    np.testing.assert_allclose(res.probs.sum(axis=1), 1.0)
    # the probabilities' argmax is the SVC's own decision
    np.testing.assert_array_equal(res.probs.argmax(axis=1), res.model.predict(segment_stats(fs.X[res.rows])))
    m = _score(fs, res)
    assert m["n_tracks"] == 6
    assert m["track_accuracy_mean"] == 1.0
    assert m["segment_accuracy"] >= 0.9
    assert res.settings["C"] == 1.0 and res.settings["gamma"] == "scale"
    # deterministic: the same call gives the same numbers
    np.testing.assert_array_equal(svm_baseline(fs, train_tracks=train, test_tracks=test).probs, res.probs)


def test_svm_puts_its_columns_under_the_right_classes_when_one_is_never_trained_on(feature_factory):
    fs = feature_factory(classes=("a", "b", "c", "d"), tracks_per_class=5, segments=8, seed=2)
    # "a" (column 0) is absent from training: the SVM's classes are 1, 2, 3
    train = _tracks(fs, numbers=range(1, 4), classes=("b", "c", "d"))
    test = _tracks(fs, numbers=(4, 5))
    res = svm_baseline(fs, train_tracks=train, test_tracks=test)
    assert res.probs.shape == (len(res.rows), 4)
    np.testing.assert_array_equal(res.probs[:, 0], 0.0)
    tracks = {t["track_id"]: t for t in _score(fs, res)["tracks"]}
    for tid, t in tracks.items():
        if tid.startswith("a."):
            assert t["mean"] != 0  # never predicted: it was never learned
        else:
            assert t["mean"] == t["true"], tid


def test_svm_handles_two_classes_with_the_margin_sign_the_right_way_round(feature_factory):
    fs = feature_factory(classes=("a", "b"), tracks_per_class=8, segments=8, seed=1)
    res = svm_baseline(fs, train_tracks=_tracks(fs, numbers=range(1, 7)), test_tracks=_tracks(fs, numbers=(7, 8)))
    assert res.probs.shape == (32, 2)
    np.testing.assert_array_equal(res.probs.argmax(axis=1), res.model.predict(segment_stats(fs.X[res.rows])))
    assert _score(fs, res)["track_accuracy_mean"] == 1.0


def test_svm_on_shuffled_labels_is_not_better_than_chance_by_much(feature_factory):
    """The easy-set score comes from the features, not from something the split leaks."""
    fs = feature_factory(tracks_per_class=8, segments=10, seed=4)
    rng = np.random.default_rng(0)
    tids = np.unique(fs.track_ids)
    fake = dict(zip(tids, rng.permutation([fs.y[fs.track_ids == t][0] for t in tids]), strict=True))
    fs.y = np.array([fake[t] for t in fs.track_ids], dtype=np.int64)
    res = svm_baseline(fs, train_tracks=_tracks(fs, numbers=range(1, 6)), test_tracks=_tracks(fs, numbers=(6, 7, 8)))
    assert _score(fs, res)["segment_accuracy"] < 0.8


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"train_tracks": ["a.00001", "b.00001"], "test_tracks": ["a.00001", "c.00001"]}, "disjoint"),
        ({"train_tracks": ["a.00001", "b.00001"], "test_tracks": ["z.00009"]}, "test_tracks names 1 track"),
        ({"train_tracks": [], "test_tracks": ["c.00001"]}, "train_tracks is empty"),
        ({"train_tracks": ["a.00001", "a.00002"], "test_tracks": ["c.00001"]}, "1 class"),
        ({"train_tracks": ["a.00001", "b.00001"], "test_tracks": ["c.00001"], "C": 0}, "C=0"),
        ({"train_tracks": ["a.00001", "b.00001"], "test_tracks": ["c.00001"], "C": float("nan")}, "C=nan"),
    ],
)
def test_svm_refuses_bad_track_lists_and_settings(tiny_features, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        svm_baseline(tiny_features, **kwargs)


def test_svm_refuses_features_without_track_ids(feature_factory):
    fs = feature_factory(seed=5)
    fs.track_ids = fs.track_ids.copy()
    fs.track_ids[0] = ""
    with pytest.raises(ParameterError, match="track id"):
        svm_baseline(fs, train_tracks=["a.00001", "b.00001"], test_tracks=["c.00001"])


# --------------------------------------------------------------------------- #
# paired_tracks
# --------------------------------------------------------------------------- #
def _rows(outcomes):
    """metrics['tracks']-like rows: outcome True = right (true class 0), False = wrong (predicts 1)."""
    return [{"track_id": f"t.{i:05d}", "true": 0, "vote": 0, "mean": 0 if ok else 1} for i, ok in enumerate(outcomes)]


def test_paired_tracks_counts_and_exact_sign_test():
    #        both      only A              only B  neither
    a = [True] * 2 + [True] * 5 + [False] * 1 + [False] * 2
    b = [True] * 2 + [False] * 5 + [True] * 1 + [False] * 2
    b_rows = _rows(b)[::-1]  # order does not matter
    r = paired_tracks(_rows(a), b_rows)
    assert (r["n"], r["both"], r["only_a"], r["only_b"], r["neither"]) == (10, 2, 5, 1, 2)
    assert r["accuracy_a"] == pytest.approx(0.7) and r["accuracy_b"] == pytest.approx(0.3)
    # two-sided exact binomial test of 5 of 6 at 1/2: 2 * (C(6,5) + C(6,6)) / 2**6
    assert r["p_value"] == pytest.approx(14 / 64)
    swapped = paired_tracks(b_rows, _rows(a))
    assert (swapped["only_a"], swapped["only_b"], swapped["p_value"]) == (1, 5, pytest.approx(14 / 64))


def test_paired_tracks_extremes():
    assert paired_tracks(_rows([True] * 6), _rows([False] * 6))["p_value"] == pytest.approx(2 / 64)
    same = paired_tracks(_rows([True, False, True]), _rows([True, False, True]))
    assert (same["only_a"], same["only_b"], same["p_value"]) == (0, 0, 1.0)


def test_paired_tracks_uses_the_mean_probability_decision_not_the_vote():
    a = [{"track_id": "x.00001", "true": 2, "vote": 2, "mean": 0}]
    b = [{"track_id": "x.00001", "true": 2, "vote": 0, "mean": 2}]
    r = paired_tracks(a, b)
    assert (r["only_a"], r["only_b"]) == (0, 1)


def test_paired_tracks_refuses_different_track_sets():
    with pytest.raises(ParameterError, match="same tracks: 1 only in a_tracks, 0 only in b_tracks"):
        paired_tracks(_rows([True, True, False]), _rows([True, True]))
    renamed = _rows([True, True])
    renamed[1]["track_id"] = "u.00001"
    with pytest.raises(ParameterError, match="same tracks"):
        paired_tracks(_rows([True, True]), renamed)


def test_paired_tracks_refuses_duplicates_disagreeing_labels_and_empty_lists():
    rows = _rows([True, True])
    with pytest.raises(ParameterError, match="twice"):
        paired_tracks(rows + rows[:1], rows)
    other = _rows([True, True])
    other[0]["true"] = 3
    with pytest.raises(ParameterError, match="true class"):
        paired_tracks(rows, other)
    with pytest.raises(ParameterError, match="a_tracks is empty"):
        paired_tracks([], [])
    with pytest.raises(ParameterError, match="b_tracks must be"):
        paired_tracks(rows, [{"track_id": "t.00000"}])
