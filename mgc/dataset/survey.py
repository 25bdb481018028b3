"""What a dataset's audio headers say: tracks per class, durations, files that cannot be read.

Headers only, so it is fast; a file whose header reads can still fail to decode
further in, which feature extraction (:mod:`mgc.features.extract`) reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..audio import info
from ..errors import AudioError
from .layout import Dataset

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class DatasetSurvey:
    """What the audio headers of a dataset say.

    Attributes
    ----------
    classes : tuple of str
        Class names, sorted.
    counts : dict of str to int
        Tracks per class.
    table : pandas.DataFrame
        One row per track: ``track_id, label, file, duration, samplerate,
        channels, format, error`` (duration in seconds; ``error`` empty when the
        header was read).
    """

    classes: tuple[str, ...]
    counts: dict
    table: "pd.DataFrame"

    @property
    def failures(self):
        """Rows of tracks whose header could not be read, with the reason in ``error``."""
        return self.table[self.table["error"] != ""]


def dataset_survey(dataset: Dataset, *, on_progress: Callable[[int, int, str], None] | None = None) -> DatasetSurvey:
    """Read the header of every track of a dataset (fast: no decoding).

    Parameters
    ----------
    dataset : Dataset
        From :func:`mgc.dataset.find_tracks`.
    on_progress : callable(done, total, message) or None
        Called after each file.

    Returns
    -------
    DatasetSurvey
        A file whose header reads may still fail to decode further in; a full
        decode of every file is what feature extraction does.
    """
    import pandas as pd

    rows = []
    total = len(dataset.tracks)
    for i, track in enumerate(dataset.tracks):
        row = {
            "track_id": track.track_id,
            "label": track.label,
            "file": dataset.relpath(track),
            "duration": np.nan,
            "samplerate": 0,
            "channels": 0,
            "format": "",
            "error": "",
        }
        try:
            header = info(track.path)
            row.update(
                duration=header.duration, samplerate=header.samplerate, channels=header.channels, format=header.format
            )
        except AudioError as e:
            row["error"] = str(e)
        rows.append(row)
        if on_progress is not None:
            on_progress(i + 1, total, track.track_id)
    table = pd.DataFrame(
        rows, columns=["track_id", "label", "file", "duration", "samplerate", "channels", "format", "error"]
    )
    return DatasetSurvey(classes=tuple(dataset.classes), counts=dataset.counts(), table=table)
