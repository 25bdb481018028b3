"""The study's features: 13 MFCCs over 3-s segments, exact and fast.

The study's code loads a 30-s clip, cuts it into 10 segments of
``sr * 30 / 10 = 66150`` samples and calls ``librosa.feature.mfcc`` once per
segment (n_fft 2048, hop 512), keeping segments with exactly
``ceil(66150 / 512) = 130`` frames. :func:`track_segments` returns the same numbers
(to float32 rounding) but computes all segments of a clip in one batch: the mel
filterbank is built once, the frames go through one real FFT, and the dB floor
(``top_db``) is applied per segment as the per-segment librosa call does.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from .. import config
from ..errors import ParameterError, check_positive_int


class SegmentGrid:
    """How a track is cut: ``n_segments`` equal segments of a ``track_duration``-s clip at ``sr`` Hz.

    Shared by the two kinds of feature parameters (a mixin of frozen dataclasses
    with those three fields).
    """

    sr: int
    n_segments: int
    track_duration: float

    @property
    def samples_per_segment(self) -> int:
        """Samples in one segment (66150 for the study's MFCCs, 48000 for the tagger at 16 kHz)."""
        return int(self.sr * self.track_duration / self.n_segments)

    @property
    def segment_duration(self) -> float:
        """Duration of one segment, in seconds."""
        return self.samples_per_segment / self.sr


@dataclass(frozen=True)
class FeatureParams(SegmentGrid):
    """Parameters of the MFCC segment features; the defaults are the study's.

    Attributes
    ----------
    sr : int
        Sample rate, in Hz.
    n_mfcc : int
        MFCCs per frame.
    n_fft : int
        FFT window, in samples.
    hop_length : int
        Hop between frames, in samples.
    n_mels : int
        Mel bands behind the MFCCs.
    n_segments : int
        Segments per track.
    track_duration : float
        Nominal track duration, in seconds; a segment lasts
        ``track_duration / n_segments``.
    """

    sr: int = config.SR
    n_mfcc: int = config.N_MFCC
    n_fft: int = config.N_FFT
    hop_length: int = config.HOP_LENGTH
    n_mels: int = config.N_MELS
    n_segments: int = config.SEGMENTS_PER_TRACK
    track_duration: float = config.TRACK_DURATION

    def __post_init__(self):
        for name in ("sr", "n_mfcc", "n_fft", "hop_length", "n_mels", "n_segments"):
            check_positive_int(name, getattr(self, name))
        if not self.track_duration > 0:
            raise ParameterError(f"track_duration={self.track_duration!r} must be a positive number of seconds")
        if self.n_mfcc > self.n_mels:
            raise ParameterError(f"n_mfcc={self.n_mfcc} must not exceed n_mels={self.n_mels}")
        if self.samples_per_segment < self.hop_length:
            raise ParameterError(
                f"a segment of {self.samples_per_segment} samples is shorter than hop_length={self.hop_length}"
            )

    @property
    def frames_per_segment(self) -> int:
        """MFCC frames a full segment yields (130 for the study)."""
        return int(np.ceil(self.samples_per_segment / self.hop_length))

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of one segment's features: (frames, n_mfcc)."""
        return (self.frames_per_segment, self.n_mfcc)

    def to_dict(self) -> dict:
        """Plain JSON-able dict of the parameters."""
        return asdict(self)

    def key(self) -> str:
        """A short stable hash of the parameters (used to key caches)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


STUDY_PARAMS = FeatureParams()


@functools.lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)


@functools.lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    import scipy.signal

    return scipy.signal.get_window("hann", n_fft, fftbins=True)


@functools.lru_cache(maxsize=8)
def _mel_sparse(sr: int, n_fft: int, n_mels: int):
    import scipy.sparse

    # each band has a handful of non-zero weights: 2k of the 131k entries for the study's settings
    return scipy.sparse.csr_matrix(_mel_basis(sr, n_fft, n_mels).astype(np.float64))


#: Segments with a c0 at least this large in magnitude (near-silent ones) take the
#: dense mel product, whose float32 rounding is librosa's own (see :func:`mfcc_batch`).
DENSE_C0 = 500.0


def _mel_power(frames: np.ndarray, params: FeatureParams, *, dense: bool) -> np.ndarray:
    """Mel power (k, frames, n_mels) of framed segments, one segment at a time in reused buffers."""
    k, n_frames = frames.shape[:2]
    window = _hann(params.n_fft)
    mel = np.empty((k, n_frames, params.n_mels), np.float32)
    windowed = np.empty((n_frames, params.n_fft))
    spectrum = np.empty((n_frames, params.n_fft // 2 + 1), np.complex64)
    power = np.empty(spectrum.shape, np.float32)
    for i in range(k):
        np.multiply(frames[i], window, out=windowed)
        spectrum[...] = np.fft.rfft(windowed, axis=-1)  # complex128, rounded to complex64 as librosa stores it
        np.abs(spectrum, out=power)
        np.multiply(power, power, out=power)
        if dense:  # float32 BLAS product, as librosa's einsum
            np.matmul(power, _mel_basis(params.sr, params.n_fft, params.n_mels).T, out=mel[i])
        else:  # float64 sums of the non-zero weights only, rounded once
            mel[i] = (_mel_sparse(params.sr, params.n_fft, params.n_mels) @ power.T).T
    return mel


def _log_dct(mel: np.ndarray, n_mfcc: int) -> np.ndarray:
    """power_to_db(ref=1, amin=1e-10, top_db=80) with the floor per segment, then the orthonormal DCT-II."""
    import scipy.fft

    log_mel = np.log10(np.maximum(1e-10, mel, out=mel), out=mel)
    log_mel *= 10.0
    np.maximum(log_mel, log_mel.max(axis=(1, 2), keepdims=True) - 80.0, out=log_mel)
    return scipy.fft.dct(log_mel, axis=-1, type=2, norm="ortho")[..., :n_mfcc]


def mfcc_batch(segments: np.ndarray, *, params: FeatureParams = STUDY_PARAMS) -> np.ndarray:
    """MFCCs of equally long segments, each as ``librosa.feature.mfcc`` computes it alone.

    The arithmetic follows librosa's path (float64 window and numpy FFT cast to
    complex64, ``|S|**2`` in float32, mel projection, ``power_to_db`` with
    ``top_db=80`` taken per segment, orthonormal DCT-II in float32), so the result
    agrees with the per-segment call to float32 rounding: within 1e-4 absolute.

    Speed: one segment's spectrum at a time in reused buffers (its 130 x 2048
    float64 frames stay in the CPU cache), and a sparse mel product (each band has
    a handful of non-zero weights), summed in float64. That product rounds
    differently from librosa's dense float32 one, which moves c0 by one or two
    float32 steps; a step is 6.1e-5 once ``|c0| >= 512`` (near-silent segments),
    so segments with ``|c0| >= DENSE_C0`` are recomputed with the dense product,
    whose rounding is librosa's. Not taken: a float32 FFT (1.6x faster, errs by
    1.7e-4 on quiet bins).

    Parameters
    ----------
    segments : np.ndarray [shape=(k, n)]
        ``k`` mono segments of ``n`` samples each.
    params : FeatureParams

    Returns
    -------
    M : np.ndarray [shape=(k, 1 + n // hop_length, n_mfcc), dtype=float32]
        Frames along axis 1 (the study's layout: time first, coefficients last).
    """
    segments = np.asarray(segments, dtype=np.float32)
    if segments.ndim != 2:
        raise ParameterError(f"segments must be 2-D (k, n), got shape {segments.shape}")
    half = params.n_fft // 2
    # centre-padded frames (librosa.stft with center=True, pad_mode="constant"), a strided view
    padded = np.pad(segments, ((0, 0), (half, half)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, params.n_fft, axis=-1)[:, :: params.hop_length]
    mfcc = _log_dct(_mel_power(frames, params, dense=False), params.n_mfcc)
    quiet = np.flatnonzero(np.abs(mfcc[..., 0]).max(axis=1) >= DENSE_C0)
    if len(quiet):
        mfcc[quiet] = _log_dct(_mel_power(frames[quiet], params, dense=True), params.n_mfcc)
    return np.ascontiguousarray(mfcc, dtype=np.float32)


def track_segments(y: np.ndarray, *, params: FeatureParams = STUDY_PARAMS) -> tuple[np.ndarray, np.ndarray]:
    """The study's features of one clip: ``n_segments`` equal segments from the start.

    Segment ``d`` covers samples ``[d * L, (d + 1) * L)`` with
    ``L = params.samples_per_segment``; a segment is kept only when it yields
    exactly ``params.frames_per_segment`` frames (a clip shorter than 30 s loses its
    last segments, as in the study's code). Samples past the last segment are unused.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal at ``params.sr``.
    params : FeatureParams

    Returns
    -------
    X : np.ndarray [shape=(k, frames_per_segment, n_mfcc), dtype=float32]
    segment_index : np.ndarray [shape=(k,), dtype=int64]
        Which of the ``n_segments`` each row is.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"y must be mono, 1-D; got shape {y.shape}")
    length = params.samples_per_segment
    n_full = min(params.n_segments, len(y) // length)
    parts, index = [], []
    if n_full:
        parts.append(mfcc_batch(y[: n_full * length].reshape(n_full, length), params=params))
        index.extend(range(n_full))
    if n_full < params.n_segments and len(y) > n_full * length:
        tail = y[n_full * length : (n_full + 1) * length]
        m = mfcc_batch(tail[None, :], params=params)
        if m.shape[1] == params.frames_per_segment:
            parts.append(m)
            index.append(n_full)
    if not parts:
        return np.zeros((0, *params.shape), np.float32), np.zeros(0, np.int64)
    return np.concatenate(parts), np.asarray(index, dtype=np.int64)


def clip_windows(
    y: np.ndarray, *, params: FeatureParams = STUDY_PARAMS, max_windows: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The study's 3-s windows over a clip of any length, in order.

    Windows of ``params.samples_per_segment`` samples follow each other without
    overlap from the start; a last partial window is kept only when it yields the
    full frame count, as in :func:`track_segments`.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal at ``params.sr``.
    params : FeatureParams
    max_windows : int or None
        Use at most this many windows, spread evenly over the clip (bounds the work
        on long songs). ``None`` keeps all.

    Returns
    -------
    X : np.ndarray [shape=(k, frames_per_segment, n_mfcc), dtype=float32]
    starts : np.ndarray [shape=(k,), dtype=float64]
        Start time of each window, in seconds.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"y must be mono, 1-D; got shape {y.shape}")
    if max_windows is not None and max_windows <= 0:
        raise ParameterError(f"max_windows={max_windows} must be a positive integer or None")
    length = params.samples_per_segment
    n_full = len(y) // length
    starts = list(range(0, n_full * length, length))
    rest = len(y) - n_full * length
    if rest and 1 + rest // params.hop_length == params.frames_per_segment:
        starts.append(n_full * length)
    if max_windows is not None and len(starts) > max_windows:
        pick = np.linspace(0, len(starts) - 1, max_windows).round().astype(int)
        starts = [starts[i] for i in pick]
    if not starts:
        return np.zeros((0, *params.shape), np.float32), np.zeros(0)
    stack = np.stack([np.pad(y[s : s + length], (0, max(0, s + length - len(y)))) for s in starts])
    X = mfcc_batch(stack, params=params)
    # a padded last window: recompute it unpadded so it equals the per-window librosa call
    if starts[-1] + length > len(y):
        X[-1] = mfcc_batch(y[starts[-1] :][None, :], params=params)[0]
    return X, np.asarray(starts, dtype=np.float64) / params.sr
