"""Find GTZAN-style datasets on disk: the tracks, their classes and ids.

Layouts recognised under a root folder, first match wins: ``genres/<class>/``,
``genres_original/<class>/``, ``Data/genres_original/<class>/`` (the Kaggle copy),
or ``<class>/`` directly. Class names are the sorted folder names, never a fixed
list; a track's id is its file stem (``blues.00012``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import AUDIO_EXTENSIONS
from ..errors import DatasetError

LAYOUTS = ("genres", "genres_original", os.path.join("Data", "genres_original"), ".")


@dataclass(frozen=True)
class Track:
    """One audio file of a dataset."""

    track_id: str
    label: str
    path: Path

    @property
    def size(self) -> int:
        """File size in bytes."""
        return self.path.stat().st_size


@dataclass
class Dataset:
    """The tracks found under a folder.

    Attributes
    ----------
    root : Path
        The folder the user named.
    genres_dir : Path
        The folder holding one sub-folder per class.
    classes : tuple of str
        Sorted class names.
    tracks : list of Track
        Sorted by class, then track id.
    ignored : list of str
        Files passed over (duplicate track ids), with the reason.
    """

    root: Path
    genres_dir: Path
    classes: tuple[str, ...]
    tracks: list[Track]
    ignored: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Tracks per class."""
        out = {c: 0 for c in self.classes}
        for t in self.tracks:
            out[t.label] += 1
        return out

    def fingerprint(self) -> str:
        """A short hash of the file list and sizes (not contents), to tell datasets apart."""
        h = hashlib.sha256()
        for t in self.tracks:
            h.update(f"{t.label}/{t.path.name}:{t.size}\n".encode())
        return h.hexdigest()[:16]

    def relpath(self, track: Track) -> str:
        """Path of a track relative to :attr:`genres_dir` (``<class>/<file>``)."""
        return f"{track.label}/{track.path.name}"


def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file() and not path.name.startswith(".")


def _class_dirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    dirs = [d for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    return [d for d in dirs if any(_is_audio(p) for p in d.iterdir())]


def find_tracks(root: str | os.PathLike) -> Dataset:
    """Find the tracks of a GTZAN-style dataset under ``root``.

    Parameters
    ----------
    root : path
        A folder holding ``genres/``, ``genres_original/``, ``Data/genres_original/``
        or the class folders themselves.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        ``root`` is missing, or holds no class folder with audio files.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"dataset folder {str(root)!r} does not exist or is not a folder")
    for layout in LAYOUTS:
        folder = (root / layout).resolve()
        dirs = _class_dirs(folder)
        if dirs:
            break
    else:
        raise DatasetError(
            f"no GTZAN-style dataset under {str(root)!r}: expected class folders of audio files "
            f"({', '.join(AUDIO_EXTENSIONS)}) in one of: " + ", ".join(f"{layout}/<class>/" for layout in LAYOUTS)
        )
    tracks, ignored = [], []
    rank = {ext: i for i, ext in enumerate(AUDIO_EXTENSIONS)}
    for d in dirs:
        seen: dict[str, Path] = {}
        files = sorted((p for p in d.iterdir() if _is_audio(p)), key=lambda p: (p.stem, rank[p.suffix.lower()]))
        for p in files:
            if p.stem in seen:
                ignored.append(f"{d.name}/{p.name}: same track id as {seen[p.stem].name}, which is used")
                continue
            seen[p.stem] = p
            tracks.append(Track(track_id=p.stem, label=d.name, path=p))
    return Dataset(root=root, genres_dir=folder, classes=tuple(d.name for d in dirs), tracks=tracks, ignored=ignored)
