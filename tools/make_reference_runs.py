"""Train the reference runs that ship in artifacts/runs/ (run from the project root).

    python tools/make_reference_runs.py [--data ../shared/data/gtzan-mini] [--epochs N]

The real GTZAN subset in ../shared/data/gtzan-mini holds enough tracks for three
genres only (classical, jazz, rock; the other seven have one track each and are
dropped). Nine runs: the three models with the study's recipe on the study's
segment split and on the track split, and with the improved recipe on the track
split. The fault-filtered split cannot be used: every track of this subset is in
its train list.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mgc.extract import extract_dataset  # noqa: E402
from mgc.runs import delete_run, runs_dir  # noqa: E402
from mgc.train import TrainConfig, train  # noqa: E402

CLASSES = ["classical", "jazz", "rock"]
PLAN = [("segment", "study"), ("track", "study"), ("track", "improved")]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "gtzan-mini"))
    p.add_argument("--epochs", type=int, default=None, help="default: the recipe's (study 100, improved 60)")
    p.add_argument("--only", help="comma-separated run ids to (re)make")
    p.add_argument("--plan", help="comma-separated split:recipe pairs (default: all three)")
    args = p.parse_args()
    fs = extract_dataset(args.data, classes=CLASSES)
    note = ("real GTZAN audio: the classical, jazz and rock tracks of the fault-filtered split's train list "
            "(../shared/data/gtzan-mini); the seven genres with a single track there were dropped")
    plan = [tuple(x.split(":")) for x in args.plan.split(",")] if args.plan else PLAN
    for split, recipe in plan:
        for model in ("mlp", "cnn", "lstm"):
            run_id = f"gtzan-mini3-{split}-{recipe}-{model}"
            if args.only and run_id not in args.only.split(","):
                continue
            if (runs_dir() / run_id).exists():
                delete_run(run_id)
            run = train(fs, TrainConfig(model=model, split=split, recipe=recipe, epochs=args.epochs, seed=0),
                        run_id=run_id, dataset_note=note)
            m = run.metrics
            print(f"{run_id}: epochs {run.manifest['epochs_run']}, segment acc {m['segment_accuracy']:.4f}, "
                  f"track acc {m['track_accuracy_mean']:.4f} (vote {m['track_accuracy_vote']:.4f}), "
                  f"loss {m['loss']:.3f}, rmse {m['rmse']:.3f}, {run.manifest['epoch_seconds_mean']:.2f} s/epoch",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
