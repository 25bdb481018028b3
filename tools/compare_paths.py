"""Equal accuracy check of the two training paths (``TrainConfig.fast``) on real GTZAN audio.

Trains the study's three networks with the study recipe on the fault-filtered split of the real
GTZAN subset beside the project (``../shared/data/gtzan-mini``), tested on its valid part (the
88 tracks of unseen artists), on both paths with the same seeds, in a temporary runs folder.
Prints a markdown table per network and seed: track accuracy (mean of the segment probabilities)
on each path, the tracks whose predicted genre differs between the paths, how many of those each
path got right (the discordant pairs) and McNemar's exact two-sided p-value on them; and, as the
yardstick of run-to-run noise, the same counts between two seeds on the fast path.

Usage::

    python tools/compare_paths.py --epochs 6 --seeds 0,1
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from mgc.config import STUDY_MODELS
from mgc.features import extract_dataset
from mgc.training import TrainConfig, train

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gtzan-mini"


def track_predictions(run) -> dict[str, tuple[int, int]]:
    """Track id -> (true class, predicted class by the mean of its segments' probabilities)."""
    p = run.predictions()
    out = {}
    for t in np.unique(p["track_ids"]):
        rows = p["track_ids"] == t
        out[str(t)] = (int(p["y_true"][rows][0]), int(np.argmax(p["probs"][rows].mean(axis=0))))
    return out


def mcnemar(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value of ``b`` and ``c`` discordant pairs (binomial, p = 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired(a: dict, b: dict) -> tuple[float, float, int, int, int, float]:
    """Accuracy of ``a`` and ``b``, tracks predicted differently, right only in a / only in b, McNemar p."""
    tracks = sorted(a)
    assert tracks == sorted(b), "both runs must test the same tracks"
    right_a = np.array([a[t][0] == a[t][1] for t in tracks])
    right_b = np.array([b[t][0] == b[t][1] for t in tracks])
    differ = sum(a[t][1] != b[t][1] for t in tracks)
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    return float(right_a.mean()), float(right_b.mean()), int(differ), only_a, only_b, mcnemar(only_a, only_b)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--epochs", type=int, default=6, help="epochs per run (the study's 100 take hours here)")
    p.add_argument("--seeds", default="0,1", help="comma-separated; two or more give the run-to-run yardstick")
    p.add_argument("--models", default=",".join(STUDY_MODELS))
    args = p.parse_args(argv)
    if not Path(args.data).is_dir():
        p.error(f"--data={args.data!r} is not a folder (the real GTZAN subset, ../shared/data/gtzan-mini)")
    seeds = [int(s) for s in args.seeds.split(",")]
    load0 = os.getloadavg()
    fs = extract_dataset(args.data)
    rows, noise = [], []
    with tempfile.TemporaryDirectory(prefix="mgc-paths-") as tmp:
        for model in args.models.split(","):
            fast_by_seed = {}
            for seed in seeds:
                preds, secs = {}, {}
                for path, fast in (("before", False), ("fast", True)):
                    cfg = TrainConfig(model=model, split="fault-filtered", epochs=args.epochs, seed=seed, fast=fast)
                    t = time.process_time()
                    run = train(fs, cfg, root=tmp, run_id=f"{model}-{path}-s{seed}")
                    secs[path] = time.process_time() - t
                    preds[path] = track_predictions(run)
                    print(f"{model} seed {seed} {path}: {secs[path]:.0f} CPU s", file=sys.stderr, flush=True)
                fast_by_seed[seed] = preds["fast"]
                rows.append((model, seed, *paired(preds["before"], preds["fast"]), len(preds["fast"])))
            for s0, s1 in zip(seeds, seeds[1:], strict=False):
                noise.append((model, f"{s0} vs {s1}", *paired(fast_by_seed[s0], fast_by_seed[s1])))
    print(
        f"Study recipe, fault-filtered split tested on its valid part, {args.epochs} epochs, real GTZAN subset "
        f"({fs.n_tracks} tracks). Track accuracy: mean of a track's segment probabilities. Discordant: tracks one "
        "path got right and the other wrong; McNemar: exact two-sided p on them."
    )
    print()
    print(
        "| network | seed | tracks | before: track acc | fast: track acc | tracks predicted differently "
        "| right only before | right only fast | McNemar p |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for model, seed, acc_a, acc_b, differ, only_a, only_b, pval, n in rows:
        print(f"| {model} | {seed} | {n} | {acc_a:.3f} | {acc_b:.3f} | {differ} | {only_a} | {only_b} | {pval:.2f} |")
    if noise:
        print()
        print(
            "Run-to-run yardstick: the fast path with two seeds (another split of nothing: the same tracks, "
            "another initialisation and order)."
        )
        print()
        print(
            "| network | seeds | first: track acc | second: track acc | tracks predicted differently "
            "| right only first | right only second | McNemar p |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for model, pair, acc_a, acc_b, differ, only_a, only_b, pval in noise:
            print(f"| {model} | {pair} | {acc_a:.3f} | {acc_b:.3f} | {differ} | {only_a} | {only_b} | {pval:.2f} |")
    load1 = os.getloadavg()
    print()
    print(
        f"Load (1/5/15 min) before: {' / '.join(f'{v:.2f}' for v in load0)}; "
        f"after: {' / '.join(f'{v:.2f}' for v in load1)}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
