"""Unit tests of mgc.runs.metrics: balanced accuracy and macro-F1 (segments and tracks) pinned on a hand case."""

from __future__ import annotations

import numpy as np
import pytest

from mgc.runs.metrics import balanced, evaluate_predictions

CLASSES = ("a", "b", "c", "d")  # d is never a true class: it counts in neither score


def _p(cls: str, top: float = 0.7) -> list[float]:
    """Probabilities with ``top`` on ``cls`` and the rest shared by the other three classes."""
    rest = (1 - top) / 3
    return [top if c == cls else rest for c in CLASSES]


# (track, true class, predicted classes of its two segments; a second answer at 0.6, so the first one wins the mean)
HAND = [
    ("a1", "a", "aa"),
    ("a2", "a", "ab"),
    ("a3", "a", "bb"),
    ("b1", "b", "ba"),
    ("c1", "c", "cd"),
    ("c2", "c", "dd"),
]


@pytest.fixture(scope="module")
def hand():
    probs, y, tids = [], [], []
    for tid, true, preds in HAND:
        for k, pred in enumerate(preds):
            probs.append(_p(pred, 0.7 if k == 0 else 0.6))
            y.append(CLASSES.index(true))
            tids.append(tid)
    return evaluate_predictions(np.array(probs), np.array(y), np.array(tids), CLASSES)


def test_segment_balanced_accuracy_and_macro_f1_by_hand(hand):
    # segments: a 3 of 6 right, b 1 of 2, c 1 of 4; precision a 3/4, b 1/4, c 1/1
    assert hand["segment_accuracy"] == pytest.approx(5 / 12)
    assert hand["balanced_accuracy"] == pytest.approx((1 / 2 + 1 / 2 + 1 / 4) / 3)
    f1 = [2 * 0.75 * 0.5 / 1.25, 2 * 0.25 * 0.5 / 0.75, 2 * 1 * 0.25 / 1.25]  # 0.6, 1/3, 0.4
    assert hand["macro_f1"] == pytest.approx(np.mean(f1))  # over a, b, c: d is absent from the test part


def test_track_balanced_accuracy_and_macro_f1_by_hand(hand):
    # tracks (mean probability): a1 a, a2 a, a3 b, b1 b, c1 c, c2 d
    assert hand["track_accuracy_mean"] == pytest.approx(4 / 6)
    assert hand["track_balanced_accuracy"] == pytest.approx((2 / 3 + 1 + 1 / 2) / 3)
    f1 = [2 * 1 * (2 / 3) / (5 / 3), 2 * 0.5 * 1 / 1.5, 2 * 1 * 0.5 / 1.5]  # 0.8, 2/3, 2/3
    assert hand["track_macro_f1"] == pytest.approx(np.mean(f1))
    rows = {r["class"]: r for r in hand["track_per_class"]}
    assert [r["class"] for r in hand["track_per_class"]] == list(CLASSES)
    assert {c: rows[c]["support"] for c in CLASSES} == {"a": 3, "b": 1, "c": 2, "d": 0}
    assert rows["a"]["recall"] == pytest.approx(2 / 3) and rows["a"]["precision"] == pytest.approx(1.0)
    assert rows["b"]["precision"] == pytest.approx(0.5) and rows["c"]["recall"] == pytest.approx(0.5)
    assert rows["d"]["precision"] == 0 and rows["d"]["f1"] == 0  # predicted once, never right
    assert np.asarray(hand["track_confusion"]).sum() == 6 and hand["n_tracks"] == 6
    seg = {r["class"]: r["support"] for r in hand["per_class"]}
    assert seg == {"a": 6, "b": 2, "c": 4, "d": 0}


def test_balanced_from_a_matrix_counts_a_never_predicted_class_as_f1_zero():
    m = np.array(
        [
            [5, 0, 0],
            [5, 0, 0],  # b is never predicted: recall 0, F1 0, and it still counts
            [0, 0, 0],
        ]
    )  # c is absent from the test part: it counts in neither
    bal, f1 = balanced(m)
    assert bal == pytest.approx(0.5)
    assert f1 == pytest.approx((2 * 0.5 * 1 / 1.5 + 0) / 2)
    assert balanced(np.diag([3, 1, 2])) == (pytest.approx(1.0), pytest.approx(1.0))


def test_without_track_ids_the_track_scores_are_none():
    probs = np.array([_p("a"), _p("b"), _p("a")])
    m = evaluate_predictions(probs, np.array([0, 1, 1]), np.array(["", "", ""]), CLASSES)
    assert m["balanced_accuracy"] == pytest.approx((1 + 1 / 2) / 2)
    assert m["track_balanced_accuracy"] is None and m["track_macro_f1"] is None and m["track_per_class"] is None


# --------------------------------------------------------------------------- #
# scikit-learn gives what the hand-written metrics gave
# --------------------------------------------------------------------------- #
def _confusion_by_hand(y_true, y_pred, n_classes):
    """The confusion matrix as mgc counted it before scikit-learn did (the oracle)."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def _per_class_by_hand(matrix, classes):
    """Precision, recall, F1 and support as mgc computed them before scikit-learn did (the oracle)."""
    rows = []
    for i, c in enumerate(classes):
        tp, predicted, support = matrix[i, i], matrix[:, i].sum(), matrix[i].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"class": c, "precision": precision, "recall": recall, "f1": f1, "support": int(support)})
    return rows


def _fixed_cases():
    """Seeded label pairs: skewed classes, a class never predicted, one never true, perfect and empty-ish cases."""
    rng = np.random.default_rng(20)
    cases = []
    for n, k in ((1, 2), (7, 3), (50, 4), (300, 10)):
        y_true = rng.choice(k, size=n, p=np.r_[0.5, np.full(k - 1, 0.5 / (k - 1))])
        y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n))
        cases.append((y_true, y_pred, k))
    cases.append((np.array([0, 0, 1, 1]), np.array([0, 0, 0, 0]), 3))  # b never predicted, c never true
    cases.append((np.array([2, 1, 0, 2]), np.array([2, 1, 0, 2]), 4))  # perfect, d absent
    return cases


@pytest.mark.parametrize("case", range(len(_fixed_cases())))
def test_confusion_and_per_class_equal_the_hand_written_ones(case):
    from mgc.runs.metrics import confusion, per_class

    y_true, y_pred, k = _fixed_cases()[case]
    classes = [f"c{i}" for i in range(k)]
    matrix = confusion(y_true, y_pred, k)
    expected = _confusion_by_hand(y_true, y_pred, k)
    assert matrix.dtype == np.int64 and matrix.shape == (k, k)
    np.testing.assert_array_equal(matrix, expected)
    got, want = per_class(matrix, classes), _per_class_by_hand(expected, classes)
    assert [r["class"] for r in got] == classes
    for g, w in zip(got, want, strict=True):
        assert g["support"] == w["support"] and isinstance(g["support"], int)
        for key in ("precision", "recall", "f1"):
            assert isinstance(g[key], float)
            assert g[key] == pytest.approx(w[key], abs=1e-12), f"{g['class']} {key}"


def test_per_class_of_an_empty_matrix_is_all_zero_and_a_misfit_is_refused():
    from mgc.errors import ParameterError
    from mgc.runs.metrics import per_class

    rows = per_class(np.zeros((2, 2), np.int64), ["a", "b"])
    assert rows == _per_class_by_hand(np.zeros((2, 2), np.int64), ["a", "b"])
    with pytest.raises(ParameterError, match=r"matrix of shape \(2, 2\) does not fit 3 classes"):
        per_class(np.zeros((2, 2), np.int64), ["a", "b", "c"])
