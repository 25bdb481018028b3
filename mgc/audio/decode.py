"""Decode audio files or bytes to mono float32 at a target rate, with validation.

Everything that reads audio in the project goes through :func:`decode`, so that a
corrupt file, an empty upload or a 48 kHz stereo MP3 all meet the same checks and
give the same kind of error: :class:`mgc.errors.AudioError`, with a message that
says what was wrong and what is accepted.

The work is bounded before anything is allocated. The header's sample rate must lie
in ``MIN_SR``-``MAX_SR`` and its channel count in 1-``MAX_CHANNELS``; the frames to
decode (the header's length, capped at ``max_duration`` seconds at the native rate)
times the channels, and the samples the resampler will return, must both stay within
the decode budget ``max_samples`` (:data:`MAX_SAMPLES`). Where a container gives no
length, the budget is checked block by block as the decoder goes. Samples are read in
blocks and mixed down to mono as they come, so memory follows the mono signal, not
the channel count.

:func:`usable` is the one rule that says whether a clip can be used at all (it
decodes, its samples are finite, it is long enough and it is not silent): ``mgc info``,
feature extraction, Explore and Classify all apply it.
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

#: Sample rates a source may have, in Hz: below 4 kHz a header is absurd (at 1 Hz a few kB of
#: samples would claim days of audio), above 384 kHz no recording is made.
MIN_SR, MAX_SR = 4_000, 384_000
#: Channels a source may have (7.1 surround has 8; a header that claims hundreds is not music).
MAX_CHANNELS = 32
#: The decode budget: at most this many samples (frames x channels) are read from one source,
#: and at most this many come out of the resampler: 2**26 = 67,108,864 (256 MiB as float32),
#: e.g. 11 minutes of 48 kHz stereo.
MAX_SAMPLES = 2**26
#: Frames read from the decoder at a time (mixed to mono block by block).
BLOCK_FRAMES = 2**16
#: Peak level under which a signal counts as silent: 1e-4, i.e. -80 dBFS.
SILENCE_PEAK = 1e-4


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
        if path.is_dir():
            raise AudioError(f"{label!r} is a folder, not an audio file")
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


def _reason(e: Exception) -> str:
    """libsndfile's reason for refusing a source, without its misleading guesses.

    Given a regular file it cannot parse (an MP3 that holds only an ID3 tag, say),
    libsndfile says "File does not exist or is not a regular file (possibly a pipe?)".
    :func:`_open` has checked that the file exists and is regular, so what is true is
    that no audio stream was recognised in it.
    """
    text = str(getattr(e, "error_string", "") or e).strip().rstrip(".")
    if "does not exist or is not a regular file" in text:
        return "no audio stream was recognised in it"
    return text


def _check_header(label: str, native_sr: int, channels: int) -> None:
    """Refuse a sample rate outside ``MIN_SR``-``MAX_SR`` Hz and a channel count outside 1-``MAX_CHANNELS``."""
    if not MIN_SR <= native_sr <= MAX_SR:
        raise AudioError(
            f"{label!r} reports a sample rate of {native_sr:,} Hz; accepted: {MIN_SR:,}-{MAX_SR:,} Hz "
            "(its header is corrupt, or it is not a recording)"
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(f"{label!r} reports {channels:,} channels; accepted: 1-{MAX_CHANNELS}")


def _check_budget(label: str, frames: int, channels: int, native_sr: int, sr: int, max_samples: int) -> None:
    """Refuse, before anything is read, a decode of more than ``max_samples`` samples in or out."""
    samples = frames * channels
    out = int(np.ceil(frames * sr / native_sr))
    if samples <= max_samples and out <= max_samples:
        return
    if samples > max_samples:
        size = f"{frames:,} frames x {channels} channel{'s' if channels > 1 else ''} = {samples:,} samples"
    else:
        size = f"{out:,} samples once resampled to {sr:,} Hz"
    raise AudioError(
        f"{label!r} would decode {size} ({frames / native_sr:,.0f} s at {native_sr:,} Hz), over the decode "
        f"budget of max_samples={max_samples:,} samples; decode fewer seconds (max_duration), or convert it "
        "to a lower rate or fewer channels"
    )


def _read_mono(
    f, label: str, *, frames: int | None, channels: int, native_sr: int, budget: int
) -> tuple[np.ndarray, bool]:
    """Read ``frames`` frames (or, when None, until the end) in blocks, mixing each to mono as it comes.

    Returns the mono samples and whether the source holds more after them. Without a
    known length the budget (``budget`` frames) is enforced as the blocks arrive. A
    decoder that fails part-way (a FLAC whose header claims more than it holds) is an
    error, as a truncated WAV is.
    """
    cap = budget if frames is None else frames
    y = np.empty(min(cap, BLOCK_FRAMES) if frames is None else frames, np.float32)
    block = np.empty((min(BLOCK_FRAMES, max(cap, 1)), channels), np.float32)
    n = 0
    while n < cap:
        try:
            got = f.read(frames=min(len(block), cap - n), dtype="float32", always_2d=True, out=block)
        except sf.LibsndfileError as e:
            raise AudioError(
                f"{label!r} is corrupt or truncated: decoding failed after {n / native_sr:.2f} s ({_reason(e)})"
            ) from e
        if len(got) == 0:
            break
        if not np.all(np.isfinite(got)):
            raise AudioError(f"{label!r} holds non-finite samples (NaN or infinity); it is corrupt")
        if n + len(got) > len(y):  # no known length: grow geometrically, never past the budget
            y = np.resize(y, min(cap, max(2 * len(y), n + len(got))))
        y[n : n + len(got)] = got.mean(axis=1, dtype=np.float32) if channels > 1 else got[:, 0]
        n += len(got)
    try:
        more = n == cap and len(f.read(frames=1, dtype="float32", always_2d=True)) > 0
    except sf.LibsndfileError:  # the end of a stream whose header claims more: nothing more to read
        more = False
    if more and frames is None:
        raise AudioError(
            f"{label!r} holds more than {budget:,} frames of {channels} channel(s) and gives no length: over "
            "the decode budget (max_samples); decode fewer seconds (max_duration)"
        )
    return y[:n], more


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
    sr: int | None = SR,
    max_duration: float | None = None,
    max_samples: int = MAX_SAMPLES,
    name: str | None = None,
) -> Decoded:
    """Decode a file, bytes or file object to mono float32 at ``sr``, within the decode budget.

    Parameters
    ----------
    source : path, bytes or binary file object
        The audio. Containers: WAV (8/16/24/32-bit int and float), AU, FLAC,
        OGG/Vorbis and MP3.
    sr : int in [1, MAX_SR] or None
        Target sample rate in Hz; the signal is resampled only when it differs.
        ``None`` keeps the source's own rate (to be resampled later, once per rate
        needed, by :func:`resampled`: one decode for several consumers).
    max_duration : float > 0 or None
        Decode at most this many seconds from the start (bounds the work on long
        files). ``None`` decodes everything the budget allows.
    max_samples : int > 0
        The decode budget: at most this many samples (frames x channels) are read,
        and at most this many come out of the resampler. Checked against the header
        before anything is read; for a container without a length, as it is read.
    name : str or None
        Name used in error messages (an upload's file name); never opened.

    Returns
    -------
    Decoded

    Raises
    ------
    AudioError
        Not audio, empty, corrupt or truncated; a sample rate outside
        ``MIN_SR``-``MAX_SR`` or a channel count outside 1-``MAX_CHANNELS``; over the
        decode budget; no samples, or non-finite samples.
    ParameterError
        ``sr``, ``max_duration`` or ``max_samples`` out of range.
    """
    if sr is not None:
        check_positive_int("sr", sr, upper=MAX_SR, unit="Hz")
        sr = int(sr)
    check_positive_int("max_samples", max_samples)
    if max_duration is not None and not max_duration > 0:
        raise ParameterError(f"max_duration={max_duration!r} must be a positive number of seconds or None")
    label = _describe(source, name)
    handle = _open(source, label)
    _check_truncated(source, label)
    try:
        with sf.SoundFile(handle) as f:
            native_sr, channels, total = int(f.samplerate), int(f.channels), int(f.frames)
            _check_header(label, native_sr, channels)
            sr = native_sr if sr is None else sr
            known = 0 < total < 2**62  # the length libsndfile gives a stream without one is 0 or huge
            limit = None if max_duration is None else int(np.ceil(max_duration * native_sr))
            if known:
                frames = total if limit is None else min(total, limit)
            else:
                frames = limit
            if frames is not None:
                _check_budget(label, frames, channels, native_sr, sr, max_samples)
            budget = min(max_samples // channels, int(max_samples * native_sr / sr))
            y, more = _read_mono(f, label, frames=frames, channels=channels, native_sr=native_sr, budget=budget)
    except sf.LibsndfileError as e:
        raise AudioError(
            f"could not decode {label!r}: it is not a readable audio file ({_reason(e)}); accepted: {ACCEPTED}"
        ) from e
    except (RuntimeError, ValueError, OSError, EOFError) as e:
        raise AudioError(f"could not decode {label!r}: the file is corrupt or truncated ({e})") from e
    if y.size == 0:
        raise AudioError(f"{label!r} holds no audio samples")
    read = len(y)
    y = resample(y, orig_sr=native_sr, target_sr=sr)
    return Decoded(
        y=np.ascontiguousarray(y, dtype=np.float32),
        sr=sr,
        native_sr=native_sr,
        channels=channels,
        source_duration=(total if known else read) / native_sr,
        truncated=more,
    )


def resampled(
    d: Decoded, *, sr: int = SR, max_duration: float | None = None, max_samples: int = MAX_SAMPLES
) -> Decoded:
    """The same decoded clip at another rate (and at most its first ``max_duration`` seconds).

    Decoding once at the source's rate (``decode(source, sr=None)``) and then calling this for
    each rate needed gives the very samples that :func:`decode` at that rate gives (the same
    frames through the same resampler), without decoding the source again.

    Parameters
    ----------
    d : Decoded
        A clip decoded at its native rate (``d.sr == d.native_sr``).
    sr : int in [1, MAX_SR]
        Target rate in Hz.
    max_duration : float > 0 or None
        Keep at most this many seconds from the start.
    max_samples : int > 0
        At most this many samples may come out of the resampler (the decode budget).

    Returns
    -------
    Decoded

    Raises
    ------
    ParameterError
        ``d`` is not at its native rate, or ``sr``/``max_duration`` out of range.
    AudioError
        The result would exceed the decode budget.
    """
    check_positive_int("sr", sr, upper=MAX_SR, unit="Hz")
    if max_duration is not None and not max_duration > 0:
        raise ParameterError(f"max_duration={max_duration!r} must be a positive number of seconds or None")
    if d.sr != d.native_sr:
        raise ParameterError(
            f"d is at {d.sr} Hz, not its source's {d.native_sr} Hz: resample from a clip decoded with sr=None"
        )
    frames = len(d.y) if max_duration is None else min(len(d.y), int(np.ceil(max_duration * d.native_sr)))
    if int(np.ceil(frames * sr / d.native_sr)) > max_samples:
        raise AudioError(
            f"{frames / d.native_sr:.0f} s at {sr} Hz exceed the decode budget of {max_samples:,} samples "
            "(max_samples); keep fewer seconds (max_duration)"
        )
    y = resample(d.y[:frames], orig_sr=d.native_sr, target_sr=int(sr))
    return Decoded(
        y=np.ascontiguousarray(y, dtype=np.float32),
        sr=int(sr),
        native_sr=d.native_sr,
        channels=d.channels,
        source_duration=d.source_duration,
        truncated=d.truncated or frames < len(d.y),
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

    Only the header: a file it accepts can still fail :func:`usable` (truncated,
    non-finite or silent samples).

    Raises
    ------
    AudioError
        The file is missing, empty or not a readable audio file, or its header
        reports a sample rate or channel count out of range.
    """
    label = Path(path).name
    _open(path, label)
    try:
        i = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(
            f"could not read {label!r}: not a readable audio file ({_reason(e)}); accepted: {ACCEPTED}"
        ) from e
    if i.samplerate <= 0 or i.frames <= 0:
        raise AudioError(f"{label!r} holds no audio samples")
    _check_header(label, int(i.samplerate), int(i.channels))
    return AudioInfo(duration=i.frames / i.samplerate, samplerate=i.samplerate, channels=i.channels, format=i.format)


def check_signal(y: np.ndarray, *, sr: int, min_duration: float = 0.0, name: str = "audio") -> None:
    """Check that a decoded signal is usable: long enough, and not silent.

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
        Too short, or silent (peak below :data:`SILENCE_PEAK`, -80 dBFS).
    """
    duration = len(y) / sr
    if duration < min_duration:
        raise AudioError(
            f"{name!r} lasts {duration:.2f} s; at least {min_duration:.2f} s is needed (one analysis window)"
        )
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak < SILENCE_PEAK:
        level = 20 * np.log10(max(peak, 1e-12))
        raise AudioError(
            f"{name!r} is silent (peak level {level:.0f} dBFS); under -80 dBFS there is nothing to analyse"
        )


def usable(
    source: Source,
    *,
    sr: int = SR,
    max_duration: float | None = None,
    min_duration: float = 0.0,
    name: str | None = None,
) -> Decoded:
    """The one rule for whether a clip can be used: it decodes within the budget, and is long enough and not silent.

    ``mgc info``, feature extraction, Explore and Classify all apply it, so a file one
    of them accepts, the others accept too.

    Parameters
    ----------
    source : path, bytes, binary file object or Decoded
        A :class:`Decoded` clip at its native rate (``decode(..., sr=None)``) is resampled
        (:func:`resampled`), not decoded again: one decode serves several rates.
    sr : int
        Target rate (see :func:`decode`).
    max_duration : float or None
        Seconds decoded and checked, from the start (the part that will be used).
    min_duration : float
        Shortest accepted duration of that part, in seconds.
    name : str or None
        Shown in messages.

    Returns
    -------
    Decoded

    Raises
    ------
    AudioError
        Whatever :func:`decode` or :func:`check_signal` refuses.
    """
    if isinstance(source, Decoded):  # decoded once already, at its own rate: resampled, not decoded again
        d = resampled(source, sr=sr, max_duration=max_duration)
    else:
        d = decode(source, sr=sr, max_duration=max_duration, name=name)
    check_signal(d.y, sr=d.sr, min_duration=min_duration, name=_describe(source, name))
    return d
