"""librosa's example recordings that are on disk, for the Explore page (never downloaded).

``librosa.ex`` downloads an example the first time it is asked for. The Explore
page offers only the examples already in librosa's data folder
(``$LIBROSA_DATA_DIR``) with the checksum librosa's registry expects, so that
nothing here touches the network.

Works on librosa 0.10-0.11 and 1.0 through their public functions: the keys and
descriptions come from ``librosa.util.list_examples``, the file of a key from
``librosa.ex(key, url=True)`` (librosa >= 1.0; on 0.11, which cannot say it
without downloading, from the example index librosa ships), and the clip itself
from ``librosa.ex``. No public function of either version tells whether
``librosa.ex`` would download, so the checksum comes from the registry librosa
ships and hands to pooch itself (``librosa/util/example_data/registry.txt``).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..errors import AudioError, ParameterError

#: The package data librosa ships with its example index and registry (the same files in 0.11 and 1.0).
_EXAMPLE_DATA = "librosa.util.example_data"


@dataclass(frozen=True)
class ExampleClip:
    """One of librosa's example recordings found on disk."""

    key: str
    description: str
    path: Path


def _librosa_data_dir() -> Path:
    """The folder ``librosa.ex`` reads, by librosa's documented rule.

    ``$LIBROSA_DATA_DIR`` when set, else pooch's cache folder for librosa. librosa
    reads the variable when it is imported, so set it before that.
    """
    import pooch

    return Path(os.path.expanduser(str(os.environ.get("LIBROSA_DATA_DIR", pooch.os_cache("librosa")))))


def _listed() -> dict[str, str]:
    """Key -> description of the examples ``librosa.util.list_examples`` prints."""
    import librosa

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        librosa.util.list_examples()
    listed = {}
    for line in out.getvalue().splitlines():
        key, sep, desc = line.partition("\t")
        if sep:
            listed[key.strip()] = desc.strip()
    return listed


@lru_cache(maxsize=1)
def _registry() -> dict[str, str]:
    """File name -> sha256 of every file librosa can fetch (its shipped pooch registry)."""
    registry = {}
    for line in (resources.files(_EXAMPLE_DATA) / "registry.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            registry[parts[0]] = parts[1].split(":")[-1].lower()
    return registry


def _example_file(key: str) -> str:
    """The file name under librosa's data folder of example ``key`` (22 kHz version), without downloading it."""
    import librosa

    if "url" in inspect.signature(librosa.ex).parameters:  # librosa >= 1.0: its public answer
        return librosa.ex(key, url=True).rsplit("/", 1)[-1]
    # librosa 0.11 has no public way to name the file without fetching it: read the index it ships
    index = json.loads((resources.files(_EXAMPLE_DATA) / "index.json").read_text())
    return index[key]["path"] + ".ogg"


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
    import pooch

    listed = _listed()
    registry = _registry()
    folder = _librosa_data_dir()
    clips = []
    for key in sorted(listed):
        try:
            name = _example_file(key)
            path = folder / name
            if path.is_file() and registry.get(name) == pooch.file_hash(str(path), alg="sha256"):
                clips.append(ExampleClip(key=key, description=listed[key], path=path))
        except (OSError, KeyError, ValueError):  # unreadable file, or a key librosa lists but cannot name
            continue
    return clips


def example_path(key: str) -> Path:
    """The file of librosa example ``key``, through ``librosa.ex``, only when it is available offline.

    Raises
    ------
    ParameterError
        ``key`` is not an example available offline (see :func:`example_clips`).
    AudioError
        ``librosa.ex`` failed, or it reads another folder than ``$LIBROSA_DATA_DIR``
        (the variable was set after librosa was imported).
    """
    import librosa

    available = {c.key: c for c in example_clips()}
    if key not in available:
        raise ParameterError(
            f"example={key!r} is not available offline; available: {', '.join(available) or 'none'} "
            "(set LIBROSA_DATA_DIR to a folder holding librosa's example data)"
        )
    try:
        path = Path(librosa.ex(key))
    except (OSError, ValueError, librosa.util.exceptions.ParameterError) as e:
        raise AudioError(f"could not open librosa example {key!r}: {e}") from e
    if path.resolve() != available[key].path.resolve():
        raise AudioError(
            f"librosa read example {key!r} from {path.parent}, not from {available[key].path.parent}: "
            "set LIBROSA_DATA_DIR before librosa is imported"
        )
    return path
