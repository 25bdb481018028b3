"""librosa's example recordings that are on disk, for the Explore page (never downloaded).

``librosa.ex`` downloads an example the first time it is asked for. The Explore
page offers only the examples already in librosa's data folder
(``$LIBROSA_DATA_DIR``) with the checksum librosa's registry expects, so that
nothing here touches the network.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import AudioError, ParameterError


@dataclass(frozen=True)
class ExampleClip:
    """One of librosa's example recordings found on disk."""

    key: str
    description: str
    path: Path


def _librosa_data_dir() -> Path:
    """The folder ``librosa.ex`` reads (``$LIBROSA_DATA_DIR`` when librosa was imported)."""
    import librosa.util.files as files

    goodboy = vars(files).get("__GOODBOY")
    if goodboy is not None:
        return Path(goodboy.abspath)
    import pooch

    return Path(os.environ.get("LIBROSA_DATA_DIR", pooch.os_cache("librosa")))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def example_clips() -> list[ExampleClip]:
    """librosa's example recordings that ``librosa.ex`` can return without any network access.

    The keys come from ``librosa.util.list_examples()``. An example counts as
    available when its file is in librosa's data folder (``$LIBROSA_DATA_DIR``)
    with the checksum librosa's registry expects; otherwise ``librosa.ex`` would
    download it, so it is left out. Nothing here touches the network.

    Returns
    -------
    list of ExampleClip
        Sorted by key; empty when librosa has no local data.
    """
    import librosa

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        librosa.util.list_examples()
    listed = {}
    for line in out.getvalue().splitlines():
        key, sep, desc = line.partition("\t")
        if sep:
            listed[key.strip()] = desc.strip()
    data = resources.files("librosa.util.example_data")
    index = json.loads((data / "index.json").read_text())
    registry = {}
    for line in (data / "registry.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            registry[parts[0]] = parts[1].split(":")[-1]
    folder = _librosa_data_dir()
    clips = []
    for key in sorted(listed):
        name = index.get(key, {}).get("path", "") + ".ogg"
        path = folder / name
        try:
            if path.is_file() and registry.get(name) == _sha256(path):
                clips.append(ExampleClip(key=key, description=listed[key], path=path))
        except OSError:
            continue
    return clips


def example_path(key: str) -> Path:
    """The file of librosa example ``key``, through ``librosa.ex``, only when it is available offline.

    Raises
    ------
    ParameterError
        ``key`` is not an example available offline (see :func:`example_clips`).
    AudioError
        ``librosa.ex`` failed.
    """
    import librosa

    available = {c.key: c for c in example_clips()}
    if key not in available:
        raise ParameterError(
            f"example={key!r} is not available offline; available: {', '.join(available) or 'none'} "
            "(set LIBROSA_DATA_DIR to a folder holding librosa's example data)"
        )
    try:
        return Path(librosa.ex(key))
    except (OSError, ValueError, librosa.util.exceptions.ParameterError) as e:
        raise AudioError(f"could not open librosa example {key!r}: {e}") from e
