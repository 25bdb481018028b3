"""The single-file feature cache of earlier versions: one ``.npz`` per (dataset folder, feature parameters).

Superseded by the per-track store (:mod:`mgc.features.store`), which reads an old file
once to migrate it (:meth:`~mgc.features.store.FeatureStore.migrate`) and then removes it.
What follows describes the old format.

Each audio file's entry is keyed by its path relative to the dataset and its
identity (size in bytes and modification time in ns): a second extraction with
nothing changed reads only the cache, and a changed or added file is extracted
again alone. Files that failed to decode are cached too, with their reason, so a
warm run does not retry them. Writes go to a uniquely named temporary file and are
renamed into place (atomic). A file that is damaged, foreign or of another version is ignored and rebuilt. Arrays are
loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..fileio import atomic_write
from .mfcc import FeatureParams

FORMAT = "mgc-feature-cache"
VERSION = 1


@dataclass
class Entry:
    """What the cache holds for one file."""

    size: int
    mtime_ns: int
    X: np.ndarray
    segment_index: np.ndarray
    error: str = ""


def cache_file(cache_dir: Path, genres_dir: Path, params: FeatureParams) -> Path:
    """Path of the cache file for a dataset folder and feature parameters."""
    key = hashlib.sha256(f"{Path(genres_dir).resolve()}|{params.key()}".encode()).hexdigest()[:20]
    return Path(cache_dir) / f"features-{key}.npz"


def read(path: Path, params: FeatureParams) -> tuple[dict[str, Entry], str]:
    """Read a cache file.

    Returns
    -------
    entries : dict
        Relative path -> Entry; empty when the file is missing or unusable.
    problem : str
        Why an existing file was not used (``""`` when it was, or is absent).
    """
    if not path.exists():
        return {}, ""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != FORMAT or meta.get("version") != VERSION:
                return {}, f"{path.name} is not a version-{VERSION} feature cache; rebuilt"
            if meta.get("params") != params.to_dict():
                return {}, f"{path.name} was made with other feature parameters; rebuilt"
            paths, sizes, mtimes = z["paths"], z["sizes"], z["mtimes"]
            counts, errors, X, seg = z["counts"], z["errors"], z["X"], z["segment_index"]
        if not (len(paths) == len(sizes) == len(mtimes) == len(counts) == len(errors)):
            raise ValueError("index arrays differ in length")
        if counts.sum() != len(X) or len(X) != len(seg) or X.shape[1:] != params.shape:
            raise ValueError("feature rows do not match the index")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as e:
        return {}, f"{path.name} is damaged ({e}); rebuilt"
    entries, start = {}, 0
    for p, s, m, c, err in zip(paths, sizes, mtimes, counts, errors, strict=True):
        entries[str(p)] = Entry(int(s), int(m), X[start : start + c], seg[start : start + c], str(err))
        start += c
    return entries, ""


def write(path: Path, entries: dict[str, Entry], params: FeatureParams) -> None:
    """Write all entries to ``path`` atomically (a uniquely named temporary file, then rename).

    Raises
    ------
    OSError
        The cache folder or file cannot be written.
    """
    keys = sorted(entries)
    shape = params.shape
    X = [entries[k].X for k in keys]
    meta = {"format": FORMAT, "version": VERSION, "params": params.to_dict()}
    arrays = dict(
        meta=np.array(json.dumps(meta)),
        paths=np.array(keys, dtype=str),
        sizes=np.array([entries[k].size for k in keys], dtype=np.int64),
        mtimes=np.array([entries[k].mtime_ns for k in keys], dtype=np.int64),
        counts=np.array([len(x) for x in X], dtype=np.int64),
        errors=np.array([entries[k].error for k in keys], dtype=str),
        X=np.concatenate(X) if X else np.zeros((0, *shape), np.float32),
        segment_index=np.concatenate([entries[k].segment_index for k in keys]).astype(np.int64)
        if keys
        else np.zeros(0, np.int64),
    )
    atomic_write(path, lambda f: np.savez(f, **arrays))


def status(path: Path) -> dict:
    """What a cache file holds, reading only its index: ``{"exists", "files", "failed"}``."""
    if not path.exists():
        return {"exists": False, "files": 0, "failed": 0}
    try:
        with np.load(path, allow_pickle=False) as z:
            errors = z["errors"]
        return {"exists": True, "files": int(len(errors)), "failed": int(sum(bool(e) for e in errors))}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return {"exists": True, "files": 0, "failed": 0, "damaged": True}
