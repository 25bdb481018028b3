"""What the CLI's commands share: a terminal progress bar, plain-text tables, class lists, features from ``--data``."""

from __future__ import annotations

import sys


class ProgressBar:
    """A tqdm progress bar on a terminal; silent elsewhere. Called as ``on_progress(done, total, message)``."""

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


def text_table(rows: list[dict], columns: list[str]) -> str:
    """``rows`` as left-aligned columns under a header line."""
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) if rows else len(c) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def parse_classes(text: str | None) -> list[str] | None:
    """``'a, b'`` -> ``['a', 'b']``; None (all classes) when empty."""
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def feature_params(kind: str):
    """The default parameters of a feature kind: ``"mfcc"`` (the study's) or ``"embedding"`` (the tagger's)."""
    from ..features import EMBEDDING_PARAMS, STUDY_PARAMS

    return EMBEDDING_PARAMS if kind == "embedding" else STUDY_PARAMS


def load_features(args, *, kind: str = "mfcc"):
    """The features ``--data`` names: a ``.npz`` from ``extract``, the study's ``.json``, or a dataset folder.

    A dataset folder is extracted as ``kind`` says (``"mfcc"`` or ``"embedding"``);
    a file holds what it holds.
    """
    from ..features import FeatureSet, extract_dataset

    if args.data.endswith(".npz"):
        return FeatureSet.load(args.data)
    if args.data.endswith(".json"):
        return FeatureSet.from_study_json(args.data)
    bar = ProgressBar("extract" if kind == "mfcc" else "embed")
    try:
        return extract_dataset(
            args.data,
            params=feature_params(kind),
            classes=parse_classes(getattr(args, "classes", None)),
            on_progress=bar,
        )
    finally:
        bar.close()
