"""The Explore page's representations: from a waveform to the study's MFCCs.

Each function takes a mono signal (or only parameters, for the filterbank) and
returns plain data: arrays with their axes in physical units (seconds, Hz, dB), in
a small frozen dataclass. Nothing here plots or imports Streamlit; the figures are
in :mod:`mgc.plots`.

The steps follow the study's walk from raw audio to its features: the waveform
cut into ``SEGMENTS_PER_TRACK`` segments, the FFT of the whole clip, the STFT
(linear, then in dB), the triangular mel filterbank (the study's Figure 1), the
mel spectrogram and the MFCCs (the study's Figure 2).

Work is bounded: every signal is cut to its first :data:`MAX_DURATION` seconds
(the study's clip length) before analysis, and the returned object says so
(``truncated``); a parameter choice that would produce more than
:data:`MAX_CELLS` time-frequency values is refused.

The Explore page's other two sources are librosa's example clips
(:mod:`mgc.audio.examples`) and the dataset survey (:mod:`mgc.dataset.survey`).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np

from .. import config
from ..errors import AudioError, ParameterError, check_positive_int

#: Longest stretch of a signal analysed, in seconds (the study's clip length).
MAX_DURATION = float(config.TRACK_DURATION)
#: Most time-frequency values (bins x frames) one spectrogram may hold.
MAX_CELLS = 20_000_000
#: Largest FFT window accepted, in samples.
MAX_N_FFT = 1 << 15


# --------------------------------------------------------------------------- #
# Results
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Waveform:
    """A waveform reduced for plotting, with the study's segments.

    Attributes
    ----------
    times : np.ndarray [shape=(m,)]
        Time of each point, in seconds.
    y_min, y_max : np.ndarray [shape=(m,)]
        Lowest and highest sample in the stretch each point stands for (equal when
        the signal is short enough to plot every sample).
    segments : np.ndarray [shape=(k, 2)]
        Start and end, in seconds, of the study's segments that begin inside the
        clip (at most ``SEGMENTS_PER_TRACK``).
    segment_full : np.ndarray [shape=(k,), dtype=bool]
        True where the segment lies whole inside the clip; the study's code keeps
        only those.
    sr : int
        Sample rate of the analysed signal, in Hz.
    duration : float
        Duration analysed, in seconds.
    truncated : bool
        True when the signal was longer than :data:`MAX_DURATION` and was cut.
    """

    times: np.ndarray
    y_min: np.ndarray
    y_max: np.ndarray
    segments: np.ndarray
    segment_full: np.ndarray
    sr: int
    duration: float
    truncated: bool


@dataclass(frozen=True)
class Spectrum:
    """The FFT of a whole clip, reduced for plotting.

    Attributes
    ----------
    frequencies : np.ndarray [shape=(m,)]
        Frequency of each point, in Hz, from 0 to ``sr / 2``.
    magnitude : np.ndarray [shape=(m,)]
        ``|FFT|`` at that frequency (the largest bin of the band each point
        stands for, so narrow peaks survive the reduction).
    power_db : np.ndarray [shape=(m,)]
        Power ``|FFT|**2`` in dB relative to the strongest bin (0 dB at the peak).
    resolution : float
        Spacing of the FFT bins before reduction, in Hz (``sr / n``).
    sr : int
    duration : float
    truncated : bool
    """

    frequencies: np.ndarray
    magnitude: np.ndarray
    power_db: np.ndarray
    resolution: float
    sr: int
    duration: float
    truncated: bool


@dataclass(frozen=True)
class Spectrogram:
    """A time-frequency matrix with its axes.

    Attributes
    ----------
    S : np.ndarray [shape=(n_bins, n_frames)]
        Magnitude (``db=False``) or level in dB (``db=True``).
    times : np.ndarray [shape=(n_frames,)]
        Centre of each frame, in seconds.
    frequencies : np.ndarray [shape=(n_bins,)]
        Centre of each bin, in Hz: FFT bins for an STFT, band centres for a mel
        spectrogram.
    db : bool
        Whether ``S`` is in dB (relative to the loudest value, floor -80 dB).
    mel : bool
        Whether the rows are mel bands (unequally spaced in Hz).
    sr, n_fft, hop_length : int
    duration : float
    truncated : bool
    """

    S: np.ndarray
    times: np.ndarray
    frequencies: np.ndarray
    db: bool
    mel: bool
    sr: int
    n_fft: int
    hop_length: int
    duration: float
    truncated: bool


@dataclass(frozen=True)
class MelFilterbank:
    """The triangular mel filters that turn an FFT frame into mel bands.

    Attributes
    ----------
    weights : np.ndarray [shape=(n_mels, 1 + n_fft // 2)]
        Filter weights, as ``librosa.filters.mel`` makes them (``norm``).
    frequencies : np.ndarray [shape=(1 + n_fft // 2,)]
        Frequency of each FFT bin, in Hz.
    centers : np.ndarray [shape=(n_mels,)]
        Centre (peak) frequency of each filter, in Hz.
    norm : str or None
        ``'slaney'`` (each triangle has unit area, as the MFCCs use) or None
        (each triangle peaks at 1).
    sr, n_fft, n_mels : int
    """

    weights: np.ndarray
    frequencies: np.ndarray
    centers: np.ndarray
    norm: str | None
    sr: int
    n_fft: int
    n_mels: int


@dataclass(frozen=True)
class MFCC:
    """MFCCs of a clip, frame by frame.

    Attributes
    ----------
    M : np.ndarray [shape=(n_mfcc, n_frames)]
        The coefficients (``librosa.feature.mfcc``).
    times : np.ndarray [shape=(n_frames,)]
        Centre of each frame, in seconds.
    coefficients : np.ndarray [shape=(n_mfcc,), dtype=int]
        Index of each coefficient (0 is the overall level).
    sr, n_fft, hop_length, n_mels : int
    duration : float
    truncated : bool
    """

    M: np.ndarray
    times: np.ndarray
    coefficients: np.ndarray
    sr: int
    n_fft: int
    hop_length: int
    n_mels: int
    duration: float
    truncated: bool


# --------------------------------------------------------------------------- #
# Checks
# --------------------------------------------------------------------------- #
def _signal(y, *, sr: int, min_samples: int = 1, need: str = "") -> tuple[np.ndarray, float, bool]:
    """Check ``y`` and cut it to :data:`MAX_DURATION`; return (y, duration, truncated)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"y must be a mono signal of shape (n,), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.floating):
        raise ParameterError(f"y must hold floating-point samples, got dtype {y.dtype}")
    if len(y) < min_samples:
        raise AudioError(
            f"the clip has {len(y)} samples ({len(y) / sr:.3f} s), fewer than the {min_samples} "
            f"{need or 'needed'}; use a longer clip{' or a smaller n_fft' if need else ''}"
        )
    if not np.all(np.isfinite(y)):
        raise AudioError("the clip holds non-finite samples (NaN or infinity)")
    limit = int(MAX_DURATION * sr)
    truncated = len(y) > limit
    y = np.ascontiguousarray(y[:limit], dtype=np.float32)
    return y, len(y) / sr, truncated


def _frame_params(sr, n_fft, hop_length) -> tuple[int, int, int]:
    sr = check_positive_int("sr", sr)
    n_fft = check_positive_int("n_fft", n_fft, upper=MAX_N_FFT)
    hop_length = check_positive_int("hop_length", hop_length)
    return sr, n_fft, hop_length


def _check_cells(n_samples: int, *, n_bins: int, hop_length: int) -> None:
    n_frames = 1 + n_samples // hop_length
    if n_frames * n_bins > MAX_CELLS:
        raise ParameterError(
            f"hop_length={hop_length} gives {n_frames} frames x {n_bins} bins = {n_frames * n_bins:,} values "
            f"for {n_samples:,} samples, more than the limit of {MAX_CELLS:,}; raise hop_length"
        )


def _mel_weights(sr: int, n_fft: int, n_mels: int, norm) -> np.ndarray:
    """``librosa.filters.mel``, refusing parameters that leave filters empty."""
    import librosa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty filters are reported below, as an error
        weights = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, norm=norm)
    empty = int(np.sum(weights.max(axis=1) <= 0))
    if empty:
        raise ParameterError(
            f"n_mels={n_mels} is too many for n_fft={n_fft} at sr={sr}: {empty} mel filter(s) fall between "
            f"two FFT bins ({sr / n_fft:.1f} Hz apart) and are empty; lower n_mels or raise n_fft"
        )
    return weights


def _mel_params(sr, n_fft, hop_length, n_mels) -> tuple[int, int, int, int]:
    sr, n_fft, hop_length = _frame_params(sr, n_fft, hop_length)
    n_mels = check_positive_int("n_mels", n_mels, upper=1 + n_fft // 2)
    return sr, n_fft, hop_length, n_mels


# --------------------------------------------------------------------------- #
# Representations
# --------------------------------------------------------------------------- #
def segment_bounds(
    n_samples: int,
    *,
    sr: int = config.SR,
    n_segments: int = config.SEGMENTS_PER_TRACK,
    track_duration: float = config.TRACK_DURATION,
) -> tuple[np.ndarray, np.ndarray]:
    """The study's segments of a clip of ``n_samples`` samples.

    The study cuts each clip from its start into ``n_segments`` segments of
    ``int(sr * track_duration / n_segments)`` samples (3 s) and keeps the ones
    that fit whole.

    Parameters
    ----------
    n_samples : int >= 0
        Length of the clip, in samples.
    sr : int > 0
        Sample rate, in Hz.
    n_segments : int > 0
        Segments per track.
    track_duration : float > 0
        Nominal track duration, in seconds.

    Returns
    -------
    segments : np.ndarray [shape=(k, 2)]
        Start and end of each segment that begins inside the clip, in seconds
        (the end is cut at the clip's end).
    full : np.ndarray [shape=(k,), dtype=bool]
        Whether each segment fits whole.
    """
    sr = check_positive_int("sr", sr)
    n_segments = check_positive_int("n_segments", n_segments)
    if not (isinstance(track_duration, (int, float, np.number)) and track_duration > 0):
        raise ParameterError(f"track_duration={track_duration!r} must be a positive number of seconds")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
        raise ParameterError(f"n_samples={n_samples!r} must be a non-negative integer")
    length = int(sr * track_duration / n_segments)
    starts = np.arange(n_segments, dtype=np.int64) * length
    starts = starts[starts < n_samples]
    ends = np.minimum(starts + length, n_samples)
    full = (starts + length) <= n_samples
    return np.stack([starts, ends], axis=1).astype(float).reshape(-1, 2) / sr, full


def waveform(y: np.ndarray, *, sr: int = config.SR, max_points: int = 4000) -> Waveform:
    """The waveform as a min/max envelope of at most ``max_points`` points, with the study's segments.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal.
    sr : int > 0
        Sample rate of ``y``, in Hz.
    max_points : int > 0
        Most points returned; each stands for ``ceil(n / max_points)`` samples.

    Returns
    -------
    Waveform

    Raises
    ------
    ParameterError
        ``y`` not mono floating point, or a parameter out of range.
    AudioError
        ``y`` empty or non-finite.
    """
    sr = check_positive_int("sr", sr)
    max_points = check_positive_int("max_points", max_points)
    y, duration, truncated = _signal(y, sr=sr)
    step = int(np.ceil(len(y) / max_points))
    if step <= 1:
        y_min = y_max = y
        times = np.arange(len(y)) / sr
    else:
        n_blocks = int(np.ceil(len(y) / step))
        padded = np.pad(y, (0, n_blocks * step - len(y)), mode="edge").reshape(n_blocks, step)
        y_min, y_max = padded.min(axis=1), padded.max(axis=1)
        times = (np.arange(n_blocks) * step + step / 2) / sr
    segments, full = segment_bounds(len(y), sr=sr)
    return Waveform(
        times=times,
        y_min=y_min,
        y_max=y_max,
        segments=segments,
        segment_full=full,
        sr=sr,
        duration=duration,
        truncated=truncated,
    )


def power_spectrum(y: np.ndarray, *, sr: int = config.SR, max_points: int = 4000) -> Spectrum:
    """The FFT magnitude and power of the whole clip over frequency (the study's "FFT" plot).

    One FFT over the whole (analysed) clip: fine frequency detail, no time at all.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal.
    sr : int > 0
        Sample rate of ``y``, in Hz.
    max_points : int > 0
        Most points returned; each keeps the strongest FFT bin of its band.

    Returns
    -------
    Spectrum

    Raises
    ------
    ParameterError, AudioError
        As :func:`waveform`.
    """
    sr = check_positive_int("sr", sr)
    max_points = check_positive_int("max_points", max_points)
    y, duration, truncated = _signal(y, sr=sr, min_samples=2, need="samples an FFT needs")
    magnitude = np.abs(np.fft.rfft(y))
    frequencies = np.fft.rfftfreq(len(y), d=1.0 / sr)
    step = int(np.ceil(len(magnitude) / max_points))
    if step > 1:
        n_blocks = int(np.ceil(len(magnitude) / step))
        padded = np.pad(magnitude, (0, n_blocks * step - len(magnitude)), constant_values=-1.0)
        best = padded.reshape(n_blocks, step).argmax(axis=1) + np.arange(n_blocks) * step
        magnitude, frequencies = magnitude[best], frequencies[best]
    peak = float(magnitude.max())
    power_db = 10.0 * np.log10(np.maximum(magnitude**2, 1e-20) / max(peak**2, 1e-20))
    return Spectrum(
        frequencies=frequencies,
        magnitude=magnitude,
        power_db=np.maximum(power_db, -120.0),
        resolution=sr / len(y),
        sr=sr,
        duration=duration,
        truncated=truncated,
    )


def stft(
    y: np.ndarray,
    *,
    sr: int = config.SR,
    n_fft: int = config.N_FFT,
    hop_length: int = config.HOP_LENGTH,
) -> Spectrogram:
    """Magnitude spectrogram ``|STFT|`` (Hann window, centred frames, as librosa).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal, at least ``n_fft`` samples long.
    sr : int > 0
        Sample rate of ``y``, in Hz.
    n_fft : int > 0
        FFT window, in samples (any positive length; powers of two are fastest).
    hop_length : int > 0
        Hop between frames, in samples.

    Returns
    -------
    Spectrogram
        ``S`` of shape ``(1 + n_fft // 2, n_frames)``, linear magnitude.

    Raises
    ------
    ParameterError
        A parameter out of range, or too many values (see :data:`MAX_CELLS`).
    AudioError
        ``y`` shorter than ``n_fft``, or non-finite.
    """
    import librosa

    sr, n_fft, hop_length = _frame_params(sr, n_fft, hop_length)
    y, duration, truncated = _signal(y, sr=sr, min_samples=n_fft, need=f"samples of one n_fft={n_fft} window")
    _check_cells(len(y), n_bins=1 + n_fft // 2, hop_length=hop_length)
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length))
    return Spectrogram(
        S=S,
        times=librosa.frames_to_time(np.arange(S.shape[1]), sr=sr, hop_length=hop_length),
        frequencies=librosa.fft_frequencies(sr=sr, n_fft=n_fft),
        db=False,
        mel=False,
        sr=sr,
        n_fft=n_fft,
        hop_length=hop_length,
        duration=duration,
        truncated=truncated,
    )


def log_spectrogram(
    y: np.ndarray,
    *,
    sr: int = config.SR,
    n_fft: int = config.N_FFT,
    hop_length: int = config.HOP_LENGTH,
    top_db: float = 80.0,
) -> Spectrogram:
    """The STFT magnitude in dB relative to its loudest value (``librosa.amplitude_to_db``).

    Parameters
    ----------
    y, sr, n_fft, hop_length
        As :func:`stft`.
    top_db : float > 0
        Floor, in dB below the loudest value.

    Returns
    -------
    Spectrogram
        ``S`` in dB, between ``-top_db`` and 0.

    Raises
    ------
    ParameterError, AudioError
        As :func:`stft`, or ``top_db`` not positive.
    """
    import librosa

    if isinstance(top_db, bool) or not (isinstance(top_db, (int, float, np.number)) and top_db > 0):
        raise ParameterError(f"top_db={top_db!r} must be a positive number of dB")
    spec = stft(y, sr=sr, n_fft=n_fft, hop_length=hop_length)
    S_db = librosa.amplitude_to_db(spec.S, ref=np.max, top_db=top_db)
    return _replace(spec, S=S_db, db=True)


def mel_filterbank(
    *,
    sr: int = config.SR,
    n_fft: int = config.N_FFT,
    n_mels: int = config.N_MELS,
    norm: str | None = "slaney",
) -> MelFilterbank:
    """The triangular mel filters over the FFT bins (the study's Figure 1).

    Parameters
    ----------
    sr : int > 0
        Sample rate, in Hz; the filters span 0 to ``sr / 2``.
    n_fft : int > 0
        FFT window, in samples: the filters are sampled at ``1 + n_fft // 2`` bins.
    n_mels : int > 0
        Number of filters.
    norm : {'slaney', None}
        ``'slaney'``: unit-area triangles, as librosa's MFCCs use them;
        None: triangles that peak at 1.

    Returns
    -------
    MelFilterbank

    Raises
    ------
    ParameterError
        A parameter out of range, or ``n_mels`` so large for ``n_fft`` that some
        filters are empty.
    """
    import librosa

    sr = check_positive_int("sr", sr)
    n_fft = check_positive_int("n_fft", n_fft, upper=MAX_N_FFT)
    n_mels = check_positive_int("n_mels", n_mels, upper=1 + n_fft // 2)
    if norm not in ("slaney", None):
        raise ParameterError(f"norm={norm!r} must be 'slaney' or None")
    weights = _mel_weights(sr, n_fft, n_mels, norm)
    # librosa spaces n_mels + 2 points evenly on the mel scale; filter i peaks at point i + 1
    centers = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=0.0, fmax=sr / 2)[1:-1]
    return MelFilterbank(
        weights=weights,
        frequencies=librosa.fft_frequencies(sr=sr, n_fft=n_fft),
        centers=centers,
        norm=norm,
        sr=sr,
        n_fft=n_fft,
        n_mels=n_mels,
    )


def mel_spectrogram(
    y: np.ndarray,
    *,
    sr: int = config.SR,
    n_fft: int = config.N_FFT,
    hop_length: int = config.HOP_LENGTH,
    n_mels: int = config.N_MELS,
    top_db: float = 80.0,
) -> Spectrogram:
    """The mel spectrogram in dB: power STFT through the mel filterbank (``power_to_db``).

    Parameters
    ----------
    y, sr, n_fft, hop_length
        As :func:`stft`.
    n_mels : int > 0
        Number of mel bands.
    top_db : float > 0
        Floor, in dB below the loudest value.

    Returns
    -------
    Spectrogram
        ``S`` of shape ``(n_mels, n_frames)`` in dB; ``frequencies`` are the band
        centres in Hz; ``mel`` is True.

    Raises
    ------
    ParameterError, AudioError
        As :func:`stft` and :func:`mel_filterbank`.
    """
    import librosa

    if isinstance(top_db, bool) or not (isinstance(top_db, (int, float, np.number)) and top_db > 0):
        raise ParameterError(f"top_db={top_db!r} must be a positive number of dB")
    sr, n_fft, hop_length, n_mels = _mel_params(sr, n_fft, hop_length, n_mels)
    bank = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels)
    spec = stft(y, sr=sr, n_fft=n_fft, hop_length=hop_length)
    S = librosa.power_to_db(bank.weights @ spec.S**2, ref=np.max, top_db=top_db)
    return _replace(spec, S=S, frequencies=bank.centers, db=True, mel=True)


def mfcc(
    y: np.ndarray,
    *,
    sr: int = config.SR,
    n_fft: int = config.N_FFT,
    hop_length: int = config.HOP_LENGTH,
    n_mels: int = config.N_MELS,
    n_mfcc: int = config.N_MFCC,
) -> MFCC:
    """MFCCs of the clip frame by frame, as the study computes them (``librosa.feature.mfcc``).

    Parameters
    ----------
    y, sr, n_fft, hop_length
        As :func:`stft`.
    n_mels : int > 0
        Mel bands behind the MFCCs.
    n_mfcc : int > 0
        Coefficients kept; at most ``n_mels``.

    Returns
    -------
    MFCC

    Raises
    ------
    ParameterError
        A parameter out of range, ``n_mfcc > n_mels``, or empty mel filters.
    AudioError
        ``y`` shorter than ``n_fft``, or non-finite.
    """
    import librosa

    sr, n_fft, hop_length, n_mels = _mel_params(sr, n_fft, hop_length, n_mels)
    n_mfcc = check_positive_int("n_mfcc", n_mfcc)
    if n_mfcc > n_mels:
        raise ParameterError(f"n_mfcc={n_mfcc} must not exceed n_mels={n_mels}")
    _mel_weights(sr, n_fft, n_mels, "slaney")  # refuse empty filters with a clear message
    y, duration, truncated = _signal(y, sr=sr, min_samples=n_fft, need=f"samples of one n_fft={n_fft} window")
    _check_cells(len(y), n_bins=1 + n_fft // 2, hop_length=hop_length)
    M = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
    return MFCC(
        M=M,
        times=librosa.frames_to_time(np.arange(M.shape[1]), sr=sr, hop_length=hop_length),
        coefficients=np.arange(n_mfcc),
        sr=sr,
        n_fft=n_fft,
        hop_length=hop_length,
        n_mels=n_mels,
        duration=duration,
        truncated=truncated,
    )


def _replace(obj, **changes):
    return dataclasses.replace(obj, **changes)
