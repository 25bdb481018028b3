"""Crafted inputs of the robustness catalogue, built at test time and small on disk.

Each function writes one hostile or careless input into a folder and returns its path.
The headers lie where the real thing would be too big to make quickly: a FLAC whose
STREAMINFO claims 700 s of 384 kHz, 8-channel audio holds two seconds of it, which is
what a decoder that trusts the header allocates for. ``bench/robustness.py`` times and
measures the same inputs.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050


def tone(seconds: float = 10.0, *, sr: int = SR, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _flac_set_total(data: bytes, total: int) -> bytes:
    """A FLAC stream whose STREAMINFO claims ``total`` frames (the 36 low bits of bytes 18-25)."""
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0, "STREAMINFO must be the first block"
    (word,) = struct.unpack(">Q", data[18:26])
    word = (word & ~((1 << 36) - 1)) | (total & ((1 << 36) - 1))
    return data[:18] + struct.pack(">Q", word) + data[26:]


def flac_bomb(folder: Path, *, sr: int = 384_000, channels: int = 8, claims: float = 700.0) -> Path:
    """Defect 1: a FLAC of silence whose header claims ``claims`` s of ``sr`` Hz x ``channels`` (holds 2 s)."""
    buf = io.BytesIO()
    sf.write(buf, np.zeros((2 * sr, channels), np.int16), sr, format="FLAC", subtype="PCM_16")
    path = folder / "bomb.flac"
    path.write_bytes(_flac_set_total(buf.getvalue(), int(claims * sr)))
    return path


def flac_real_bomb(folder: Path, *, sr: int = 384_000, channels: int = 8, seconds: int = 700) -> Path:
    """Defect 1 as reported: a real ``seconds``-s FLAC of silence (about 300 kB; takes ~40 s to write)."""
    path = folder / "real-bomb.flac"
    block = np.zeros((sr, channels), np.int16)
    with sf.SoundFile(path, "w", samplerate=sr, channels=channels, format="FLAC", subtype="PCM_16") as f:
        for _ in range(seconds):
            f.write(block)
    return path


def flac_huge_length(folder: Path) -> Path:
    """Defect 2: a 30-s mono FLAC whose header claims 2**35 frames (18 days at 22050 Hz)."""
    buf = io.BytesIO()
    sf.write(buf, tone(30.0), SR, format="FLAC", subtype="PCM_16")
    path = folder / "huge-length.flac"
    path.write_bytes(_flac_set_total(buf.getvalue(), 2**35))
    return path


def wav_with_rate(folder: Path, rate: int, *, seconds: float = 10.0) -> Path:
    """Defect 8: a 16-bit mono WAV of ``seconds`` s at 22050 Hz whose header says ``rate`` Hz."""
    buf = io.BytesIO()
    sf.write(buf, tone(seconds), SR, format="WAV", subtype="PCM_16")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"fmt "
    data[24:28] = struct.pack("<I", rate)
    data[28:32] = struct.pack("<I", min(rate * 2, 2**32 - 1))  # byte rate
    path = folder / f"rate-{rate}.wav"
    path.write_bytes(bytes(data))
    return path


def long_flac(folder: Path, *, minutes: float = 60.0) -> Path:
    """Defect 2: a ``minutes``-min FLAC (a 30-s tone, then silence, so it stays small) for a dataset folder."""
    path = folder / "long.flac"
    with sf.SoundFile(path, "w", samplerate=SR, channels=1, format="FLAC", subtype="PCM_16") as f:
        f.write(tone(30.0))
        block = np.zeros(SR * 60, np.float32)
        for _ in range(int(minutes) - 1):
            f.write(block)
        f.write(block[: int(SR * 30)])
    return path


def id3_only_mp3(folder: Path) -> Path:
    """Defect 9: an ``.mp3`` holding an ID3v2 tag and no audio frame."""
    path = folder / "tag-only.mp3"
    path.write_bytes(b"ID3\x03\x00\x00\x00\x00\x02\x00" + b"\x00" * 256)
    return path


def truncated_wav(folder: Path) -> Path:
    """Defect 10: a 30-s WAV cut after 1 s of samples."""
    buf = io.BytesIO()
    sf.write(buf, tone(30.0), SR, format="WAV", subtype="PCM_16")
    path = folder / "truncated.wav"
    path.write_bytes(buf.getvalue()[: 44 + 2 * SR])
    return path


def nan_wav(folder: Path) -> Path:
    """Defect 10: a 5-s float WAV with one NaN sample."""
    y = tone(5.0)
    y[SR] = np.nan
    path = folder / "nan.wav"
    sf.write(path, y, SR, subtype="FLOAT")
    return path


def silent_wav(folder: Path, *, seconds: float = 30.0) -> Path:
    """Defect 10: ``seconds`` s of digital silence."""
    path = folder / "silent.wav"
    sf.write(path, np.zeros(int(SR * seconds), np.float32), SR, subtype="PCM_16")
    return path


def many_channels_wav(folder: Path, channels: int = 4000) -> Path:
    """A WAV whose header claims ``channels`` channels (a mono file with its header patched)."""
    buf = io.BytesIO()
    sf.write(buf, tone(2.0), SR, format="WAV", subtype="PCM_16")
    data = bytearray(buf.getvalue())
    data[22:24] = struct.pack("<H", channels)
    data[32:34] = struct.pack("<H", 2 * channels)  # block align
    data[28:32] = struct.pack("<I", SR * 2 * channels)
    path = folder / f"channels-{channels}.wav"
    path.write_bytes(bytes(data))
    return path


def not_a_zip_model(path: Path) -> Path:
    """Defect 9: overwrite a run's ``model.keras`` with text (the file is there, but not a Keras archive)."""
    path.write_text("this is not a keras archive\n")
    return path
