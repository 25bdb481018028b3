"""Benchmark: candidate execution settings for training the study's networks, each in a fresh process.

Prints a markdown table: per model and candidate, wall and CPU seconds per epoch (median over the
timed epochs of ``--rounds`` fresh processes, candidates interleaved round by round), the paired
CPU speed-up against the first candidate, whether two runs of the candidate gave bit-for-bit the
same history (every epoch's loss and accuracy, and the final weights), and the load.

A candidate sets how the training step executes; the network, the data (synthetic, ``--segments``
of 130 x 13, 10 classes), the seed and the optimiser stay the same:

* ``spe``: steps per call of Keras's compiled loop (``steps_per_execution``);
* ``jit``: XLA (``jit_compile=True``); Keras ignores it while TensorFlow's op determinism is on;
* ``det``: TensorFlow's op determinism (``tf.config.experimental.enable_op_determinism``);
* ``onednn``: ``TF_ENABLE_ONEDNN_OPTS`` (set before TensorFlow is imported);
* ``threads``: TensorFlow's intra-/inter-op thread counts;
* ``fused``: the LSTM and Adam as fused TensorFlow kernels (:mod:`mgc.models.fused`);
* ``data``: ``numpy`` (arrays to ``fit``, as :func:`mgc.training.train`) or ``tfdata`` (a
  ``tf.data`` pipeline: shuffled slices, batch, prefetch).

Usage::

    python bench/train_candidates.py --models cnn --candidates base,xla --segments 2000 --rounds 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys

from _timing import epoch_clock, load_line  # bench/ is first on sys.path

#: name -> settings (see the module docstring); ``base`` is the fast path before this benchmark.
CANDIDATES = {
    "old": {"spe": 1, "jit": False, "det": True},
    "base": {"spe": 16, "jit": False, "det": True},
    "nodet": {"spe": 16, "jit": False, "det": False},
    "xla": {"spe": 16, "jit": True, "det": False},
    "xla1": {"spe": 1, "jit": True, "det": False},
    "xla64": {"spe": 64, "jit": True, "det": False},
    "onednn0": {"spe": 16, "jit": False, "det": True, "onednn": "0"},
    "onednn1": {"spe": 16, "jit": False, "det": True, "onednn": "1"},
    "xla-onednn0": {"spe": 16, "jit": True, "det": False, "onednn": "0"},
    "fused": {"spe": 16, "jit": False, "det": True, "fused": True},
    "fused-threads1-1": {"spe": 16, "jit": False, "det": True, "fused": True, "threads": [1, 1]},
    "tfdata": {"spe": 16, "jit": False, "det": True, "data": "tfdata"},
    "xla-tfdata": {"spe": 16, "jit": True, "det": False, "data": "tfdata"},
    "threads1-1": {"spe": 16, "jit": False, "det": True, "threads": [1, 1]},
    "threads2-1": {"spe": 16, "jit": False, "det": True, "threads": [2, 1]},
    "xla-threads2-1": {"spe": 16, "jit": True, "det": False, "threads": [2, 1]},
    "xla-threads1-1": {"spe": 16, "jit": True, "det": False, "threads": [1, 1]},
}

SHAPE = (130, 13)
N_CLASSES = 10


def child(spec: dict) -> dict:
    """In this (fresh) process: train ``spec['model']`` with the candidate's settings; times and a digest."""
    import numpy as np
    import tensorflow as tf

    threads = spec.get("threads")
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads[0])
        tf.config.threading.set_inter_op_parallelism_threads(threads[1])
    import keras

    from mgc.models import STUDY_LEARNING_RATE, build, fused_classes

    keras.utils.set_random_seed(spec["seed"])
    if spec["det"]:
        tf.config.experimental.enable_op_determinism()
    rng = np.random.default_rng(spec["seed"])
    n, batch = spec["n"], spec["batch"]
    X = rng.standard_normal((n, *SHAPE), dtype=np.float32)
    y = np.eye(N_CLASSES, dtype=np.float32)[rng.integers(0, N_CLASSES, n)]
    fused = spec.get("fused", False)
    model = build(spec["model"], SHAPE, N_CLASSES, **({"fused": fused} if spec["model"] == "lstm" else {}))
    adam = fused_classes()[1] if fused else keras.optimizers.Adam
    model.compile(
        optimizer=adam(learning_rate=STUDY_LEARNING_RATE[spec["model"]]),
        loss="categorical_crossentropy",
        metrics=["accuracy", keras.metrics.RootMeanSquaredError(name="rmse")],
        jit_compile=spec["jit"],
        steps_per_execution=spec["spe"],
    )
    wall, cpu = [], []

    epochs = 1 + spec["epochs"]
    if spec.get("data") == "tfdata":
        ds = (
            tf.data.Dataset.from_tensor_slices((X, y))
            .shuffle(n, seed=spec["seed"], reshuffle_each_iteration=True)
            .batch(batch)
            .prefetch(tf.data.AUTOTUNE)
        )
        h = model.fit(ds, epochs=epochs, verbose=0, callbacks=[epoch_clock(keras, wall, cpu)])
    else:
        h = model.fit(
            X, y, epochs=epochs, batch_size=batch, shuffle=True, verbose=0, callbacks=[epoch_clock(keras, wall, cpu)]
        )
    digest = hashlib.sha256()
    for k in sorted(h.history):
        digest.update(np.asarray(h.history[k], dtype=np.float64).tobytes())
    for w in model.get_weights():
        digest.update(np.ascontiguousarray(w).tobytes())
    return {
        "wall": wall[1:],
        "cpu": cpu[1:],
        "first_wall": wall[0],
        "digest": digest.hexdigest()[:12],
        "loss": [float(v) for v in h.history["loss"]],
        "jit_used": bool(getattr(model, "jit_compile", False)),
    }


def run_child(spec: dict) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    if spec.get("onednn") is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = spec["onednn"]
    p = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True, env=env)
    if p.returncode:
        raise RuntimeError(f"candidate {spec} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def _spread(values) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="mlp,cnn,lstm")
    p.add_argument("--candidates", default="base,xla", help=f"comma-separated, of {', '.join(CANDIDATES)}")
    p.add_argument("--segments", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=2, help="timed epochs after one warm-up (default 2)")
    p.add_argument("--rounds", type=int, default=2, help="fresh processes per candidate (default 2)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    models = args.models.split(",")
    names = args.candidates.split(",")
    unknown = [c for c in names if c not in CANDIDATES]
    if unknown:
        p.error(f"unknown candidates {unknown}; choose from {', '.join(CANDIDATES)}")
    before = os.getloadavg()
    print(f"CPU: {os.cpu_count()} cores; load (1/5/15 min) before: {before[0]:.2f} / {before[1]:.2f} / {before[2]:.2f}")
    res = {m: {c: [] for c in names} for m in models}
    for r in range(args.rounds):
        for m in models:
            order = names if r % 2 == 0 else names[::-1]
            for c in order:
                spec = {
                    **CANDIDATES[c],
                    "model": m,
                    "n": args.segments,
                    "batch": args.batch_size,
                    "epochs": args.epochs,
                    "seed": 0,
                }
                load = os.getloadavg()[0]
                out = run_child(spec)
                out["load"] = load
                res[m][c].append(out)
                print(
                    f"round {r + 1}: {m} {c}: wall {out['wall']}, cpu {out['cpu']}, first {out['first_wall']:.1f} s,"
                    f" digest {out['digest']}, jit {out['jit_used']}, load {load:.1f}",
                    file=sys.stderr,
                    flush=True,
                )
    print()
    print(
        f"{args.segments:,} synthetic segments of 130x13, batch {args.batch_size}; per process the median of "
        f"{args.epochs} epochs after a warm-up; {args.rounds} fresh processes per candidate, interleaved. "
        f"Speed-up: CPU seconds of {names[0]} / candidate, paired by round. Repeats: the same history and weights "
        "in every process of the candidate."
    )
    print()
    print("| model | candidate | s / epoch (wall) | CPU s / epoch | CPU speed-up | first epoch (s) | repeats | load |")
    print("|---|---|---:|---:|---:|---:|---|---:|")
    for m in models:
        ref = [statistics.median(o["cpu"]) for o in res[m][names[0]]]
        for c in names:
            outs = res[m][c]
            walls = [statistics.median(o["wall"]) for o in outs]
            cpus = [statistics.median(o["cpu"]) for o in outs]
            ups = [a / b for a, b in zip(ref, cpus, strict=True)]
            same = "yes" if len({o["digest"] for o in outs}) == 1 else "no"
            loads = [o["load"] for o in outs]
            print(
                f"| {m} | {c} | {_spread(walls)} | {_spread(cpus)} | {_spread(ups)}× "
                f"| {statistics.median(o['first_wall'] for o in outs):.1f} | {same} "
                f"| {min(loads):.1f}–{max(loads):.1f} |"
            )
    print()
    print(load_line(before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
