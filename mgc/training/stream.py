"""Training from rows that stay on disk: the row source protocol, and epochs streamed batch by batch.

:func:`mgc.training.train` holds a small dataset's segments in memory. A large one
(FMA-size: a million segments, 7 GB) is *streamed*: the segments stay in a
:class:`RowSource` (a memory-mapped ``.npy``, or a feature store) and every batch
reads only its own rows. Labels, track ids and segment positions stay in memory
(a few bytes per row), and so do the epoch's draws (order, window offsets, masks,
mixup partners: a few dozen bytes per row); the segments themselves never are
all at once. Peak memory is then the model, a batch, and the part of the source
the operating system keeps cached, not the dataset.

The row source protocol
-----------------------
Anything with

``shape`` : tuple of int
    ``(n_rows, *row_shape)``, e.g. ``(n, 130, 13)`` for the study's MFCC segments.
``rows(index)`` -> np.ndarray [shape=(len(index), *row_shape), dtype=float32]
    The rows at ``index`` (int64, any order, repeats allowed), in that order.

:func:`as_source` turns an ``np.ndarray`` or ``np.memmap`` (``np.load(path,
mmap_mode="r")``) into one (:class:`ArrayRows`); an object that already has
``rows`` is used as it is. A per-track feature store needs only these two members to
train through this module.

Same history as in memory
-------------------------
A streamed epoch is drawn by :class:`StreamSampler` with the same random calls, in
the same order, as the in-memory :class:`mgc.training.fit.EpochSampler` (random
windows, SpecAugment-style masks, mixup, balanced sampling, class weights): for
the same seed and data it gives the same batches to the bit, so the same history.
A window that spans two segments of a track is cut from the two rows read for it.
Recipes that augment nothing (the study's) are fed arrays in memory, shuffled by
Keras itself, whose order no stream can replay: a streamed run of such a recipe
draws its own seeded permutation, so its history differs from the in-memory one
the way two shuffles do.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import ParameterError
from .augment import apply_masks, balanced_order, blend, mask_bands, mixup_pairs, run_slots, window_offsets

#: Rows read at a time when a statistic runs over a whole part (standardisation, the masks' fill).
CHUNK_ROWS = 8192


@runtime_checkable
class RowSource(Protocol):
    """Rows of a feature table, read by index (see the module docstring)."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def rows(self, index: np.ndarray) -> np.ndarray: ...


class ArrayRows:
    """An ``np.ndarray`` or ``np.memmap`` as a :class:`RowSource`.

    Each read sorts its indices first (a memory map is then read front to back) and
    returns the rows in the order asked, as float32.

    Parameters
    ----------
    X : np.ndarray [shape=(n, ...)]
    """

    def __init__(self, X: np.ndarray):
        if not isinstance(X, np.ndarray) or X.ndim < 2:
            raise ParameterError(f"X must be an array of rows (n, ...), got {type(X).__name__}")
        self.X = X

    @property
    def shape(self) -> tuple[int, ...]:
        """``(n_rows, *row_shape)``."""
        return tuple(self.X.shape)

    def rows(self, index: np.ndarray) -> np.ndarray:
        """The rows at ``index``, in that order (float32)."""
        index = np.asarray(index, dtype=np.int64)
        if len(index) and (index.min() < 0 or index.max() >= len(self.X)):
            raise ParameterError(f"row index out of range for a source of {len(self.X)} rows")
        unique, where = np.unique(index, return_inverse=True)
        return np.asarray(self.X[unique], dtype=np.float32)[where]


def as_source(X) -> RowSource:
    """``X`` as a :class:`RowSource`: an array or memory map is wrapped, a source is returned as is.

    Raises
    ------
    ParameterError
        ``X`` is neither.
    """
    if isinstance(X, np.ndarray):
        return ArrayRows(X)
    if hasattr(X, "rows") and hasattr(X, "shape"):
        return X
    raise ParameterError(
        f"features of type {type(X).__name__} cannot be read by row: give an np.ndarray, an np.memmap "
        "(np.load(path, mmap_mode='r')) or an object with .shape and .rows(index)"
    )


def in_memory(X) -> bool:
    """True for a plain in-memory array (not a memory map, not a source): what trains without streaming."""
    return isinstance(X, np.ndarray) and not isinstance(X, np.memmap)


def read(source: RowSource, index: np.ndarray, *, chunk_rows: int = CHUNK_ROWS):
    """The rows at ``index`` in chunks of ``chunk_rows``: yields ``(positions, rows)``."""
    index = np.asarray(index, dtype=np.int64)
    for at in range(0, len(index), chunk_rows):
        part = slice(at, at + chunk_rows)
        yield part, source.rows(index[part])


def moments(source, index: np.ndarray, *, chunk_rows: int = CHUNK_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance over the last axis of the rows at ``index`` (every frame of every row), in float64.

    Computed in chunks (memory: one chunk), shifted by the first chunk's mean so the
    sums stay exact enough; the in-memory and the streamed paths both use it, so the
    standardisation they fit is the same to the bit.

    Returns
    -------
    mean, var : np.ndarray [shape=(row_shape[-1],), dtype=float64]
    """
    source = as_source(source)
    width = source.shape[-1]
    shift = None
    total, total_sq, count = np.zeros(width), np.zeros(width), 0
    for _, rows in read(source, index, chunk_rows=chunk_rows):
        flat = rows.reshape(-1, width).astype(np.float64)
        if shift is None:
            shift = flat.mean(axis=0)
        d = flat - shift
        total += d.sum(axis=0)
        total_sq += (d * d).sum(axis=0)
        count += len(flat)
    if count == 0:
        raise ParameterError("no training row to standardise on")
    mean_d = total / count
    return shift + mean_d, np.maximum(total_sq / count - mean_d**2, 0.0)


class StreamSampler:
    """The epochs of :class:`mgc.training.fit.EpochSampler`, drawn alike, with every batch read from a source.

    Parameters
    ----------
    cfg : TrainConfig
        Resolved: ``random_windows``, ``mixup``, ``balanced_sampling``, ``spec_mask``,
        ``batch_size`` and ``seed`` apply.
    source : RowSource
        All rows of the feature table.
    y, track_ids, segment_index : np.ndarray [shape=(n_rows,)]
        In memory, for all rows.
    rows : np.ndarray [shape=(n,)]
        The training rows.
    class_weight : dict or None
    n_classes : int
    """

    def __init__(self, cfg, source, *, y, track_ids, segment_index, rows, class_weight, n_classes: int):
        self.cfg, self.source = cfg, as_source(source)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.labels = np.asarray(y)[self.rows]
        self.n_classes = n_classes
        shape = self.source.shape
        if cfg.random_windows and len(shape) != 3:
            raise ParameterError(f"random windows need segments (n, frames, n_mfcc); the source has shape {shape}")
        self.window = shape[1] if len(shape) == 3 else 0
        if cfg.random_windows:
            self.slots, self.start, self.stop = run_slots(
                np.asarray(track_ids)[self.rows], np.asarray(segment_index)[self.rows]
            )
        self.per_row = np.array([class_weight[int(c)] for c in self.labels], dtype=np.float32) if class_weight else None
        self.rng = np.random.default_rng(cfg.seed)
        self.fill = frame_mean(self.source, self.rows) if cfg.spec_mask else None
        self.order = self.offsets = self.bands = self.lam = self.partner = None

    def __len__(self) -> int:
        return -(-len(self.labels) // self.cfg.batch_size)

    def new_epoch(self) -> None:
        """Draw the next epoch: order, window offsets, masks, mixup pairs (the draws of ``EpochSampler``)."""
        cfg, rng, n = self.cfg, self.rng, len(self.labels)
        self.order = balanced_order(self.labels, rng) if cfg.balanced_sampling else rng.permutation(n)
        if cfg.random_windows:
            w = self.window
            self.offsets = window_offsets(self.start * w, self.stop * w, w, rng)[self.order]
        if cfg.spec_mask:
            self.bands = mask_bands((n, *self.source.shape[1:]), rng)
        if cfg.mixup:
            self.lam, self.partner = mixup_pairs(n, alpha=cfg.mixup, rng=rng)

    def _examples(self, positions: np.ndarray) -> np.ndarray:
        """The epoch's examples at ``positions``, windows cut and masks applied, before mixup."""
        if self.cfg.random_windows:
            w = self.window
            first, within = np.divmod(self.offsets[positions], w)
            second = np.where(within > 0, first + 1, first)  # a window on a segment boundary needs one row
            both = self.source.rows(self.rows[self.slots[np.concatenate([first, second])]])
            pair = np.concatenate([both[: len(first)], both[len(first) :]], axis=1)
            frames = within[:, None] + np.arange(w)
            x = pair[np.arange(len(first))[:, None], frames]
        else:
            x = self.source.rows(self.rows[self.order[positions]])
        if self.cfg.spec_mask:
            x = apply_masks(x, self.bands[positions], fill=self.fill)
        return x

    def batch(self, i: int) -> tuple:
        """Batch ``i`` of the current epoch: ``(x, y)``, or ``(x, y, weights)`` with class weights."""
        bs = self.cfg.batch_size
        positions = np.arange(i * bs, min((i + 1) * bs, len(self.labels)))
        onehot = np.eye(self.n_classes, dtype=np.float32)
        y = onehot[self.labels[self.order[positions]]]
        w = None if self.per_row is None else self.per_row[self.order[positions]]
        if not self.cfg.mixup:
            x = self._examples(positions)
        else:
            partners = self.partner[positions]
            both = self._examples(np.concatenate([positions, partners]))
            y2 = onehot[self.labels[self.order[partners]]]
            w2 = None if w is None else self.per_row[self.order[partners]]
            x, y, w = blend(both[: len(positions)], y, w, both[len(positions) :], y2, w2, self.lam[positions])
        return (x, y) if w is None else (x, y, w)


def frame_mean(source, index: np.ndarray, *, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """Mean of every frame of the rows at ``index``, per coefficient (the masks' fill), float32."""
    return moments(source, index, chunk_rows=chunk_rows)[0].astype(np.float32)


class RowBatches:
    """Fixed batches of some rows in their order (validation, prediction), one-hot labels with them.

    Parameters
    ----------
    source : RowSource
    rows : np.ndarray [shape=(n,)]
    labels : np.ndarray [shape=(n,)] or None
        Class index per row; None yields inputs only.
    n_classes : int
    batch_size : int
    """

    def __init__(self, source, rows, labels, *, n_classes: int, batch_size: int):
        self.source, self.rows = as_source(source), np.asarray(rows, dtype=np.int64)
        self.labels, self.n_classes, self.batch_size = labels, n_classes, batch_size

    def __len__(self) -> int:
        return -(-len(self.rows) // self.batch_size)

    def batch(self, i: int):
        part = slice(i * self.batch_size, (i + 1) * self.batch_size)
        x = self.source.rows(self.rows[part])
        if self.labels is None:
            return (x,)
        return x, np.eye(self.n_classes, dtype=np.float32)[np.asarray(self.labels)[part]]
