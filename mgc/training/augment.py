"""Training-time augmentation of MFCC segments: random windows and mixup.

Both make a fresh training set every epoch from the training rows only, so they
never touch validation or test data.

Random windows
    A track's consecutive training segments are joined back into one run of
    frames; every epoch each training segment is replaced by a window of the
    same length cut at a random frame of its run. The network sees its tracks
    at every offset instead of ten fixed ones. Under the segment split a track's
    runs stop at its validation and test segments, so no window reaches into
    them.
Mixup (Zhang et al., 2018, "mixup: Beyond empirical risk minimization")
    Each example is blended with another one of the epoch, inputs and one-hot
    labels alike, with a weight drawn from Beta(alpha, alpha).
Balanced sampling
    Every epoch draws as many training rows as there are, each class equally
    often (rows of a class drawn without replacement while they last): a thin
    genre is heard as often as a large one, each time at other random windows,
    instead of being weighted up in the loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError


@dataclass(frozen=True)
class Runs:
    """Runs of consecutive training segments, joined into frames.

    Attributes
    ----------
    frames : np.ndarray [shape=(n_frames, n_mfcc), dtype=float32]
        All runs one after another.
    start, stop : np.ndarray [shape=(n_rows,), dtype=int64]
        For each training row (in the order given), the frame span of its run in ``frames``.
    window : int
        Frames per segment.
    """

    frames: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    window: int


def training_runs(X: np.ndarray, *, track_ids: np.ndarray, segment_index: np.ndarray) -> Runs:
    """Join each track's consecutive segments (by ``segment_index``) into runs of frames.

    Parameters
    ----------
    X : np.ndarray [shape=(n, frames, n_mfcc)]
        The training rows.
    track_ids, segment_index : np.ndarray [shape=(n,)]
        Track and position within the track of each row.

    Returns
    -------
    Runs
        Rows of unknown track (``""``) or position (``-1``) form runs of one segment.

    Raises
    ------
    ParameterError
        The arrays differ in length or ``X`` is not 3-D.
    """
    X = np.asarray(X)
    if X.ndim != 3:
        raise ParameterError(f"X has shape {X.shape}; expected (n, frames, n_mfcc)")
    if not len(track_ids) == len(segment_index) == len(X):
        raise ParameterError(
            f"X ({len(X)}), track_ids ({len(track_ids)}) and segment_index "
            f"({len(segment_index)}) must have the same length"
        )
    n, window = len(X), X.shape[1]
    order = np.lexsort((segment_index, track_ids))
    start = np.empty(n, dtype=np.int64)
    stop = np.empty(n, dtype=np.int64)
    pieces, at, i = [], 0, 0
    while i < n:
        j = i + 1
        known = track_ids[order[i]] != "" and segment_index[order[i]] >= 0
        # extend the run while the next row is the following segment of the same track
        while (
            known
            and j < n
            and track_ids[order[j]] == track_ids[order[i]]
            and segment_index[order[j]] == segment_index[order[j - 1]] + 1
        ):
            j += 1
        rows = order[i:j]
        pieces.append(X[rows].reshape(-1, X.shape[2]))
        start[rows], stop[rows] = at, at + len(rows) * window
        at += len(rows) * window
        i = j
    frames = np.concatenate(pieces).astype(np.float32, copy=False) if pieces else np.zeros((0, X.shape[2]), np.float32)
    return Runs(frames=frames, start=start, stop=stop, window=window)


def random_windows(runs: Runs, rng: np.random.Generator) -> np.ndarray:
    """One window per training row, cut at a uniformly random frame of the row's run.

    Returns
    -------
    np.ndarray [shape=(n_rows, window, n_mfcc), dtype=float32]
    """
    offsets = runs.start + rng.integers(0, runs.stop - runs.start - runs.window + 1)
    return runs.frames[offsets[:, None] + np.arange(runs.window)]


def mixup(X: np.ndarray, Y: np.ndarray, *, alpha: float, rng: np.random.Generator, weights: np.ndarray | None = None):
    """Blend each example with a random partner: ``lam * a + (1 - lam) * b``, ``lam ~ Beta(alpha, alpha)``.

    Parameters
    ----------
    X : np.ndarray [shape=(n, ...)]
    Y : np.ndarray [shape=(n, n_classes)]
        One-hot (or soft) labels.
    alpha : float > 0
    rng : np.random.Generator
    weights : np.ndarray [shape=(n,)] or None
        Per-example weights, blended the same way.

    Returns
    -------
    X, Y, weights
        Mixed copies (``weights`` None when not given).
    """
    if not alpha > 0:
        raise ParameterError(f"alpha={alpha!r} must be > 0")
    lam = rng.beta(alpha, alpha, size=len(X)).astype(np.float32)
    partner = rng.permutation(len(X))
    lx = lam.reshape((-1,) + (1,) * (X.ndim - 1))
    X = lx * X + (1 - lx) * X[partner]
    Y = lam[:, None] * Y + (1 - lam[:, None]) * Y[partner]
    if weights is not None:
        weights = lam * weights + (1 - lam) * weights[partner]
    return X.astype(np.float32, copy=False), Y.astype(np.float32, copy=False), weights


def balanced_order(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices for one epoch: ``len(y)`` draws, the classes present equally often, shuffled.

    Each class gets ``len(y) // n_present`` draws (the remainder to randomly chosen
    classes); within a class, rows are drawn without replacement in shuffled passes,
    so every row is used before any is used twice.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Class index per training row.
    rng : np.random.Generator

    Returns
    -------
    order : np.ndarray [shape=(n,), dtype=int64]
    """
    y = np.asarray(y)
    if len(y) == 0:
        raise ParameterError("y holds no training row to sample")
    present = np.unique(y)
    quota = np.full(len(present), len(y) // len(present))
    quota[rng.choice(len(present), len(y) - quota.sum(), replace=False)] += 1
    picks = []
    for c, q in zip(present, quota, strict=True):
        rows = np.flatnonzero(y == c)
        passes = -(-q // len(rows))
        picks.append(np.concatenate([rng.permutation(rows) for _ in range(passes)])[:q])
    return rng.permutation(np.concatenate(picks)).astype(np.int64)


def spec_mask(
    X: np.ndarray, rng: np.random.Generator, *, fill: np.ndarray, max_frames: int = 26, max_coefficients: int = 3
) -> np.ndarray:
    """SpecAugment-style masking (Park et al., 2019) on MFCC segments: one time band and one coefficient band.

    Each example gets a band of 0 to ``max_frames`` consecutive frames and a band of
    0 to ``max_coefficients`` consecutive coefficients set to ``fill`` (the training
    mean per coefficient, so a masked cell is what standardisation maps to 0).

    Parameters
    ----------
    X : np.ndarray [shape=(n, frames, n_mfcc)]
    rng : np.random.Generator
    fill : np.ndarray [shape=(n_mfcc,)]
    max_frames, max_coefficients : int >= 0

    Returns
    -------
    np.ndarray [shape=(n, frames, n_mfcc), dtype=float32]
        A masked copy.
    """
    X = np.array(X, dtype=np.float32, copy=True)
    n, frames, coeffs = X.shape
    if not (0 <= max_frames <= frames and 0 <= max_coefficients <= coeffs):
        raise ParameterError(
            f"max_frames={max_frames} and max_coefficients={max_coefficients} must lie in "
            f"[0, {frames}] and [0, {coeffs}]"
        )
    fill = np.asarray(fill, dtype=np.float32)
    t_len = rng.integers(0, max_frames + 1, n)
    t0 = rng.integers(0, frames - t_len + 1)
    c_len = rng.integers(0, max_coefficients + 1, n)
    c0 = rng.integers(0, coeffs - c_len + 1)
    t = np.arange(frames)
    c = np.arange(coeffs)
    in_t = (t[None, :] >= t0[:, None]) & (t[None, :] < (t0 + t_len)[:, None])
    in_c = (c[None, :] >= c0[:, None]) & (c[None, :] < (c0 + c_len)[:, None])
    X = np.where(in_t[:, :, None], fill[None, None, :], X)
    return np.where(in_c[:, None, :], fill[None, None, :], X).astype(np.float32)
