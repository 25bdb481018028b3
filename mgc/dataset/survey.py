"""What a dataset's audio says: tracks per class, durations, files that cannot be used.

Each file is judged by the rule every part of the project applies
(:func:`check_track`, i.e. :func:`mgc.audio.usable` over the part the features use),
so ``mgc info``, the Explore overview, extraction and Classify agree on which files are
readable: a truncated, non-finite or silent file is unreadable for all of them.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from .. import config
from ..audio import AudioInfo, info, usable
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


def check_track(path) -> AudioInfo:
    """Header facts of a track, once it passes the project's one readability rule.

    The rule: the header is sane and the first ``TRACK_DURATION`` seconds (what the
    study's features use) decode within the budget to finite samples, last at least one
    segment (3 s) and are not silent (:func:`mgc.audio.usable`).

    Returns
    -------
    AudioInfo
        Of the whole file (duration from the header).

    Raises
    ------
    AudioError
        Why the track cannot be used.
    """
    header = info(path)
    _check_usable(path)
    return header


def _check_usable(path) -> None:
    usable(
        path,
        max_duration=float(config.TRACK_DURATION),
        min_duration=config.TRACK_DURATION / config.SEGMENTS_PER_TRACK,
    )


def dataset_survey(dataset: Dataset, *, on_progress: Callable[[int, int, str], None] | None = None) -> DatasetSurvey:
    """Check every track of a dataset with :func:`check_track` (its first 30 s are decoded).

    Parameters
    ----------
    dataset : Dataset
        From :func:`mgc.dataset.find_tracks`.
    on_progress : callable(done, total, message) or None
        Called after each file, in the dataset's order (the files are checked by a
        pool of threads).

    Returns
    -------
    DatasetSurvey
        A file is reported with the reason it cannot be used, the same reason feature
        extraction and Classify give.
    """
    import pandas as pd

    def survey_one(track) -> dict:
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
            row.update(  # what the header says is shown even when the audio then fails the rule
                duration=header.duration, samplerate=header.samplerate, channels=header.channels, format=header.format
            )
            _check_usable(track.path)
        except AudioError as e:
            row["error"] = str(e)
        return row

    rows = []
    total = len(dataset.tracks)
    # threads: the decoder releases the GIL, so the files are decoded on every core
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for i, row in enumerate(pool.map(survey_one, dataset.tracks)):
            rows.append(row)
            if on_progress is not None:
                on_progress(i + 1, total, row["track_id"])
    table = pd.DataFrame(
        rows, columns=["track_id", "label", "file", "duration", "samplerate", "channels", "format", "error"]
    )
    return DatasetSurvey(classes=tuple(dataset.classes), counts=dataset.counts(), table=table)
