"""CLI commands on datasets: ``info``, ``extract`` and ``demo-data``."""

from __future__ import annotations

from .common import ProgressBar, parse_classes, text_table


def cmd_info(args) -> int:
    from ..dataset import dataset_survey, find_tracks

    ds = find_tracks(args.data)
    print(f"dataset: {ds.genres_dir}  ({len(ds.tracks)} tracks, {len(ds.classes)} classes)")
    bar = ProgressBar("check")
    try:
        table = dataset_survey(ds, on_progress=bar).table  # the rule extract, Explore and classify apply
    finally:
        bar.close()
    rows = []
    bad = [{"file": r.file, "reason": r.error} for r in table.itertuples() if r.error]
    for c in ds.classes:
        durs = table[(table["label"] == c) & (table["error"] == "")]["duration"].tolist()
        rows.append(
            {
                "class": c,
                "tracks": sum(t.label == c for t in ds.tracks),
                "readable": len(durs),
                "min s": f"{min(durs):.2f}" if durs else "-",
                "max s": f"{max(durs):.2f}" if durs else "-",
            }
        )
    print(text_table(rows, ["class", "tracks", "readable", "min s", "max s"]))
    print(f"unreadable files: {len(bad)} (the rule extract and classify apply: first 30 s decoded, not silent)")
    for b in bad:
        print(f"  {b['file']}: {b['reason']}")
    shown = 20  # an FMA folder can pass over tens of thousands of listed tracks (no top genre)
    for line in ds.ignored[:shown]:
        print(f"  ignored {line}")
    if len(ds.ignored) > shown:
        print(f"  ... and {len(ds.ignored) - shown} more passed over")
    return 0


def cmd_extract(args) -> int:
    from ..errors import ParameterError
    from ..features import extract_dataset
    from .common import feature_params

    params = feature_params(args.features)
    if args.features == "embedding" and args.out.endswith(".json"):
        raise ParameterError("--out: the study's .json layout holds MFCCs only; write embeddings to .npz")
    bar = ProgressBar("extract")
    try:
        fs = extract_dataset(
            args.data,
            params=params,
            classes=parse_classes(args.classes),
            use_cache=not args.no_cache,
            workers=args.workers,
            scheduler=args.scheduler,
            on_progress=bar,
        )
    finally:
        bar.close()
    if args.out.endswith(".json"):
        fs.to_study_json(args.out)
    else:
        fs.save(args.out)
    print(
        f"wrote {args.out}: {len(fs.X)} segments of {'x'.join(map(str, fs.X.shape[1:]))} from {fs.n_tracks} tracks, "
        f"{len(fs.classes)} classes ({fs.cache_stats['cached']} from cache, {fs.cache_stats['extracted']} extracted)"
    )
    if fs.cache_stats.get("cache_problem"):
        print(f"cache: {fs.cache_stats['cache_problem']}")
    print(f"skipped files: {len(fs.skipped)}")
    for s in fs.skipped:
        print(f"  {s.path}: {s.reason}")
    return 0


def cmd_demo_data(args) -> int:
    from ..dataset.demo import write_demo_dataset

    bar = ProgressBar("synthesize")
    try:
        out = write_demo_dataset(args.dir, clips_per_style=args.clips, seed=args.seed, on_progress=bar)
    finally:
        bar.close()
    print(f"wrote a synthetic demo dataset (not GTZAN) to {out}")
    return 0


def add_commands(sub) -> None:
    """Register ``info``, ``extract`` and ``demo-data`` on the CLI's sub-parsers."""
    s = sub.add_parser(
        "info", help="tracks per class, durations and unusable files of a dataset (each file's first 30 s decoded)"
    )
    s.add_argument("data", help="dataset folder (GTZAN layout)")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser(
        "extract", help="the study's MFCC segments (or the tagger's embeddings) of a dataset, to .npz or .json"
    )
    s.add_argument("--data", required=True, help="dataset folder (GTZAN layout)")
    s.add_argument(
        "--features",
        choices=["mfcc", "embedding"],
        default="mfcc",
        help="mfcc: the study's 13 MFCCs per frame (default); embedding: the pretrained musicnn tagger's "
        "embedding per 3-s segment (what --model transfer learns from)",
    )
    s.add_argument("--out", required=True, help="output file: .npz, or .json for the study's layout")
    s.add_argument("--classes", help="comma-separated classes to keep (default: all)")
    s.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    s.add_argument(
        "--scheduler",
        default=None,
        help="run on Dask: 'processes' (a local cluster of --workers processes) or a scheduler address "
        "(tcp://host:8786; the feature store must be on a filesystem its workers share); default: a process pool here",
    )
    s.add_argument("--no-cache", action="store_true", help="ignore and do not update the feature store")
    s.set_defaults(func=cmd_extract)

    s = sub.add_parser("demo-data", help="write a synthetic GTZAN-layout dataset (offline demo, not GTZAN)")
    s.add_argument("dir", help="output folder")
    s.add_argument("--clips", type=int, default=10, help="clips per style (default 10)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_demo_data)
