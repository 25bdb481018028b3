"""Unit tests of mgc.audio: every container, bytes and paths, mixing, resampling, errors.

All audio is written with soundfile at test time.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from mgc import audio
from mgc.errors import AudioError, MgcError, ParameterError

SR = 22050


def tone(freq: float = 1000.0, *, sr: int = SR, seconds: float = 2.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(sr * seconds))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_frequency(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[spectrum.argmax()])


def to_bytes(y: np.ndarray, sr: int, **kwargs) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, **kwargs)
    return buf.getvalue()


# (format, subtype, file ending, max abs error of a lossless decode or None for lossy codecs)
CONTAINERS = [
    ("WAV", "PCM_U8", "wav", 1 / 64),
    ("WAV", "PCM_16", "wav", 1e-4),
    ("WAV", "PCM_24", "wav", 1e-6),
    ("WAV", "PCM_32", "wav", 1e-8),
    ("WAV", "FLOAT", "wav", 0.0),
    ("AU", "PCM_16", "au", 1e-4),
    ("FLAC", "PCM_16", "flac", 1e-4),
    ("OGG", "VORBIS", "ogg", None),
    ("MP3", "MPEG_LAYER_III", "mp3", None),
]


def _write_container(path_or_buf, y, fmt, subtype):
    if fmt not in sf.available_formats():
        pytest.skip(f"this libsndfile ({sf.__libsndfile_version__}) cannot write {fmt}")
    sf.write(path_or_buf, y, SR, format=fmt, subtype=subtype)


@pytest.mark.parametrize("fmt, subtype, ext, tol", CONTAINERS, ids=[f"{c[0]}-{c[1]}" for c in CONTAINERS])
@pytest.mark.parametrize("kind", ["path", "bytes", "fileobj"])
def test_decode_every_container(tmp_path, fmt, subtype, ext, tol, kind):
    y = tone()
    path = tmp_path / f"clip.{ext}"
    _write_container(path, y, fmt, subtype)
    source = {
        "path": lambda: path,
        "bytes": lambda: path.read_bytes(),
        "fileobj": lambda: io.BytesIO(path.read_bytes()),
    }[kind]()
    d = audio.decode(source)
    assert d.sr == SR and d.native_sr == SR and d.channels == 1
    assert d.y.dtype == np.float32 and d.y.ndim == 1
    assert np.all(np.isfinite(d.y))
    if tol is not None:
        assert len(d.y) == len(y)
        assert np.max(np.abs(d.y - y)) <= tol
    else:  # lossy: same length within a codec frame, same pitch, same loudness
        assert abs(len(d.y) - len(y)) <= 2048
        assert peak_frequency(d.y, SR) == pytest.approx(1000, abs=2)
        rms = float(np.sqrt(np.mean(d.y[SR // 4 : -SR // 4] ** 2)))
        assert rms == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    assert d.duration == pytest.approx(len(d.y) / SR)


def test_load_returns_the_decoded_samples(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, tone(), SR, subtype="FLOAT")
    np.testing.assert_array_equal(audio.load(path), audio.decode(path).y)
    np.testing.assert_array_equal(audio.load(str(path)), tone())


def test_stereo_is_mixed_to_the_mean(tmp_path):
    left, right = tone(440, amp=0.6), tone(1000, amp=0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    d = audio.decode(path)
    assert d.channels == 2 and d.y.ndim == 1
    np.testing.assert_allclose(d.y, (left + right) / 2, atol=1e-7, rtol=0)


def test_opposite_channels_cancel(tmp_path):
    y = tone()
    data = to_bytes(np.stack([y, -y], axis=1), SR, format="WAV", subtype="FLOAT")
    assert np.max(np.abs(audio.load(data))) == 0.0


@pytest.mark.parametrize("native_sr", [44100, 48000])
def test_higher_rates_are_resampled_keeping_the_pitch(tmp_path, native_sr):
    seconds = 2.0
    path = tmp_path / f"tone{native_sr}.wav"
    stereo = np.stack([tone(sr=native_sr, seconds=seconds)] * 2, axis=1)
    sf.write(path, stereo, native_sr, subtype="PCM_16")
    d = audio.decode(path)
    assert d.native_sr == native_sr and d.sr == SR and d.channels == 2
    assert len(d.y) == pytest.approx(len(stereo) * SR / native_sr, abs=1)
    assert d.duration == pytest.approx(seconds, abs=1e-3)
    assert peak_frequency(d.y, SR) == pytest.approx(1000, abs=1)
    # the resampler keeps the level (no gain change away from the edges)
    core = d.y[SR // 10 : -SR // 10]
    assert np.max(np.abs(core)) == pytest.approx(0.5, abs=0.01)


def test_decode_to_another_target_rate(tmp_path):
    path = tmp_path / "a.flac"
    sf.write(path, tone(seconds=1.0), SR)
    d = audio.decode(path, sr=16000)
    assert d.sr == 16000 and len(d.y) == 16000
    assert peak_frequency(d.y, 16000) == pytest.approx(1000, abs=2)


# --------------------------------------------------------------------------- #
# max_duration
# --------------------------------------------------------------------------- #
def test_max_duration_truncates(tmp_path):
    path = tmp_path / "long.wav"
    y = tone(seconds=3.0)
    sf.write(path, y, SR, subtype="FLOAT")
    d = audio.decode(path, max_duration=1.0)
    assert d.truncated is True
    assert len(d.y) == SR
    np.testing.assert_array_equal(d.y, y[:SR])
    full = audio.decode(path, max_duration=10.0)
    assert full.truncated is False and len(full.y) == len(y)


def test_max_duration_counts_source_seconds_before_resampling(tmp_path):
    path = tmp_path / "hi.wav"
    sf.write(path, tone(sr=44100, seconds=2.0), 44100)
    d = audio.decode(path, max_duration=0.5)
    assert d.truncated and d.source_duration == pytest.approx(2.0)  # the file's length, not the part read
    assert d.duration == pytest.approx(0.5, abs=1e-4) and len(d.y) == pytest.approx(SR / 2, abs=1)


@pytest.mark.parametrize("bad", [0, -1.0])
def test_max_duration_must_be_positive(tmp_path, bad):
    with pytest.raises(ParameterError, match="max_duration"):
        audio.decode(to_bytes(tone(), SR, format="WAV"), max_duration=bad)


@pytest.mark.parametrize("bad", [0, -22050, 22050.5])
def test_target_rate_must_be_a_positive_integer(bad):
    with pytest.raises(ParameterError, match="sr="):
        audio.decode(to_bytes(tone(), SR, format="WAV"), sr=bad)


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #
def _audio_error(source, **kwargs) -> str:
    with pytest.raises(AudioError) as e:
        audio.decode(source, **kwargs)
    assert isinstance(e.value, MgcError)
    return str(e.value)


def test_random_bytes_are_not_audio():
    noise = np.random.default_rng(0).bytes(8000)
    msg = _audio_error(noise, name="upload.wav")
    assert "upload.wav" in msg
    assert "not a readable audio file" in msg
    assert "WAV" in msg and "FLAC" in msg  # says what is accepted


def test_random_bytes_file_is_named_in_the_error(tmp_path):
    path = tmp_path / "song.mp3"
    path.write_bytes(np.random.default_rng(1).bytes(8000))
    msg = _audio_error(path)
    assert "song.mp3" in msg and "not a readable audio file" in msg


def test_bytes_without_a_name_are_called_uploaded_audio():
    assert "uploaded audio" in _audio_error(b"definitely not audio" * 50)


def test_empty_bytes():
    msg = _audio_error(b"", name="empty.wav")
    assert "empty.wav" in msg and "empty (0 bytes)" in msg


def test_zero_byte_file(tmp_path):
    path = tmp_path / "zero.wav"
    path.write_bytes(b"")
    msg = _audio_error(path)
    assert "zero.wav" in msg and "empty (0 bytes)" in msg


def test_missing_path(tmp_path):
    msg = _audio_error(tmp_path / "nowhere.flac")
    assert "nowhere.flac" in msg and "does not exist" in msg


def test_truncated_wav_with_header_only():
    data = to_bytes(tone(), SR, format="WAV", subtype="PCM_16")
    assert data[:4] == b"RIFF" and data[36:40] == b"data"
    msg = _audio_error(data[:44], name="cut.wav")  # the 44-byte header, no samples
    assert "cut.wav" in msg and "truncated" in msg


@pytest.mark.parametrize("keep", [1000, 20000])
def test_wav_cut_inside_its_samples(keep):
    data = to_bytes(tone(), SR, format="WAV", subtype="PCM_16")
    msg = _audio_error(data[:keep], name="half.wav")
    assert "half.wav" in msg and "truncated" in msg and "more bytes" in msg


@pytest.mark.parametrize("cut", [12, 20, 30])
def test_wav_cut_inside_its_header(cut):
    data = to_bytes(tone(), SR, format="WAV", subtype="PCM_16")
    msg = _audio_error(data[:cut], name="cut.wav")
    assert "cut.wav" in msg and "not a readable audio file" in msg


def test_wav_with_nan_samples(tmp_path):
    y = tone()
    y[1000] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, y, SR, subtype="FLOAT")
    msg = _audio_error(path)
    assert "nan.wav" in msg and "non-finite" in msg


def test_wav_with_infinite_samples():
    y = tone()
    y[5] = np.inf
    assert "non-finite" in _audio_error(to_bytes(y, SR, format="WAV", subtype="FLOAT"))


def test_unsupported_source_type_is_a_parameter_error():
    with pytest.raises(ParameterError, match="int"):
        audio.decode(12345)


# --------------------------------------------------------------------------- #
# info
# --------------------------------------------------------------------------- #
def test_info_reads_the_header(tmp_path):
    path = tmp_path / "st.flac"
    sf.write(path, np.zeros((SR * 2, 2), np.float32) + 0.1, SR)
    i = audio.info(path)
    assert i.duration == pytest.approx(2.0) and i.samplerate == SR and i.channels == 2 and i.format == "FLAC"


def test_info_on_garbage_and_missing_files(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"\x00\x01" * 500)
    with pytest.raises(AudioError, match="bad.wav"):
        audio.info(bad)
    with pytest.raises(AudioError, match="does not exist"):
        audio.info(tmp_path / "missing.wav")


# --------------------------------------------------------------------------- #
# check_signal
# --------------------------------------------------------------------------- #
def test_check_signal_accepts_music():
    audio.check_signal(tone(seconds=3.0), sr=SR, min_duration=3.0, name="ok.wav")


@pytest.mark.parametrize(
    "y", [np.zeros(SR * 4, np.float32), np.full(SR * 4, 1e-6, np.float32)], ids=["zeros", "-120dB"]
)
def test_check_signal_rejects_silence(y):
    with pytest.raises(AudioError, match=r"'quiet.wav' is silent \(peak level -?\d+ dBFS\)"):
        audio.check_signal(y, sr=SR, min_duration=3.0, name="quiet.wav")


def test_check_signal_rejects_too_short():
    with pytest.raises(AudioError) as e:
        audio.check_signal(tone(seconds=1.5), sr=SR, min_duration=3.0, name="short.wav")
    msg = str(e.value)
    assert "short.wav" in msg and "1.50 s" in msg and "3.00 s" in msg


def test_check_signal_on_an_empty_signal():
    with pytest.raises(AudioError, match="lasts 0.00 s"):
        audio.check_signal(np.zeros(0, np.float32), sr=SR, min_duration=1.0)
    with pytest.raises(AudioError, match="silent"):
        audio.check_signal(np.zeros(0, np.float32), sr=SR)


def test_one_native_decode_resampled_gives_what_a_decode_at_each_rate_gives(tmp_path):
    # a 44.1 kHz stereo file: decoded once at its own rate, then resampled, equals decoding at each rate
    from mgc.audio import decode, resampled, usable

    t = np.arange(int(6.0 * 44100)) / 44100
    y = 0.3 * np.sin(2 * np.pi * 330 * t)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([y, -0.5 * y], axis=1), 44100, subtype="PCM_16")
    native = decode(path, sr=None, max_duration=5.0)
    assert native.sr == native.native_sr == 44100 and native.channels == 2 and native.truncated
    for sr, seconds in ((22050, 5.0), (16000, 5.0), (22050, 2.0), (44100, 3.0)):
        direct = decode(path, sr=sr, max_duration=seconds)
        again = resampled(native, sr=sr, max_duration=seconds)
        np.testing.assert_array_equal(again.y, direct.y)
        assert (again.sr, again.truncated, again.source_duration) == (
            direct.sr,
            direct.truncated,
            direct.source_duration,
        )
    whole = decode(path, sr=None)
    assert not resampled(whole, sr=22050).truncated and resampled(whole, sr=22050, max_duration=1.0).truncated
    # usable takes the decoded clip as it takes a file
    np.testing.assert_array_equal(
        usable(native, sr=16000, max_duration=4.0).y, usable(path, sr=16000, max_duration=4.0).y
    )


def test_resampled_refuses_a_clip_not_at_its_own_rate_and_what_exceeds_the_budget(tmp_path):
    from mgc.audio import decode, resampled

    path = tmp_path / "clip.wav"
    sf.write(path, np.zeros(8000, np.float32) + 0.1, 8000)
    with pytest.raises(
        ParameterError, match="d is at 22050 Hz, not its source's 8000 Hz: resample from a clip decoded with sr=None"
    ):
        resampled(decode(path, sr=22050), sr=16000)
    with pytest.raises(AudioError, match="exceed the decode budget of 1,000 samples"):
        resampled(decode(path, sr=None), sr=22050, max_samples=1000)
    with pytest.raises(ParameterError, match="max_duration=0 must be a positive number"):
        resampled(decode(path, sr=None), sr=22050, max_duration=0)
