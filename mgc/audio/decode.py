"""Decode audio files or bytes to mono float32 at a target rate, with validation.

Everything that reads audio in the project goes through :func:`decode`, so that a
corrupt file, an empty upload or a 48 kHz stereo MP3 all meet the same checks and
give the same kind of error: :class:`mgc.errors.AudioError`, with a message that
says what was wrong and what is accepted.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
import soundfile as sf

from ..config import SR
from ..errors import AudioError, ParameterError, check_positive_int

Source = Union[str, os.PathLike, bytes, bytearray, BinaryIO]

#: Containers the decoder accepts, as shown in error messages.
ACCEPTED = "WAV (8/16/24/32-bit int or float), AU, FLAC, OGG/Vorbis, MP3"


@dataclass(frozen=True)
class Decoded:
    """Audio decoded by :func:`decode`.

    Attributes
    ----------
    y : np.ndarray [shape=(n,), dtype=float32]
        Mono samples at ``sr``.
    sr : int
        Sample rate of ``y``, in Hz.
    native_sr : int
        Sample rate of the source, in Hz.
    channels : int
        Number of channels in the source (mixed down to one in ``y``).
    source_duration : float
        Duration of the source, in seconds, as far as it was read.
    truncated : bool
        True when only the first ``max_duration`` seconds were decoded.
    """

    y: np.ndarray
    sr: int
    native_sr: int
    channels: int
    source_duration: float
    truncated: bool

    @property
    def duration(self) -> float:
        """Duration of ``y``, in seconds."""
        return len(self.y) / self.sr


def _describe(source: Source, name: str | None) -> str:
    if name:
        return name
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    return "uploaded audio"


def _riff_shortfall(head: bytes, size: int) -> int:
    """Bytes missing from a RIFF/WAVE file whose ``data`` chunk claims more than the file holds (0 if none)."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return 0
    pos = 12
    while pos + 8 <= len(head):
        chunk, length = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if chunk == b"data":
            if length in (0, 0xFFFFFFFF):  # streamed WAVs leave the size open
                return 0
            return max(0, pos + 8 + length - size)
        pos += 8 + length + (length & 1)
    return 0


def _check_truncated(source: Source, label: str) -> None:
    if isinstance(source, (bytes, bytearray)):
        head, size = bytes(source[:65536]), len(source)
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            head = f.read(65536)
        size = Path(source).stat().st_size
    else:
        return
    missing = _riff_shortfall(head, size)
    if missing:
        raise AudioError(
            f"{label!r} is truncated: its WAV header announces {missing} more bytes of audio than the file holds; "
            "the file was cut short (re-export or re-download it)"
        )


def _open(source: Source, label: str):
    """Return something soundfile can open, checking emptiness first."""
    if isinstance(source, (bytes, bytearray)):
        if len(source) == 0:
            raise AudioError(f"{label!r} is empty (0 bytes); expected an audio file: {ACCEPTED}")
        return io.BytesIO(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise AudioError(f"{label!r} does not exist or is not a file")
        if path.stat().st_size == 0:
            raise AudioError(f"{label!r} is empty (0 bytes); expected an audio file: {ACCEPTED}")
        return str(path)
    if hasattr(source, "read"):
        return source
    raise ParameterError(
        f"source of type {type(source).__name__} is not accepted; pass a path, bytes or a binary file object"
    )


def resample(y: np.ndarray, *, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample with soxr's high-quality filter (librosa's default), only when needed.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal.
    orig_sr, target_sr : int
        Source and target rates, in Hz.

    Returns
    -------
    np.ndarray [shape=(m,), dtype=float32]
    """
    if orig_sr <= 0 or target_sr <= 0:
        raise ParameterError(f"orig_sr={orig_sr} and target_sr={target_sr} must be positive")
    if orig_sr == target_sr:
        return np.asarray(y, dtype=np.float32)
    import soxr

    return soxr.resample(y, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)


def decode(
    source: Source,
    *,
    sr: int = SR,
    max_duration: float | None = None,
    name: str | None = None,
) -> Decoded:
    """Decode a file, bytes or file object to mono float32 at ``sr``.

    Parameters
    ----------
    source : path, bytes or binary file object
        The audio. Containers: WAV (8/16/24/32-bit int and float), AU, FLAC,
        OGG/Vorbis and MP3.
    sr : int > 0
        Target sample rate in Hz; the signal is resampled only when it differs.
    max_duration : float > 0 or None
        Decode at most this many seconds from the start (bounds the work on huge
        files). ``None`` decodes everything.
    name : str or None
        Name used in error messages (an upload's file name); never opened.

    Returns
    -------
    Decoded

    Raises
    ------
    AudioError
        Not audio, empty, corrupt or truncated, no samples, or non-finite samples.
    ParameterError
        ``sr`` or ``max_duration`` out of range.
    """
    check_positive_int("sr", sr, unit="Hz")
    if max_duration is not None and not max_duration > 0:
        raise ParameterError(f"max_duration={max_duration!r} must be a positive number of seconds or None")
    label = _describe(source, name)
    handle = _open(source, label)
    _check_truncated(source, label)
    try:
        with sf.SoundFile(handle) as f:
            native_sr, channels, total = f.samplerate, f.channels, f.frames
            frames = -1
            truncated = False
            if max_duration is not None:
                limit = int(np.ceil(max_duration * native_sr))
                if total > limit:
                    frames, truncated = limit, True
            data = f.read(frames=frames, dtype="float32", always_2d=True)
    except sf.LibsndfileError as e:
        raise AudioError(
            f"could not decode {label!r}: it is not a readable audio file "
            f"({getattr(e, 'error_string', e)}); accepted: {ACCEPTED}"
        ) from e
    except (RuntimeError, ValueError, OSError, EOFError) as e:
        raise AudioError(f"could not decode {label!r}: the file is corrupt or truncated ({e})") from e
    if native_sr <= 0:
        raise AudioError(f"could not decode {label!r}: it reports a sample rate of {native_sr} Hz")
    if data.size == 0:
        raise AudioError(f"{label!r} holds no audio samples")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{label!r} holds non-finite samples (NaN or infinity); it is corrupt")
    y = data.mean(axis=1, dtype=np.float32) if channels > 1 else data[:, 0]
    y = resample(y, orig_sr=native_sr, target_sr=int(sr))
    return Decoded(
        y=np.ascontiguousarray(y, dtype=np.float32),
        sr=int(sr),
        native_sr=int(native_sr),
        channels=int(channels),
        source_duration=(total if total > 0 else data.shape[0]) / native_sr,
        truncated=truncated,
    )


def load(source: Source, *, sr: int = SR, max_duration: float | None = None, name: str | None = None) -> np.ndarray:
    """Decode ``source`` and return only the mono float32 samples at ``sr``.

    See :func:`decode` for the parameters and errors.

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
    """
    return decode(source, sr=sr, max_duration=max_duration, name=name).y


@dataclass(frozen=True)
class AudioInfo:
    """Header facts of an audio file, read without decoding it."""

    duration: float
    samplerate: int
    channels: int
    format: str


def info(path: str | os.PathLike) -> AudioInfo:
    """Read an audio file's header (duration, rate, channels, container).

    Raises
    ------
    AudioError
        The file is missing, empty or not a readable audio file.
    """
    label = Path(path).name
    _open(path, label)
    try:
        i = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(
            f"could not read {label!r}: not a readable audio file ({getattr(e, 'error_string', e)}); "
            f"accepted: {ACCEPTED}"
        ) from e
    if i.samplerate <= 0 or i.frames <= 0:
        raise AudioError(f"{label!r} holds no audio samples")
    return AudioInfo(duration=i.frames / i.samplerate, samplerate=i.samplerate, channels=i.channels, format=i.format)


def check_signal(y: np.ndarray, *, sr: int, min_duration: float = 0.0, name: str = "audio") -> None:
    """Check that a decoded signal is usable for classification.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    sr : int
    min_duration : float
        Shortest accepted duration, in seconds.
    name : str
        Used in messages.

    Raises
    ------
    AudioError
        Too short, or silent (peak below -80 dBFS).
    """
    duration = len(y) / sr
    if duration < min_duration:
        raise AudioError(
            f"{name!r} lasts {duration:.2f} s; at least {min_duration:.2f} s is needed (one analysis window)"
        )
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak < 1e-4:
        level = 20 * np.log10(max(peak, 1e-12))
        raise AudioError(f"{name!r} is silent (peak level {level:.0f} dBFS); nothing to classify")
