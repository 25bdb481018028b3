"""The segment table the models train on: :class:`FeatureSet`, and the files that gave no segment.

A :class:`FeatureSet` is what :func:`mgc.features.extract_dataset` returns and what
every later stage takes: training, cross-validation, evaluation and the trust
checks. It saves to ``.npz`` (no pickle) and reads and writes the study's own
JSON layout.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..dataset import OfficialSplit
from ..errors import ArtifactError, ParameterError
from ..fileio import atomic_write
from .kinds import Params, params_from_dict
from .mfcc import STUDY_PARAMS, FeatureParams


@dataclass
class Skipped:
    """A file that gave no segment, and why."""

    track_id: str
    path: str
    reason: str


@dataclass
class FeatureSet:
    """The segment table of a dataset.

    Attributes
    ----------
    X : np.ndarray [shape=(n, frames, n_mfcc) or (n, width), dtype=float32]
        MFCC segments, or embeddings per segment (``params`` says which).
    y : np.ndarray [shape=(n,), dtype=int64]
        Index into ``classes``.
    track_ids : np.ndarray [shape=(n,), dtype=str]
        ``""`` where unknown (features imported from the study's JSON).
    segment_index : np.ndarray [shape=(n,), dtype=int64]
        Position of the segment in its track (``-1`` where unknown).
    classes : tuple of str
    params : FeatureParams or EmbeddingParams
    skipped : list of Skipped
    source : str
        Where the features came from (dataset folder or file).
    fingerprint : str
        Hash of the dataset's file list (``""`` when unknown).
    track_paths : dict
        Track id -> audio path, for players; empty when unknown.
    cache_stats : dict
        ``{"cached": n, "extracted": n, "cache_problem": str}`` for the last extraction.
    official : OfficialSplit or None
        The dataset's own split of these tracks (FMA's ``set.split``), for the
        ``fma-official`` protocol; None for GTZAN.
    """

    X: np.ndarray
    y: np.ndarray
    track_ids: np.ndarray
    segment_index: np.ndarray
    classes: tuple[str, ...]
    params: Params = STUDY_PARAMS
    skipped: list[Skipped] = field(default_factory=list)
    source: str = ""
    fingerprint: str = ""
    track_paths: dict[str, str] = field(default_factory=dict)
    cache_stats: dict = field(default_factory=dict)
    official: OfficialSplit | None = None

    @property
    def n_tracks(self) -> int:
        """Number of distinct tracks with at least one segment."""
        return len(np.unique(self.track_ids))

    def counts(self) -> dict[str, dict[str, int]]:
        """Tracks and segments per class."""
        out = {}
        for i, c in enumerate(self.classes):
            mask = self.y == i
            out[c] = {"tracks": len(np.unique(self.track_ids[mask])), "segments": int(mask.sum())}
        return out

    def skipped_table(self) -> list[dict]:
        """The skipped files as rows (track_id, path, reason)."""
        return [vars(s).copy() for s in self.skipped]

    # --- files -------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write ``X``, ``y``, ``track_ids``, ``segment_index``, ``classes`` (and metadata) to ``.npz``, atomically.

        The file loads with ``np.load(path, allow_pickle=False)``.

        Raises
        ------
        ArtifactError
            The file cannot be written.
        """
        path = Path(path)
        if path.suffix != ".npz":
            raise ParameterError(f"out={str(path)!r} must end in .npz")
        meta = {
            "params": self.params.to_dict(),
            "source": self.source,
            "fingerprint": self.fingerprint,
            "skipped": self.skipped_table(),
            "official": None if self.official is None else self.official.to_dict(),
        }
        arrays = dict(
            X=self.X,
            y=self.y,
            track_ids=self.track_ids.astype(str),
            segment_index=self.segment_index,
            classes=np.array(self.classes, dtype=str),
            meta=np.array(json.dumps(meta)),
        )
        try:  # a unique temporary name: two saves to one path at once both succeed
            return atomic_write(path, lambda f: np.savez_compressed(f, **arrays))
        except OSError as e:
            raise ArtifactError(f"could not write features to {str(path)!r}: {e}") from e

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FeatureSet":
        """Read a file written by :meth:`save` (no pickle)."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"])) if "meta" in z else {}
                fs = cls(
                    X=z["X"].astype(np.float32),
                    y=z["y"].astype(np.int64),
                    track_ids=z["track_ids"].astype(str),
                    segment_index=z["segment_index"].astype(np.int64),
                    classes=tuple(str(c) for c in z["classes"]),
                    params=params_from_dict(meta["params"]) if "params" in meta else STUDY_PARAMS,
                    skipped=[Skipped(**s) for s in meta.get("skipped", [])],
                    source=meta.get("source", str(path)),
                    fingerprint=meta.get("fingerprint", ""),
                    official=OfficialSplit.from_dict(meta["official"]) if meta.get("official") else None,
                )
        except (OSError, KeyError, ValueError, TypeError) as e:
            raise ArtifactError(f"could not read features from {path.name!r}: {e}") from e
        _check_table(fs, path.name)
        return fs

    def to_study_json(self, path: str | os.PathLike) -> Path:
        """Write the study's JSON layout: ``{"mapping", "labels", "mfcc"}``."""
        path = Path(path)
        text = json.dumps({"mapping": list(self.classes), "labels": self.y.tolist(), "mfcc": self.X.tolist()})
        try:
            return atomic_write(path, lambda f: f.write(text.encode()))
        except OSError as e:
            raise ArtifactError(f"could not write features to {str(path)!r}: {e}") from e

    @classmethod
    def from_study_json(cls, path: str | os.PathLike) -> "FeatureSet":
        """Read the study's JSON layout. Track ids are unknown there: only the segment split applies."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            X = np.asarray(data["mfcc"], dtype=np.float32)
            y = np.asarray(data["labels"], dtype=np.int64)
            classes = tuple(str(Path(m).name) for m in data["mapping"])
        except (OSError, KeyError, ValueError, TypeError, json.JSONDecodeError) as e:
            raise ArtifactError(
                f"{path.name!r} is not in the study's JSON layout "
                f'({{"mapping": [...], "labels": [...], "mfcc": [...]}}): {e}'
            ) from e
        if X.ndim != 3:
            raise ArtifactError(
                f"{path.name!r}: 'mfcc' must be a list of segments of frames x coefficients, got shape {X.shape}"
            )
        params = FeatureParams(n_mfcc=X.shape[2]) if X.shape[2] != STUDY_PARAMS.n_mfcc else STUDY_PARAMS
        fs = cls(
            X=X,
            y=y,
            track_ids=np.full(len(y), "", dtype="<U1"),
            segment_index=np.full(len(y), -1),
            classes=classes,
            params=params,
            source=str(path),
        )
        _check_table(fs, path.name)
        return fs


def _check_table(fs: FeatureSet, name: str) -> None:
    n = len(fs.X)
    if not (len(fs.y) == len(fs.track_ids) == len(fs.segment_index) == n):
        raise ArtifactError(f"{name!r}: X, y, track_ids and segment_index differ in length")
    if n and (fs.y.min() < 0 or fs.y.max() >= len(fs.classes)):
        raise ArtifactError(f"{name!r}: labels must lie in 0..{len(fs.classes) - 1}")
    if not np.all(np.isfinite(fs.X)):
        raise ArtifactError(f"{name!r}: features hold NaN or infinity")
