"""How the networks do on artists they never heard, next to a classical baseline (run from the project root).

    python tools/unseen_artists.py [--prefix gtzan10-ff] [--data ../shared/data/gtzan-mini] [--json OUT]

Loads the six runs ``<prefix>-{study,improved}-{mlp,cnn,lstm}`` of the run store
(``$MGC_ARTIFACTS/runs``; missing ones are skipped with a note), checks that they
were tested on the same tracks, fits the RBF-SVM baseline of :mod:`mgc.analysis.baseline`
on the runs' train part (the tracks the networks learned from; their validation
part, used by the networks only to stop early, is not given to the SVM) and tests
it on the runs' test tracks. It prints three markdown tables:

(a) overall track scores (mean-probability decision) and segment accuracy;
(b) track recall per genre, genres with fewer than 3 test tracks marked;
(c) paired comparisons on the same tracks: improved vs study for each network,
    and the best run overall and the best of the study's three networks vs the SVM, with the
    exact sign test.

This is a report tool, not a test: it prints, and with ``--json OUT`` writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from mgc.analysis import paired_tracks, svm_baseline
from mgc.config import MODEL_NAMES, STUDY_MODELS, model_title
from mgc.errors import MgcError
from mgc.features import extract_dataset
from mgc.runs import evaluate_predictions, load_run, runs_dir

RECIPES = ("study", "improved")
THIN = 3  # genres with fewer test tracks than this are marked
SVM = "svm"


def _fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _table(header: list[str], rows: list[list[str]], align: list[str]) -> str:
    """A markdown table; ``align`` holds ``l`` or ``r`` per column."""
    rule = [":---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def load_reference_runs(prefix: str) -> tuple[dict, list[str]]:
    """The runs ``<prefix>-<recipe>-<model>`` keyed by ``(recipe, model)``, and a note per missing one."""
    runs, notes = {}, []
    for recipe in RECIPES:
        for model in MODEL_NAMES:
            run_id = f"{prefix}-{recipe}-{model}"
            try:
                run = load_run(run_id)
            except MgcError as e:
                notes.append(f"skipped {run_id}: {e}")
                continue
            if run.manifest.get("status") != "finished":
                notes.append(f"{run_id}: status is {run.manifest.get('status')!r}, not 'finished'")
            if run.manifest.get("metrics_from"):
                notes.append(f"skipped {run_id}: its metrics are its twin's ({run.manifest['metrics_from']})")
                continue
            ids = run.manifest["split"].get("track_ids") or {}
            if not (ids.get("train") and ids.get("test")):
                notes.append(f"skipped {run_id}: its manifest lists no train and test track ids")
                continue
            if not run.metrics.get("tracks"):
                notes.append(f"skipped {run_id}: its metrics hold no per-track results")
                continue
            runs[(recipe, model)] = run
    return runs, notes


def check_same_split(runs: dict) -> tuple[list[str], list[str], list[str]]:
    """The shared train and test track lists of the runs, and notes; raises ``SystemExit`` if the tests differ."""
    notes = []
    first, *others = runs.values()
    split = first.manifest["split"]["track_ids"]
    train, test = sorted(split["train"]), sorted(split["test"])
    for run in runs.values():
        tested = sorted(t["track_id"] for t in run.metrics["tracks"])
        own = sorted(run.manifest["split"]["track_ids"]["test"])
        if tested != own:
            raise SystemExit(
                f"{run.id}: its metrics cover {len(tested)} tracks, not the {len(own)} test tracks of its manifest"
            )
    for run in others:
        other = run.manifest["split"]["track_ids"]
        if sorted(other["test"]) != test:
            raise SystemExit(
                f"{run.id} was tested on other tracks than {first.id} "
                f"({len(other['test'])} vs {len(test)}): paired comparisons need one test part"
            )
        if sorted(other["train"]) != train:
            notes.append(f"{run.id} was trained on other tracks than {first.id}; the SVM uses {first.id}'s")
        if first.classes != run.classes:
            raise SystemExit(f"{run.id} has classes {run.classes}, {first.id} has {first.classes}")
    return train, test, notes


def _title(key) -> str:
    if key == SVM:
        return "SVM"
    recipe, model = key
    return f"{model_title(model)} {recipe}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prefix", default="gtzan10-ff", help="runs <prefix>-{study,improved}-{mlp,cnn,lstm}")
    p.add_argument("--data", default="../shared/data/gtzan-mini", help="the dataset the runs were trained on")
    p.add_argument("--json", metavar="OUT", help="also write the numbers to this JSON file")
    p.add_argument("--workers", type=int, default=None, help="feature-extraction processes (cached after once)")
    args = p.parse_args(argv)

    runs, notes = load_reference_runs(args.prefix)
    if not runs:
        for n in notes:
            print(f"- {n}")
        print(f"no run of prefix {args.prefix!r} in {runs_dir()}", file=sys.stderr)
        return 1
    train, test, split_notes = check_same_split(runs)
    notes += split_notes
    first = next(iter(runs.values()))
    classes = first.classes

    # --- the baseline, on the runs' own train and test tracks ---------------------------------------
    try:
        fs = extract_dataset(args.data, classes=classes, workers=args.workers)
        if list(fs.classes) != classes:
            raise SystemExit(f"the features of {args.data} have classes {list(fs.classes)}, the runs {classes}")
        fingerprint = first.manifest["dataset"].get("fingerprint")
        if fingerprint and fs.fingerprint and fingerprint != fs.fingerprint:
            notes.append(
                f"{args.data} is not the file list the runs were trained on "
                f"(fingerprint {fs.fingerprint}, runs {fingerprint})"
            )
        base = svm_baseline(fs, train_tracks=train, test_tracks=test)
    except MgcError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    svm_metrics = evaluate_predictions(base.probs, fs.y[base.rows], fs.track_ids[base.rows], fs.classes)
    metrics = {key: run.metrics for key, run in runs.items()}
    metrics[SVM] = svm_metrics
    keys = list(metrics)

    split = first.manifest["split"]
    print(f"# Unseen artists: {args.prefix} runs and an SVM baseline\n")
    print(
        f"Split: {split.get('label') or split['name']}. Train part: {len(train)} tracks "
        f"({len(base.train_rows)} segments). Test part: {len(test)} tracks ({len(base.rows)} segments). "
        f"SVM: mean+std of 13 MFCCs per segment (26), standardised, RBF SVC C={base.settings['C']:g}, "
        f"gamma={base.settings['gamma']}, class_weight=balanced, probabilities = softmax of its decision values "
        "(uncalibrated); fixed settings, "
        "trained on the train part only. Track decision: mean segment probability, for every model.\n"
    )
    if notes:
        print("Notes:\n" + "\n".join(f"- {n}" for n in notes) + "\n")

    # --- (a) overall ---------------------------------------------------------------------------------
    rows = []
    for key in keys:
        m = metrics[key]
        rows.append(
            [
                _title(key),
                str(m["n_tracks"]),
                _fmt(m["track_accuracy_mean"]),
                _fmt(m["track_balanced_accuracy"]),
                _fmt(m["track_macro_f1"]),
                _fmt(m["segment_accuracy"]),
            ]
        )
    print("## (a) Test scores\n")
    print(
        _table(
            ["model", "test tracks", "track acc", "balanced acc", "macro-F1", "segment acc"],
            rows,
            ["l", "r", "r", "r", "r", "r"],
        )
    )

    # --- (b) per genre -------------------------------------------------------------------------------
    support = {c: 0 for c in classes}
    for t in svm_metrics["tracks"]:
        support[classes[t["true"]]] += 1
    recall = {key: {r["class"]: r["recall"] for r in metrics[key]["track_per_class"]} for key in keys}
    rows = []
    for c in classes:
        n = support[c]
        name = f"{c} (0)" if n == 0 else f"{c}†" if n < THIN else c
        rows.append([name, str(n)] + ["–" if n == 0 else _fmt(recall[key][c], 2) for key in keys])
    print("\n## (b) Track recall per genre\n")
    print(_table(["genre", "tracks"] + [_title(k) for k in keys], rows, ["l", "r"] + ["r"] * len(keys)))
    thin = [c for c in classes if 0 < support[c] < THIN]
    absent = [c for c in classes if support[c] == 0]
    print(
        f"\n† fewer than {THIN} test tracks ({', '.join(thin) or 'none'}): a recall of 0 or 1 there says little. "
        f"(0): no test track ({', '.join(absent) or 'none'}); its recall is undefined and it counts in neither "
        "balanced accuracy nor macro-F1."
    )

    # --- (c) paired ----------------------------------------------------------------------------------
    pairs = [(("improved", m), ("study", m)) for m in MODEL_NAMES if ("improved", m) in runs and ("study", m) in runs]
    nets = [k for k in keys if k != SVM]

    def _best(candidates):
        return max(
            candidates, key=lambda k: (metrics[k]["track_accuracy_mean"], metrics[k]["track_balanced_accuracy"] or 0)
        )

    best = _best(nets)
    labels = {(best, SVM): "best model vs SVM"}
    study_nets = [k for k in nets if k[1] in STUDY_MODELS]
    if study_nets and _best(study_nets) != best:
        labels[(_best(study_nets), SVM)] = "best of the study's networks vs SVM"
    pairs += list(labels)
    paired, rows = [], []
    for a, b in pairs:
        r = paired_tracks(metrics[a]["tracks"], metrics[b]["tracks"])
        label = labels.get((a, b), "improved vs study")
        paired.append({"comparison": label, "a": _title(a), "b": _title(b), **r})
        rows.append(
            [
                label,
                _title(a),
                _title(b),
                str(r["n"]),
                _fmt(r["accuracy_a"]),
                _fmt(r["accuracy_b"]),
                str(r["only_a"]),
                str(r["only_b"]),
                str(r["both"]),
                str(r["neither"]),
                "<0.001" if r["p_value"] < 0.001 else _fmt(r["p_value"]),
            ]
        )
    print("\n## (c) Paired comparisons on the same test tracks\n")
    print(
        _table(
            ["comparison", "A", "B", "tracks", "A acc", "B acc", "only A", "only B", "both", "neither", "p"],
            rows,
            ["l", "l", "l"] + ["r"] * 8,
        )
    )
    print(
        "\np: exact two-sided sign test (McNemar) over the tracks only one of A and B gets right; "
        f"the best model is the one of highest track accuracy ({_title(best)}), chosen on these same tracks."
    )

    if args.json:
        out = {
            "prefix": args.prefix,
            "data": str(args.data),
            "split": split.get("label") or split["name"],
            "runs": {_title(k): runs[k].id for k in nets},
            "train_tracks": len(train),
            "test_tracks": len(test),
            "svm": base.settings,
            "scores": {
                _title(k): {
                    f: metrics[k][f]
                    for f in (
                        "n_tracks",
                        "track_accuracy_mean",
                        "track_balanced_accuracy",
                        "track_macro_f1",
                        "segment_accuracy",
                    )
                }
                for k in keys
            },
            "test_tracks_per_genre": support,
            "recall_per_genre": {_title(k): {c: (recall[k][c] if support[c] else None) for c in classes} for k in keys},
            "paired": paired,
            "notes": notes,
        }
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2, default=lambda o: o.item() if isinstance(o, np.generic) else str(o)))
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
