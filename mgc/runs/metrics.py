"""Metrics of a trained model on a test part: segments and whole tracks.

Everything here works on predicted probabilities, so it serves the training run,
``mgc evaluate`` on another dataset, and the dashboard alike.

The study reports an "error" it calls RMSE; its values (3.31, 1.12, 0.88) exceed
sqrt(2), the largest RMSE a probability vector can have against a one-hot label,
and match the cross-entropy loss instead. We report both, named for what they are:
``loss`` is the mean categorical cross-entropy and ``rmse`` the root mean square
difference between the one-hot label and the softmax output.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ParameterError

EPS = 1e-7  # Keras's clipping of probabilities in cross-entropy


def cross_entropy(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean categorical cross-entropy (natural log), probabilities clipped to [1e-7, 1 - 1e-7]."""
    p = np.clip(probs[np.arange(len(y)), y], EPS, 1 - EPS)
    return float(-np.mean(np.log(p)))


def rmse(probs: np.ndarray, y: np.ndarray) -> float:
    """Root mean square difference between one-hot labels and probabilities, over all entries."""
    onehot = np.eye(probs.shape[1], dtype=np.float64)[y]
    return float(np.sqrt(np.mean((onehot - probs) ** 2)))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion matrix (``sklearn.metrics.confusion_matrix``): rows are true classes, columns predicted ones.

    Parameters
    ----------
    y_true, y_pred : np.ndarray [shape=(n,)]
        Class indices in ``[0, n_classes)``.
    n_classes : int
        Every class gets a row and a column, also one that never occurs.

    Returns
    -------
    np.ndarray [shape=(n_classes, n_classes), dtype=int64]
    """
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=np.arange(n_classes)).astype(np.int64)


def _labels_of(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted label vectors that a confusion matrix counts (one pair per count)."""
    n = matrix.shape[0]
    counts = np.asarray(matrix, dtype=np.int64).ravel()
    true = np.repeat(np.repeat(np.arange(n), n), counts)
    pred = np.repeat(np.tile(np.arange(n), n), counts)
    return true, pred


def balanced(matrix: np.ndarray) -> tuple[float, float]:
    """Balanced accuracy and macro-F1 from a confusion matrix, over the classes present in the test part.

    Balanced accuracy is the mean recall of the classes with at least one true
    example; macro-F1 the mean F1 of the same classes (a class never predicted has
    F1 0). A class absent from the test part counts in neither.
    """
    from sklearn.metrics import balanced_accuracy_score, f1_score

    # rebuild label vectors from the matrix and let scikit-learn define the scores
    true, pred = _labels_of(matrix)
    present = np.flatnonzero(matrix.sum(axis=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "y_pred contains classes not in y_true": intended here
        bal = balanced_accuracy_score(true, pred)
    return float(bal), float(f1_score(true, pred, labels=present, average="macro", zero_division=0))


def per_class(matrix: np.ndarray, classes) -> list[dict]:
    """Precision, recall, F1 and support per class from a confusion matrix (0 where undefined).

    The scores are ``sklearn.metrics.precision_recall_fscore_support`` with
    ``zero_division=0``: a class never predicted has precision 0, a class
    absent from the test part recall 0, and F1 is 0 where both are.

    Parameters
    ----------
    matrix : np.ndarray [shape=(n_classes, n_classes)]
        Rows true, columns predicted (:func:`confusion`).
    classes : sequence of str [length n_classes]

    Returns
    -------
    list of dict
        One per class, in order: ``class``, ``precision``, ``recall``, ``f1``, ``support``.
    """
    from sklearn.metrics import precision_recall_fscore_support

    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape != (len(classes), len(classes)):
        raise ParameterError(f"matrix of shape {matrix.shape} does not fit {len(classes)} classes")
    true, pred = _labels_of(matrix)
    labels = np.arange(len(classes))
    if len(true) == 0:  # an empty matrix: scikit-learn has nothing to score, every score is 0
        zeros = np.zeros(len(classes))
        precision, recall, f1 = zeros, zeros, zeros
    else:
        precision, recall, f1, _ = precision_recall_fscore_support(true, pred, labels=labels, zero_division=0)
    support = matrix.sum(axis=1)
    return [
        {
            "class": c,
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, c in enumerate(classes)
    ]


def track_table(probs: np.ndarray, y: np.ndarray, track_ids: np.ndarray) -> list[dict]:
    """One row per track: true class, majority-vote and mean-probability predictions.

    Ties in the vote go to the class with the higher mean probability.
    """
    rows = []
    n_classes = probs.shape[1]
    for tid in np.unique(track_ids):
        mask = track_ids == tid
        p = probs[mask]
        mean = p.mean(axis=0)
        votes = np.bincount(p.argmax(axis=1), minlength=n_classes)
        best = np.flatnonzero(votes == votes.max())
        vote = int(best[np.argmax(mean[best])])
        rows.append(
            {
                "track_id": str(tid),
                "true": int(y[mask][0]),
                "vote": vote,
                "mean": int(mean.argmax()),
                "confidence": float(mean.max()),
                "segments": int(mask.sum()),
            }
        )
    return rows


def evaluate_predictions(probs: np.ndarray, y: np.ndarray, track_ids: np.ndarray, classes) -> dict:
    """All test metrics of one model.

    Parameters
    ----------
    probs : np.ndarray [shape=(n, n_classes)]
        Softmax outputs per segment.
    y : np.ndarray [shape=(n,)]
        True class per segment.
    track_ids : np.ndarray [shape=(n,)]
        Track of each segment (``""`` where unknown: no track metrics then).
    classes : sequence of str

    Returns
    -------
    dict
        ``segment_accuracy``, ``loss`` (cross-entropy), ``rmse``,
        ``track_accuracy_vote``, ``track_accuracy_mean`` (None without track ids),
        ``balanced_accuracy`` and ``macro_f1`` (segments, over the classes
        present), ``track_balanced_accuracy`` and ``track_macro_f1`` (tracks,
        mean-probability decision; None without track ids), ``n_segments``,
        ``n_tracks``, ``confusion`` (segments, list of lists), ``track_confusion``
        (mean-probability decision), ``per_class`` (segments), ``track_per_class``
        (tracks), ``tracks``.
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    track_ids = np.asarray(track_ids).astype(str)
    if probs.ndim != 2 or probs.shape[0] != len(y) or probs.shape[1] != len(classes):
        raise ParameterError(f"probs of shape {probs.shape} does not fit {len(y)} labels and {len(classes)} classes")
    if len(y) == 0:
        raise ParameterError("there are no test segments to evaluate")
    pred = probs.argmax(axis=1)
    matrix = confusion(y, pred, len(classes))
    bal, f1 = balanced(matrix)
    out = {
        "segment_accuracy": float(np.mean(pred == y)),
        "balanced_accuracy": bal,
        "macro_f1": f1,
        "loss": cross_entropy(probs, y),
        "rmse": rmse(probs, y),
        "n_segments": int(len(y)),
        "confusion": matrix.tolist(),
        "per_class": per_class(matrix, classes),
        "track_accuracy_vote": None,
        "track_accuracy_mean": None,
        "track_balanced_accuracy": None,
        "track_macro_f1": None,
        "n_tracks": 0,
        "track_confusion": None,
        "track_per_class": None,
        "tracks": [],
    }
    if not np.any(track_ids == ""):
        tracks = track_table(probs, y, track_ids)
        true = np.array([t["true"] for t in tracks])
        track_matrix = confusion(true, np.array([t["mean"] for t in tracks]), len(classes))
        track_bal, track_f1 = balanced(track_matrix)
        out.update(
            track_accuracy_vote=float(np.mean(true == np.array([t["vote"] for t in tracks]))),
            track_accuracy_mean=float(np.mean(true == np.array([t["mean"] for t in tracks]))),
            track_balanced_accuracy=track_bal,
            track_macro_f1=track_f1,
            n_tracks=len(tracks),
            track_confusion=track_matrix.tolist(),
            track_per_class=per_class(track_matrix, classes),
            tracks=tracks,
        )
    return out
