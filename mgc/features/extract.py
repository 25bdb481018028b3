"""Dataset-scale extraction of the study's features, parallel and cached.

:func:`extract_dataset` walks a GTZAN-style folder, computes
:func:`mgc.features.track_segments` for every track in worker processes, and
returns a :class:`FeatureSet`: the segment table the models train on, plus a list
of the files that could not be used and why. One bad file is reported and skipped,
never fatal. Results go through :mod:`mgc.cache`.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import audio, cache
from .config import artifacts_dir
from .dataset import Dataset, find_tracks
from .errors import ArtifactError, DatasetError, MgcError, ParameterError
from .features import STUDY_PARAMS, FeatureParams, mfcc_batch, track_segments

Progress = Callable[[int, int, str], None]


@dataclass
class Skipped:
    """A file that gave no segment, and why."""

    track_id: str
    path: str
    reason: str


@dataclass
class FeatureSet:
    """The segment table of a dataset.

    Attributes
    ----------
    X : np.ndarray [shape=(n, frames, n_mfcc), dtype=float32]
    y : np.ndarray [shape=(n,), dtype=int64]
        Index into ``classes``.
    track_ids : np.ndarray [shape=(n,), dtype=str]
        ``""`` where unknown (features imported from the study's JSON).
    segment_index : np.ndarray [shape=(n,), dtype=int64]
        Position of the segment in its track (``-1`` where unknown).
    classes : tuple of str
    params : FeatureParams
    skipped : list of Skipped
    source : str
        Where the features came from (dataset folder or file).
    fingerprint : str
        Hash of the dataset's file list (``""`` when unknown).
    track_paths : dict
        Track id -> audio path, for players; empty when unknown.
    cache_stats : dict
        ``{"cached": n, "extracted": n, "cache_problem": str}`` for the last extraction.
    """

    X: np.ndarray
    y: np.ndarray
    track_ids: np.ndarray
    segment_index: np.ndarray
    classes: tuple[str, ...]
    params: FeatureParams = STUDY_PARAMS
    skipped: list[Skipped] = field(default_factory=list)
    source: str = ""
    fingerprint: str = ""
    track_paths: dict[str, str] = field(default_factory=dict)
    cache_stats: dict = field(default_factory=dict)

    @property
    def n_tracks(self) -> int:
        """Number of distinct tracks with at least one segment."""
        return len(np.unique(self.track_ids))

    def counts(self) -> dict[str, dict[str, int]]:
        """Tracks and segments per class."""
        out = {}
        for i, c in enumerate(self.classes):
            mask = self.y == i
            out[c] = {"tracks": len(np.unique(self.track_ids[mask])), "segments": int(mask.sum())}
        return out

    def skipped_table(self) -> list[dict]:
        """The skipped files as rows (track_id, path, reason)."""
        return [vars(s).copy() for s in self.skipped]

    # --- files -------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write ``X``, ``y``, ``track_ids``, ``segment_index``, ``classes`` (and metadata) to ``.npz``.

        The file loads with ``np.load(path, allow_pickle=False)``.
        """
        path = Path(path)
        if path.suffix != ".npz":
            raise ParameterError(f"out={str(path)!r} must end in .npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"params": self.params.to_dict(), "source": self.source, "fingerprint": self.fingerprint,
                "skipped": self.skipped_table()}
        tmp = path.with_name(f".tmp-{path.name}")
        np.savez_compressed(
            tmp, X=self.X, y=self.y, track_ids=self.track_ids.astype(str),
            segment_index=self.segment_index, classes=np.array(self.classes, dtype=str), meta=np.array(json.dumps(meta)),
        )
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FeatureSet":
        """Read a file written by :meth:`save` (no pickle)."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"])) if "meta" in z else {}
                fs = cls(
                    X=z["X"].astype(np.float32), y=z["y"].astype(np.int64), track_ids=z["track_ids"].astype(str),
                    segment_index=z["segment_index"].astype(np.int64), classes=tuple(str(c) for c in z["classes"]),
                    params=FeatureParams(**meta["params"]) if "params" in meta else STUDY_PARAMS,
                    skipped=[Skipped(**s) for s in meta.get("skipped", [])],
                    source=meta.get("source", str(path)), fingerprint=meta.get("fingerprint", ""),
                )
        except (OSError, KeyError, ValueError, TypeError) as e:
            raise ArtifactError(f"could not read features from {path.name!r}: {e}") from e
        _check_table(fs, path.name)
        return fs

    def to_study_json(self, path: str | os.PathLike) -> Path:
        """Write the study's JSON layout: ``{"mapping", "labels", "mfcc"}``."""
        path = Path(path)
        data = {"mapping": list(self.classes), "labels": self.y.tolist(), "mfcc": self.X.tolist()}
        path.write_text(json.dumps(data))
        return path

    @classmethod
    def from_study_json(cls, path: str | os.PathLike) -> "FeatureSet":
        """Read the study's JSON layout. Track ids are unknown there: only the segment split applies."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            X = np.asarray(data["mfcc"], dtype=np.float32)
            y = np.asarray(data["labels"], dtype=np.int64)
            classes = tuple(str(Path(m).name) for m in data["mapping"])
        except (OSError, KeyError, ValueError, TypeError, json.JSONDecodeError) as e:
            raise ArtifactError(
                f"{path.name!r} is not in the study's JSON layout "
                f'({{"mapping": [...], "labels": [...], "mfcc": [...]}}): {e}'
            ) from e
        if X.ndim != 3:
            raise ArtifactError(f"{path.name!r}: 'mfcc' must be a list of segments of frames x coefficients, got shape {X.shape}")
        params = FeatureParams(n_mfcc=X.shape[2]) if X.shape[2] != STUDY_PARAMS.n_mfcc else STUDY_PARAMS
        fs = cls(X=X, y=y, track_ids=np.full(len(y), "", dtype="<U1"), segment_index=np.full(len(y), -1),
                 classes=classes, params=params, source=str(path))
        _check_table(fs, path.name)
        return fs


def _check_table(fs: FeatureSet, name: str) -> None:
    n = len(fs.X)
    if not (len(fs.y) == len(fs.track_ids) == len(fs.segment_index) == n):
        raise ArtifactError(f"{name!r}: X, y, track_ids and segment_index differ in length")
    if n and (fs.y.min() < 0 or fs.y.max() >= len(fs.classes)):
        raise ArtifactError(f"{name!r}: labels must lie in 0..{len(fs.classes) - 1}")
    if not np.all(np.isfinite(fs.X)):
        raise ArtifactError(f"{name!r}: features hold NaN or infinity")


def extract_file(path: str | os.PathLike, *, params: FeatureParams = STUDY_PARAMS) -> tuple[np.ndarray, np.ndarray]:
    """The study's segments of one audio file (decode, then :func:`track_segments`).

    Raises
    ------
    AudioError
        The file cannot be decoded or gives no full segment.
    """
    y = audio.load(path, sr=params.sr)
    X, seg = track_segments(y, params=params)
    if len(X) == 0:
        raise audio.AudioError(
            f"{Path(path).name!r} lasts {len(y) / params.sr:.2f} s, shorter than one "
            f"{params.segment_duration:.2f}-s segment"
        )
    return X, seg


def _worker(path: str, params: dict) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """Run in a worker process: features of one file, or the reason it failed."""
    try:
        X, seg = extract_file(path, params=FeatureParams(**params))
        return X, seg, ""
    except MgcError as e:
        return None, None, str(e)
    except Exception as e:  # noqa: BLE001 - a worker reports any failure of one file; the run goes on
        return None, None, f"unexpected {type(e).__name__} while reading {Path(path).name!r}: {e}"


def _init_worker() -> None:
    # one BLAS thread per process: the processes themselves use the cores
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _pool_context():
    # fork is fast, but unsafe once TensorFlow or other threads are running (a Streamlit server)
    if "tensorflow" in sys.modules or threading.active_count() > 1:
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("fork")


def _run(todo: list[tuple[str, Path]], params: FeatureParams, workers: int, report) -> dict:
    results = {}
    if workers <= 1 or len(todo) < 4:
        # one BLAS thread, as in the workers: float32 sums then round the same way whatever the worker count
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            for rel, p in todo:
                results[rel] = _worker(str(p), params.to_dict())
                report(rel)
        return results
    # warm the filterbank and imports once here, so forked workers inherit them
    mfcc_batch(np.zeros((1, params.samples_per_segment), np.float32), params=params)
    try:
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), initializer=_init_worker) as pool:
            futures = {pool.submit(_worker, str(p), params.to_dict()): rel for rel, p in todo}
            for fut in cf.as_completed(futures):
                results[futures[fut]] = fut.result()
                report(futures[fut])
    except cf.process.BrokenProcessPool:
        # a worker died (e.g. a decoder crash): finish the rest here, one by one
        rest = [(rel, p) for rel, p in todo if rel not in results]
        results.update(_run(rest, params, 1, report))
    return results


def extract_dataset(
    root: str | os.PathLike | Dataset,
    *,
    params: FeatureParams = STUDY_PARAMS,
    classes: Sequence[str] | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    on_progress: Progress | None = None,
) -> FeatureSet:
    """Extract the study's features of every track under ``root``.

    Parameters
    ----------
    root : path or Dataset
        A GTZAN-style folder (see :func:`mgc.dataset.find_tracks`).
    params : FeatureParams
        Feature parameters; the study's by default.
    classes : sequence of str or None
        Keep only these classes (in this order of sorted names); ``None`` keeps all.
    cache_dir : path or None
        Folder of the feature cache; default ``artifacts/cache``.
    use_cache : bool
        Read and update the cache.
    workers : int or None
        Worker processes; default one per CPU core.
    on_progress : callable(done, total, message) or None
        Called after each file.

    Returns
    -------
    FeatureSet

    Raises
    ------
    DatasetError
        No dataset there, an unknown class asked for, or not a single track readable.
    """
    ds = root if isinstance(root, Dataset) else find_tracks(root)
    names = list(ds.classes)
    if classes is not None:
        unknown = [c for c in classes if c not in ds.classes]
        if unknown:
            raise DatasetError(f"classes {unknown} are not in the dataset; it has: {', '.join(ds.classes)}")
        names = sorted(set(classes))
    tracks = [t for t in ds.tracks if t.label in names]
    workers = workers or os.cpu_count() or 1
    cpath = cache.cache_file(Path(cache_dir) if cache_dir else artifacts_dir() / "cache", ds.genres_dir, params)
    entries, problem = cache.read(cpath, params) if use_cache else ({}, "")

    todo, ident = [], {}
    for t in tracks:
        rel, st = ds.relpath(t), t.path.stat()
        ident[rel] = (st.st_size, st.st_mtime_ns)
        e = entries.get(rel)
        if e is None or (e.size, e.mtime_ns) != ident[rel]:
            todo.append((rel, t.path))

    total, done = len(tracks), [len(tracks) - len(todo)]
    if on_progress:
        on_progress(done[0], total, "cache" if done[0] else "start")

    def report(rel: str) -> None:
        done[0] += 1
        if on_progress:
            on_progress(done[0], total, rel)

    for rel, (X, seg, err) in _run(todo, params, workers, report).items():
        if X is None:
            X, seg = np.zeros((0, *params.shape), np.float32), np.zeros(0, np.int64)
        entries[rel] = cache.Entry(*ident[rel], X=X, segment_index=seg, error=err)
    if use_cache and (todo or problem):
        cache.write(cpath, entries, params)

    parts, skipped, paths = [], [], {}
    for t in tracks:
        e = entries[ds.relpath(t)]
        if e.error or len(e.X) == 0:
            skipped.append(Skipped(t.track_id, ds.relpath(t), e.error or "no full segment"))
            continue
        parts.append((e, names.index(t.label), t.track_id))
        paths[t.track_id] = str(t.path)
    if not parts:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:3])
        raise DatasetError(f"no track under {str(ds.root)!r} could be read ({len(skipped)} failed; {reasons})")
    return FeatureSet(
        X=np.concatenate([e.X for e, _, _ in parts]),
        y=np.concatenate([np.full(len(e.X), label, np.int64) for e, label, _ in parts]),
        track_ids=np.concatenate([np.full(len(e.X), tid) for e, _, tid in parts]).astype(str),
        segment_index=np.concatenate([e.segment_index for e, _, _ in parts]).astype(np.int64),
        classes=tuple(names), params=params, skipped=skipped, source=str(ds.root),
        fingerprint=ds.fingerprint(), track_paths=paths,
        cache_stats={"cached": total - len(todo), "extracted": len(todo), "cache_problem": problem},
    )
