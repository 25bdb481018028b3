"""Train the reference runs that ship in artifacts/runs/ (run from the project root).

    python tools/make_reference_runs.py [--data ../shared/data/gtzan-mini] [--only ID,...] [--plan SPLIT:RECIPE,...]

All ten genres of the real GTZAN subset beside the project (281 readable tracks,
8 to 68 per genre). For each of the three networks and the transfer model (a head on
the pretrained musicnn tagger's embeddings, beyond the study):

- ``segment-study``: the study's protocol as is (random over segments: leaky);
- ``track-study``: grouped by track (songs of one artist still on both sides);
- ``ff-study`` and ``ff-improved``: the fault-filtered split, tested on its valid
  list (this subset holds no usable test part), the validation part drawn from the
  train list by track;
- ``ff-improved-refit``: the improved recipe refit on train + valid (every clip of
  the thin genres heard), for the Classify page. It has no test part and carries
  the valid-part score of its train-only twin ``ff-improved``.

Runs are tagged ``reference``; existing runs of the same id are replaced.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mgc.config import MODEL_FEATURES, MODEL_NAMES
from mgc.dataset import refit_split
from mgc.features import EMBEDDING_PARAMS, STUDY_PARAMS, extract_dataset
from mgc.runs import delete_run, load_run, runs_dir
from mgc.training import TrainConfig, recipe_values, train

PREFIX = "gtzan10"
SPLITS = {"segment": "segment", "track": "track", "ff": "fault-filtered"}
PLAN = ["ff:study", "ff:improved", "ff:improved-refit", "segment:study", "track:study"]
NOTE = (
    "real GTZAN audio, all ten genres: the readable clips of ../shared/data/gtzan-mini (281 tracks, 8 to 68 "
    "per genre; jazz.00054.wav is corrupt and skipped)"
)


def _report(run) -> None:
    m, man = run.metrics, run.manifest
    source = f" (scores of {man['metrics_from']['run']})" if man.get("metrics_from") else ""
    print(
        f"{run.id}: {man['split']['label']}, epochs {man['epochs_run']}, segment acc {m['segment_accuracy']:.4f}, "
        f"track acc {m['track_accuracy_mean']:.4f}, balanced {m['track_balanced_accuracy']:.4f}, "
        f"loss {m['loss']:.3f}, {man['epoch_seconds_mean']:.2f} s/epoch{source}",
        flush=True,
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "gtzan-mini"))
    p.add_argument("--epochs", type=int, default=None, help=f"default: the recipe's ({recipe_values('epochs')})")
    p.add_argument("--models", default=",".join(MODEL_NAMES))
    p.add_argument("--only", help="comma-separated run ids to (re)make")
    p.add_argument("--plan", help=f"comma-separated split:recipe pairs (default: {','.join(PLAN)})")
    args = p.parse_args()
    kinds = {"mfcc": STUDY_PARAMS, "embedding": EMBEDDING_PARAMS}
    features = {}
    plan = args.plan.split(",") if args.plan else PLAN
    for item in plan:
        short, recipe = item.split(":")
        refit = recipe.endswith("-refit")
        recipe = recipe.removesuffix("-refit")
        for model in args.models.split(","):
            run_id = f"{PREFIX}-{short}-{recipe}{'-refit' if refit else ''}-{model}"
            if args.only and run_id not in args.only.split(","):
                continue
            if (runs_dir() / run_id).exists():
                delete_run(run_id)
            kind = MODEL_FEATURES[model]
            if kind not in features:
                features[kind] = extract_dataset(args.data, params=kinds[kind])
            fs = features[kind]
            cfg = TrainConfig(model=model, split=SPLITS[short], recipe=recipe, epochs=args.epochs, seed=0)
            kwargs = {}
            if refit:
                twin = load_run(f"{PREFIX}-{short}-{recipe}-{model}")
                kwargs = {
                    "metrics_from": twin,
                    "split": refit_split(
                        track_ids=fs.track_ids,
                        twin_tracks=twin.manifest["split"]["track_ids"],
                        twin_id=twin.id,
                        name=cfg.split,
                        tested_on_valid=twin.manifest["split"]["settings"].get("evaluated_on") == "valid",
                    ),
                }
            if kind == "embedding" and "mfcc" not in features:  # the transfer run's MFCC not-music check
                features["mfcc"] = extract_dataset(args.data, params=kinds["mfcc"])
            trust_mfcc = features["mfcc"] if kind == "embedding" else None
            run = train(fs, cfg, run_id=run_id, dataset_note=NOTE, tags=("reference",), trust_mfcc=trust_mfcc, **kwargs)
            _report(run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
