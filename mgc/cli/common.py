"""What the CLI's commands share: a terminal progress bar, plain-text tables, class lists, features from ``--data``."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np


class ProgressBar:
    """A tqdm progress bar on a terminal; elsewhere (a log, a pipe, CI) a plain line per tenth of the work.

    Called as ``on_progress(done, total, message)``. Off a terminal, a line such as
    ``extract: 60/281 files (21%), jazz/jazz.00012.wav`` goes to stderr each time another
    tenth (at most :data:`LINE_EVERY` files) is done, and at the end, so a long job
    that writes to a file shows that it is alive.
    """

    #: Off a terminal: a line at least every this many files.
    LINE_EVERY = 100

    def __init__(self, desc: str, *, stream=None):
        self.desc, self.bar = desc, None
        self.stream = stream or sys.stderr
        self.next_line = 1

    def __call__(self, done: int, total: int, message: str) -> None:
        if not self.stream.isatty():
            if done >= self.next_line or done >= total:
                share = f" ({done / total:.0%})" if total else ""
                print(f"{self.desc}: {done}/{total} files{share}, {message}", file=self.stream, flush=True)
                step = max(1, min(self.LINE_EVERY, -(-total // 10)))
                self.next_line = (done // step + 1) * step
                if done >= total:
                    self.next_line = float("inf")
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit="file", file=self.stream)
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


#: ``train`` streams a dataset folder's segments from the feature store (instead of loading them) above this size.
STREAM_ABOVE_BYTES = 2 * 1024**3


def load_features(args, *, kind: str = "mfcc", stream: bool | None = False):
    """The features ``--data`` names: a ``.npz`` from ``extract``, the study's ``.json``, or a dataset folder.

    A dataset folder is extracted as ``kind`` says (``"mfcc"`` or ``"embedding"``);
    a file holds what it holds. ``stream`` (a folder only): True gives features whose
    ``X`` is the feature store's :class:`~mgc.features.store.SegmentSource` (rows read as
    they are needed, for :func:`mgc.training.train` to stream), False loads every row,
    None streams when the rows take more than :data:`STREAM_ABOVE_BYTES`.
    """
    from ..features import FeatureSet, extract_dataset
    from ..features.extract import extract_source

    if args.data.endswith(".npz"):
        return FeatureSet.load(args.data)
    if args.data.endswith(".json"):
        return FeatureSet.from_study_json(args.data)
    bar = ProgressBar("extract" if kind == "mfcc" else "embed")
    options = dict(params=feature_params(kind), classes=parse_classes(getattr(args, "classes", None)), on_progress=bar)
    try:
        if stream is False:
            return extract_dataset(args.data, **options)
        source = extract_source(args.data, **options)
    finally:
        bar.close()
    size = len(source) * int(np.prod(source.shape[1:])) * 4
    if stream is None and size <= STREAM_ABOVE_BYTES:
        return dataclasses.replace(source.features(), X=source.all_rows())
    where = f"the feature store {str(source.store.root)!r}" if source.store is not None else "memory (no feature store)"
    print(f"streaming {len(source)} {kind} segments ({size / 1e6:,.1f} MB) from {where}")
    return source.features()
