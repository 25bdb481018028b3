"""The two kinds of features a run can learn from, behind one interface.

``mfcc``
    The study's 13 MFCCs per frame over 3-s segments (:class:`~mgc.features.mfcc.FeatureParams`),
    rows of shape (130, 13), at 22050 Hz.
``embedding``
    A pretrained tagger's embedding per 3-s segment (:class:`~mgc.features.embed.EmbeddingParams`),
    rows of shape (1506,), at 16 kHz.

Both cut a clip into the same segments, so extraction, the cache, training,
windows and track votes handle them alike; the functions here pick the right one
from the parameters.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .embed import EmbeddingParams, embedding_segments, embedding_windows
from .mfcc import FeatureParams, clip_windows, track_segments

Params = FeatureParams | EmbeddingParams


def params_from_dict(d: dict) -> Params:
    """Feature parameters from what :meth:`to_dict` wrote (a run's manifest, a cache, a saved table).

    Raises
    ------
    ParameterError
        Unknown keys or values.
    """
    d = dict(d)
    kind = d.get("kind", "mfcc")
    try:
        if kind == "embedding":
            return EmbeddingParams(**d)
        if kind == "mfcc":
            d.pop("kind", None)
            return FeatureParams(**d)
    except TypeError as e:
        raise ParameterError(f"feature parameters {sorted(d)} do not describe {kind!r} features: {e}") from e
    raise ParameterError(f"feature kind={kind!r} is not one of 'mfcc', 'embedding'")


def kind_of(params: Params) -> str:
    """``"embedding"`` or ``"mfcc"``."""
    return "embedding" if isinstance(params, EmbeddingParams) else "mfcc"


def segments_of(y: np.ndarray, params: Params) -> tuple[np.ndarray, np.ndarray]:
    """The features of one clip's segments (``X``, ``segment_index``), of either kind."""
    if isinstance(params, EmbeddingParams):
        return embedding_segments(y, params=params)
    if isinstance(params, FeatureParams):
        return track_segments(y, params=params)
    raise ParameterError(f"params must be FeatureParams or EmbeddingParams, not {type(params).__name__}")


def windows_of(y: np.ndarray, params: Params, *, max_windows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The features of the 3-s windows over a clip (``X``, start times in s), of either kind."""
    if isinstance(params, EmbeddingParams):
        return embedding_windows(y, params=params, max_windows=max_windows)
    if isinstance(params, FeatureParams):
        return clip_windows(y, params=params, max_windows=max_windows)
    raise ParameterError(f"params must be FeatureParams or EmbeddingParams, not {type(params).__name__}")
