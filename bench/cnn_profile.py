"""Benchmark: where a real training step of the study's CNN spends its time, op type by op type, per build.

Trains the CNN as :func:`mgc.training.train` compiles it (fused Adam, 16 steps per call, op determinism on)
on ``--segments`` synthetic 130 x 13 segments, one warm-up epoch, then ``--epochs`` epochs under
TensorFlow's profiler, once with Keras's layers and once with the fast path's (``fused=True``: the C++
kernels of :mod:`mgc.models.kernels`). Prints a markdown table: per op type, milliseconds of self time
per training step summed over threads (idle time left out), for both builds, and each build's total.
The profiler's own overhead inflates every number alike; compare columns, not absolute times.

Usage::

    python bench/cnn_profile.py
    python bench/cnn_profile.py --segments 2048 --epochs 2 --top 25
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
from pathlib import Path

from _timing import load_line  # bench/ is first on sys.path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _op_self_times(logdir: str) -> dict[str, float]:
    """Op type -> microseconds of self time, from the profile in ``logdir`` (TensorFlow's framework_op_stats)."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    paths = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
    data, ok = plugin.xspace_to_tools_data(paths, "framework_op_stats", {})
    if not ok:
        raise RuntimeError(f"the profiler could not read {logdir}: {data[:200]!r}")
    table = json.loads(data)
    table = table[0] if isinstance(table, list) else table
    cols = [c["id"] for c in table["cols"]]
    out: dict[str, float] = {}
    for row in table["rows"]:
        cell = {c: (v or {}).get("v") for c, v in zip(cols, row["c"], strict=False)}
        if cell["type"] != "IDLE":
            out[cell["type"]] = out.get(cell["type"], 0.0) + float(cell["total_self_time"])
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--segments", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--top", type=int, default=18, help="op types shown (the rest summed in one row)")
    args = p.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    from mgc.models import build, fused_classes, kernels

    tf.config.experimental.enable_op_determinism()
    before = os.getloadavg()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.segments, 130, 13)).astype(np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 10, args.segments), 10)
    steps = args.epochs * -(-args.segments // 32)
    per_build = {}
    for fused in (False, True):
        keras.utils.set_random_seed(0)
        model = build("cnn", (130, 13), 10, fused=fused)
        model.compile(
            optimizer=fused_classes()[1](learning_rate=1e-3),
            loss="categorical_crossentropy",
            metrics=["accuracy", keras.metrics.RootMeanSquaredError(name="rmse")],
            steps_per_execution=16,
        )
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # traces the graph
        with tempfile.TemporaryDirectory() as logdir:
            tf.profiler.experimental.start(logdir)
            model.fit(x, y, batch_size=32, epochs=args.epochs, verbose=0)
            tf.profiler.experimental.stop()
            per_build[fused] = _op_self_times(logdir)

    plain, fast = per_build[False], per_build[True]
    ranked = sorted(set(plain) | set(fast), key=lambda op: -max(plain.get(op, 0.0), fast.get(op, 0.0)))
    shown, rest = ranked[: args.top], ranked[args.top :]
    print(
        f"CNN training step, batch 32, {args.segments} synthetic segments, {args.epochs} profiled epochs "
        f"({steps} steps); op self time in ms per step, summed over threads. Kernels: "
        f"{'loaded' if kernels.load() else 'NOT loaded: ' + str(kernels.unavailable_reason())}."
    )
    print()
    print("| op type | Keras layers | fast path (kernels) |")
    print("|---|---:|---:|")

    def ms(table, op):
        v = table.get(op)
        return "–" if v is None else f"{v / 1e3 / steps:.2f}"

    for op in shown:
        print(f"| {op} | {ms(plain, op)} | {ms(fast, op)} |")
    if rest:
        other_p = sum(plain.get(op, 0.0) for op in rest) / 1e3 / steps
        other_f = sum(fast.get(op, 0.0) for op in rest) / 1e3 / steps
        print(f"| {len(rest)} other op types | {other_p:.2f} | {other_f:.2f} |")
    print(f"| **total** | **{sum(plain.values()) / 1e3 / steps:.2f}** | **{sum(fast.values()) / 1e3 / steps:.2f}** |")
    print()
    print(load_line(before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
