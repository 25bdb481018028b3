"""Stage 3, features: the study's MFCC segments of every track, as one table.

- :mod:`mgc.features.mfcc`: :class:`FeatureParams` and the study's 13 MFCCs over 3-s segments, batched.
- :mod:`mgc.features.musicnn`: the pretrained musicnn tagger (MSD) rebuilt as a Keras 3 model, the embeddings' source.
- :mod:`mgc.features.embed`: :class:`EmbeddingParams`, the pretrained tagger's embeddings per 3-s segment.
- :mod:`mgc.features.tagger`: :func:`taggram`, the tagger's 50 tag probabilities over a clip's windows.
- :mod:`mgc.features.kinds`: the two kinds behind one interface (:func:`params_from_dict`, :func:`segments_of`).
- :mod:`mgc.features.table`: :class:`FeatureSet`, the segment table every later stage takes.
- :mod:`mgc.features.extract`: :func:`extract_dataset` (and :func:`extract_source`), on a process pool or Dask.
- :mod:`mgc.features.store`: the per-track feature store many workers write, and :class:`SegmentSource` over it.
- :mod:`mgc.features.cache`: the single-file cache of earlier versions, read only to migrate it.
"""

from .embed import EMBEDDING_PARAMS, EmbeddingParams, embedding_segments, embedding_windows
from .extract import extract_dataset, extract_file, extract_source, extraction_status
from .kinds import Params, kind_of, params_from_dict, segments_of, windows_of
from .mfcc import STUDY_PARAMS, FeatureParams, clip_windows, mfcc_batch, track_segments
from .store import FeatureStore, SegmentSource
from .table import FeatureSet, Skipped
from .tagger import Taggram, taggram

__all__ = [
    "EMBEDDING_PARAMS",
    "EmbeddingParams",
    "Params",
    "embedding_segments",
    "embedding_windows",
    "kind_of",
    "params_from_dict",
    "segments_of",
    "windows_of",
    "STUDY_PARAMS",
    "FeatureParams",
    "FeatureSet",
    "Skipped",
    "Taggram",
    "clip_windows",
    "extract_dataset",
    "extract_file",
    "extract_source",
    "FeatureStore",
    "SegmentSource",
    "extraction_status",
    "mfcc_batch",
    "taggram",
    "track_segments",
]
