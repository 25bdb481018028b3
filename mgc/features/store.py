"""The on-disk feature store: one entry per audio file, written by whichever process computed it.

A store is a folder per (dataset folder, feature parameters) under the cache folder::

    store-<key>/STORE.json                         format, version, parameters
    store-<key>/entries/<ab>/<digest>.json         one file's identity, segment indices, error
    store-<key>/entries/<ab>/<digest>-<size>-<mtime_ns>.npy   its feature rows, float32

``<digest>`` hashes the file's path relative to the dataset; an entry is current while the
file's size and modification time (ns) match the ones it records. Each part is written
atomically (a uniquely named temporary file, then a rename): the rows first, then the
``.json`` that points to them, so a reader sees a whole entry or none. Any number of
processes, on one host or many sharing a filesystem, can write entries at once without a
lock; two writers of one file write the same bytes. Files that failed are stored too, with
their reason, so a warm run does not retry them. A damaged or foreign entry (unparsable,
other parameters, rows of the wrong shape or missing) is ignored and recomputed.

Rows are read memory-mapped (``np.load(mmap_mode="r", allow_pickle=False)``): the driver
of an extraction holds only the index, and :class:`SegmentSource` serves rows of any
tracks by index (the protocol the streaming trainer takes: ``len(source)`` rows and
``source.rows(indices)``).

The single-file cache of earlier versions (:mod:`mgc.features.cache`, one ``.npz`` per
dataset rewritten whole) is migrated into the store on first use and then removed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..dataset import OfficialSplit
from ..errors import ParameterError
from ..fileio import atomic_write
from . import cache as legacy
from .kinds import Params
from .table import FeatureSet

FORMAT = "mgc-feature-store"
VERSION = 1


@dataclass
class Record:
    """What the store says of one file, without its rows.

    Attributes
    ----------
    path : str
        Relative to the dataset folder.
    size, mtime_ns : int
        The file's identity when its entry was written.
    rows : int
        Number of feature rows (0 for a failed file).
    segment_index : np.ndarray [shape=(rows,), dtype=int64]
    error : str
        Why the file gave no rows (``""`` when it did).
    data : str
        File name of the rows (``""`` for a failed file).
    """

    path: str
    size: int
    mtime_ns: int
    rows: int
    segment_index: np.ndarray
    error: str = ""
    data: str = ""


def store_dir(cache_dir: str | os.PathLike, genres_dir: str | os.PathLike, params: Params) -> Path:
    """The store folder of a dataset folder and feature parameters under ``cache_dir``."""
    key = hashlib.sha256(f"{Path(genres_dir).resolve()}|{params.key()}".encode()).hexdigest()[:20]
    return Path(cache_dir) / f"store-{key}"


def _digest(rel: str) -> str:
    return hashlib.sha256(rel.encode()).hexdigest()[:24]


class FeatureStore:
    """A folder of per-file feature entries (see the module's description).

    Parameters
    ----------
    root : path
        The store folder (:func:`store_dir`); created on the first write.
    params : FeatureParams or EmbeddingParams
        The parameters every entry must have been made with.

    Notes
    -----
    Instances are cheap and hold no open files but a bounded set of memory maps; a worker
    process makes its own from ``(root, params)``.
    """

    def __init__(self, root: str | os.PathLike, params: Params, *, max_open: int = 256):
        self.root = Path(root)
        self.params = params
        self._pkey = params.key()
        self._maps: OrderedDict[str, np.ndarray] = OrderedDict()
        self._max_open = max_open

    # ------------------------------------------------------------------ paths
    def _json(self, rel: str) -> Path:
        d = _digest(rel)
        return self.root / "entries" / d[:2] / f"{d}.json"

    def _meta(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "params": self.params.to_dict()}

    def check(self) -> str:
        """Make sure the folder is a store of these parameters; return why an existing one was not.

        A missing folder is created. One marked with another format, version or
        parameters is re-marked: its entries carry their own parameters and are then
        ignored one by one.

        Raises
        ------
        OSError
            The folder cannot be created or written.
        """
        marker = self.root / "STORE.json"
        problem = ""
        if marker.is_file():
            try:
                if json.loads(marker.read_text()) == self._meta():
                    return ""
                problem = (
                    f"{self.root.name} was marked with other parameters; re-marked (entries are checked one by one)"
                )
            except (OSError, ValueError) as e:
                problem = f"{self.root.name}/STORE.json is damaged ({e}); rewritten"
        atomic_write(marker, lambda f: f.write(json.dumps(self._meta(), indent=1).encode()))
        return problem

    # ------------------------------------------------------------------ write
    def put(
        self,
        rel: str,
        *,
        size: int,
        mtime_ns: int,
        X: np.ndarray | None,
        segment_index: np.ndarray | None,
        error: str = "",
    ) -> Record:
        """Write one file's entry atomically: its rows (unless it failed), then its index record.

        Parameters
        ----------
        rel : str
            The file's path relative to the dataset folder.
        size, mtime_ns : int
            The file's identity (``os.stat``) when it was read.
        X : np.ndarray [shape=(rows, *params.shape)] or None
            ``None`` (or no rows) with ``error`` for a failed file.
        segment_index : np.ndarray [shape=(rows,)] or None
        error : str

        Returns
        -------
        Record

        Raises
        ------
        ParameterError
            ``X`` does not have the parameters' row shape.
        OSError
            The store cannot be written.
        """
        jpath = self._json(rel)
        d = jpath.stem
        rows = 0 if X is None else len(X)
        data = ""
        if rows:
            X = np.ascontiguousarray(X, dtype=np.float32)
            if X.shape[1:] != tuple(self.params.shape):
                raise ParameterError(
                    f"X has rows of shape {X.shape[1:]}; the store's parameters give {self.params.shape}"
                )
            data = f"{d}-{int(size)}-{int(mtime_ns)}.npy"
            atomic_write(jpath.with_name(data), lambda f: np.save(f, X, allow_pickle=False))
        seg = np.zeros(0, np.int64) if segment_index is None or not rows else np.asarray(segment_index, np.int64)
        rec = {
            "format": FORMAT,
            "version": VERSION,
            "params": self._pkey,
            "path": rel,
            "size": int(size),
            "mtime_ns": int(mtime_ns),
            "rows": rows,
            "segment_index": seg.tolist(),
            "error": error,
            "data": data,
        }
        atomic_write(jpath, lambda f: f.write(json.dumps(rec).encode()))
        # rows of earlier versions of this file are no longer pointed to
        for old in jpath.parent.glob(f"{d}-*.npy"):
            if old.name != data:
                old.unlink(missing_ok=True)
        return Record(rel, int(size), int(mtime_ns), rows, seg, error, data)

    # ------------------------------------------------------------------ read
    def record(self, rel: str) -> tuple[Record | None, str]:
        """The index record of one file, without opening its rows.

        Returns
        -------
        record : Record or None
            ``None`` when there is no usable entry.
        problem : str
            Why an existing entry is not usable (``""`` when it is, or is absent).
        """
        jpath = self._json(rel)
        try:
            text = jpath.read_bytes()
        except FileNotFoundError:
            return None, ""
        except OSError as e:
            return None, f"{jpath.name}: {e}"
        try:
            r = json.loads(text)
            if not isinstance(r, dict):
                raise ValueError("not a JSON object")
            if r.get("format") != FORMAT or r.get("version") != VERSION or r.get("params") != self._pkey:
                return None, f"{jpath.name} is of another version or parameters"
            if r["path"] != rel:
                return None, f"{jpath.name} belongs to {r['path']!r}"
            seg = np.asarray(r["segment_index"], dtype=np.int64)
            rec = Record(rel, int(r["size"]), int(r["mtime_ns"]), int(r["rows"]), seg, str(r["error"]), str(r["data"]))
            if len(seg) != rec.rows or (rec.rows > 0) != bool(rec.data) or (rec.rows == 0 and not rec.error):
                raise ValueError("rows, segment indices and data do not agree")
        except (ValueError, KeyError, TypeError) as e:
            return None, f"{jpath.name} is damaged ({e})"
        return rec, ""

    def rows_of(self, rec: Record) -> np.ndarray:
        """The rows of one record, memory-mapped read-only.

        Raises
        ------
        OSError or ValueError
            The rows file is missing, damaged or of the wrong shape.
        """
        if not rec.rows:
            return np.zeros((0, *self.params.shape), np.float32)
        X = self._maps.get(rec.data)
        if X is not None:
            self._maps.move_to_end(rec.data)
            return X
        X = np.load(self._json(rec.path).with_name(rec.data), mmap_mode="r", allow_pickle=False)
        if X.dtype != np.float32 or X.shape != (rec.rows, *self.params.shape):
            raise ValueError(f"{rec.data} holds {X.dtype} {X.shape}, not {rec.rows} rows of {self.params.shape}")
        self._maps[rec.data] = X
        while len(self._maps) > self._max_open:
            self._maps.popitem(last=False)
        return X

    def lookup(self, rel: str, *, size: int, mtime_ns: int) -> tuple[Record | None, str]:
        """The current entry of a file: its record when it matches the file's identity and its rows open.

        Returns
        -------
        record : Record or None
            ``None`` when the file must be extracted (no entry, an outdated one, or a damaged one).
        problem : str
            Why an existing entry was unusable (``""`` when it was usable, absent or merely outdated).
        """
        rec, problem = self.record(rel)
        if rec is None or (rec.size, rec.mtime_ns) != (int(size), int(mtime_ns)):
            return None, problem
        try:
            self.rows_of(rec)
        except (OSError, ValueError) as e:
            return None, f"{rel}: rows unreadable ({e})"
        return rec, ""

    def records(self) -> list[Record]:
        """Every usable record in the store (reads the index files only)."""
        out = []
        for j in sorted((self.root / "entries").glob("*/*.json")):
            try:
                rel = json.loads(j.read_text()).get("path", "")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(rel, str) and rel:
                rec, _ = self.record(rel)
                if rec is not None:
                    out.append(rec)
        return out

    def status(self) -> dict:
        """What the store holds: ``{"exists", "files", "failed"}`` (reads the index files only)."""
        if not (self.root / "STORE.json").is_file():
            return {"exists": False, "files": 0, "failed": 0}
        recs = self.records()
        return {"exists": True, "files": len(recs), "failed": sum(bool(r.error) for r in recs)}

    # ------------------------------------------------------------------ migration
    def migrate(self, legacy_file: str | os.PathLike) -> tuple[int, str]:
        """Move the entries of an old single-file cache (:mod:`mgc.features.cache`) into the store.

        The old file is removed once its entries are written; a damaged or foreign one is
        removed too (the store rebuilds what it held).

        Returns
        -------
        migrated : int
            Entries written.
        problem : str
            Why the old file could not be used (``""`` when it could, or is absent).
        """
        legacy_file = Path(legacy_file)
        if not legacy_file.is_file():
            return 0, ""
        entries, problem = legacy.read(legacy_file, self.params)
        for rel, e in entries.items():
            self.put(rel, size=e.size, mtime_ns=e.mtime_ns, X=e.X, segment_index=e.segment_index, error=e.error)
        legacy_file.unlink(missing_ok=True)
        legacy_file.with_name(legacy_file.name + ".lock").unlink(missing_ok=True)
        return len(entries), problem


@dataclass
class SegmentSource:
    """Feature rows of many tracks, served by index without loading them all.

    The protocol a streaming trainer takes (:mod:`mgc.training.stream`): ``len(source)`` rows,
    ``source.shape`` (``(rows, *row shape)``), ``source.rows(indices)`` -> ``X[indices]``,
    with labels, track ids and segment positions of every row held in memory (the index). Rows come from the store's
    memory-mapped entries (a bounded number open at once), or from in-memory arrays when
    the store was not used.

    Attributes
    ----------
    offsets : np.ndarray [shape=(tracks + 1,), dtype=int64]
        First row of each track; ``offsets[-1] == len(source)``.
    y : np.ndarray [shape=(n,), dtype=int64]
    track_of_row : np.ndarray [shape=(n,), dtype=int32]
        Index into ``track_id_list``.
    track_id_list : tuple of str
    segment_index : np.ndarray [shape=(n,), dtype=int64]
    classes : tuple of str
    params : FeatureParams or EmbeddingParams
    store : FeatureStore or None
        Where the rows are (with ``records``), or None when ``arrays`` holds them.
    records : list of Record
    arrays : list of (np.ndarray or None) or None
        Rows held in memory, per track, where the store does not hold them.
    skipped : list of Skipped
        Files that gave no rows, and why.
    source, fingerprint : str
        The dataset folder and the hash of its file list.
    track_paths : dict
        Track id -> audio path.
    cache_stats : dict
        ``{"cached": n, "extracted": n, "cache_problem": str}``.
    official : OfficialSplit or None
        The dataset's own split (FMA's), restricted to these tracks.
    """

    offsets: np.ndarray
    y: np.ndarray
    track_of_row: np.ndarray
    track_id_list: tuple
    segment_index: np.ndarray
    classes: tuple
    params: Params
    store: FeatureStore | None = None
    records: list = field(default_factory=list, repr=False)
    arrays: list | None = field(default=None, repr=False)
    skipped: list = field(default_factory=list)
    source: str = ""
    fingerprint: str = ""
    track_paths: dict = field(default_factory=dict, repr=False)
    cache_stats: dict = field(default_factory=dict)
    official: OfficialSplit | None = None

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def shape(self) -> tuple:
        """``(rows, *row shape)``, as an array of every row would have."""
        return (len(self), *self.params.shape)

    def features(self):
        """A :class:`~mgc.features.table.FeatureSet` whose ``X`` is this source: rows stay in the store.

        :func:`mgc.training.train` streams such a set (its batches read their rows here);
        labels, track ids and segment positions are in memory.
        """
        return FeatureSet(
            X=self,
            y=self.y,
            track_ids=self.track_ids,
            segment_index=self.segment_index,
            classes=self.classes,
            params=self.params,
            skipped=self.skipped,
            source=self.source,
            fingerprint=self.fingerprint,
            track_paths=self.track_paths,
            cache_stats=self.cache_stats,
            official=self.official,
        )

    @property
    def track_ids(self) -> np.ndarray:
        """Track id of every row, ``np.ndarray [shape=(n,), dtype=str]`` (made on access)."""
        return np.asarray(self.track_id_list, dtype=str)[self.track_of_row]

    def _part(self, t: int) -> np.ndarray:
        if self.arrays is not None and self.arrays[t] is not None:
            return self.arrays[t]
        return self.store.rows_of(self.records[t])

    def rows(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """``X[indices]`` as a new float32 array, in the order asked.

        Raises
        ------
        ParameterError
            An index outside ``0 .. len(source) - 1``.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ParameterError(f"indices must lie in 0..{n - 1}; got {int(idx.min())}..{int(idx.max())}")
        out = np.empty((idx.size, *self.params.shape), np.float32)
        tracks = np.searchsorted(self.offsets, idx, side="right") - 1
        for t in np.unique(tracks):
            where = np.nonzero(tracks == t)[0]
            out[where] = self._part(int(t))[idx[where] - self.offsets[t]]
        return out

    def all_rows(self) -> np.ndarray:
        """Every row in table order, in memory (what :class:`~mgc.features.table.FeatureSet` holds)."""
        out = np.empty((len(self), *self.params.shape), np.float32)
        for t in range(len(self.track_id_list)):
            out[self.offsets[t] : self.offsets[t + 1]] = self._part(t)
        return out
