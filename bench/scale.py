"""Benchmark: extraction at collection scale, the process pool against a Dask LocalCluster.

    python bench/scale.py [--sizes 1000,3000,10000] [--workers 2] [--modes pool,dask[,dask-driver]]
                          [--format mp3|wav] [--seconds 30] [--distinct 64] [--project-workers 8,32,128]

For each size it writes a synthetic dataset of 30-s clips (FMA-like by default: MP3,
44.1 kHz stereo, 8 genres) into a temporary folder, then, for each mode, runs
:func:`mgc.features.extract.extract_source` into an empty store in a fresh driver
process, and prints one markdown table:

- seconds per track (wall clock / tracks), and CPU seconds per track (user + system from
  ``/proc``) of the workers and of the rest (driver with Dask's scheduler thread, nannies):
  on a machine shared with other jobs the wall clock follows their load, CPU time much less;
- peak memory (VmHWM) of the driver, of Dask's scheduler process (``dask``: what
  ``scheduler="processes"`` starts, :class:`mgc.features.cluster.ClusterProcess`, the scheduler
  and the nannies in a process of their own; ``dask-driver``: a ``LocalCluster`` in the
  driver, as before, for comparison) and of each worker process, sampled from ``/proc``
  every 0.2 s (the driver holds only the index; rows go to the store);
- the driver's index in bytes: its arrays (labels, track numbers, segment positions,
  offsets), and everything the returned source holds per track (those arrays, track ids,
  paths, store records, skipped files: Python objects included);
- for Dask, the seconds to start the cluster and import the library on its workers
  (not in the per-track time: a cluster is started once for many runs).

Then the checks the issue asks for: per-track cost flat within 15 % from the smallest to
the largest size (per mode), the driver's peak not growing beyond its index (all it holds), Dask's
overhead against the pool under 15 % at the largest size; and a projection of fma_large
(106,574 tracks) on N workers from the measured CPU seconds per track.

Clips: ``--distinct`` different synthetic clips (tones, chords and noise per genre),
hard-linked under as many names as the size asks (each name is its own track with its
own store entry and is decoded on its own; the page cache holds the few distinct files,
as a warm filesystem would). Timings on a shared machine are noisy: the load average is
printed next to them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

FMA_LARGE = 106_574
GENRES = ("electronic", "experimental", "folk", "hiphop", "instrumental", "international", "pop", "rock")


def write_clips(root: Path, n: int, *, fmt: str, distinct: int, seconds: float = 30.0) -> Path:
    """``root/genres/<genre>/<genre>.NNNNN.<fmt>``: ``n`` tracks over ``distinct`` different clips."""
    import soundfile as sf

    sr, channels = (44100, 2) if fmt == "mp3" else (22050, 1)
    src = root / "distinct"
    src.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    clips = []
    for k in range(distinct):
        f0 = 110.0 * 2 ** (rng.integers(0, 36) / 12)
        y = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in (1, 2, 3, 5)) * 0.15
        y = y * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.2, 3.0) * t)) + 0.02 * rng.standard_normal(len(t))
        y = np.stack([y, np.roll(y, 7)], axis=1)[:, :channels].astype(np.float32)
        path = src / f"clip{k:03d}.{fmt}"
        sf.write(path, y, sr, format=fmt.upper(), **({} if fmt == "mp3" else {"subtype": "PCM_16"}))
        clips.append(path)
    for i in range(n):
        genre = GENRES[i % len(GENRES)]
        d = root / "genres" / genre
        d.mkdir(parents=True, exist_ok=True)
        os.link(clips[i % distinct], d / f"{genre}.{i:05d}.{fmt}")
    return root


def _descendants(pid: int) -> set[int]:
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = []
        for task in Path(f"/proc/{p}/task").glob(
            "*"
        ):  # every thread's children (Dask's nannies start workers off-main)
            try:
                kids += task.joinpath("children").read_text().split()
            except OSError:
                continue
        for k in map(int, kids):
            if k not in out:
                out.add(k)
                todo.append(k)
    return out


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Sampler(threading.Thread):
    """Peak resident memory and CPU time of this process's descendants, sampled every 0.2 s."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peaks: dict[int, float] = {}
        self.cpu: dict[int, float] = {}
        self.stop = threading.Event()

    def sample(self):
        for p in _descendants(os.getpid()):
            mb, cpu = _hwm_mb(p), _cpu_s(p)
            if mb is not None:
                self.peaks[p] = max(self.peaks.get(p, 0.0), mb)
            if cpu is not None:
                self.cpu[p] = cpu

    def run(self):
        while not self.stop.wait(0.2):
            self.sample()


def _deep_bytes(obj, seen: set[int] | None = None) -> int:
    """Bytes an object holds with everything it refers to (containers, dataclasses, arrays), each once."""
    import dataclasses

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        base = 0 if obj.base is None else _deep_bytes(obj.base, seen)
        return sys.getsizeof(obj) + (obj.nbytes if obj.base is None and not isinstance(obj, np.memmap) else 0) + base
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(_deep_bytes(k, seen) + _deep_bytes(v, seen) for k, v in obj.items())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        size += sum(_deep_bytes(x, seen) for x in obj)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        size += sum(_deep_bytes(getattr(obj, f.name), seen) for f in dataclasses.fields(obj))
    return size


def index_bytes(src) -> tuple[int, int]:
    """What the driver keeps per track: the index's arrays, and everything the source holds per track.

    The second counts, besides the arrays, the per-track Python objects (track ids, paths, store
    records, skipped files); the store object itself (a bounded cache of open memory maps) is left out.
    """
    arrays = sum(a.nbytes for a in (src.offsets, src.y, src.track_of_row, src.segment_index))
    seen = {id(src.store)}
    held = sum(
        _deep_bytes(getattr(src, name), seen)
        for name in ("offsets", "y", "track_of_row", "segment_index", "track_id_list", "records", "arrays", "skipped")
        + ("track_paths", "official")
    )
    return arrays, held


def run_one(mode: str, data: Path, store: Path, workers: int) -> dict:
    """In a fresh driver process: one extraction into an empty store; what it cost.

    ``dask`` is what ``scheduler="processes"`` runs (:class:`mgc.features.cluster.ClusterProcess`:
    the scheduler and the nannies in a process of their own); ``dask-driver`` is the arrangement
    before, a ``LocalCluster`` in the driver's own process, for comparison.
    """
    from mgc.features.extract import extract_source

    sampler = Sampler()
    sampler.start()
    client = cluster = None
    worker_pids: set[int] = set()
    scheduler_pid = None
    startup = 0.0
    if mode.startswith("dask"):  # started, and the library imported on the workers, before the clock starts
        import dask
        import distributed

        from mgc.features.cluster import QUIET_DASK, ClusterProcess

        t0 = time.perf_counter()
        if mode == "dask":
            cluster = ClusterProcess(workers)
            client, scheduler_pid = cluster.client, cluster.pid
        else:
            dask.config.set(QUIET_DASK)  # as the cluster process sets it
            cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            )
            client = distributed.Client(cluster)
        client.run(lambda: __import__("mgc.features.extract"))
        worker_pids = set(client.run(os.getpid).values())
        startup = time.perf_counter() - t0
    sampler.sample()
    cpu0 = dict(sampler.cpu)
    driver0 = _cpu_s(os.getpid())
    t0 = time.perf_counter()
    src = extract_source(data, cache_dir=store, workers=workers, scheduler=client)
    wall = time.perf_counter() - t0
    driver_cpu = _cpu_s(os.getpid()) - driver0  # dask-driver: with the scheduler's thread, which runs here
    if client is not None:
        worker_pids = set(client.run(os.getpid).values())  # a worker restarted by its nanny counts too
    sampler.stop.set()
    sampler.join()
    sampler.sample()  # last look: the pool's workers have exited (their final CPU was sampled <= 0.2 s before)
    driver_mb = _hwm_mb(os.getpid())
    scheduler_mb = _hwm_mb(scheduler_pid) if scheduler_pid else None
    if client is not None:
        client.close()
        cluster.close()
    arrays, held = index_bytes(src)
    pids = worker_pids if mode.startswith("dask") else set(sampler.peaks)
    spent = {p: c - cpu0.get(p, 0.0) for p, c in sampler.cpu.items()}
    worker_cpu = sum(c for p, c in spent.items() if p in pids)
    other_cpu = sum(c for p, c in spent.items() if p not in pids) + driver_cpu
    return {
        "tracks": len(src.track_id_list) + len(src.skipped),
        "skipped": len(src.skipped),
        "rows": len(src),
        "wall": wall,
        "startup": startup,
        "worker_cpu": worker_cpu,
        "other_cpu": other_cpu,
        "driver_mb": driver_mb,
        "scheduler_mb": scheduler_mb,
        "worker_mb": sorted(sampler.peaks[p] for p in pids if p in sampler.peaks),
        "index_bytes": arrays,
        "held_bytes": held,
        "load": os.getloadavg()[0],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,3000,10000", help="tracks per dataset, comma-separated")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--modes",
        default="pool,dask",
        help="pool, dask (what scheduler='processes' runs), dask-driver (a LocalCluster in the driver, as before)",
    )
    ap.add_argument("--format", choices=["mp3", "wav"], default="mp3", help="mp3: 44.1 kHz stereo (FMA-like)")
    ap.add_argument("--seconds", type=float, default=30.0, help="clip length (short clips: a quick look at memory)")
    ap.add_argument("--distinct", type=int, default=64, help="different clips behind the track names")
    ap.add_argument("--project-workers", default="8,32,128", help="worker counts for the fma_large projection")
    ap.add_argument("--one", nargs=4, metavar=("MODE", "DATA", "STORE", "WORKERS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        mode, data, store, workers = args.one
        print(json.dumps(run_one(mode, Path(data), Path(store), int(workers))))
        return 0

    sizes = [int(s) for s in args.sizes.split(",")]
    modes = args.modes.split(",")
    results: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory(prefix="mgc-scale-") as tmp:
        for n in sizes:
            data = write_clips(
                Path(tmp) / f"data-{n}", n, fmt=args.format, distinct=args.distinct, seconds=args.seconds
            )
            for mode in modes:
                store = Path(tmp) / f"store-{n}-{mode}"
                out = subprocess.run(
                    [sys.executable, __file__, "--one", mode, str(data), str(store), str(args.workers)],
                    capture_output=True,
                    text=True,
                )
                if out.returncode:
                    print(out.stderr, file=sys.stderr)
                    return 1
                r = json.loads(out.stdout.strip().splitlines()[-1])
                results[(mode, n)] = r
                print(  # every run as it ends, so a long job interrupted keeps what it measured
                    f"# {mode} {n}: wall {r['wall']:.1f} s, worker CPU {r['worker_cpu']:.1f} s, other CPU "
                    f"{r['other_cpu']:.1f} s, driver {r['driver_mb']:.0f} MB (load {r['load']:.2f}): {json.dumps(r)}",
                    file=sys.stderr,
                    flush=True,
                )
                subprocess.run(["rm", "-rf", str(store)])
            subprocess.run(["rm", "-rf", str(data)])

    w = args.workers
    print(
        f"\n{args.format} clips of {args.seconds:g} s, {w} workers, {os.cpu_count()} cores; "
        "load = 1-min load average at the end\n"
    )
    print(
        "| mode | tracks | skipped | wall s / track | worker CPU s / track | other CPU s / track | start s "
        "| driver MB | scheduler process MB | index KB: arrays / all it holds | worker peaks MB | load |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for (mode, _), r in results.items():
        n = r["tracks"]
        workers_mb = ", ".join(f"{m:.0f}" for m in r["worker_mb"])
        sched = f"{r['scheduler_mb']:.0f}" if r["scheduler_mb"] else "(in the driver)" if mode == "dask-driver" else ""
        print(
            f"| {mode} | {n} | {r['skipped']} | {r['wall'] / n:.4f} | {r['worker_cpu'] / n:.4f} | "
            f"{r['other_cpu'] / n:.4f} | {r['startup']:.1f} | {r['driver_mb']:.1f} | {sched} | "
            f"{r['index_bytes'] / 1024:.0f} / {r['held_bytes'] / 1024:.0f} | {workers_mb} | {r['load']:.2f} |"
        )

    print("\n| check | measured | target | holds |")
    print("| --- | --- | --- | --- |")
    lo, hi = min(sizes), max(sizes)
    for mode in modes:
        a, b = results[(mode, lo)], results[(mode, hi)]
        for what, key in (("wall", "wall"), ("worker CPU", "worker_cpu")):
            if not a[key]:
                continue
            ratio = (b[key] / b["tracks"]) / (a[key] / a["tracks"])
            print(f"| {mode}: {what} s/track at {hi} vs {lo} | {ratio:.3f} | 0.85-1.15 | {0.85 <= ratio <= 1.15} |")
        grow = b["driver_mb"] - a["driver_mb"]
        index = (b["index_bytes"] - a["index_bytes"]) / 2**20
        held = (b["held_bytes"] - a["held_bytes"]) / 2**20
        print(
            f"| {mode}: driver peak growth {lo}->{hi} | {grow:+.1f} MB (index: arrays {index:+.2f} MB, all it "
            f"holds {held:+.2f} MB; beyond it {grow - held:+.1f} MB) | index + 25 MB | {grow <= held + 25} |"
        )
        if a["scheduler_mb"] and b["scheduler_mb"]:
            grow = b["scheduler_mb"] - a["scheduler_mb"]
            print(f"| {mode}: scheduler process peak growth {lo}->{hi} | {grow:+.1f} MB | (not the driver) | |")
    if {"pool", "dask"} <= set(modes):
        d, p = results[("dask", hi)], results[("pool", hi)]
        over = d["wall"] / p["wall"] - 1
        print(f"| Dask overhead vs pool at {hi}, wall | {over:+.1%} | under 15 % | {over < 0.15} |")
        over = (d["worker_cpu"] + d["other_cpu"]) / (p["worker_cpu"] + p["other_cpu"]) - 1
        print(f"| Dask overhead vs pool at {hi}, all CPU | {over:+.1%} | under 15 % | {over < 0.15} |")

    print(
        f"\nfma_large ({FMA_LARGE:,} tracks) projected from the CPU seconds per track at {hi} "
        "(workers' and the rest), one core per worker, no waiting for other jobs:\n"
    )
    print("| mode | CPU s / track | " + " | ".join(f"{n} workers" for n in args.project_workers.split(",")) + " |")
    print("| --- | ---: |" + " ---: |" * len(args.project_workers.split(",")))
    for mode in modes:
        r = results[(mode, hi)]
        cost = (r["worker_cpu"] + r["other_cpu"]) / r["tracks"]
        cells = " | ".join(f"{FMA_LARGE * cost / int(n) / 60:.1f} min" for n in args.project_workers.split(","))
        print(f"| {mode} | {cost:.4f} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
