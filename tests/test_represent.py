"""Unit tests of mgc.audio.represent, mgc.audio.examples, mgc.dataset.survey and the Explore figures of mgc.plots,
on synthetic signals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np
import plotly.graph_objects as go
import pytest
import soundfile as sf

from mgc import config, plots
from mgc.audio import examples, represent
from mgc.dataset import dataset_survey, find_tracks
from mgc.errors import AudioError, MgcError, ParameterError

SR = config.SR


@pytest.fixture(scope="module")
def tone():
    """A 440 Hz tone of 5 s."""
    return librosa.tone(440, sr=SR, duration=5.0).astype(np.float32)


@pytest.fixture(scope="module")
def long_tone():
    """A 440 Hz tone of 31.5 s: longer than the analysed 30 s."""
    return librosa.tone(440, sr=SR, duration=31.5).astype(np.float32)


# --------------------------------------------------------------------------- #
# Waveform and segments
# --------------------------------------------------------------------------- #
def test_segment_bounds_of_a_30s_clip_are_the_study_segments():
    segments, full = represent.segment_bounds(30 * SR, sr=SR)
    assert segments.shape == (10, 2)
    np.testing.assert_allclose(segments[:, 0], np.arange(10) * 3.0)
    np.testing.assert_allclose(segments[:, 1], np.arange(1, 11) * 3.0)
    assert full.all()


def test_segment_bounds_of_a_short_clip_mark_the_last_segment_short():
    n = int(7.5 * SR)
    segments, full = represent.segment_bounds(n, sr=SR)
    assert segments.shape == (3, 2)
    assert full.tolist() == [True, True, False]
    assert segments[-1, 1] == pytest.approx(7.5)


def test_waveform_envelope_is_bounded_and_covers_the_signal(tone):
    wave = represent.waveform(tone, sr=SR, max_points=500)
    assert len(wave.times) <= 500
    assert wave.times.shape == wave.y_min.shape == wave.y_max.shape
    assert np.all(wave.y_min <= wave.y_max)
    assert wave.y_max.max() == pytest.approx(tone.max())
    assert wave.y_min.min() == pytest.approx(tone.min())
    assert 0 <= wave.times[0] and wave.times[-1] <= wave.duration
    assert wave.duration == pytest.approx(5.0)
    assert not wave.truncated
    assert wave.segments.shape == (2, 2)  # segments 1 (0-3 s) and 2 (3-5 s, short)
    assert wave.segment_full.tolist() == [True, False]


def test_waveform_of_a_short_signal_keeps_every_sample():
    y = np.linspace(-1, 1, 100, dtype=np.float32)
    wave = represent.waveform(y, sr=SR, max_points=4000)
    np.testing.assert_array_equal(wave.y_min, y)
    np.testing.assert_allclose(wave.times[1], 1 / SR)


def test_long_signals_are_cut_to_max_duration_and_say_so(long_tone):
    wave = represent.waveform(long_tone, sr=SR)
    assert wave.truncated and wave.duration == pytest.approx(represent.MAX_DURATION)
    assert wave.segments.shape == (10, 2) and wave.segment_full.all()
    spec = represent.stft(long_tone, sr=SR)
    assert spec.truncated
    assert spec.times[-1] <= represent.MAX_DURATION + 1e-6


# --------------------------------------------------------------------------- #
# Spectra and spectrograms
# --------------------------------------------------------------------------- #
def test_power_spectrum_of_a_440_hz_tone_peaks_at_440_hz(tone):
    spec = represent.power_spectrum(tone, sr=SR, max_points=2000)
    assert len(spec.frequencies) <= 2000
    assert spec.frequencies[0] >= 0 and spec.frequencies[-1] <= SR / 2
    peak = spec.frequencies[np.argmax(spec.magnitude)]
    assert abs(peak - 440) <= spec.resolution
    assert spec.power_db.max() == pytest.approx(0.0)
    assert spec.resolution == pytest.approx(SR / len(tone))
    # far from the tone, the power is far below the peak
    assert spec.power_db[spec.frequencies > 2000].max() < -40


def test_stft_shape_and_axes(tone):
    spec = represent.stft(tone, sr=SR, n_fft=1024, hop_length=256)
    n_frames = 1 + len(tone) // 256
    assert spec.S.shape == (513, n_frames)
    assert spec.frequencies.shape == (513,) and spec.frequencies[-1] == pytest.approx(SR / 2)
    assert spec.times.shape == (n_frames,)
    assert spec.times[1] == pytest.approx(256 / SR)
    assert not spec.db and not spec.mel
    assert np.all(spec.S >= 0)
    row = np.argmax(spec.S[:, n_frames // 2])
    assert abs(spec.frequencies[row] - 440) <= SR / 1024


def test_log_spectrogram_is_in_db_below_zero(tone):
    spec = represent.log_spectrogram(tone, sr=SR, top_db=60)
    assert spec.db
    assert spec.S.max() == pytest.approx(0.0)
    assert spec.S.min() >= -60 - 1e-6
    assert spec.S.shape == represent.stft(tone, sr=SR).S.shape


def test_mel_spectrogram_shape_and_band_of_the_tone(tone):
    spec = represent.mel_spectrogram(tone, sr=SR, n_mels=64)
    assert spec.mel and spec.db
    assert spec.S.shape[0] == 64 and spec.frequencies.shape == (64,)
    assert np.all(np.diff(spec.frequencies) > 0)
    band = np.argmax(spec.S.mean(axis=1))
    assert abs(spec.frequencies[band] - 440) < 60


def test_mel_spectrogram_matches_librosa(tone):
    spec = represent.mel_spectrogram(tone, sr=SR)
    ref = librosa.power_to_db(librosa.feature.melspectrogram(y=tone, sr=SR), ref=np.max)
    np.testing.assert_allclose(spec.S, ref, atol=1e-3)


# --------------------------------------------------------------------------- #
# Mel filterbank and MFCC
# --------------------------------------------------------------------------- #
def test_mel_filterbank_triangles_peak_at_their_centres():
    bank = represent.mel_filterbank(sr=SR, n_fft=2048, n_mels=40, norm=None)
    assert bank.weights.shape == (40, 1025)
    assert bank.frequencies.shape == (1025,)
    assert np.all(np.diff(bank.centers) > 0)
    peaks = bank.frequencies[np.argmax(bank.weights, axis=1)]
    assert np.all(np.abs(peaks - bank.centers) <= SR / 2048)
    assert np.all(bank.weights.max(axis=1) <= 1 + 1e-6)
    # unnormalised triangles overlap by half: they sum to 1 between the first and last centre
    inside = (bank.frequencies > bank.centers[0]) & (bank.frequencies < bank.centers[-1])
    np.testing.assert_allclose(bank.weights[:, inside].sum(axis=0), 1.0, atol=1e-4)


def test_mel_filterbank_slaney_is_what_librosa_mfcc_uses():
    bank = represent.mel_filterbank()
    np.testing.assert_allclose(bank.weights, librosa.filters.mel(sr=SR, n_fft=config.N_FFT, n_mels=config.N_MELS))
    # unit area: wider (higher) filters are lower
    assert bank.weights[-1].max() < bank.weights[0].max()


def test_mfcc_matches_librosa_with_the_study_parameters(tone):
    m = represent.mfcc(tone, sr=SR)
    ref = librosa.feature.mfcc(y=tone, sr=SR, n_mfcc=13, n_fft=2048, hop_length=512, n_mels=128)
    assert m.M.shape == (13, 1 + len(tone) // 512)
    np.testing.assert_allclose(m.M, ref, rtol=1e-4, atol=1e-3)
    assert m.coefficients.tolist() == list(range(13))
    assert m.times[-1] == pytest.approx((m.M.shape[1] - 1) * 512 / SR)


# --------------------------------------------------------------------------- #
# Parameter and signal errors
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"n_fft": 0}, "n_fft=0"),
        ({"n_fft": 2048.0}, "n_fft=2048.0"),
        ({"hop_length": -5}, "hop_length=-5"),
        ({"n_mfcc": 0}, "n_mfcc=0"),
        ({"n_mfcc": 40, "n_mels": 20}, "n_mfcc=40 must not exceed n_mels=20"),
        ({"n_fft": 256, "n_mels": 128}, "n_mels=128 is too many for n_fft=256"),
        ({"hop_length": 1}, "raise hop_length"),
        ({"sr": 0}, "sr=0"),
    ],
)
def test_mfcc_parameter_errors_name_the_parameter(tone, kwargs, fragment):
    with pytest.raises(ParameterError, match=fragment.replace("(", r"\(")):
        represent.mfcc(tone, **kwargs)


def test_n_fft_need_not_be_a_power_of_two(tone):
    spec = represent.stft(tone, sr=SR, n_fft=1000, hop_length=250)
    assert spec.S.shape[0] == 501


def test_signal_errors():
    with pytest.raises(ParameterError, match="mono"):
        represent.waveform(np.zeros((2, 100), dtype=np.float32))
    with pytest.raises(ParameterError, match="floating-point"):
        represent.waveform(np.zeros(100, dtype=np.int16))
    with pytest.raises(AudioError, match="0 samples"):
        represent.waveform(np.zeros(0, dtype=np.float32))
    with pytest.raises(AudioError, match="n_fft=2048"):
        represent.stft(np.zeros(1000, dtype=np.float32))
    with pytest.raises(AudioError, match="non-finite"):
        represent.power_spectrum(np.array([0.0, np.nan, 1.0], dtype=np.float32))
    with pytest.raises(ParameterError, match="top_db"):
        represent.log_spectrogram(np.zeros(4096, dtype=np.float32), top_db=0)
    with pytest.raises(ParameterError, match="norm"):
        represent.mel_filterbank(norm="htk")
    assert issubclass(ParameterError, MgcError)


# --------------------------------------------------------------------------- #
# Examples and dataset survey
# --------------------------------------------------------------------------- #
def test_example_clips_skip_files_that_would_be_downloaded(tmp_path, monkeypatch):
    # a file with the right name but the wrong content: librosa.ex would fetch it again
    (tmp_path / "sorohanro_-_solo-trumpet-06.ogg").write_bytes(b"not the real file")
    monkeypatch.setattr(examples, "_librosa_data_dir", lambda: tmp_path)
    assert examples.example_clips() == []
    with pytest.raises(ParameterError, match="example='trumpet' is not available offline"):
        examples.example_path("trumpet")


LIBROSA_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "librosa"


@pytest.mark.skipif(
    not (LIBROSA_DATA / "sorohanro_-_solo-trumpet-06.ogg").is_file(),
    reason="librosa example data not present in ../shared/data/librosa",
)
def test_example_clips_found_offline(monkeypatch):
    monkeypatch.setattr(examples, "_librosa_data_dir", lambda: LIBROSA_DATA)
    keys = {c.key: c for c in examples.example_clips()}
    assert "trumpet" in keys
    assert keys["trumpet"].path.is_file()


def test_every_listed_example_names_a_file_of_librosas_registry():
    # librosa >= 1.0 names it with ex(key, url=True), 0.11 through its shipped index: both must land in the registry
    listed = examples._listed()
    assert "trumpet" in listed and listed["trumpet"]
    for key in listed:
        name = examples._example_file(key)
        assert name.endswith(".ogg") and not name.endswith(".hq.ogg"), key
        assert name in examples._registry(), key
    assert examples._example_file("trumpet") == "sorohanro_-_solo-trumpet-06.ogg"


@pytest.mark.skipif(
    not (LIBROSA_DATA / "sorohanro_-_solo-trumpet-06.ogg").is_file(),
    reason="librosa example data not present in ../shared/data/librosa",
)
def test_librosa_data_dir_set_before_librosa_is_imported_serves_the_examples_offline(tmp_path):
    # a fresh interpreter, as a user starts the app: LIBROSA_DATA_DIR set, then librosa imported; no network needed
    code = (
        "from mgc.audio import example_clips, example_path\n"
        "print(sorted(c.key for c in example_clips()))\n"
        "print(example_path('trumpet'))\n"
    )
    env = {**os.environ, "LIBROSA_DATA_DIR": str(LIBROSA_DATA), "https_proxy": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    keys, path = done.stdout.strip().splitlines()[-2:]
    assert "'trumpet'" in keys and "'brahms'" in keys
    assert Path(path) == LIBROSA_DATA / "sorohanro_-_solo-trumpet-06.ogg"


@pytest.mark.skipif(
    not (LIBROSA_DATA / "sorohanro_-_solo-trumpet-06.ogg").is_file(),
    reason="librosa example data not present in ../shared/data/librosa",
)
def test_an_example_read_from_another_folder_than_librosa_data_dir_is_an_error(monkeypatch):
    import librosa

    monkeypatch.setattr(examples, "_librosa_data_dir", lambda: LIBROSA_DATA)
    monkeypatch.setattr(librosa, "ex", lambda key: f"/elsewhere/{key}.ogg")  # librosa imported before the variable
    with pytest.raises(AudioError, match="not from .*set LIBROSA_DATA_DIR before librosa is imported"):
        examples.example_path("trumpet")


def test_dataset_survey_reports_unreadable_files(tmp_path):
    for label, n in (("blues", 2), ("rock", 1)):
        folder = tmp_path / "genres" / label
        folder.mkdir(parents=True)
        for i in range(n):
            sf.write(folder / f"{label}.{i:05d}.wav", 0.5 * np.sin(np.arange(3 * SR) / 10, dtype=np.float32), SR)
    (tmp_path / "genres" / "rock" / "rock.00009.wav").write_bytes(b"RIFF garbage")
    survey = dataset_survey(find_tracks(tmp_path))
    assert survey.counts == {"blues": 2, "rock": 2}
    assert len(survey.table) == 4
    assert survey.table["duration"].dropna().tolist() == pytest.approx([3.0, 3.0, 3.0])
    failures = survey.failures
    assert failures["file"].tolist() == ["rock/rock.00009.wav"]
    assert "rock.00009.wav" in failures["error"].iloc[0]


# --------------------------------------------------------------------------- #
# Figures
# --------------------------------------------------------------------------- #
def test_class_colors_are_fixed_and_independent_of_order():
    genres = list(config.GTZAN_GENRES)
    colors = plots.class_colors(genres)
    assert len(set(colors.values())) == 10
    assert plots.class_colors(reversed(genres)) == colors
    assert plots.class_colors(["rock"])["rock"] == colors["rock"]
    assert plots.class_colors(["Hip-Hop"])["Hip-Hop"] == colors["hiphop"]
    other = plots.class_colors(["birdsong", "blues"])
    assert plots.class_colors(["birdsong"])["birdsong"] == other["birdsong"]
    assert other["birdsong"] not in colors.values()


def test_figures_have_titles_and_axis_units(tone):
    wave = represent.waveform(tone, sr=SR)
    figures = {
        "waveform": (plots.waveform(wave), "Time (s)"),
        "spectrum": (plots.power_spectrum(represent.power_spectrum(tone, sr=SR)), "Frequency (Hz)"),
        "stft": (plots.spectrogram(represent.stft(tone, sr=SR)), "Time (s)"),
        "log": (plots.spectrogram(represent.log_spectrogram(tone, sr=SR)), "Time (s)"),
        "bank": (plots.mel_filterbank(represent.mel_filterbank()), "Frequency (Hz)"),
        "mel": (plots.spectrogram(represent.mel_spectrogram(tone, sr=SR)), "Time (s)"),
        "mfcc": (plots.mfcc(represent.mfcc(tone, sr=SR), segments=wave.segments), "Time (s)"),
        "counts": (plots.class_counts({"blues": 3, "rock": 2}), "Class"),
    }
    for name, (fig, x_title) in figures.items():
        assert isinstance(fig, go.Figure), name
        assert fig.layout.title.text, name
        assert fig.layout.xaxis.title.text == x_title, name
        assert fig.layout.yaxis.title.text, name
        assert fig.layout.template.layout.font.size == 14, name


def test_heatmaps_are_reduced_for_the_browser(long_tone):
    fig = plots.spectrogram(represent.log_spectrogram(long_tone, sr=SR, hop_length=128))
    z = np.asarray(fig.data[0].z)
    assert z.shape[0] <= 300 and z.shape[1] <= 800
    assert len(fig.data[0].x) == z.shape[1] and len(fig.data[0].y) == z.shape[0]
    assert fig.data[0].x[-1] <= represent.MAX_DURATION


def test_class_counts_bars_use_class_colors():
    fig = plots.class_counts({"rock": 3, "blues": 1})
    colors = plots.class_colors(["rock", "blues"])
    assert list(fig.data[0].marker.color) == [colors["rock"], colors["blues"]]
