"""Choose the improved recipe on artists the models never heard: variants on the fault-filtered valid part.

    python tools/select_recipe.py [--data ../shared/data/gtzan-mini] [--models mlp,cnn,lstm]
        [--variants study,improved] [--variant NAME=RECIPE[:JSON overrides]] [--out DIR] [--report]

Every variant is trained on the fault-filtered split tested on valid (the valid list is the test part,
the validation part comes from the train list) and scored on the valid part, paired by track against
the study recipe. Nothing here touches the fault-filtered test part, which stays held out. Results land
as one JSON file per (variant, model) in --out (default artifacts/comparisons/gtzan10-ff-valid), so the
script resumes after an interruption and several processes can share the work (--models).

Example: --variant balanced=improved:'{"class_weight": false, "balanced_sampling": true}'
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from mgc.dataset import make_split
from mgc.features import extract_dataset
from mgc.runs import load_run, runs_dir
from mgc.training import RECIPES, cross_validate, load_results, parse_variant, summarize

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "gtzan-mini"))
    p.add_argument("--models", default="mlp,cnn,lstm")
    p.add_argument("--variants", default="study,improved", help="plain recipe names")
    p.add_argument("--variant", action="append", default=[], help="NAME=RECIPE[:JSON overrides], repeatable")
    p.add_argument("--out", default=str(ROOT / "artifacts" / "comparisons" / "gtzan10-ff-valid"))
    p.add_argument("--report", action="store_true", help="only summarise the results in --out")
    p.add_argument(
        "--reuse",
        default="gtzan10-ff",
        help="take the study and improved results from the runs PREFIX-<recipe>-<model> where they "
        "exist (the reference runs: same settings, same split); '' to train them again",
    )
    args = p.parse_args()
    if not args.report:
        texts = [*filter(None, args.variants.split(",")), *args.variant]
        variants = dict(parse_variant(v, split="fault-filtered") for v in texts)
        fs = extract_dataset(args.data)

        def splits(cfg):  # per variant: a variant may hold out another share of the train list for validation
            return [
                make_split(
                    "fault-filtered",
                    y=fs.y,
                    track_ids=fs.track_ids,
                    evaluate_on="valid",
                    validation_size=cfg.validation_size,
                    seed=cfg.seed,
                    classes=fs.classes,
                )
            ]

        t0 = time.perf_counter()

        def show(row):
            print(
                f"[{time.perf_counter() - t0:7.0f} s] {row['variant']:>18} {row['model']:>4}: track "
                f"{row['track_accuracy']:.3f}  balanced {row['track_balanced_accuracy']:.3f}  "
                f"loss {row['loss']:.3f}  epochs {row['epochs_run']}",
                flush=True,
            )

        reuse = {}
        for name in variants:
            for model in args.models.split(","):
                rid = f"{args.reuse}-{name}-{model}"
                if args.reuse and name in RECIPES and (runs_dir() / rid).is_dir():
                    run = load_run(rid)
                    if run.manifest["dataset"].get("fingerprint") == fs.fingerprint:  # made on these very tracks
                        reuse[(name, model, 0)] = run
        cross_validate(
            fs, variants, out_dir=args.out, models=args.models.split(","), splits=splits, on_result=show, reuse=reuse
        )
    df = summarize(load_results(args.out))
    df.to_csv(Path(args.out) / "summary.csv", index=False)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(df.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
