"""``python -m mgc ...``: the library's work, headless.

Commands: ``info``, ``extract``, ``demo-data``, ``train``, ``evaluate``,
``compare``, ``classify`` and ``runs``. Each prints what it did; errors of the library are shown
as one line on stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys

from .errors import MgcError


class _Bar:
    """A tqdm progress bar on a terminal; silent elsewhere."""

    def __init__(self, desc: str):
        self.desc, self.bar = desc, None

    def __call__(self, done: int, total: int, message: str) -> None:
        if not sys.stderr.isatty():
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit="file", file=sys.stderr)
        self.bar.n = done
        self.bar.set_postfix_str(message[-30:], refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _table(rows: list[dict], columns: list[str]) -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) if rows else len(c) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def _classes(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


# --- commands ---------------------------------------------------------------------
def cmd_info(args) -> int:
    from .audio import info
    from .dataset import find_tracks

    ds = find_tracks(args.data)
    print(f"dataset: {ds.genres_dir}  ({len(ds.tracks)} tracks, {len(ds.classes)} classes)")
    rows, bad = [], []
    for c in ds.classes:
        durs = []
        for t in (t for t in ds.tracks if t.label == c):
            try:
                durs.append(info(t.path).duration)
            except MgcError as e:
                bad.append({"file": ds.relpath(t), "reason": str(e)})
        rows.append({"class": c, "tracks": sum(t.label == c for t in ds.tracks), "readable": len(durs),
                     "min s": f"{min(durs):.2f}" if durs else "-", "max s": f"{max(durs):.2f}" if durs else "-"})
    print(_table(rows, ["class", "tracks", "readable", "min s", "max s"]))
    print(f"unreadable files: {len(bad)}")
    for b in bad:
        print(f"  {b['file']}: {b['reason']}")
    for line in ds.ignored:
        print(f"  ignored {line}")
    return 0


def cmd_extract(args) -> int:
    from .extract import extract_dataset

    bar = _Bar("extract")
    try:
        fs = extract_dataset(args.data, classes=_classes(args.classes), use_cache=not args.no_cache,
                             workers=args.workers, on_progress=bar)
    finally:
        bar.close()
    if args.out.endswith(".json"):
        fs.to_study_json(args.out)
    else:
        fs.save(args.out)
    print(f"wrote {args.out}: {len(fs.X)} segments of {fs.X.shape[1]}x{fs.X.shape[2]} from {fs.n_tracks} tracks, "
          f"{len(fs.classes)} classes ({fs.cache_stats['cached']} from cache, {fs.cache_stats['extracted']} extracted)")
    if fs.cache_stats.get("cache_problem"):
        print(f"cache: {fs.cache_stats['cache_problem']}")
    print(f"skipped files: {len(fs.skipped)}")
    for s in fs.skipped:
        print(f"  {s.path}: {s.reason}")
    return 0


def cmd_demo_data(args) -> int:
    from .demo import write_demo_dataset

    bar = _Bar("synthesize")
    try:
        out = write_demo_dataset(args.dir, clips_per_style=args.clips, seed=args.seed, on_progress=bar)
    finally:
        bar.close()
    print(f"wrote a synthetic demo dataset (not GTZAN) to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mgc", description="Music genre classification on GTZAN: "
                                "features, training and evaluation of the study's MLP, CNN and RNN-LSTM.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("info", help="tracks per class, durations and unreadable files of a dataset")
    s.add_argument("data", help="dataset folder (GTZAN layout)")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("extract", help="the study's MFCC segments of a dataset, to .npz (or the study's .json)")
    s.add_argument("--data", required=True, help="dataset folder (GTZAN layout)")
    s.add_argument("--out", required=True, help="output file: .npz, or .json for the study's layout")
    s.add_argument("--classes", help="comma-separated classes to keep (default: all)")
    s.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    s.add_argument("--no-cache", action="store_true", help="ignore and do not update the feature cache")
    s.set_defaults(func=cmd_extract)

    s = sub.add_parser("demo-data", help="write a synthetic GTZAN-layout dataset (offline demo, not GTZAN)")
    s.add_argument("dir", help="output folder")
    s.add_argument("--clips", type=int, default=10, help="clips per style (default 10)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_demo_data)

    from . import cli_runs

    cli_runs.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MgcError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def main_exit() -> None:
    """Entry point of the ``mgc`` console script."""
    sys.exit(main())
