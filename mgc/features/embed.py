"""Pretrained embeddings as features: what the musicnn tagger hears in each 3-s segment.

The transfer model (``transfer``) does not learn from MFCCs but from the
embeddings of a frozen, pretrained tagger (:mod:`mgc.features.musicnn`). They are
computed over the same segments as the study's features, so that windows, the
per-window timeline and track votes work the same way:

- the clip is decoded at the tagger's 16 kHz and cut into ``n_segments`` equal
  segments from the start (3 s each for a 30-s clip), as
  :func:`mgc.features.track_segments` cuts it at 22050 Hz;
- each segment becomes one input patch of the tagger: a mel spectrogram
  (``librosa.feature.melspectrogram``, n_fft 512, hop 256, 96 bands, power 2,
  centred frames) of its first 187 frames, compressed as ``log10(10000 S + 1)``
  in float32 (the tagger's own extractor casts to float16 first, which
  overflows to infinity on loud music);
- a segment's features are the tagger's ``mean_pool`` and ``max_pool``
  embeddings, concatenated (1506 numbers; ``layer="pool"``), or its 200-unit
  ``penultimate`` layer (``layer="penultimate"``).

A last partial segment is kept when it still fills the 187 frames (the study's
rule for its 130 frames).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ParameterError, check_positive_int
from .mfcc import SegmentGrid

#: Embedding layers a segment can be described by, and their width.
LAYERS = {"pool": 1506, "penultimate": 200}
#: Patches per call of the network at most (bounds the memory of one call: about 100 MB).
EMBED_BATCH = 32
#: One input patch of the tagger: frames x mel bands.
PATCH_SHAPE = (187, 96)


@dataclass(frozen=True)
class EmbeddingParams(SegmentGrid):
    """Parameters of the embedding features; the defaults are musicnn's front-end and the study's segments.

    Attributes
    ----------
    kind : str
        Always ``"embedding"`` (tells these parameters from the MFCC ones in stored files).
    backbone : str
        The pretrained model (:data:`mgc.features.musicnn.BACKBONE`).
    layer : {'pool', 'penultimate'}
        Which embedding describes a segment.
    sr, n_fft, hop_length, n_mels, patch_frames : int
        The tagger's input: sample rate (Hz), FFT size, hop, mel bands and frames per patch.
    n_segments : int
        Segments per track.
    track_duration : float
        Nominal track duration, in seconds.
    """

    kind: str = "embedding"
    backbone: str = "musicnn-msd"
    layer: str = "pool"
    sr: int = 16000
    n_fft: int = 512
    hop_length: int = 256
    n_mels: int = 96
    patch_frames: int = 187
    n_segments: int = 10
    track_duration: float = 30

    def __post_init__(self):
        if self.kind != "embedding":
            raise ParameterError(f"kind={self.kind!r} must be 'embedding'")
        if self.backbone != "musicnn-msd":
            raise ParameterError(f"backbone={self.backbone!r} is not known; the one available is 'musicnn-msd'")
        if self.layer not in LAYERS:
            raise ParameterError(f"layer={self.layer!r} must be one of {', '.join(LAYERS)}")
        for name in ("sr", "n_fft", "hop_length", "n_mels", "patch_frames", "n_segments"):
            check_positive_int(name, getattr(self, name))
        if (self.sr, self.n_fft, self.hop_length, self.n_mels, self.patch_frames) != (16000, 512, 256, 96, 187):
            raise ParameterError(
                "the pretrained tagger was trained on sr=16000, n_fft=512, hop_length=256, n_mels=96 and "
                "patch_frames=187; other front-end settings would feed it inputs it never saw"
            )
        if not self.track_duration > 0:
            raise ParameterError(f"track_duration={self.track_duration!r} must be a positive number of seconds")
        if self.min_samples > self.samples_per_segment:
            raise ParameterError(
                f"a segment of {self.segment_duration:.2f} s is shorter than one {self.patch_frames}-frame patch "
                f"({self.min_samples / self.sr:.2f} s): use fewer segments or a longer track_duration"
            )

    @property
    def min_samples(self) -> int:
        """Fewest samples that still give a full patch (centred frames: ``1 + n // hop >= patch_frames``)."""
        return (self.patch_frames - 1) * self.hop_length

    @property
    def shape(self) -> tuple[int]:
        """Shape of one segment's features: ``(1506,)`` or ``(200,)``."""
        return (LAYERS[self.layer],)

    def to_dict(self) -> dict:
        """Plain JSON-able dict of the parameters."""
        return asdict(self)

    def key(self) -> str:
        """A short stable hash of the parameters (used to key caches)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


EMBEDDING_PARAMS = EmbeddingParams()


def mel_patches(segments: np.ndarray, *, params: EmbeddingParams = EMBEDDING_PARAMS) -> np.ndarray:
    """The tagger's input for equally long segments: log-compressed mel patches.

    Parameters
    ----------
    segments : np.ndarray [shape=(k, n)]
        ``k`` mono segments at ``params.sr``, each at least ``params.min_samples`` long.

    Returns
    -------
    np.ndarray [shape=(k, patch_frames, n_mels), dtype=float32]
        Time first, mel bands last, ``log10(10000 S + 1)`` computed in float32.
    """
    import librosa

    segments = np.asarray(segments, dtype=np.float32)
    if segments.ndim != 2:
        raise ParameterError(f"segments must be 2-D (k, n), got shape {segments.shape}")
    if segments.shape[1] < params.min_samples:
        raise ParameterError(
            f"segments of {segments.shape[1]} samples are shorter than one patch ({params.min_samples} samples)"
        )
    S = librosa.feature.melspectrogram(
        y=segments, sr=params.sr, n_fft=params.n_fft, hop_length=params.hop_length, n_mels=params.n_mels
    )  # (k, n_mels, frames), float32
    S = np.swapaxes(S[..., : params.patch_frames], 1, 2).astype(np.float32, copy=False)
    return np.log10(np.float32(10000) * S + np.float32(1)).astype(np.float32)


@functools.lru_cache(maxsize=1)
def backbone_function():
    """The tagger as one function of any number of patches, returning its outputs as numpy arrays.

    The port's forward pass as matrix products (:class:`mgc.features.musicnn_gemm.MusicnnGemm`,
    over the saved model's weights): the same outputs as the Keras model to float32 rounding,
    about 3x less CPU time on a 2-core CPU (``bench/transfer.py --speed``). Nothing is traced,
    so no batch size costs a new graph.
    """
    from .musicnn import load_backbone
    from .musicnn_gemm import MusicnnGemm

    return MusicnnGemm(load_backbone())


def _embed(patches: np.ndarray, params: EmbeddingParams, *, with_tags: bool):
    fn = backbone_function()
    emb, tags = [], []
    for start in range(0, len(patches), EMBED_BATCH):
        t, mean_pool, max_pool, penultimate = (np.asarray(o) for o in fn(patches[start : start + EMBED_BATCH]))
        emb.append(np.concatenate([mean_pool, max_pool], axis=1) if params.layer == "pool" else penultimate)
        tags.append(t)
    if not emb:
        empty = np.zeros((0, *params.shape), np.float32)
        return (empty, np.zeros((0, 50), np.float32)) if with_tags else empty
    E = np.ascontiguousarray(np.concatenate(emb), dtype=np.float32)
    return (E, np.concatenate(tags).astype(np.float32)) if with_tags else E


def embed_segments(
    segments: np.ndarray, *, params: EmbeddingParams = EMBEDDING_PARAMS, with_tags: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Embeddings (and optionally tag probabilities) of equally long segments.

    Parameters
    ----------
    segments : np.ndarray [shape=(k, n)]
        Mono segments at ``params.sr``.
    with_tags : bool
        Also return the tagger's 50 tag probabilities per segment.

    Returns
    -------
    E : np.ndarray [shape=(k, width), dtype=float32]
    tags : np.ndarray [shape=(k, 50), dtype=float32]
        Only with ``with_tags``; in the order of :data:`mgc.features.musicnn.MSD_TAGS`.
    """
    return _embed(mel_patches(segments, params=params), params, with_tags=with_tags)


def _starts(n_samples: int, params: EmbeddingParams, limit: int | None) -> list[int]:
    length = params.samples_per_segment
    n_full = n_samples // length if limit is None else min(limit, n_samples // length)
    starts = list(range(0, n_full * length, length))
    if (limit is None or n_full < limit) and n_samples - n_full * length >= params.min_samples:
        starts.append(n_full * length)
    return starts


def _cut(y: np.ndarray, starts: list[int], params: EmbeddingParams) -> np.ndarray:
    length = params.samples_per_segment
    return np.stack([np.pad(y[s : s + length], (0, max(0, s + length - len(y)))) for s in starts])


def embedding_segments(y: np.ndarray, *, params: EmbeddingParams = EMBEDDING_PARAMS) -> tuple[np.ndarray, np.ndarray]:
    """The embedding features of one clip: one row per segment, as :func:`mgc.features.track_segments`.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal at ``params.sr``.

    Returns
    -------
    X : np.ndarray [shape=(k, width), dtype=float32]
    segment_index : np.ndarray [shape=(k,), dtype=int64]
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"y must be mono, 1-D; got shape {y.shape}")
    starts = _starts(len(y), params, params.n_segments)
    if not starts:
        return np.zeros((0, *params.shape), np.float32), np.zeros(0, np.int64)
    # a padded last segment keeps only its real frames: the patch covers 187 frames from its start
    return embed_segments(_cut(y, starts, params), params=params), np.arange(len(starts), dtype=np.int64)


def embedding_windows(
    y: np.ndarray, *, params: EmbeddingParams = EMBEDDING_PARAMS, max_windows: int | None = None, with_tags=False
):
    """Embeddings of the 3-s windows over a clip of any length (as :func:`mgc.features.clip_windows`).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal at ``params.sr``.
    max_windows : int or None
        At most this many windows, spread evenly over the clip.
    with_tags : bool
        Also return the tag probabilities per window.

    Returns
    -------
    X : np.ndarray [shape=(k, width), dtype=float32]
    starts : np.ndarray [shape=(k,), dtype=float64]
        Window start times, in seconds.
    tags : np.ndarray [shape=(k, 50)]
        Only with ``with_tags``.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"y must be mono, 1-D; got shape {y.shape}")
    if max_windows is not None and max_windows <= 0:
        raise ParameterError(f"max_windows={max_windows} must be a positive integer or None")
    starts = _starts(len(y), params, None)
    if max_windows is not None and len(starts) > max_windows:
        pick = np.linspace(0, len(starts) - 1, max_windows).round().astype(int)
        starts = [starts[i] for i in pick]
    times = np.asarray(starts, dtype=np.float64) / params.sr
    if not starts:
        empty = np.zeros((0, *params.shape), np.float32)
        return (empty, times, np.zeros((0, 50), np.float32)) if with_tags else (empty, times)
    out = embed_segments(_cut(y, starts, params), params=params, with_tags=with_tags)
    return (out[0], times, out[1]) if with_tags else (out, times)
