"""Benchmark: training from a memory-mapped segment array (streamed) against the same array in memory.

Writes a large synthetic segment table once (``--rows`` rows of 130 x 13 float32, tracks of
10 segments, 10 classes whose means differ, so the networks learn something), as an ``.npy``
file next to its labels, then trains one model on it in a fresh process per case:

* ``memory``: the array read whole (``np.load``), the in-memory path of :func:`mgc.training.train`;
* ``memmap``: ``np.load(..., mmap_mode="r")``, the streamed path (:mod:`mgc.training.stream`).

Each process reports the peak of its resident memory: *anon* (``RssAnon``, the memory the
process allocated itself, sampled every 20 ms; during the training, up to the last epoch's end, and
over the whole run, which adds the test predictions and the trust checks) and *total* (``VmHWM``, which also counts the
pages of the mapped file the kernel keeps cached; those are page cache the kernel can drop,
not memory the process holds), the seconds per epoch (from the run's history) and the
seconds to load the features. The CPU load is printed with the table: on a shared machine
the times are noisy.

Usage::

    python bench/stream.py                              # 300k rows (2.0 GB), memmap and memory
    python bench/stream.py --rows 100000,300000 --epochs 2 --recipe study
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

SEGMENTS, FRAMES, N_MFCC, CLASSES = 10, 130, 13, 10


def _status() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
    return out


class PeakMemory:
    """Samples ``RssAnon`` in a thread (the kernel keeps no peak of it); ``VmHWM`` is the kernel's own peak."""

    def __init__(self, every: float = 0.02):
        self.every, self.anon, self._stop = every, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.anon = max(self.anon, _status()["RssAnon"])
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.anon = max(self.anon, _status()["RssAnon"])


def write_table(folder: Path, rows: int, seed: int = 0) -> Path:
    """``X.npy`` (rows x 130 x 13 float32) and ``labels.npz`` under ``folder``, written in chunks."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "X.npy"
    if path.exists() and np.load(path, mmap_mode="r").shape[0] == rows:
        return folder
    rng = np.random.default_rng(seed)
    n_tracks = rows // SEGMENTS
    labels = rng.integers(0, CLASSES, n_tracks)
    centres = rng.standard_normal((CLASSES, N_MFCC)).astype(np.float32) * 20
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, FRAMES, N_MFCC))
    chunk = 2000  # tracks
    for t0 in range(0, n_tracks, chunk):
        t = np.arange(t0, min(t0 + chunk, n_tracks))
        noise = rng.standard_normal((len(t) * SEGMENTS, FRAMES, N_MFCC), dtype=np.float32) * 30
        X[t0 * SEGMENTS : (t[-1] + 1) * SEGMENTS] = noise + np.repeat(centres[labels[t]], SEGMENTS, 0)[:, None, :]
    X.flush()
    del X
    np.savez(
        folder / "labels.npz",
        y=np.repeat(labels, SEGMENTS).astype(np.int64),
        track_ids=np.repeat([f"t{i:07d}" for i in range(n_tracks)], SEGMENTS),
        segment_index=np.tile(np.arange(SEGMENTS), n_tracks).astype(np.int64),
    )
    return folder


def child(folder: Path, mode: str, args) -> dict:
    """One training run in this process; returns what it measured."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from mgc.features import FeatureSet
    from mgc.models import keras_module
    from mgc.training import TrainConfig, train

    keras_module()  # TensorFlow's own memory, before any data
    before = _status()
    with PeakMemory() as peak:
        t0 = time.perf_counter()
        X = np.load(folder / "X.npy", mmap_mode="r" if mode == "memmap" else None)
        load_s = time.perf_counter() - t0
        with np.load(folder / "labels.npz", allow_pickle=False) as z:
            n = int(z["y"].max()) + 1
            fs = FeatureSet(
                X=X,
                y=z["y"],
                track_ids=z["track_ids"],
                segment_index=z["segment_index"],
                classes=tuple(f"c{i}" for i in range(n)),
            )
        cfg = TrainConfig(
            model=args.model,
            split="track",
            recipe=args.recipe,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=0,
        )
        with tempfile.TemporaryDirectory() as runs:
            fit_peak = []  # the peak so far at each epoch's end: the training alone, before test and trust checks
            run = train(fs, cfg, root=runs, run_id="bench", on_epoch=lambda e: fit_peak.append(peak.anon))
            history = run.history
    after = _status()
    return {
        "mode": mode,
        "rows": int(X.shape[0]),
        "gb": X.nbytes / 1e9,
        "train_rows": int(run.manifest["split"]["segments"]["train"]),
        "load_s": load_s,
        "epoch_s": [round(s, 2) for s in history["seconds"]],
        "val_accuracy": history["val_accuracy"][-1],
        "anon_before": before["RssAnon"],
        "anon_peak": peak.anon,
        "anon_fit": fit_peak[-1],
        "hwm": after["VmHWM"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="300000", help="comma-separated table sizes in rows (default 300000, 2.0 GB)")
    ap.add_argument("--modes", default="memmap,memory")
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--recipe", default="improved")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--dir", default=None, help="where the tables go (default: a folder under /tmp, kept)")
    ap.add_argument("--child", nargs=2, metavar=("FOLDER", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), args.child[1], args)))
        return 0
    base = Path(args.dir or Path(tempfile.gettempdir()) / "mgc-bench-stream")
    results = []
    load0 = os.getloadavg()
    for rows in (int(r) for r in args.rows.split(",")):
        folder = write_table(base / f"rows{rows}", rows)
        for mode in args.modes.split(","):
            cmd = [sys.executable, __file__, "--child", str(folder), mode]
            cmd += ["--model", args.model, "--recipe", args.recipe, "--epochs", str(args.epochs)]
            cmd += ["--batch-size", str(args.batch_size)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode:
                print(f"{mode} at {rows} rows failed:\n{out.stderr[-2000:]}", file=sys.stderr)
                continue
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"done: {mode} {rows} rows, load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    load1 = os.getloadavg()
    gb = 1024**3
    print(
        f"\n{args.model}, recipe {args.recipe}, batch {args.batch_size}, {args.epochs} epoch(s), track split; "
        f"load average {load0[0]:.1f} before, {load1[0]:.1f} after ({os.cpu_count()} cores)\n"
    )
    print(
        "| rows | table GB | path | train rows | load s | s/epoch | peak anon RSS GiB: training (TF alone) | "
        "whole run | peak total RSS GiB (incl. mapped file) | val acc |"
    )
    print("| ---: | ---: | :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['rows']:,} | {r['gb']:.2f} | {r['mode']} | {r['train_rows']:,} | {r['load_s']:.2f} | "
            f"{' / '.join(f'{s:.1f}' for s in r['epoch_s'])} | "
            f"{r['anon_fit'] / gb:.2f} ({r['anon_before'] / gb:.2f}) | {r['anon_peak'] / gb:.2f} | "
            f"{r['hwm'] / gb:.2f} | {r['val_accuracy']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
