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


def run_slots(track_ids: np.ndarray, segment_index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each row goes when a track's consecutive segments are joined into runs, without the rows' values.

    Parameters
    ----------
    track_ids, segment_index : np.ndarray [shape=(n,)]
        Track and position within the track of each row.

    Returns
    -------
    slots : np.ndarray [shape=(n,), dtype=int64]
        Row (index into the arguments) at each segment-sized slot of the joined
        frames: runs one after another, each in segment order.
    start, stop : np.ndarray [shape=(n,), dtype=int64]
        For each row, the slot span of its run (in slots, not frames).
    """
    n = len(track_ids)
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
        pieces.append(rows)
        start[rows], stop[rows] = at, at + len(rows)
        at += len(rows)
        i = j
    slots = np.concatenate(pieces).astype(np.int64) if pieces else np.zeros(0, np.int64)
    return slots, start, stop


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
    window = X.shape[1]
    slots, start, stop = run_slots(track_ids, segment_index)
    frames = X[slots].reshape(-1, X.shape[2]).astype(np.float32, copy=False)
    return Runs(frames=frames, start=start * window, stop=stop * window, window=window)


def random_windows(runs: Runs, rng: np.random.Generator) -> np.ndarray:
    """One window per training row, cut at a uniformly random frame of the row's run.

    Returns
    -------
    np.ndarray [shape=(n_rows, window, n_mfcc), dtype=float32]
    """
    offsets = window_offsets(runs.start, runs.stop, runs.window, rng)
    return runs.frames[offsets[:, None] + np.arange(runs.window)]


def window_offsets(start: np.ndarray, stop: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
    """The random windows' first frames (one per row), uniform over each row's run ``[start, stop)`` of frames."""
    return start + rng.integers(0, stop - start - window + 1)


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
    lam, partner = mixup_pairs(len(X), alpha=alpha, rng=rng)
    return blend(X, Y, weights, X[partner], Y[partner], None if weights is None else weights[partner], lam)


def mixup_pairs(n: int, *, alpha: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Mixup's draws for ``n`` examples: the weights ``lam ~ Beta(alpha, alpha)`` (float32) and each one's partner."""
    if not alpha > 0:
        raise ParameterError(f"alpha={alpha!r} must be > 0")
    lam = rng.beta(alpha, alpha, size=n).astype(np.float32)
    return lam, rng.permutation(n)


def blend(X, Y, weights, X2, Y2, weights2, lam: np.ndarray):
    """``lam * a + (1 - lam) * b`` for inputs, labels and (when given) weights, in float32."""
    lx = lam.reshape((-1,) + (1,) * (X.ndim - 1))
    X = lx * X + (1 - lx) * X2
    Y = lam[:, None] * Y + (1 - lam[:, None]) * Y2
    if weights is not None:
        weights = lam * weights + (1 - lam) * weights2
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
    bands = mask_bands(X.shape, rng, max_frames=max_frames, max_coefficients=max_coefficients)
    return apply_masks(X, bands, fill=fill)


def mask_bands(
    shape: tuple, rng: np.random.Generator, *, max_frames: int = 26, max_coefficients: int = 3
) -> np.ndarray:
    """The draws of :func:`spec_mask` for ``shape = (n, frames, n_mfcc)``: ``(t0, t_len, c0, c_len)`` per example.

    Returns
    -------
    np.ndarray [shape=(n, 4), dtype=int64]
    """
    n, frames, coeffs = shape
    if not (0 <= max_frames <= frames and 0 <= max_coefficients <= coeffs):
        raise ParameterError(
            f"max_frames={max_frames} and max_coefficients={max_coefficients} must lie in "
            f"[0, {frames}] and [0, {coeffs}]"
        )
    t_len = rng.integers(0, max_frames + 1, n)
    t0 = rng.integers(0, frames - t_len + 1)
    c_len = rng.integers(0, max_coefficients + 1, n)
    c0 = rng.integers(0, coeffs - c_len + 1)
    return np.stack([t0, t_len, c0, c_len], axis=1).astype(np.int64)


def apply_masks(X: np.ndarray, bands: np.ndarray, *, fill: np.ndarray) -> np.ndarray:
    """Set each example's bands (:func:`mask_bands`) of ``X [shape=(n, frames, n_mfcc)]`` to ``fill``."""
    n, frames, coeffs = X.shape
    fill = np.asarray(fill, dtype=np.float32)
    t0, t_len, c0, c_len = bands.T
    t = np.arange(frames)
    c = np.arange(coeffs)
    in_t = (t[None, :] >= t0[:, None]) & (t[None, :] < (t0 + t_len)[:, None])
    in_c = (c[None, :] >= c0[:, None]) & (c[None, :] < (c0 + c_len)[:, None])
    X = np.where(in_t[:, :, None], fill[None, None, :], X)
    return np.where(in_c[:, None, :], fill[None, None, :], X).astype(np.float32)
