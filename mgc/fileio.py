"""Writing files safely: atomic replacement under a unique temporary name.

Every file the library writes in place (feature tables, the feature cache, trust
thresholds) goes through :func:`atomic_write`: the bytes go to a temporary file with a
name no other writer uses, in the target's folder, and the finished file is renamed
over the target. Two writers of one path therefore never trip over each other's
temporary file, and a reader sees the old file or the new one, never half of one.
Under every stage, like :mod:`mgc.errors`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Callable


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` atomically: ``write(f)`` fills a uniquely named temporary file, renamed into place.

    Parameters
    ----------
    path : path
        The file to write; its folder is created when missing.
    write : callable(file) -> None
        Writes the content into the binary file object it is given.

    Returns
    -------
    Path

    Raises
    ------
    OSError
        The folder or the file cannot be written; the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
