"""Compare training recipes by 3-fold grouped cross-validation over tracks (run from the project root).

Artist-leaky: folds over GTZAN's tracks put songs of one artist on both sides. Use it to compare recipes
with each other on a collection without artist lists, never as a result; on GTZAN, choose recipes on the
fault-filtered valid part (tools/make_reference_runs.py, tools/unseen_artists.py).

    python tools/compare_recipes.py [--data ../shared/data/gtzan-mini] [--models mlp,cnn,lstm]
        [--variants study,improved] [--variant NAME=RECIPE[:JSON overrides]] [--out DIR] [--report]

Every (variant, model, fold) result lands as a JSON file in --out (default
artifacts/comparisons/gtzan-mini3cv), so the script resumes after an interruption
and several processes can share the work (give each other --models). --report
prints the summary table of what is there and writes summary.csv beside it.

Example of an extra variant: --variant improved-noise=improved:'{"input_noise": 0.2}'
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from mgc.features import extract_dataset
from mgc.training import cross_validate, load_results, parse_variant, summarize

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["classical", "jazz", "rock"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "gtzan-mini"))
    p.add_argument("--models", default="mlp,cnn,lstm")
    p.add_argument("--variants", default="study,improved", help="plain recipe names")
    p.add_argument("--variant", action="append", default=[], help="NAME=RECIPE[:JSON overrides], repeatable")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--fold-seed", type=int, default=0, help="seeds the folds (another seed: other folds)")
    p.add_argument("--out", default=str(ROOT / "artifacts" / "comparisons" / "gtzan-mini3cv"))
    p.add_argument("--report", action="store_true", help="only summarise the results in --out")
    args = p.parse_args()
    if not args.report:
        texts = [*filter(None, args.variants.split(",")), *args.variant]
        variants = dict(parse_variant(v, split="track") for v in texts)
        fs = extract_dataset(args.data, classes=CLASSES)
        t0 = time.perf_counter()

        def show(row):
            print(
                f"[{time.perf_counter() - t0:7.0f} s] {row['variant']:>18} {row['model']:>4} fold {row['fold']}: "
                f"track {row['track_accuracy']:.3f}  segment {row['segment_accuracy']:.3f}  "
                f"loss {row['loss']:.3f}  epochs {row['epochs_run']}",
                flush=True,
            )

        cross_validate(
            fs,
            variants,
            out_dir=args.out,
            models=args.models.split(","),
            n_folds=args.folds,
            seed=args.fold_seed,
            on_result=show,
        )
    df = summarize(load_results(args.out))
    df.to_csv(Path(args.out) / "summary.csv", index=False)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(df.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
