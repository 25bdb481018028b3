"""Benchmark: training speed of the study's three networks, and the cost of classifying a clip.

Prints a markdown table:

* seconds per training epoch of each model (mlp, cnn, lstm) at full-GTZAN size: about 7,000
  training segments of 130 x 13 (synthetic random values), 10 classes, batch 32, compiled as
  :func:`mgc.training.train` compiles (Adam, cross-entropy, accuracy + RMSE; op determinism on),
  on both execution paths (``TrainConfig.fast``: 16 steps per call of Keras's loop, the default,
  and one step per call, the path before), interleaved over ``--rounds`` rounds in
  one process, with wall and CPU seconds and the load of each: the machine may be shared.
  One warm-up epoch (tracing, compiling) is run first, then ``--epochs`` timed epochs.
* seconds to load a stored run and classify one 30-s clip (decode, 10 windows of MFCCs, predict):
  *cold* is the first load and first prediction in a fresh process (measured in a subprocess,
  after its imports, which are reported apart), *warm* is with the model already loaded
  (median of ``--repeats`` calls).

Runs are made by a tiny 1-epoch :func:`mgc.training.train` in a temporary folder that is deleted.
The CPU load (``os.getloadavg``) before and after is printed: the numbers are only comparable
on an otherwise idle machine.

Usage::

    python bench/train.py                       # full size, all three models
    python bench/train.py --segments 2000 --epochs 2 --rounds 5 --models mlp,cnn
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _timing import epoch_clock  # bench/ is first on sys.path

from mgc.config import STUDY_MODELS as MODELS  # the networks on 130 x 13 MFCCs (not the transfer head)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

PROJECT = Path(__file__).resolve().parents[1]

# Keras warns that each new model retraces predict: expected here (one model after the other)
logging.getLogger("tensorflow").setLevel(logging.ERROR)

SHAPE = (130, 13)
N_CLASSES = 10


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


# --------------------------------------------------------------------------- #
# Training speed
# --------------------------------------------------------------------------- #
#: The two execution paths of :func:`mgc.training.train` (``TrainConfig.fast``), the old one first.
PATHS = {"before": False, "fast": True}


def epoch_seconds(
    model_name: str, *, n: int, batch_size: int, epochs: int, fast: bool = True, seed: int = 0
) -> tuple[list[float], list[float], int]:
    """Wall and CPU seconds of each timed epoch (after one warm-up epoch) and the parameter count.

    Built and compiled as :func:`mgc.training.train` does for the study recipe (``fit._compiled_model``:
    on the fast path the fused LSTM and Adam of :mod:`mgc.models.fused` and 16 steps per call).
    """
    from mgc.models import seeded_keras
    from mgc.training import TrainConfig
    from mgc.training.fit import _compiled_model

    keras = seeded_keras(seed)  # as mgc.training.train does
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, *SHAPE), dtype=np.float32)
    y = np.eye(N_CLASSES, dtype=np.float32)[rng.integers(0, N_CLASSES, n)]
    # the study recipe's network, optimiser and compile options, as mgc.training.train makes them
    cfg = TrainConfig(model=model_name, batch_size=batch_size, fast=fast, seed=seed).resolved()
    model = _compiled_model(keras, cfg, X, np.arange(n), SHAPE, N_CLASSES)
    wall: list[float] = []
    cpu: list[float] = []

    model.fit(
        X,
        y,
        epochs=1 + epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[epoch_clock(keras, wall, cpu)],
    )
    params = int(model.count_params())
    keras.backend.clear_session()
    return wall[1:], cpu[1:], params


def compare_paths(models, *, n: int, batch_size: int, epochs: int, rounds: int) -> dict:
    """Both paths of every model, interleaved: in each round, before then fast (fast first in odd rounds).

    Returns ``{model: {"params": int, path: [(wall median, cpu median, load), ...] per round}}``.
    """
    out = {m: {"params": 0, **{p: [] for p in PATHS}} for m in models}
    for r in range(rounds):
        for m in models:
            order = list(PATHS) if r % 2 == 0 else list(PATHS)[::-1]
            for path in order:
                load = os.getloadavg()[0]
                print(f"round {r + 1}/{rounds}: {m} on the {path} path ...", file=sys.stderr, flush=True)
                wall, cpu, params = epoch_seconds(m, n=n, batch_size=batch_size, epochs=epochs, fast=PATHS[path])
                out[m]["params"] = params
                out[m][path].append((statistics.median(wall), statistics.median(cpu), load))
                print(
                    f"  wall {', '.join(f'{s:.2f}' for s in wall)} s, cpu {', '.join(f'{s:.2f}' for s in cpu)} s,"
                    f" load {load:.1f}",
                    file=sys.stderr,
                    flush=True,
                )
    return out


def _spread(values) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def print_comparison(res: dict, *, n: int, batch_size: int, epochs: int, rounds: int) -> None:
    """The before/after table: per model and path, medians over rounds (ranges), and the paired speed-ups."""
    print(
        f"Training: {n:,} segments of 130x13, {N_CLASSES} classes, batch {batch_size}; per round and path the "
        f"median of {epochs} epochs after 1 warm-up; {rounds} rounds, paths interleaved. Wall and CPU seconds "
        "per epoch: median over rounds (range). Speed-up: per round before / fast, paired (median, range)."
    )
    print()
    print(
        "| model | parameters | before: s / epoch | fast: s / epoch | speed-up (wall) | before: CPU s | fast: CPU s "
        "| speed-up (CPU) | load (1 min) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m, r in res.items():
        g, x = r["before"], r["fast"]
        wall_up = [a[0] / b[0] for a, b in zip(g, x, strict=True)]
        cpu_up = [a[1] / b[1] for a, b in zip(g, x, strict=True)]
        loads = [v[2] for v in g + x]
        print(
            f"| {m} | {r['params']:,} | {_spread([v[0] for v in g])} | {_spread([v[0] for v in x])} "
            f"| {_spread(wall_up)}× | {_spread([v[1] for v in g])} | {_spread([v[1] for v in x])} "
            f"| {_spread(cpu_up)}× | {min(loads):.1f}–{max(loads):.1f} |"
        )


# --------------------------------------------------------------------------- #
# Classification cost
# --------------------------------------------------------------------------- #
def augmentation_seconds(*, n: int, repeats: int = 5, seed: int = 0) -> float:
    """Median time to make one epoch of the improved recipe's training data: random windows, shuffle, mixup."""
    from mgc.training.augment import mixup, random_windows, training_runs

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 130, 13)).astype(np.float32)
    tracks = -(-n // 10)
    tid = np.repeat(np.arange(tracks).astype(str), 10)[:n]
    seg = np.tile(np.arange(10), tracks)[:n]
    runs = training_runs(X, track_ids=tid, segment_index=seg)
    onehot = np.eye(N_CLASSES, dtype=np.float32)[rng.integers(0, N_CLASSES, n)]
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        order = rng.permutation(n)
        mixup(random_windows(runs, rng)[order], onehot[order], alpha=0.4, rng=rng)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def make_runs(root: Path, models) -> dict[str, str]:
    """Train each model for 1 epoch on a tiny synthetic 10-class table; return model -> run id."""
    from mgc.features import FeatureSet
    from mgc.training import TrainConfig, train

    rng = np.random.default_rng(0)
    per_class, segs = 2, 5
    n = N_CLASSES * per_class * segs
    fs = FeatureSet(
        X=rng.standard_normal((n, *SHAPE), dtype=np.float32),
        y=np.repeat(np.arange(N_CLASSES), per_class * segs),
        track_ids=np.repeat([f"c{c}.{t:05d}" for c in range(N_CLASSES) for t in range(per_class)], segs),
        segment_index=np.tile(np.arange(segs), N_CLASSES * per_class),
        classes=tuple(f"c{c}" for c in range(N_CLASSES)),
        source="bench (synthetic)",
    )
    return {
        m: train(fs, TrainConfig(model=m, split="segment", epochs=1), root=root, run_id=f"bench-{m}").id for m in models
    }


def write_clip(path: Path, seconds: float = 30.0, sr: int = 22050) -> Path:
    import soundfile as sf

    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.random.default_rng(1).standard_normal(len(t))
    sf.write(path, y.astype(np.float32), sr, subtype="PCM_16")
    return path


def cold_child(root: str, ids: list[str], clip: str) -> None:
    """In a fresh process: time the imports, then the first load + classify. Prints JSON."""
    t0 = time.perf_counter()
    from mgc.analysis import classify
    from mgc.models import keras_module
    from mgc.runs import load_run

    keras_module()
    import tensorflow  # noqa: F401 - part of the import cost being measured

    t1 = time.perf_counter()
    runs = [load_run(i, root=root) for i in ids]
    for r in runs:
        r.model()
    t2 = time.perf_counter()
    classify(clip, runs)
    t3 = time.perf_counter()
    print(json.dumps({"import": t1 - t0, "load": t2 - t1, "first_classify": t3 - t2}))


def cold(root: Path, ids: list[str], clip: Path) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    p = subprocess.run(
        [sys.executable, __file__, "--cold-child", str(root), str(clip), *ids],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(p.stdout.strip().splitlines()[-1])


def warm(root: Path, ids: list[str], clip: Path, repeats: int) -> float:
    from mgc.analysis import classify
    from mgc.runs import load_run

    runs = [load_run(i, root=root) for i in ids]
    classify(clip, runs)  # loads the models and traces predict
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        classify(clip, runs)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def features_only(clip: Path, repeats: int) -> float:
    """Decode + windows + MFCC of the clip, without any model (the part every model shares)."""
    from mgc.audio import decode
    from mgc.features import clip_windows

    times = []
    for _ in range(repeats + 1):
        t = time.perf_counter()
        clip_windows(decode(clip).y)
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:])


# --------------------------------------------------------------------------- #
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--segments", type=int, default=7000, help="training segments (default 7000)")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs after one warm-up (default 3)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the two paths (default 3)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated, default mlp,cnn,lstm")
    p.add_argument("--repeats", type=int, default=5, help="warm classification calls timed (default 5)")
    p.add_argument("--skip-training", action="store_true", help="only the classification part")
    p.add_argument("--skip-classify", action="store_true", help="only the training comparison")
    p.add_argument("--cold-child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.cold_child:
        root, clip, *ids = args.cold_child
        cold_child(root, ids, clip)
        return 0

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        p.error(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
    load_before = _load()
    print(f"CPU: {os.cpu_count()} cores; load average (1/5/15 min) before: {load_before}", flush=True)

    train_rows, compared = {}, None
    if not args.skip_training:
        compared = compare_paths(
            models, n=args.segments, batch_size=args.batch_size, epochs=args.epochs, rounds=args.rounds
        )
        for m, r in compared.items():
            secs = [v[0] for v in r["fast"]]
            train_rows[m] = (statistics.median(secs), secs, r["params"])
    if args.skip_classify:
        if compared:
            print()
            print_comparison(
                compared, n=args.segments, batch_size=args.batch_size, epochs=args.epochs, rounds=args.rounds
            )
        print(f"Load average (1/5/15 min) before: {load_before}; after: {_load()}.")
        return 0

    with tempfile.TemporaryDirectory(prefix="mgc-bench-") as tmp:
        root = Path(tmp) / "runs"
        print("making tiny runs and timing classification ...", file=sys.stderr, flush=True)
        ids = make_runs(root, models)
        clip = write_clip(Path(tmp) / "clip30.wav")
        groups = [(m, [ids[m]]) for m in models]
        if len(models) > 1:
            groups.append(("all three", [ids[m] for m in models]))
        class_rows = {}
        for label, group in groups:
            c = cold(root, group, clip)
            class_rows[label] = (c, warm(root, group, clip, args.repeats))
        shared = features_only(clip, args.repeats)

    load_after = _load()
    print()
    if compared:
        print_comparison(compared, n=args.segments, batch_size=args.batch_size, epochs=args.epochs, rounds=args.rounds)
        print()
    print(
        f"Training (the default, fast path): {args.segments:,} segments of 130x13, {N_CLASSES} classes, "
        f"batch {args.batch_size}, "
        f"median over {args.rounds} rounds. Classification: one 30-s WAV "
        f"(decode + 10 windows + predict)."
    )
    print()
    print(
        "| model | parameters | s / epoch (median) | rounds (s) | cold: load (s) | cold: first classify (s) "
        "| warm classify (s) |"
    )
    print("|---|---:|---:|---|---:|---:|---:|")
    for label, _group in groups:
        c, w = class_rows[label]
        if label in train_rows:
            med, secs, params = train_rows[label]
            tr = f"{params:,} | {med:.2f} | {', '.join(f'{s:.2f}' for s in secs)}"
        else:
            tr = "- | - | -"
        print(f"| {label} | {tr} | {c['load']:.2f} | {c['first_classify']:.2f} | {w:.3f} |")
    imports = [c["import"] for c, _ in class_rows.values()]
    print()
    print(
        f"Imports in a fresh process (mgc + Keras + TensorFlow): {statistics.median(imports):.1f} s (median of "
        f"{len(imports)}), not included in the cold columns."
    )
    print(f"Decode + MFCC of the clip alone (no model): {shared:.3f} s (median of {args.repeats}).")
    print(
        f"Improved recipe's data per epoch (random windows + shuffle + mixup of {args.segments:,} segments): "
        f"{augmentation_seconds(n=args.segments, repeats=args.repeats):.3f} s (median of {args.repeats})."
    )
    print(f"Load average (1/5/15 min) before: {load_before}; after: {load_after}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
