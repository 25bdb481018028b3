"""Stage 1, audio: any file or bytes to mono float32, and what the Explore page shows of a clip.

- :mod:`mgc.audio.decode`: :func:`decode` (bounded, validated), :func:`resampled` (one decode, several
  rates) and header facts (:func:`info`).
- :mod:`mgc.audio.represent`: waveform, FFT, STFT, mel filterbank, mel spectrogram and MFCC views.
- :mod:`mgc.audio.examples`: librosa's example clips that are on disk (never downloaded).
"""

from .decode import (
    ACCEPTED,
    MAX_CHANNELS,
    MAX_SAMPLES,
    MAX_SR,
    MIN_SR,
    AudioInfo,
    Decoded,
    Source,
    check_signal,
    decode,
    info,
    load,
    resample,
    resampled,
    usable,
)
from .examples import ExampleClip, example_clips, example_path

__all__ = [
    "ACCEPTED",
    "MAX_CHANNELS",
    "MAX_SAMPLES",
    "MAX_SR",
    "MIN_SR",
    "AudioInfo",
    "Decoded",
    "ExampleClip",
    "Source",
    "check_signal",
    "decode",
    "example_clips",
    "example_path",
    "info",
    "load",
    "resample",
    "resampled",
    "usable",
]
