"""A classical baseline for the networks, and a paired test to compare two models track by track.

:func:`svm_baseline` is the usual yardstick of MFCC genre classification: each
segment summarised by the mean and standard deviation of its MFCCs over frames
(:func:`segment_stats`), standardised, and classified by an RBF support-vector
machine. It returns per-segment probabilities in the networks' layout, so
:func:`mgc.runs.evaluate_predictions` scores it exactly like them (a track is
decided by the mean probability of its segments).

:func:`paired_tracks` compares two models tested on the same tracks: how many
tracks only one of them gets right, and the exact sign test (McNemar's exact
test) over those discordant tracks. On a test part of a few dozen tracks, a gap
of several points of accuracy is often within chance; this says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ParameterError

if TYPE_CHECKING:
    from ..features import FeatureSet

#: The SVM's fixed settings (scikit-learn's defaults for ``C`` and ``gamma``); never tuned on a test part.
SVM_DEFAULTS = {"C": 1.0, "gamma": "scale", "kernel": "rbf", "class_weight": "balanced"}


def segment_stats(X: np.ndarray) -> np.ndarray:
    """Mean and standard deviation of each MFCC over the frames of a segment.

    Parameters
    ----------
    X : np.ndarray [shape=(n, frames, n_mfcc)]
        Segments, as in :attr:`mgc.features.FeatureSet.X`.

    Returns
    -------
    stats : np.ndarray [shape=(n, 2 * n_mfcc), dtype=float32]
        ``stats[:, :n_mfcc]`` the means, ``stats[:, n_mfcc:]`` the (population) standard deviations.

    Raises
    ------
    ParameterError
        ``X`` is not 3-D, has no frames, or holds non-finite values.
    """
    X = np.asarray(X)
    if X.ndim != 3:
        raise ParameterError(f"X of shape {X.shape} must be 3-D: (segments, frames, n_mfcc)")
    if X.shape[1] < 1 or X.shape[2] < 1:
        raise ParameterError(f"X of shape {X.shape} must have at least one frame and one coefficient")
    X = X.astype(np.float64, copy=False)
    if not np.all(np.isfinite(X)):
        raise ParameterError("X must hold finite values only (found NaN or inf)")
    return np.concatenate([X.mean(axis=1), X.std(axis=1)], axis=1).astype(np.float32)


@dataclass
class BaselineResult:
    """What :func:`svm_baseline` returns.

    Attributes
    ----------
    probs : np.ndarray [shape=(n_test, n_classes), dtype=float64]
        Class probabilities of each test segment (softmax of the SVC's decision values,
        uncalibrated), columns in ``features.classes`` order (0 for a class absent from training).
    rows : np.ndarray [shape=(n_test,), dtype=int64]
        The rows of ``features`` these segments are, so
        ``evaluate_predictions(probs, features.y[rows], features.track_ids[rows], features.classes)``
        scores the baseline.
    train_rows : np.ndarray [shape=(n_train,), dtype=int64]
        The rows it was trained on.
    model : sklearn.pipeline.Pipeline
        The fitted ``StandardScaler`` + ``SVC`` pipeline (input: :func:`segment_stats`).
    settings : dict
        The settings used (``C``, ``gamma``, ``kernel``, ``class_weight``, ``probability``, ``seed``).
    """

    probs: np.ndarray
    rows: np.ndarray
    train_rows: np.ndarray
    model: object = field(repr=False)
    settings: dict = field(default_factory=dict)


def _rows_of(features: FeatureSet, tracks: Iterable[str], name: str) -> tuple[np.ndarray, set[str]]:
    wanted = {str(t) for t in tracks}
    if not wanted:
        raise ParameterError(f"{name} is empty: give at least one track id")
    known = set(np.unique(features.track_ids).tolist())
    missing = sorted(wanted - known)
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ParameterError(f"{name} names {len(missing)} track(s) the features do not hold: {shown}")
    return np.flatnonzero(np.isin(features.track_ids, sorted(wanted))), wanted


def svm_baseline(
    features: FeatureSet,
    *,
    train_tracks: Sequence[str],
    test_tracks: Sequence[str],
    C: float = SVM_DEFAULTS["C"],
    seed: int = 0,
) -> BaselineResult:
    """Fit a standardised RBF-SVM on the segments of ``train_tracks``; predict those of ``test_tracks``.

    Each segment becomes :func:`segment_stats` (26 numbers for 13 MFCCs), then
    ``Pipeline(StandardScaler(), SVC(kernel="rbf", C=C, gamma="scale",
    class_weight="balanced"))``. The settings are fixed (scikit-learn's defaults,
    ``C=1``), never tuned on the test tracks.

    Probabilities: the softmax of the SVC's one-vs-rest decision values
    (``decision_function_shape="ovr"``: the one-vs-one votes of each class plus a
    tie-breaking confidence below 1/3), so a segment's argmax is the SVC's own
    decision. They are not calibrated (no Platt scaling): with classes of one or
    two training tracks, calibration folds cannot hold every class, and
    ``SVC(probability=True)`` is deprecated in scikit-learn 1.9. Argmax-based
    metrics (accuracies, recall, F1) are comparable with the networks'; the
    cross-entropy and RMSE of these probabilities are not. A track is decided by
    the argmax of the mean of its segments' probabilities, as for the networks.

    Parameters
    ----------
    features : FeatureSet
        Segments with track ids (``X`` of shape ``(n, frames, n_mfcc)``).
    train_tracks : sequence of str
        Track ids to train on (every segment of each).
    test_tracks : sequence of str
        Track ids to predict; disjoint from ``train_tracks``.
    C : float > 0
        The SVM's regularisation.
    seed : int
        Passed to ``SVC(random_state=seed)``; without probability estimates the fit is
        deterministic, so results do not depend on it (kept for a uniform signature).

    Returns
    -------
    BaselineResult
        ``probs`` of the test segments, their ``rows`` in ``features``, and the fitted model.

    Raises
    ------
    ParameterError
        Empty, unknown or overlapping track lists, fewer than two classes to train on,
        a non-positive ``C``, or features without track ids.
    """
    from scipy.special import softmax
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if isinstance(C, bool) or not isinstance(C, (int, float)) or not np.isfinite(C) or C <= 0:
        raise ParameterError(f"C={C!r} must be a positive finite number")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ParameterError(f"seed={seed!r} must be an integer")
    if np.any(np.asarray(features.track_ids).astype(str) == ""):
        raise ParameterError("features have segments without a track id: the baseline is defined per track")
    train_rows, train_set = _rows_of(features, train_tracks, "train_tracks")
    test_rows, test_set = _rows_of(features, test_tracks, "test_tracks")
    both = sorted(train_set & test_set)
    if both:
        raise ParameterError(f"train_tracks and test_tracks must be disjoint; {len(both)} in both, e.g. {both[0]!r}")
    y_train = features.y[train_rows]
    seen = np.unique(y_train)
    if len(seen) < 2:
        raise ParameterError(f"train_tracks cover {len(seen)} class(es); the SVM needs at least 2")

    settings = {**SVM_DEFAULTS, "C": float(C), "probability": "softmax of the ovr decision values", "seed": int(seed)}
    model = make_pipeline(
        StandardScaler(),
        SVC(
            kernel="rbf",
            C=float(C),
            gamma="scale",
            class_weight="balanced",
            decision_function_shape="ovr",
            random_state=int(seed),
        ),
    )
    model.fit(segment_stats(features.X[train_rows]), y_train)
    decision = model.decision_function(segment_stats(features.X[test_rows]))
    if decision.ndim == 1:  # two classes: one signed margin, positive for classes_[1]
        decision = np.stack([-decision, decision], axis=1)
    # the SVM knows only the classes it saw; the others get probability 0
    probs = np.zeros((len(test_rows), len(features.classes)), dtype=np.float64)
    probs[:, model.classes_] = softmax(decision, axis=1)
    return BaselineResult(
        probs=probs,
        rows=test_rows.astype(np.int64),
        train_rows=train_rows.astype(np.int64),
        model=model,
        settings=settings,
    )


def _decisions(tracks: Sequence[dict], name: str) -> dict[str, tuple[int, int]]:
    out = {}
    for t in tracks:
        try:
            tid, true, pred = str(t["track_id"]), int(t["true"]), int(t["mean"])
        except (KeyError, TypeError, ValueError) as e:
            raise ParameterError(f"{name} must be metrics['tracks'] rows with track_id, true and mean: {e}") from e
        if tid in out:
            raise ParameterError(f"{name} lists track {tid!r} twice")
        out[tid] = (true, pred)
    if not out:
        raise ParameterError(f"{name} is empty: no tracks to compare")
    return out


def paired_tracks(a_tracks: Sequence[dict], b_tracks: Sequence[dict]) -> dict:
    """Compare two models on the same test tracks (mean-probability decision): the exact sign test.

    Parameters
    ----------
    a_tracks, b_tracks : sequence of dict
        ``metrics["tracks"]`` of the two models (rows with ``track_id``, ``true``, ``mean``),
        over the same set of tracks, in any order.

    Returns
    -------
    dict
        ``n`` (tracks), ``only_a`` (right by A alone), ``only_b``, ``both``, ``neither``,
        ``accuracy_a``, ``accuracy_b`` and ``p_value``: the two-sided exact binomial
        (sign) test of ``only_a`` among the ``only_a + only_b`` discordant tracks
        against 1/2 (:func:`scipy.stats.binomtest`; 1.0 when there are none).

    Raises
    ------
    ParameterError
        The two lists hold different tracks, a track twice, or disagree on a track's true class.
    """
    from scipy.stats import binomtest

    a, b = _decisions(a_tracks, "a_tracks"), _decisions(b_tracks, "b_tracks")
    if a.keys() != b.keys():
        only_in_a, only_in_b = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
        example = (only_in_a or only_in_b)[0]
        raise ParameterError(
            f"a_tracks and b_tracks must cover the same tracks: {len(only_in_a)} only in a_tracks, "
            f"{len(only_in_b)} only in b_tracks (e.g. {example!r})"
        )
    counts = {"only_a": 0, "only_b": 0, "both": 0, "neither": 0}
    for tid, (true, pred_a) in a.items():
        true_b, pred_b = b[tid]
        if true_b != true:
            raise ParameterError(f"track {tid!r} has true class {true} in a_tracks but {true_b} in b_tracks")
        right_a, right_b = pred_a == true, pred_b == true
        key = "both" if right_a and right_b else "only_a" if right_a else "only_b" if right_b else "neither"
        counts[key] += 1
    n = len(a)
    discordant = counts["only_a"] + counts["only_b"]
    p = float(binomtest(counts["only_a"], discordant, 0.5).pvalue) if discordant else 1.0
    return {
        "n": n,
        **counts,
        "accuracy_a": (counts["only_a"] + counts["both"]) / n,
        "accuracy_b": (counts["only_b"] + counts["both"]) / n,
        "p_value": p,
    }
