"""Benchmark: the fused LSTM's parts per batch (``mgc.models.fused.LSTM_PARTS``), and its transposes.

Prints two markdown tables:

* seconds per training epoch of the study's RNN-LSTM on the fast path (:func:`mgc.training.train`'s
  network, optimiser and compile options: fused LSTM and Adam, 16 steps per call, op determinism
  on) with each batch cut into 1, 2, 3 or 4 parts (``--parts``), and on the path before (Keras's
  LSTM and Adam, one step per call) as the reference; synthetic segments of 130 x 13, 10 classes,
  batch 32; one warm-up epoch (tracing) then ``--epochs`` timed epochs; all settings interleaved
  in one process over ``--rounds`` rounds (the order reversed in odd rounds); wall and CPU seconds
  (``time.process_time``: every thread of the process) and the 1-min load of each. When the load is
  high (other jobs on the cores) wall time measures the queue: compare CPU seconds then; with load
  below the core count, wall time is the user's.
* CPU milliseconds of the two LSTM layers alone (forwards and gradients of one batch), per count of
  parts, against the whole step: what is left outside the LSTM;
* CPU milliseconds per training step of the transposes around the kernel (the batch-major input to
  time-major and back, forwards and their gradients, at the shapes of both layers), each alone in a
  ``tf.function`` (median of ``--repeats``), against the CPU milliseconds of a whole step (the
  epoch's CPU seconds over its steps): what removing every transpose could win at most.

Usage::

    python bench/lstm_parts.py                                   # 2,000 segments, parts 1-4, 3 rounds
    python bench/lstm_parts.py --segments 2000 --epochs 2 --rounds 3 --parts 1,2,3,4
    python bench/lstm_parts.py --parts 1,2 --no-before --intra-op 1 --inter-op 2   # one thread per kernel
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
from _timing import epoch_clock, load_line  # bench/ is first on sys.path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

SHAPE = (130, 13)
N_CLASSES = 10
UNITS = 64  # both LSTM layers of the study's network (mgc.models.build_lstm)


def epoch_seconds(setting, *, n: int, batch_size: int, epochs: int, seed: int = 0) -> dict:
    """Wall and CPU seconds of each timed epoch, the warm-up epoch's wall seconds, for one setting.

    ``setting`` is ``"before"`` (the path before: Keras's LSTM, one step per call) or a count of parts.
    """
    from mgc.models import fused_classes, seeded_keras
    from mgc.training import TrainConfig
    from mgc.training.fit import _compiled_model

    keras = seeded_keras(seed)  # as mgc.training.train does
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, *SHAPE), dtype=np.float32)
    y = np.eye(N_CLASSES, dtype=np.float32)[rng.integers(0, N_CLASSES, n)]
    fast = setting != "before"
    cfg = TrainConfig(model="lstm", batch_size=batch_size, fast=fast, seed=seed).resolved()
    model = _compiled_model(keras, cfg, X, np.arange(n), SHAPE, N_CLASSES)
    FusedLSTM = fused_classes()[0]
    layers = [layer for layer in model.layers if isinstance(layer, FusedLSTM)]
    assert len(layers) == (2 if fast else 0), "the fast path's network has two fused LSTM layers"
    for layer in layers:
        layer.parts = setting  # before the first call: the step is traced with it
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
    keras.backend.clear_session()
    return {"wall": wall[1:], "cpu": cpu[1:], "warmup": wall[0]}


def transpose_ms(*, batch_size: int, repeats: int) -> dict[str, float]:
    """CPU ms of one transpose (batch-major <-> time-major) at each of the shapes a training step transposes.

    Each alone in a ``tf.function`` that returns it (so that it is computed), less the same function
    returning its input (the call's own cost); the median of ``repeats`` times 10 calls.
    """
    import tensorflow as tf

    @tf.function
    def transpose(x):
        return tf.transpose(x, (1, 0, 2))

    @tf.function
    def call_only(x):
        return tf.identity(x)

    def ms(f, x):
        f(x)
        times = []
        for _ in range(repeats):
            c = time.process_time()
            for _ in range(10):
                f(x).numpy()
            times.append((time.process_time() - c) / 10 * 1e3)
        return statistics.median(times)

    rng = np.random.default_rng(1)
    out = {}
    for name, shape in {  # batch-major shapes; each time-major shape is their transpose, the same cost
        "layer 1 input (32x130x13)": (batch_size, SHAPE[0], SHAPE[1]),
        "layer 1 output / layer 2 input (32x130x64)": (batch_size, SHAPE[0], UNITS),
    }.items():
        x = tf.constant(rng.standard_normal(shape, dtype=np.float32))
        out[name] = max(0.0, ms(transpose, x) - ms(call_only, x))
    return out


def layers_ms(parts, *, batch_size: int, repeats: int) -> float:
    """CPU ms of the network's two fused LSTM layers alone, forwards and gradients, for one batch.

    The layers as :func:`mgc.models.build_lstm` makes them (64 units, sequences from the first), in one
    ``tf.function`` with a loss over the second's output; the median of ``repeats`` times 5 calls.
    """
    import keras
    import tensorflow as tf

    from mgc.models import fused_classes

    FusedLSTM = fused_classes()[0]
    first, second = FusedLSTM(UNITS, return_sequences=True), FusedLSTM(UNITS)
    first.parts = second.parts = parts
    x = tf.constant(np.random.default_rng(2).standard_normal((batch_size, *SHAPE), dtype=np.float32))
    second(first(x))  # builds the weights
    weights = [*first.trainable_weights, *second.trainable_weights]

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(second(first(x)))
        return tape.gradient(loss, weights)

    step(x)
    times = []
    for _ in range(repeats):
        c = time.process_time()
        for _ in range(5):
            [g.numpy() for g in step(x)]
        times.append((time.process_time() - c) / 5 * 1e3)
    keras.backend.clear_session()
    return statistics.median(times)


def _spread(values) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--segments", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=2, help="timed epochs per setting and round (after 1 warm-up)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--parts", default="1,2,3,4", help="comma-separated counts of parts per batch")
    p.add_argument("--no-before", action="store_true", help="leave out the path before (Keras's LSTM)")
    p.add_argument("--repeats", type=int, default=20, help="repeats of the transposes' timing")
    p.add_argument("--intra-op", type=int, default=0, help="TensorFlow's intra-op threads (0: its default, the cores)")
    p.add_argument("--inter-op", type=int, default=0, help="TensorFlow's inter-op threads (0: its default, the cores)")
    args = p.parse_args(argv)
    if args.intra_op or args.inter_op:  # process-wide, before TensorFlow runs anything
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    settings = ([] if args.no_before else ["before"]) + [int(k) for k in args.parts.split(",")]
    load0 = os.getloadavg()
    res = {s: [] for s in settings}
    for r in range(args.rounds):
        for s in settings if r % 2 == 0 else settings[::-1]:
            load = os.getloadavg()[0]
            print(f"round {r + 1}/{args.rounds}: {s} ...", file=sys.stderr, flush=True)
            t = epoch_seconds(s, n=args.segments, batch_size=args.batch_size, epochs=args.epochs)
            res[s].append((statistics.median(t["wall"]), statistics.median(t["cpu"]), t["warmup"], load))
            print(f"  wall {t['wall']}, cpu {t['cpu']}, warm-up {t['warmup']:.1f} s, load {load:.1f}", file=sys.stderr)
    ref = 1 if 1 in res else None
    print(
        f"RNN-LSTM (study network, 2 x LSTM 64), {args.segments:,} segments of 130x13, batch {args.batch_size}; "
        f"per round and setting the median of {args.epochs} epochs after 1 warm-up; {args.rounds} rounds, "
        "interleaved. Median over rounds (range); speed-ups paired per round. TensorFlow's threads: intra-op "
        f"{args.intra_op or 'default'}, inter-op {args.inter_op or 'default'}; {os.cpu_count()} cores."
    )
    print()
    head = "| setting | s / epoch (wall) | CPU s / epoch | warm-up epoch (wall s) "
    if "before" in res:
        head += "| vs before (wall) | vs before (CPU) "
    if ref:
        head += "| vs 1 part (wall) | vs 1 part (CPU) "
    head += "| load (1 min) |"
    print(head)
    print("|---" + "|---:" * (head.count("|") - 2) + "|")
    for s, rows in res.items():
        name = "before (Keras LSTM, 1 step per call)" if s == "before" else f"fast, {s} part{'s' * (s > 1)}"
        line = f"| {name} | {_spread([v[0] for v in rows])} | {_spread([v[1] for v in rows])} "
        line += f"| {_spread([v[2] for v in rows])} "
        for other in (["before"] if "before" in res else []) + ([ref] if ref else []):
            line += f"| {_spread([a[0] / b[0] for a, b in zip(res[other], rows, strict=True)])}× "
            line += f"| {_spread([a[1] / b[1] for a, b in zip(res[other], rows, strict=True)])}× "
        loads = [v[3] for v in rows]
        print(line + f"| {min(loads):.1f}–{max(loads):.1f} |")
    steps = -(-int(args.segments) // args.batch_size)
    step_cpu = {s: statistics.median(v[1] for v in rows) / steps * 1e3 for s, rows in res.items() if s != "before"}
    ms = transpose_ms(batch_size=args.batch_size, repeats=args.repeats)
    print()
    print(
        "The transposes around the kernel: CPU ms of one (alone in a tf.function, less the call's own cost). "
        "A step transposes the 13-wide input once "
        "(it needs no gradient) and the 64-wide tensor between the layers 4 times (layer 1's output and "
        "layer 2's input, each forwards and in the gradients)."
    )
    print()
    print("| tensor | CPU ms per transpose | per step |")
    print("|---|---:|---:|")
    narrow, wide = ms.values()
    for (name, v), times in zip(ms.items(), (1, 4), strict=True):
        print(f"| {name} | {v:.3f} | {v * times:.2f} |")
    print(f"| all of a step | | {narrow + 4 * wide:.2f} |")
    print()
    print(
        "Whole step, CPU ms (epoch CPU s / steps): "
        + ", ".join(f"{s} part{'s' * (s > 1)} {v:.1f}" for s, v in step_cpu.items())
        + "."
    )
    fused = [k for k in settings if k != "before"]
    alone = {k: layers_ms(k, batch_size=args.batch_size, repeats=args.repeats) for k in fused}
    print()
    print(
        "The two LSTM layers alone (forwards and gradients of one batch, no optimiser, no dense layers), CPU ms: "
        + ", ".join(f"{k} part{'s' * (k > 1)} {v:.1f} ({v / step_cpu[k]:.0%} of the step)" for k, v in alone.items())
        + "."
    )
    print()
    print(load_line(load0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
