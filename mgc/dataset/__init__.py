"""Stage 2, dataset: tracks on disk, their labels, and the protocols that split them.

- :mod:`mgc.dataset.layout`: :func:`find_tracks` in GTZAN / Kaggle / FMA folder layouts (:class:`Track`,
  :class:`Dataset`).
- :mod:`mgc.dataset.fma`: FMA's ``tracks.csv`` (labels, subsets) and its official split (:class:`OfficialSplit`).
- :mod:`mgc.dataset.splits`: the ``segment``, ``track``, ``fault-filtered`` and ``fma-official`` protocols
  (:func:`make_split`),
  track folds, refits, and the embedded fault-filtered lists (``data/fault_filtered``).
- :mod:`mgc.dataset.survey`: which tracks of a dataset can be used (:func:`check_track`), and why not.
- :mod:`mgc.dataset.demo`: a synthetic dataset in GTZAN's layout, for offline use (imported on demand).
"""

from .fma import OfficialSplit, read_tracks_csv
from .layout import LAYOUTS, Dataset, Track, find_tracks
from .splits import (
    EVALUATE_ON,
    LISTED_SPLITS,
    MIN_TEST_TRACKS,
    SPLITS,
    THIN_CLASS_TRACKS,
    Split,
    fault_filtered_lists,
    faulty_tracks,
    make_split,
    protocol_label,
    refit_split,
    suggested_split,
    thin_classes,
    track_folds,
    tracks_per_class,
)
from .survey import DatasetSurvey, check_track, dataset_survey

__all__ = [
    "EVALUATE_ON",
    "LAYOUTS",
    "LISTED_SPLITS",
    "MIN_TEST_TRACKS",
    "SPLITS",
    "THIN_CLASS_TRACKS",
    "Dataset",
    "DatasetSurvey",
    "OfficialSplit",
    "Split",
    "Track",
    "check_track",
    "dataset_survey",
    "fault_filtered_lists",
    "faulty_tracks",
    "find_tracks",
    "make_split",
    "protocol_label",
    "read_tracks_csv",
    "refit_split",
    "suggested_split",
    "thin_classes",
    "track_folds",
    "tracks_per_class",
]
