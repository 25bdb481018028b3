"""Dataset-scale extraction of the study's features, parallel and stored per track.

:func:`extract_dataset` walks a GTZAN-style folder, computes
:func:`mgc.features.track_segments` (or the tagger's embeddings) for every track and
returns a :class:`~mgc.features.table.FeatureSet`: the segment table the models train
on, plus a list of the files that could not be used and why. One bad file is reported
and skipped, never fatal. :func:`extract_source` does the same work but returns a
:class:`~mgc.features.store.SegmentSource` over the store's memory-mapped entries, so a
collection larger than memory can be extracted and then streamed.

Where the work runs (``scheduler``):

``None``
    A process pool on this machine (``workers`` processes; embeddings in this process,
    since TensorFlow must not be forked).
``"processes"``
    A Dask ``LocalCluster`` of ``workers`` processes started for this call, scheduler and all,
    in a process of its own (:class:`~mgc.features.cluster.ClusterProcess`): this process
    holds only a client, and its memory does not grow with the scheduler's state.
``"tcp://host:8786"`` or a ``distributed.Client``
    An existing Dask cluster. Its workers write the store themselves, so ``cache_dir``
    must be on a filesystem they share with this process (or pass ``use_cache=False``:
    rows then come back over the network).

A pool task is one track; a Dask task up to :data:`TRACKS_PER_TASK` tracks (one for small
runs), each written to the store by the worker that computed it, so only its record
comes back. The driver keeps at most a few tasks per worker in flight and holds only the
index. A worker that dies loses only its tracks in flight: the pool's are finished here,
Dask reschedules its own (up to Dask's ``distributed.scheduler.allowed-failures``; a batch
that failed so runs again one track per task, and a track that still does is a skipped
row saying so, not stored, and tried again by the next run). Results go through
:mod:`mgc.features.store`.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import audio
from ..config import artifacts_dir
from ..dataset import Dataset, find_tracks
from ..errors import AudioError, DatasetError, MgcError, ParameterError
from . import cache as legacy
from .cluster import ClusterProcess, client_for
from .embed import EmbeddingParams
from .kinds import Params, params_from_dict, segments_of
from .mfcc import STUDY_PARAMS, FeatureParams, mfcc_batch
from .store import FeatureStore, Record, SegmentSource, store_dir
from .table import FeatureSet, Skipped

Progress = Callable[[int, int, str], None]

#: Tasks kept in flight per worker: enough to keep workers busy, few enough that the
#: driver's memory does not grow with the number of tracks.
IN_FLIGHT_PER_WORKER = 4

#: How long to wait for a Dask scheduler at an address before giving up.
CONNECT_TIMEOUT = "20s"


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
    """Features of one file, or the reason it failed (run in a worker or here)."""
    try:
        X, seg = extract_file(path, params=params_from_dict(params))
        return X, seg, ""
    except MgcError as e:
        return None, None, str(e)
    except Exception as e:  # a worker reports any failure of one file; the run goes on
        return None, None, f"unexpected {type(e).__name__} while reading {Path(path).name!r}: {e}"


_ONE_THREAD = []

#: glibc's ``mallopt`` parameters (``malloc.h``) and the values a Dask worker gets: those glibc's own
#: dynamic thresholds reach in a long-lived process (its 64-bit maximum mmap threshold, trim at twice it).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
WORKER_MALLOC = {M_MMAP_THRESHOLD: 32 * 2**20, M_TRIM_THRESHOLD: 64 * 2**20}


def _init_worker(*, malloc: bool = False) -> None:
    # one BLAS thread per process: the processes themselves use the cores, and float32 sums
    # then round the same way whatever the number of workers
    if not _ONE_THREAD:
        from threadpoolctl import threadpool_limits

        _ONE_THREAD.append(threadpool_limits(1))
        if malloc:
            _worker_malloc()


def _worker_malloc() -> None:
    """Undo, in a Dask worker, the ``MALLOC_TRIM_THRESHOLD_=65536`` its nanny sets.

    That setting (Dask's ``distributed.nanny.pre-spawn-environ``, so that workers hand freed memory
    back at once) also freezes glibc's mmap threshold at 128 KiB: every array of a decoded clip or
    spectrogram is then a fresh ``mmap`` whose pages fault in again, which cost a Dask worker 3x the
    system time and 6x the page faults of the pool's (forked, default-malloc) workers per track
    (bench/scale.py). Here the thresholds are set to what glibc would have grown them to, so freed
    blocks are reused; a worker keeps at most 64 MiB of freed memory. Nothing happens off glibc.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        for option, value in WORKER_MALLOC.items():
            libc.mallopt(option, value)
    except (OSError, AttributeError):  # not glibc (macOS, musl without mallopt): nothing to undo
        pass


def _task(
    path: str, rel: str, size: int, mtime_ns: int, params: dict, store_root: str | None, *, one_thread: bool = False
) -> tuple:
    """One track, in whichever process runs it: compute, write its store entry, return what the driver indexes.

    ``one_thread`` limits BLAS to one thread for the rest of the process's life (a Dask
    worker's; the pool's initializer and the sequential path do it themselves).
    Returns ``(X, segment_index, error, stored)``; ``X`` is ``None`` once stored (the
    driver reads it from the store) or when the file failed.
    """
    if one_thread:
        _init_worker(malloc=True)
    X, seg, err = _worker(path, params)
    if store_root is not None:
        try:
            FeatureStore(store_root, params_from_dict(params)).put(
                rel, size=size, mtime_ns=mtime_ns, X=X, segment_index=seg, error=err
            )
            return None, seg, err, True
        except OSError:
            pass  # the driver writes it, or warns
    return X, seg, err, False


def _tasks(task: Callable, items: list[tuple], params: dict, store_root: str | None) -> list[tuple]:
    """Several tracks in one Dask task: ``task`` (:func:`_task`) on each ``(path, rel, size, mtime_ns)``."""
    return [task(*item, params, store_root, one_thread=True) for item in items]


def _pool_context():
    # fork is fast, but unsafe once TensorFlow or other threads are running (a Streamlit server)
    if "tensorflow" in sys.modules or threading.active_count() > 1:
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("fork")


Todo = list[tuple[str, Path, int, int]]  # (relative path, path, size, mtime_ns)


def _sequential(todo: Todo, params: Params, store_root: str | None, report) -> None:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # as in the workers
        for rel, p, size, mtime in todo:
            report(rel, _task(str(p), rel, size, mtime, params.to_dict(), store_root))


def _pool(todo: Todo, params: Params, store_root: str | None, workers: int, report) -> None:
    # embeddings run the tagger here: TensorFlow uses every core itself, and must not be forked
    if workers <= 1 or len(todo) < 4 or isinstance(params, EmbeddingParams):
        return _sequential(todo, params, store_root, report)
    # warm the filterbank and imports once here, so forked workers inherit them
    mfcc_batch(np.zeros((1, params.samples_per_segment), np.float32), params=params)
    done: set[str] = set()
    pending = iter(todo)
    try:
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), initializer=_init_worker) as pool:
            running: dict[cf.Future, str] = {}

            def fill() -> None:
                while len(running) < workers * IN_FLIGHT_PER_WORKER:
                    item = next(pending, None)
                    if item is None:
                        return
                    rel, p, size, mtime = item
                    running[pool.submit(_task, str(p), rel, size, mtime, params.to_dict(), store_root)] = rel

            fill()
            while running:
                finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    rel = running.pop(fut)
                    report(rel, fut.result())
                    done.add(rel)
                fill()
    except cf.process.BrokenProcessPool:
        # a worker died (e.g. a decoder crash): finish the rest here, one by one
        _sequential([t for t in todo if t[0] not in done], params, store_root, report)


def _dask_client(scheduler: Any, workers: int):
    """A ``distributed.Client`` for ``scheduler``, and what to close afterwards (None for the caller's own)."""
    try:
        import distributed
    except ImportError as e:  # pragma: no cover - a dependency
        raise ParameterError(
            f"scheduler={scheduler!r} needs Dask's distributed package (pip install distributed)"
        ) from e
    if isinstance(scheduler, distributed.Client):
        return scheduler, None
    if scheduler == "processes":  # its scheduler in a process of its own: the driver holds only the client
        cluster = ClusterProcess(workers)
        return cluster.client, (cluster,)
    if isinstance(scheduler, str) and ":" in scheduler:
        try:
            client = client_for(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as e:
            raise ParameterError(f"scheduler={scheduler!r}: no Dask scheduler answered there ({e})") from e
        return client, (client,)
    raise ParameterError(
        f"scheduler={scheduler!r} must be None (a process pool here), 'processes' (a Dask LocalCluster here), "
        "a Dask scheduler address such as 'tcp://host:8786', or a distributed.Client"
    )


#: Tracks per Dask task at most: fewer tasks to schedule and report (a task costs the scheduler and the
#: worker a few ms of CPU) while a worker that dies still loses only a few tracks. Small runs get fewer,
#: so that every worker has work (see :func:`_tracks_per_task`).
TRACKS_PER_TASK = 8


def _tracks_per_task(tracks: int, slots: int) -> int:
    """Tracks per Dask task, for ``tracks`` on ``slots`` worker threads.

    Up to :data:`TRACKS_PER_TASK`, fewer (down to one) until every slot gets
    :data:`IN_FLIGHT_PER_WORKER` tasks four times over.
    """
    return max(1, min(TRACKS_PER_TASK, tracks // (slots * IN_FLIGHT_PER_WORKER * 4)))


def _dask(todo: Todo, params: Params, store_root: str | None, client, report) -> None:
    from distributed import as_completed

    n = max(1, sum(client.nthreads().values()))
    per_task = _tracks_per_task(len(todo), n)
    batches = iter([todo[i : i + per_task] for i in range(0, len(todo), per_task)])
    retry: list[Todo] = []  # the tracks of a batch whose worker died each time: one task each
    names: dict[str, list[str]] = {}
    stream = as_completed()
    config = params.to_dict()

    def submit() -> bool:
        batch = retry.pop() if retry else next(batches, None)
        if batch is None:
            return False
        items = [(str(p), rel, size, mtime) for rel, p, size, mtime in batch]
        fut = client.submit(_tasks, _task, items, config, store_root, pure=False)
        names[fut.key] = [rel for rel, _, _, _ in batch]
        stream.add(fut)
        return True

    for _ in range(n * IN_FLIGHT_PER_WORKER):
        if not submit():
            break
    for fut in stream:
        rels = names.pop(fut.key)
        try:
            results = fut.result()
        except Exception as e:  # the task itself catches every failure of a file: this is the cluster's
            fut.release()
            if len(rels) > 1:  # which of its tracks killed the worker is not known: each alone, once more
                by_rel = {t[0]: t for t in todo if t[0] in set(rels)}
                retry.extend([[by_rel[r]] for r in rels])
                for _ in rels:
                    submit()
                continue
            why = "its Dask worker died each time it ran" if type(e).__name__ == "KilledWorker" else "Dask failed"
            results = [(None, None, f"{why} ({type(e).__name__}: {e}); not stored, tried again by the next run", None)]
        fut.release()
        for rel, result in zip(rels, results, strict=True):
            report(rel, result)
        submit()


def extract_source(
    root: str | os.PathLike | Dataset,
    *,
    params: Params = STUDY_PARAMS,
    classes: Sequence[str] | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    scheduler: Any = None,
    on_progress: Progress | None = None,
) -> SegmentSource:
    """Extract (or read from the store) the features of every track under ``root``, as a streaming source.

    Takes the arguments of :func:`extract_dataset` and does the same work, but returns the
    rows as a :class:`~mgc.features.store.SegmentSource` over the store's memory-mapped
    entries instead of one array in memory. Its ``skipped``, ``cache_stats``,
    ``source``, ``fingerprint`` and ``track_paths`` are those of the
    :class:`~mgc.features.table.FeatureSet` :func:`extract_dataset` would return.

    Returns
    -------
    SegmentSource

    Raises
    ------
    DatasetError
        No dataset there, an unknown class asked for, or not a single track readable.
    ParameterError
        ``scheduler`` is not one of the accepted forms, no Dask scheduler answers at its
        address, or the Dask workers cannot write where this process reads the store.
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
    folder = (Path(cache_dir) if cache_dir else artifacts_dir() / "cache").absolute()
    problems: list[str] = []
    store = None
    if use_cache:
        store = FeatureStore(store_dir(folder, ds.genres_dir, params), params)
        try:
            problems += [p for p in [store.check()] if p]
            migrated, why = store.migrate(legacy.cache_file(folder, ds.genres_dir, params))
            if why:
                problems.append(f"old single-file cache not migrated: {why}")
        except OSError as e:  # the features are made: a store that cannot be written costs time, not them
            failed = f"could not write the feature cache {str(store.root)!r} ({e}); these files will be extracted again"
            warnings.warn(failed, RuntimeWarning, stacklevel=3)
            problems.append(failed)
            store = None

    records: dict[str, Record] = {}
    arrays: dict[str, np.ndarray] = {}
    todo: Todo = []
    damaged = []
    for t in tracks:
        rel, st = ds.relpath(t), t.path.stat()
        rec, why = store.lookup(rel, size=st.st_size, mtime_ns=st.st_mtime_ns) if store else (None, "")
        if why:
            damaged.append(why)
        if rec is None:
            todo.append((rel, t.path, st.st_size, st.st_mtime_ns))
        else:
            records[rel] = rec
    if damaged:
        problems.append(f"{len(damaged)} damaged store entries ignored and rebuilt (first: {damaged[0]})")

    total, done = len(tracks), [len(tracks) - len(todo)]
    if on_progress:
        on_progress(done[0], total, "cache" if done[0] else "start")
    ident = {rel: (size, mtime) for rel, _, size, mtime in todo}
    unwritten = []

    def report(rel: str, result: tuple) -> None:
        X, seg, err, stored = result
        size, mtime = ident[rel]
        if stored:
            rows = len(seg) if seg is not None else 0
            records[rel] = Record(rel, size, mtime, rows, seg if rows else np.zeros(0, np.int64), err, "?")
        else:
            if X is None:
                X, seg = np.zeros((0, *params.shape), np.float32), np.zeros(0, np.int64)
            records[rel] = Record(rel, size, mtime, len(X), np.asarray(seg, np.int64), err, "")
            arrays[rel] = X
            if store is not None and stored is False:
                try:
                    store.put(rel, size=size, mtime_ns=mtime, X=X, segment_index=seg, error=err)
                    del arrays[rel]
                    records[rel] = store.record(rel)[0] or records[rel]
                except OSError as e:
                    unwritten.append(str(e))
        done[0] += 1
        if on_progress:
            on_progress(done[0], total, rel)

    store_root = str(store.root) if store is not None else None
    if todo and scheduler is None:
        _pool(todo, params, store_root, workers, report)
    elif todo:
        client, owned = _dask_client(scheduler, workers)
        try:
            _dask(todo, params, store_root, client, report)
        finally:
            for thing in owned or ():
                thing.close()
    if unwritten:
        failed = (
            f"could not write the feature cache {store_root!r} ({unwritten[0]}); "
            f"{len(unwritten)} files will be extracted again"
        )
        warnings.warn(failed, RuntimeWarning, stacklevel=3)
        problems.append(failed)

    kept, skipped, paths = [], [], {}
    for t in tracks:
        rel = ds.relpath(t)
        rec = records[rel]
        if rec.error or rec.rows == 0:
            skipped.append(Skipped(t.track_id, rel, rec.error or "no full segment"))
            continue
        if rec.data == "?":  # written by a worker: the driver must see it where the worker wrote it
            rec, _ = store.lookup(rel, size=rec.size, mtime_ns=rec.mtime_ns)
            if rec is None:
                raise ParameterError(
                    f"cache_dir={str(folder)!r}: the Dask workers wrote {rel!r} there, but this process cannot "
                    "read it; give a cache_dir on a filesystem the workers share, or use_cache=False"
                )
            records[rel] = rec
        kept.append((rel, names.index(t.label), t.track_id))
        paths[t.track_id] = str(t.path)
    if not kept:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:3])
        raise DatasetError(f"no track under {str(ds.root)!r} could be read ({len(skipped)} failed; {reasons})")
    counts = np.array([records[rel].rows for rel, _, _ in kept], np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return SegmentSource(
        offsets=offsets,
        y=np.repeat(np.array([label for _, label, _ in kept], np.int64), counts),
        track_of_row=np.repeat(np.arange(len(kept), dtype=np.int32), counts),
        track_id_list=tuple(tid for _, _, tid in kept),
        segment_index=np.concatenate([records[rel].segment_index for rel, _, _ in kept]).astype(np.int64),
        classes=tuple(names),
        params=params,
        store=store,
        records=[records[rel] for rel, _, _ in kept],
        arrays=[arrays.get(rel) for rel, _, _ in kept] if arrays else None,
        skipped=skipped,
        source=str(ds.root),
        fingerprint=ds.fingerprint(),
        track_paths=paths,
        cache_stats={"cached": total - len(todo), "extracted": len(todo), "cache_problem": "; ".join(problems)},
        official=None if ds.official is None else ds.official.restricted(paths),
    )


def extract_dataset(
    root: str | os.PathLike | Dataset,
    *,
    params: Params = STUDY_PARAMS,
    classes: Sequence[str] | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    scheduler: Any = None,
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
        Folder of the feature store (:mod:`mgc.features.store`); default ``artifacts/cache``.
    use_cache : bool
        Read and update the store.
    workers : int or None
        Worker processes of the local pool, or of the ``"processes"`` cluster; default
        one per CPU core. An existing Dask cluster has its own.
    scheduler : None, "processes", str or distributed.Client
        Where the work runs: ``None`` a process pool here (as before), ``"processes"`` a
        Dask ``LocalCluster`` started for this call (in a process of its own), an address (``"tcp://host:8786"``)
        or a ``Client`` an existing Dask cluster (see the module's description).
    on_progress : callable(done, total, message) or None
        Called after each file, as its result arrives.

    Returns
    -------
    FeatureSet

    Raises
    ------
    DatasetError
        No dataset there, an unknown class asked for, or not a single track readable.
    ParameterError
        A ``scheduler`` this cannot use (see :func:`extract_source`).

    Warns
    -----
    RuntimeWarning
        The store cannot be written (its folder is a file, its file a folder, no
        permission): the features are returned all the same, and
        ``cache_stats["cache_problem"]`` says why.
    """
    src = extract_source(
        root,
        params=params,
        classes=classes,
        cache_dir=cache_dir,
        use_cache=use_cache,
        workers=workers,
        scheduler=scheduler,
        on_progress=on_progress,
    )
    return FeatureSet(
        X=src.all_rows(),
        y=src.y,
        track_ids=src.track_ids,
        segment_index=src.segment_index,
        classes=src.classes,
        params=params,
        skipped=src.skipped,
        source=src.source,
        fingerprint=src.fingerprint,
        track_paths=src.track_paths,
        cache_stats=src.cache_stats,
        official=src.official,
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
    state = FeatureStore(store_dir(folder, dataset.genres_dir, params), params).status()
    if not state["exists"]:  # an old single-file cache not migrated yet
        state = legacy.status(legacy.cache_file(folder, dataset.genres_dir, params))
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
