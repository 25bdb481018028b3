"""Dataset-scale extraction of the study's features, parallel and cached.

:func:`extract_dataset` walks a GTZAN-style folder, computes
:func:`mgc.features.track_segments` for every track in worker processes (the pool
below), and returns a :class:`~mgc.features.table.FeatureSet`: the segment table the
models train on, plus a list of the files that could not be used and why. One bad
file is reported and skipped, never fatal. Results go through
:mod:`mgc.features.cache`.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .. import audio
from ..config import artifacts_dir
from ..dataset import Dataset, find_tracks
from ..errors import AudioError, DatasetError, MgcError
from . import cache
from .embed import EmbeddingParams
from .kinds import Params, params_from_dict, segments_of
from .mfcc import STUDY_PARAMS, FeatureParams, mfcc_batch
from .table import FeatureSet, Skipped

Progress = Callable[[int, int, str], None]


#: Seconds decoded past the features' span (``params.track_duration``), so that the resampler's
#: filter sees the same samples near the end of the last segment as in a whole-file decode.
DECODE_MARGIN = 1.0


def extract_file(path: str | os.PathLike, *, params: Params = STUDY_PARAMS) -> tuple[np.ndarray, np.ndarray]:
    """The segment features of one audio file: decode at ``params.sr``, then the study's MFCCs
    (:func:`~mgc.features.track_segments`) or the tagger's embeddings
    (:func:`~mgc.features.embed.embedding_segments`), as ``params`` says.

    Only what the features use is decoded: the first ``params.track_duration`` seconds
    (plus :data:`DECODE_MARGIN`), within the decoder's budget, so a one-hour file costs
    what a 30-s clip does. The file must pass :func:`mgc.audio.usable` (the rule Classify
    applies too): a silent track gives no training segments.

    Raises
    ------
    AudioError
        The file cannot be decoded, is silent, or gives no full segment.
    """
    y = audio.usable(path, sr=params.sr, max_duration=params.track_duration + DECODE_MARGIN).y
    X, seg = segments_of(y, params)
    if len(X) == 0:
        raise AudioError(
            f"{Path(path).name!r} lasts {len(y) / params.sr:.2f} s, shorter than one "
            f"{params.segment_duration:.2f}-s segment"
        )
    return X, seg


def _worker(path: str, params: dict) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """Run in a worker process: features of one file, or the reason it failed."""
    try:
        X, seg = extract_file(path, params=params_from_dict(params))
        return X, seg, ""
    except MgcError as e:
        return None, None, str(e)
    except Exception as e:  # a worker reports any failure of one file; the run goes on
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


def _run(todo: list[tuple[str, Path]], params: Params, workers: int, report) -> dict:
    results = {}
    # embeddings run the tagger here: TensorFlow uses every core itself, and must not be forked
    if workers <= 1 or len(todo) < 4 or isinstance(params, EmbeddingParams):
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
    params: Params = STUDY_PARAMS,
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
    params : FeatureParams or EmbeddingParams
        Feature parameters; the study's MFCCs by default, the pretrained tagger's
        embeddings with :class:`~mgc.features.embed.EmbeddingParams`.
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

    Warns
    -----
    RuntimeWarning
        The cache cannot be written (its folder is a file, its file a folder, no
        permission): the features are returned all the same, and
        ``cache_stats["cache_problem"]`` says why.
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

    new = {}
    for rel, (X, seg, err) in _run(todo, params, workers, report).items():
        if X is None:
            X, seg = np.zeros((0, *params.shape), np.float32), np.zeros(0, np.int64)
        new[rel] = cache.Entry(*ident[rel], X=X, segment_index=seg, error=err)
    known = dict(entries)
    entries.update(new)
    if use_cache and (todo or problem):
        try:  # merged under a lock with what other extractions wrote meanwhile
            cache.update(cpath, new, params, known=known)
        except OSError as e:  # the features are made: a cache that cannot be written costs time, not them
            failed = f"could not write the feature cache {str(cpath)!r} ({e}); these files will be extracted again"
            warnings.warn(failed, RuntimeWarning, stacklevel=2)
            problem = f"{problem}; {failed}" if problem else failed

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
        classes=tuple(names),
        params=params,
        skipped=skipped,
        source=str(ds.root),
        fingerprint=ds.fingerprint(),
        track_paths=paths,
        cache_stats={"cached": total - len(todo), "extracted": len(todo), "cache_problem": problem},
        official=None if ds.official is None else ds.official.restricted(paths),
    )


def extraction_status(
    dataset: Dataset,
    *,
    params: FeatureParams = STUDY_PARAMS,
    cache_dir: str | os.PathLike | None = None,
) -> dict:
    """What the feature cache knows of a dataset, without extracting anything (for an overview).

    Parameters
    ----------
    dataset : Dataset
    params : FeatureParams
    cache_dir : path or None
        Default ``artifacts/cache``.

    Returns
    -------
    dict
        ``tracks`` and ``classes`` (numbers), ``counts`` (tracks per class),
        ``failed`` (unreadable files the cache knows of; None when the cache is
        empty) and ``text`` (one sentence on the cache).
    """
    folder = Path(cache_dir) if cache_dir else artifacts_dir() / "cache"
    state = cache.status(cache.cache_file(folder, dataset.genres_dir, params))
    if state["exists"]:
        text = (
            f"Feature cache: {state['files']} of {len(dataset.tracks)} files extracted, {state['failed']} of them "
            "unreadable" + (" (the cache is damaged and will be rebuilt)" if state.get("damaged") else "") + "."
        )
    else:
        text = "Feature cache: empty. Features are extracted on the Train page; unreadable files are counted then."
    return {
        "tracks": len(dataset.tracks),
        "classes": len(dataset.classes),
        "counts": dataset.counts(),
        "failed": state["failed"] if state["exists"] else None,
        "text": text,
    }
