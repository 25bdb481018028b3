"""Stage 3, features: the study's MFCC segments of every track, as one table.

- :mod:`mgc.features.mfcc`: :class:`FeatureParams` and the study's 13 MFCCs over 3-s segments, batched.
- :mod:`mgc.features.table`: :class:`FeatureSet`, the segment table every later stage takes.
- :mod:`mgc.features.extract`: :func:`extract_dataset`, parallel over worker processes and cached.
- :mod:`mgc.features.cache`: the on-disk cache, one file per dataset folder and parameters.
"""

from .extract import extract_dataset, extract_file, extraction_status
from .mfcc import STUDY_PARAMS, FeatureParams, clip_windows, mfcc_batch, track_segments
from .table import FeatureSet, Skipped

__all__ = [
    "STUDY_PARAMS",
    "FeatureParams",
    "FeatureSet",
    "Skipped",
    "clip_windows",
    "extract_dataset",
    "extract_file",
    "extraction_status",
    "mfcc_batch",
    "track_segments",
]
