"""The Free Music Archive's layout: audio folders, ``tracks.csv`` labels and the official split.

FMA (Defferrard, Benzi, Vandergheynst & Bresson, 2017, "FMA: A dataset for music
analysis", ISMIR) ships its audio as ``fma_<subset>/NNN/NNNNNN.mp3`` (the six-digit
track id, filed under its first three digits; 30-s clips at 44.1 kHz stereo for
``small``, ``medium`` and ``large``, whole tracks for ``full``) and its metadata as
``fma_metadata/tracks.csv``. That file has a header of three rows: the top-level
group of each column (``album``, ``artist``, ``set``, ``track``), then the field
name (``genre_top``, ``split``, ``subset``, ...), then the index name
(``track_id``) alone; pandas reads it with ``header=[0, 1], index_col=0``. Here it
is streamed with the :mod:`csv` module, keeping only the three columns used:

``track.genre_top``
    The label (one of 16 top-level genres; empty for most tracks of ``large``).
``set.split``
    FMA's own ``training`` / ``validation`` / ``test`` assignment (80/10/10,
    artist-filtered: an artist's tracks are all in one part), the
    ``fma-official`` protocol of :mod:`mgc.dataset.splits`.
``set.subset``
    ``small`` ⊂ ``medium`` ⊂ ``large``: which audio folders hold the track.

A track listed for the folder's subset whose audio file is missing, a track
without a top genre, and an audio file that ``tracks.csv`` does not list are
reported (``Dataset.ignored``) and left out, each with its reason.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DatasetError

#: FMA's audio folders, smallest first; each subset holds the ones before it.
SUBSETS = ("small", "medium", "large", "full")
#: FMA's part names (``set.split``) -> the parts of a :class:`mgc.dataset.Split`.
PARTS = {"training": "train", "validation": "validation", "test": "test"}
#: The columns read from ``tracks.csv``: (top level, field).
COLUMNS = {"genre_top": ("track", "genre_top"), "split": ("set", "split"), "subset": ("set", "subset")}
#: Where FMA's metadata is looked for, relative to the folder named and to its parent.
METADATA = os.path.join("fma_metadata", "tracks.csv")
CITATION = "FMA tracks.csv set.split (Defferrard et al. 2017)"


@dataclass(frozen=True)
class OfficialSplit:
    """A dataset's own assignment of its tracks to train, validation and test.

    Attributes
    ----------
    protocol : str
        The protocol it stands for in :data:`mgc.dataset.SPLITS` (``fma-official``).
    subset : str
        The audio folder's subset (``small``, ``medium``, ``large``, ``full``).
    parts : dict of str to str
        Track id -> ``train``, ``validation`` or ``test``.
    source : str
        Where the assignment comes from, for manifests.
    """

    protocol: str
    subset: str
    parts: dict[str, str] = field(default_factory=dict)
    source: str = CITATION

    def to_dict(self) -> dict:
        """Plain JSON-able form (stored with features)."""
        return {"protocol": self.protocol, "subset": self.subset, "parts": dict(self.parts), "source": self.source}

    @classmethod
    def from_dict(cls, d: dict) -> "OfficialSplit":
        """Inverse of :meth:`to_dict`."""
        return cls(
            protocol=str(d["protocol"]),
            subset=str(d.get("subset", "")),
            parts={str(k): str(v) for k, v in d.get("parts", {}).items()},
            source=str(d.get("source", CITATION)),
        )

    def restricted(self, track_ids) -> "OfficialSplit":
        """The same split over ``track_ids`` only (the tracks a feature table kept)."""
        keep = set(map(str, track_ids))
        return OfficialSplit(
            protocol=self.protocol,
            subset=self.subset,
            parts={t: p for t, p in self.parts.items() if t in keep},
            source=self.source,
        )


@dataclass(frozen=True)
class FmaTrack:
    """What ``tracks.csv`` says of one track (empty strings where it says nothing)."""

    genre_top: str
    split: str
    subset: str


def audio_folder(root: Path) -> tuple[Path, str] | None:
    """The FMA audio folder at or under ``root``, and its subset, or None when ``root`` is not FMA-shaped.

    ``root`` may be the audio folder itself (``.../fma_small``) or a folder holding one
    (beside ``fma_metadata/``).

    Raises
    ------
    DatasetError
        ``root`` holds several FMA audio folders (which one is meant is not clear).
    """
    if root.name.startswith("fma_") and root.name[4:] in SUBSETS and root.is_dir():
        return root, root.name[4:]
    found = [(root / f"fma_{s}", s) for s in SUBSETS if (root / f"fma_{s}").is_dir()]
    if len(found) > 1:
        names = ", ".join(str(p) for p, _ in found)
        raise DatasetError(
            f"{str(root)!r} holds several FMA audio folders ({names}): name one of them as the dataset folder"
        )
    return found[0] if found else None


def metadata_file(root: Path, audio: Path) -> Path:
    """``fma_metadata/tracks.csv`` under ``root``, or beside the audio folder.

    Raises
    ------
    DatasetError
        Neither exists.
    """
    for base in (root, audio.parent):
        path = base / METADATA
        if path.is_file():
            return path
    raise DatasetError(
        f"{str(audio)!r} looks like an FMA audio folder, but no {METADATA} was found in {str(root)!r} or "
        f"{str(audio.parent)!r}: FMA's labels and split come from that file (fma_metadata.zip)"
    )


def read_tracks_csv(path: str | os.PathLike) -> dict[str, FmaTrack]:
    """The label, part and subset of every track in an FMA ``tracks.csv``.

    Parameters
    ----------
    path : path
        ``fma_metadata/tracks.csv``: three header rows (groups, fields, ``track_id``),
        then one row per track, its id first.

    Returns
    -------
    dict of str to FmaTrack
        Keyed by the six-digit track id (``000002``), as the audio files are named.

    Raises
    ------
    DatasetError
        The file cannot be read, its header is not FMA's (the message names what is
        missing), or a track id is not a number.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = csv.reader(f)
            groups, fields, index = next(rows, None), next(rows, None), next(rows, None)
            if groups is None or fields is None or index is None:
                raise DatasetError(f"{path.name!r} is not FMA's tracks.csv: it has fewer than its three header rows")
            at = _column_positions(path.name, groups, fields, index)
            out = {}
            for line, row in enumerate(rows, start=4):
                if not row:
                    continue
                try:
                    tid = f"{int(row[0]):06d}"
                except ValueError:
                    raise DatasetError(
                        f"{path.name!r} line {line}: track id {row[0]!r} is not a number (FMA's ids are integers)"
                    ) from None
                values = {k: (row[i].strip() if i < len(row) else "") for k, i in at.items()}
                out[tid] = FmaTrack(**values)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DatasetError(f"could not read {str(path)!r}: {e}") from e
    return out


def _column_positions(name: str, groups: list[str], fields: list[str], index: list[str]) -> dict[str, int]:
    if not index or index[0].strip() != "track_id" or any(c.strip() for c in index[1:]):
        raise DatasetError(
            f"{name!r} is not FMA's tracks.csv: its third row must be the index name 'track_id' alone, "
            f"got {index[:3]!r}"
        )
    if len(groups) != len(fields):
        raise DatasetError(
            f"{name!r} is not FMA's tracks.csv: its two header rows name {len(groups)} and {len(fields)} columns"
        )
    # the top-level names are given on every column (pandas writes a MultiIndex that way)
    pairs = {(g.strip(), f.strip()): i for i, (g, f) in enumerate(zip(groups, fields, strict=True))}
    missing = [".".join(c) for c in COLUMNS.values() if c not in pairs]
    if missing:
        raise DatasetError(
            f"{name!r} is not FMA's tracks.csv: no column {', '.join(missing)} in its two header rows "
            "(top level such as track/album/artist/set, then the field)"
        )
    return {k: pairs[c] for k, c in COLUMNS.items()}


def expected_in(subset: str, track: FmaTrack) -> bool:
    """Whether the audio folder of ``subset`` should hold ``track`` (``full`` holds every track)."""
    if subset == "full":
        return True
    return track.subset in SUBSETS and SUBSETS.index(track.subset) <= SUBSETS.index(subset)
