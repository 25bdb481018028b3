"""Find datasets on disk: the tracks, their classes and ids, in GTZAN's or FMA's layout.

FMA first: a folder that is, or holds, one ``fma_<subset>/`` audio folder
(``NNN/NNNNNN.mp3``) with ``fma_metadata/tracks.csv`` beside it; labels are
``track.genre_top`` and the tracks carry FMA's official split (:mod:`mgc.dataset.fma`).
Else GTZAN's layouts, first match wins: ``genres/<class>/``, ``genres_original/<class>/``,
``Data/genres_original/<class>/`` (the Kaggle copy), or ``<class>/`` directly. Class
names are the sorted folder (or ``genre_top``) names, never a fixed list; a track's id
is its file stem (``blues.00012``, ``000002``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import AUDIO_EXTENSIONS
from ..errors import DatasetError
from . import fma
from .fma import OfficialSplit

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
        The audio folder: for GTZAN the one holding a sub-folder per class, for FMA
        ``fma_<subset>/``.
    classes : tuple of str
        Sorted class names.
    tracks : list of Track
        Sorted by class, then track id.
    ignored : list of str
        Files (and, for FMA, listed tracks) passed over, each with the reason:
        duplicate track ids; no top genre; audio missing; not in ``tracks.csv``.
    layout : {'gtzan', 'fma'}
    official : OfficialSplit or None
        The dataset's own split of its tracks (FMA's ``set.split``); None for GTZAN.
    """

    root: Path
    genres_dir: Path
    classes: tuple[str, ...]
    tracks: list[Track]
    ignored: list[str] = field(default_factory=list)
    layout: str = "gtzan"
    official: OfficialSplit | None = None

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
        """Path of a track relative to :attr:`genres_dir` (GTZAN ``<class>/<file>``, FMA ``NNN/NNNNNN.mp3``)."""
        if self.layout == "fma":
            return f"{track.path.parent.name}/{track.path.name}"
        return f"{track.label}/{track.path.name}"


def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file() and not path.name.startswith(".")


def _class_dirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    dirs = [d for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    return [d for d in dirs if any(_is_audio(p) for p in d.iterdir())]


def find_tracks(root: str | os.PathLike) -> Dataset:
    """Find the tracks of a GTZAN- or FMA-style dataset under ``root``.

    Parameters
    ----------
    root : path
        A GTZAN folder holding ``genres/``, ``genres_original/``, ``Data/genres_original/``
        or the class folders themselves; or an FMA folder: ``fma_<subset>/`` itself, or
        the folder holding it and ``fma_metadata/``.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        ``root`` is missing, holds no class folder with audio files, or is FMA-shaped
        but its ``tracks.csv`` is missing or not FMA's, or no track is both listed
        with a top genre and on disk.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"dataset folder {str(root)!r} does not exist or is not a folder")
    found = fma.audio_folder(root)
    if found is not None:
        return _find_fma(root, *found)
    for layout in LAYOUTS:
        folder = (root / layout).resolve()
        dirs = _class_dirs(folder)
        if dirs:
            break
    else:
        raise DatasetError(
            f"no GTZAN-style dataset under {str(root)!r}: expected class folders of audio files "
            f"({', '.join(AUDIO_EXTENSIONS)}) in one of: "
            + ", ".join(f"{layout}/<class>/" for layout in LAYOUTS)
            + "; or FMA's fma_<subset>/NNN/NNNNNN.mp3 with fma_metadata/tracks.csv"
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


def _find_fma(root: Path, audio: Path, subset: str) -> Dataset:
    listed = fma.read_tracks_csv(fma.metadata_file(root, audio))
    audio = audio.resolve()
    on_disk: dict[str, Path] = {}
    ignored: list[str] = []
    rank = {ext: i for i, ext in enumerate(AUDIO_EXTENSIONS)}
    for d in sorted(p for p in audio.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for p in sorted((p for p in d.iterdir() if _is_audio(p)), key=lambda p: (p.stem, rank[p.suffix.lower()])):
            rel = f"{d.name}/{p.name}"
            if not p.stem.isdigit():
                ignored.append(f"{rel}: not an FMA track id (FMA names its files NNNNNN.mp3)")
                continue
            tid = f"{int(p.stem):06d}"
            if tid in on_disk:
                ignored.append(f"{rel}: same track id as {on_disk[tid].parent.name}/{on_disk[tid].name}, which is used")
            elif tid not in listed:
                ignored.append(f"{rel}: track {tid} is not listed in tracks.csv (no label)")
            else:
                on_disk[tid] = p
    tracks, parts = [], {}
    for tid, meta in listed.items():
        path = on_disk.get(tid)
        if path is None:
            if fma.expected_in(subset, meta) and meta.genre_top:
                ignored.append(f"track {tid}: listed in tracks.csv for fma_{subset}, but its audio file is missing")
            continue
        if not meta.genre_top:
            ignored.append(f"{path.parent.name}/{path.name}: track {tid} has no track.genre_top in tracks.csv")
            continue
        tracks.append(Track(track_id=tid, label=meta.genre_top, path=path))
        if meta.split in fma.PARTS:
            parts[tid] = fma.PARTS[meta.split]
        else:
            ignored.append(
                f"{path.parent.name}/{path.name}: track {tid} has set.split={meta.split!r} (not training, "
                "validation or test): left out of the fma-official split only"
            )
    if not tracks:
        raise DatasetError(
            f"no usable FMA track under {str(audio)!r}: {len(on_disk)} audio file(s) listed in tracks.csv, "
            f"none with a track.genre_top" + (f" ({ignored[0]}; ...)" if ignored else "")
        )
    tracks.sort(key=lambda t: (t.label, t.track_id))
    return Dataset(
        root=root,
        genres_dir=audio,
        classes=tuple(sorted({t.label for t in tracks})),
        tracks=tracks,
        ignored=ignored,
        layout="fma",
        official=OfficialSplit(protocol="fma-official", subset=subset, parts=parts),
    )
