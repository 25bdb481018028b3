"""CLI commands on runs: ``train``, ``evaluate``, ``compare``, ``classify`` and ``runs`` (see :mod:`mgc.cli`)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys

import numpy as np

from ..config import MODEL_FEATURES, MODEL_NAMES, STUDY_MODELS
from ..dataset import EVALUATE_ON, SPLITS
from ..errors import MgcError, ParameterError
from ..training.recipes import RECIPES, recipe_help, recipe_values
from .common import load_features, text_table


def cmd_train(args) -> int:
    from ..dataset import suggested_split
    from ..features import kind_of
    from ..training import TrainConfig, TrainingInterrupted, train

    models = list(MODEL_NAMES) if args.model == "all" else [args.model]
    if args.stream and args.data.endswith((".npz", ".json")):
        raise ParameterError(
            f"--stream reads the feature store of a dataset folder; --data {args.data} is a features file, "
            "which is loaded whole: give the dataset folder, or leave out --stream"
        )
    # each model hears its kind of features: the study's networks MFCCs, the transfer head embeddings
    features = {}
    for kind in dict.fromkeys(MODEL_FEATURES[m] for m in models):
        fs = load_features(args, kind=kind, stream=args.stream)
        if kind_of(fs.params) != kind:  # a features file holds one kind
            skip = [m for m in models if MODEL_FEATURES[m] == kind]
            if args.model != "all":
                raise ParameterError(
                    f"--model {args.model} learns from {kind} features, and {args.data} holds "
                    f"{kind_of(fs.params)} features: give a dataset folder, or `mgc extract --features {kind}` output"
                )
            print(f"{args.data} holds {kind_of(fs.params)} features: {', '.join(skip)} not trained")
            continue
        features[kind] = fs
        print(
            f"{kind} features: {len(fs.X)} segments, {fs.n_tracks} tracks, classes {', '.join(fs.classes)}"
            f" ({len(fs.skipped)} files skipped)"
        )
    if "embedding" in features and "mfcc" not in features and not args.data.endswith((".npz", ".json")):
        # the transfer run's not-music check also listens to the MFCCs (the tagger hears speech as music)
        features["mfcc"] = load_features(args, kind="mfcc", stream=args.stream)
    any_fs = next(iter(features.values()))
    split = args.split or suggested_split(any_fs.track_ids, official=any_fs.official)
    if not args.split:
        print(f"split: {split} (the honest one these tracks allow; --split to choose)")
    configs = [
        TrainConfig(
            model=m,
            recipe=args.recipe,
            split=split,
            evaluate_on=args.evaluate_on,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            seed=args.seed,
            **recipe_overrides(args),
            fast=args.fast,
        )
        for m in models
        if MODEL_FEATURES[m] in features
    ]
    for i, cfg in enumerate(configs):
        fs = features[MODEL_FEATURES[cfg.model]]

        def report(e, m=cfg.model):
            lg = e.logs
            print(
                f"{m} epoch {e.epoch:3d}/{e.epochs}  acc {lg.get('accuracy', 0):.4f} loss {lg.get('loss', 0):.4f}"
                f"  val_acc {lg.get('val_accuracy', float('nan')):.4f}"
                f" val_loss {lg.get('val_loss', float('nan')):.4f}"
                f"  {e.seconds:.2f}s",
                flush=True,
            )

        try:
            run = train(
                fs,
                cfg,
                on_epoch=report,
                root=args.runs,
                dataset_note=args.note or "",
                trust_mfcc=features.get("mfcc") if cfg.model == "transfer" else None,
            )
        except TrainingInterrupted as e:
            # the epochs that finished are stored; the models after this one are not begun
            run = e.run
            print(
                f"run {run.id} (stopped by Ctrl-C after {run.manifest['epochs_run']} of "
                f"{run.manifest['epochs_requested']} epochs, {run.protocol} split): " + _scores(run.metrics)
            )
            rest = [c.model for c in configs[i + 1 :]]
            if rest:
                print(f"not trained: {', '.join(rest)}")
            raise
        print(f"run {run.id} ({run.manifest['status']}, {run.protocol} split): " + _scores(run.metrics))
        _print_thin(run.manifest["split"])
    return 0


#: The recipe settings ``train`` can override, as the Train page's "Override the recipe's settings" does:
#: (TrainConfig field, flag, help). A flag not given follows the recipe.
OVERRIDES = (
    ("standardize", "--standardize", "standardise inputs (per-coefficient mean and variance of the training part)"),
    (
        "random_windows",
        "--random-windows",
        "every epoch, each training segment becomes a 3-s window cut at a random frame of its track's training "
        "segments",
    ),
    ("class_weight", "--class-weight", "balanced class weights"),
)


def recipe_overrides(args) -> dict:
    """The :class:`TrainConfig` settings given on the command line (those left out follow the recipe)."""
    out = {field: getattr(args, field) for field, _, _ in OVERRIDES if getattr(args, field) is not None}
    if args.early_stopping is not None:
        out["early_stopping"] = args.early_stopping
    if args.mixup is not None:
        out["mixup"] = args.mixup
    return out


def _scores(m: dict) -> str:
    track = m.get("track_accuracy_mean")
    text = f"test segment accuracy {m['segment_accuracy']:.4f} (balanced {m['balanced_accuracy']:.4f})"
    if track is not None:
        text += (
            f", track accuracy {track:.4f} (balanced {m['track_balanced_accuracy']:.4f}, "
            f"macro-F1 {m['track_macro_f1']:.4f})"
        )
    return (
        text + f", {m.get('n_tracks') or m['n_segments']} {'tracks' if m.get('n_tracks') else 'segments'}, "
        f"loss {m['loss']:.4f}, rmse {m['rmse']:.4f}"
    )


def _print_thin(split: dict) -> None:
    thin = split.get("thin_classes") or []
    if thin:
        counts = split.get("test_tracks_per_class", {})
        print(
            "  thin classes (fewer than 3 test tracks; their recall rests on one or two songs): "
            + ", ".join(f"{c} ({counts.get(c, '?')})" for c in thin)
        )


def cmd_evaluate(args) -> int:
    from ..analysis import evaluate_run
    from ..features import kind_of, params_from_dict
    from ..runs import load_run

    run = load_run(args.run, root=args.runs)
    m = evaluate_run(
        run,
        load_features(args, kind=kind_of(params_from_dict(run.manifest["features"]))),
        split=args.split,
        keep_faulty=args.keep_faulty,
    )
    print(
        f"run {run.id} on {args.data} ({args.split + ' split, test part' if args.split else 'all segments'}): "
        f"{m['n_segments']} segments, {m['n_tracks']} tracks"
    )
    if m["excluded_tracks"] is None:
        print(
            "  warning: this run does not record which tracks it trained on, so none could be excluded: "
            "the score may count tracks it heard"
        )
    elif m["excluded_tracks"]:
        print(
            f"  excluded {m['excluded_tracks']} track(s) the run trained or selected on "
            f"(e.g. {', '.join(m['excluded_examples'][:3])})"
        )
    if m["faulty_excluded"]:
        print(
            f"  left out {m['faulty_excluded']} of GTZAN's faulty track(s) (in no fault-filtered list: "
            "repetitions, mislabellings, distortions); --keep-faulty scores them"
        )
    print(_scores(m))
    return 0


def _audio_files(arguments: list[str]) -> list[tuple[str, str]]:
    """(file, problem) for each argument: a file as it is, a folder as the audio files under it (sorted)."""
    from pathlib import Path

    from ..config import AUDIO_EXTENSIONS

    out = []
    for arg in arguments:
        folder = Path(arg)
        if not folder.is_dir():
            out.append((arg, ""))
            continue
        found = sorted(
            p
            for p in folder.rglob("*")
            if p.suffix.lower() in AUDIO_EXTENSIONS
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        )
        if not found:
            out.append((arg, f"{arg!r} is a folder with no audio file in it (endings: {', '.join(AUDIO_EXTENSIONS)})"))
        out += [(str(p), "") for p in found]
    return out


def cmd_classify(args) -> int:
    from ..analysis import classify
    from ..runs import load_run

    runs = [load_run(r, root=args.runs) for r in args.run]
    rows, clips = [], []
    for path, problem in _audio_files(args.files):
        try:
            if problem:
                raise MgcError(problem)
            res = classify(path, runs, max_duration=args.max_duration)
        except MgcError as e:
            rows.append({"file": path, "run": "", "predicted": "", "confidence": "", "windows": 0, "error": str(e)})
            clips.append({"file": path, "error": str(e)})
            continue
        for a in res.answers:
            own = [f["kind"] for f in res.flags if f.get("run") in (None, a.run_id)]
            rows.append(
                {
                    "file": path,
                    "run": a.run_id,
                    "predicted": a.predicted,
                    "confidence": round(a.confidence, 4),
                    "windows": len(res.starts),
                    "trusted": not own,
                    "flags": ";".join(own),
                    "error": "",
                    "probabilities": {c: round(float(p), 4) for c, p in zip(a.classes, a.probs, strict=True)},
                }
            )
        clips.append(
            {
                "file": path,
                "duration": round(res.duration, 3),
                "trusted": res.trusted,
                "flags": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in f.items()} for f in res.flags],
                "notes": res.notes,
                "window_starts": [round(float(t), 3) for t in res.starts],
                "answers": [
                    {
                        "run": a.run_id,
                        "model": a.model,
                        "classes": a.classes,
                        "predicted": a.predicted,
                        "confidence": round(a.confidence, 4),
                        "probabilities": {c: round(float(p), 4) for c, p in zip(a.classes, a.probs, strict=True)},
                        "window_probabilities": np.round(a.window_probs, 4).tolist(),
                    }
                    for a in res.answers
                ],
            }
        )
    if args.format == "json":
        print(json.dumps(clips, indent=1))
    elif args.format == "csv":
        classes = sorted({c for r in rows for c in r.get("probabilities", {})})
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(
            [
                "file",
                "run",
                "predicted",
                "confidence",
                "windows",
                "trusted",
                "flags",
                *[f"p_{c}" for c in classes],
                "error",
            ]
        )
        for r in rows:
            p = r.get("probabilities", {})
            w.writerow(
                [
                    r["file"],
                    r["run"],
                    r["predicted"],
                    r["confidence"],
                    r["windows"],
                    r.get("trusted", ""),
                    r.get("flags", ""),
                    *[p.get(c, "") for c in classes],
                    r["error"],
                ]
            )
        print(out.getvalue(), end="")
    else:
        for r in rows:
            if r["error"]:
                print(f"{r['file']}: ERROR {r['error']}")
            else:
                top = sorted(r["probabilities"].items(), key=lambda kv: -kv[1])[:3]
                print(
                    f"{r['file']}  [{r['run']}]  {r['predicted']} ({r['confidence']:.0%}, {r['windows']} windows)  "
                    + "  ".join(f"{c} {p:.2f}" for c, p in top)
                    + ("" if r["trusted"] else f"  NOT SURE: {r['flags']}")
                )
        for c in clips:
            for f in c.get("flags", []):
                print(f"  {c['file']}: {f['message']}")
    failed = sum(bool(c.get("error")) for c in clips)
    if failed:
        print(f"{failed} of {len(clips)} file(s) could not be classified", file=sys.stderr)
    return 0 if not failed else (1 if failed < len(clips) else 2)


def cmd_runs(args) -> int:
    from ..analysis import runs_table
    from ..runs import delete_run, list_runs, runs_dir

    if args.delete:
        delete_run(args.delete, root=args.runs)
        print(f"deleted {args.delete}")
        return 0
    runs, problems = list_runs(args.runs)
    if not runs:
        print(f"no runs in {runs_dir(args.runs)}")
    rows = []
    for r, row in zip(runs, runs_table(runs).to_dict("records"), strict=True):
        segment = r.metrics["segment_accuracy"]
        row.update(
            {
                "classes": ", ".join(r.classes),
                "segment acc": f"{segment:.3f}",
                "scores from": (r.manifest.get("metrics_from") or {}).get("run", ""),
                **{
                    k: "-" if row[k] is None or row[k] != row[k] else f"{row[k]:.3f}" for k in ("track acc", "balanced")
                },
            }
        )
        rows.append(row)
    if rows:
        columns = ["run", "model", "protocol", "recipe", "trained on", "track acc", "balanced", "segment acc", "epochs"]
        if any(r["scores from"] for r in rows):
            columns.append("scores from")
        print(text_table(rows, columns))
        for classes in dict.fromkeys(r["classes"] for r in rows):
            which = sum(r["classes"] == classes for r in rows)
            print(f"classes of {which} run(s): {classes}")
        print(
            "track acc: a track's segment probabilities averaged; balanced: mean recall over the genres present in "
            "the test part; scores from: a refit on train + valid carries the score of its train-only twin"
        )
    for p in problems:
        print(f"damaged: {p}", file=sys.stderr)
    return 0


def cmd_compare(args) -> int:
    import pandas as pd

    from ..training import TrainConfig, cross_validate, summarize

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    for m in models:
        if m not in STUDY_MODELS:
            raise ParameterError(f"--models: {m!r} is not one of {', '.join(STUDY_MODELS)}")
    for r in recipes:
        if r not in RECIPES:
            raise ParameterError(f"--recipes: {r!r} is not one of {', '.join(RECIPES)}")
    fs = load_features(args)
    print(
        f"features: {len(fs.X)} segments, {fs.n_tracks} tracks, classes {', '.join(fs.classes)}; "
        f"{args.folds} folds over tracks, results in {args.out}",
        flush=True,
    )
    variants = {r: TrainConfig(recipe=r, split="track", epochs=args.epochs, seed=args.seed) for r in recipes}

    def show(row):
        print(
            f"{row['variant']:>10} {row['model']:>4} fold {row['fold']}: track accuracy {row['track_accuracy']:.4f}, "
            f"segment accuracy {row['segment_accuracy']:.4f}, loss {row['loss']:.4f}, {row['epochs_run']} epochs",
            flush=True,
        )

    rows = cross_validate(
        fs, variants, out_dir=args.out, models=models, n_folds=args.folds, seed=args.seed, on_result=show
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summarize(rows, baseline=recipes[0]).to_string(index=False))
    return 0


def _positive_seconds(text: str) -> float:
    """``--max-duration``: a positive number of seconds (argparse reports anything else)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def add_commands(sub) -> None:
    """Register ``train``, ``evaluate``, ``compare``, ``classify`` and ``runs`` on the CLI's sub-parsers."""
    recipes = "; ".join(recipe_help(r) for r in RECIPES)
    epochs = f"default: the recipe's ({recipe_values('epochs')})"
    s = sub.add_parser(
        "train", help="train the study's models and the transfer model; prints per-epoch lines and the run ids"
    )
    s.add_argument("--data", required=True, help="dataset folder, or features (.npz from extract, study .json)")
    s.add_argument(
        "--model",
        choices=[*MODEL_NAMES, "all"],
        default="all",
        help="the study's mlp, cnn, lstm (on MFCCs), or transfer (a head on the pretrained musicnn tagger's "
        "embeddings, beyond the study); all: the four",
    )
    s.add_argument(
        "--split",
        choices=SPLITS,
        default=None,
        help="segment: the study's (leaky); track: grouped by track (leaks the artist); fault-filtered: "
        "artist-conditional (Kereliuk, Sturm & Larsen 2015), the honest one for GTZAN; fma-official: FMA's own "
        "artist-filtered set.split (tracks.csv), the honest one for FMA. Default: fault-filtered when the tracks "
        "are GTZAN's (at least 10 in its valid or test list), fma-official on an FMA folder, else track",
    )
    s.add_argument(
        "--evaluate-on",
        choices=EVALUATE_ON,
        default="auto",
        help="fault-filtered and fma-official only: test on its test list, its valid list, or (auto) the test "
        "list when the dataset holds at least 10 of its tracks, else the valid list",
    )
    s.add_argument("--recipe", choices=list(RECIPES), default="study", help=recipes)
    s.add_argument("--epochs", type=int, default=None, help=epochs)
    s.add_argument("--batch-size", type=int, default=32)
    s.add_argument(
        "--lr",
        type=float,
        default=None,
        help=f"Adam learning rate (default: the recipe's; {recipe_values('learning_rate')})",
    )
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a dataset folder: train from the feature store, reading each batch's segments as it is needed, "
        "instead of loading every segment (bounded memory for a collection larger than RAM). Default: stream when "
        "the segments take more than 2 GiB. Augmenting recipes give the same history either way; the study recipe "
        "(no augmentation) draws its own seeded order when streamed",
    )
    overrides = s.add_argument_group(
        "recipe overrides",
        "each setting left out follows --recipe, as on the Train page; a run with an override shows its recipe "
        "with a * (improved*)",
    )
    for field, flag, text in OVERRIDES:
        values = recipe_values(field)
        overrides.add_argument(
            flag, dest=field, action=argparse.BooleanOptionalAction, default=None, help=f"{text} ({values})"
        )
    overrides.add_argument(
        "--early-stopping",
        type=int,
        default=None,
        metavar="PATIENCE",
        help=f"epochs without a better validation score, then stop; the best epoch's weights are kept; 0 = off "
        f"({recipe_values('early_stopping')})",
    )
    overrides.add_argument(
        "--mixup",
        type=float,
        default=None,
        metavar="ALPHA",
        help=f"blend training examples and their labels, weights drawn from Beta(alpha, alpha); 0 = off "
        f"({recipe_values('mixup')})",
    )
    s.add_argument(
        "--no-fast",
        dest="fast",
        action="store_false",
        help="train one step per call of Keras's loop with Keras's own LSTM and Adam, the path of runs made "
        "before the fast path (each path repeats its history for the same seed; they differ by float rounding)",
    )
    s.add_argument("--classes", help="comma-separated classes to keep (default: all)")
    s.add_argument("--runs", help="runs folder (default artifacts/runs)")
    s.add_argument("--note", help="free text stored in the manifest")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("evaluate", help="a trained run on another dataset or split")
    s.add_argument("run", help="run id or folder")
    s.add_argument("--data", required=True, help="dataset folder or features file")
    s.add_argument("--split", choices=SPLITS, default=None, help="evaluate on this split's test part (default: all)")
    s.add_argument(
        "--keep-faulty",
        action="store_true",
        help="without --split, also score GTZAN's 70 faulty tracks (left out by default)",
    )
    s.add_argument("--classes", help="comma-separated classes to keep")
    s.add_argument("--runs", help="runs folder (default artifacts/runs)")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("compare", help="recipes side by side by k-fold cross-validation over tracks")
    s.add_argument("--data", required=True, help="dataset folder, or features (.npz from extract)")
    s.add_argument("--out", required=True, help="folder of the per-fold results (re-running resumes)")
    s.add_argument("--models", default=",".join(STUDY_MODELS), help="comma-separated (default: all three)")
    s.add_argument("--recipes", default="study,improved", help="comma-separated; the first is the baseline")
    s.add_argument("--folds", type=int, default=5)
    s.add_argument("--epochs", type=int, default=None, help=epochs)
    s.add_argument("--seed", type=int, default=0, help="seeds the folds and the runs")
    s.add_argument("--classes", help="comma-separated classes to keep (default: all)")
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser(
        "classify",
        help="classify audio files with one or more runs; exit 0 when every file was classified, "
        "1 when some failed (their rows say why), 2 when none was",
    )
    s.add_argument("files", nargs="+", help="audio files, or folders (every audio file under them)")
    s.add_argument("--run", action="append", required=True, help="run id or folder (repeat for several)")
    s.add_argument("--format", choices=["table", "csv", "json"], default="table")
    s.add_argument(
        "--max-duration",
        type=_positive_seconds,
        default=600.0,
        help="seconds decoded from the start of each file (default 600); a file over the decode budget "
        "at this length (high rates, many channels) asks for fewer",
    )
    s.add_argument("--runs", help="runs folder (default artifacts/runs)")
    s.set_defaults(func=cmd_classify)

    s = sub.add_parser("runs", help="list stored runs (or delete one)")
    s.add_argument("--runs", help="runs folder (default artifacts/runs)")
    s.add_argument("--delete", metavar="RUN_ID", help="delete this run")
    s.set_defaults(func=cmd_runs)
