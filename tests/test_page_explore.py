"""AppTest of the Explore page on a tiny synthetic dataset written at test time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGE = "pages/explore.py"
SR = 22050


def _write(path: Path, y: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y.astype(np.float32), SR)


@pytest.fixture
def tiny_dataset(tmp_path, monkeypatch):
    """Three classes of short clips (sines, noise), one unreadable file; env pointed at them."""
    rng = np.random.default_rng(0)
    t = np.arange(30 * SR) / SR
    genres = tmp_path / "data" / "genres"
    _write(genres / "blues" / "blues.00000.wav", 0.5 * np.sin(2 * np.pi * 220 * t))
    _write(genres / "blues" / "blues.00001.wav", 0.5 * np.sin(2 * np.pi * 330 * t[: 20 * SR]))
    _write(genres / "classical" / "classical.00000.wav", 0.3 * np.sin(2 * np.pi * 880 * t[: 10 * SR]))
    _write(genres / "rock" / "rock.00000.wav", 0.2 * rng.standard_normal(10 * SR))
    (genres / "rock" / "rock.00009.wav").write_bytes(b"RIFF\x00\x00 this is not audio")
    monkeypatch.setenv("MGC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MGC_ARTIFACTS", str(tmp_path / "artifacts"))
    return tmp_path / "data"


def _run() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    at.switch_page(PAGE)
    return at.run()


def test_page_renders_every_representation_and_the_overview(tiny_dataset):
    at = _run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value.startswith("Explore")
    assert str(tiny_dataset) in at.caption[0].value
    subheaders = [s.value for s in at.subheader]
    for step in ("Waveform", "FFT", "STFT", "Log-spectrogram", "Mel filterbank", "Mel spectrogram", "MFCC"):
        assert any(step in s for s in subheaders), (step, subheaders)
    charts = at.get("plotly_chart")
    assert len(charts) == 9  # 7 representations + 2 overview charts
    # defaults are the study's values, marked as such
    n_fft = next(s for s in at.select_slider if s.label.startswith("n_fft"))
    assert n_fft.value == 2048
    # the overview lists the unreadable file and the counts
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Tracks"] == "5" and metrics["Classes"] == "3" and metrics["Unreadable"] == "1"
    table = at.dataframe[0].value
    assert table["file"].tolist() == ["rock/rock.00009.wav"]


def test_another_track_and_class_can_be_chosen(tiny_dataset):
    at = _run()
    klass = next(s for s in at.selectbox if s.label == "Class")
    klass.set_value("classical").run()
    assert not at.exception, at.exception
    assert not at.error
    assert "classical/classical.00000.wav" in " ".join(c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 9


def test_unreadable_track_shows_an_error_not_a_traceback(tiny_dataset):
    at = _run()
    next(s for s in at.selectbox if s.label == "Class").set_value("rock").run()
    track = next(s for s in at.selectbox if s.label == "Track")
    bad = next(t for t in track.options if "00009" in t)  # options are the shown labels (file names)
    track.select_index(track.options.index(bad)).run()
    assert not at.exception, at.exception
    assert any("rock.00009.wav" in e.value for e in at.error)
    # the overview tab is drawn before the clip tab stops
    assert len(at.get("plotly_chart")) == 2


def test_bad_parameter_choice_shows_the_rule(tiny_dataset):
    at = _run()
    next(s for s in at.select_slider if s.label.startswith("n_fft")).set_value(256).run()
    assert not at.exception, at.exception
    assert any("n_mels=128 is too many for n_fft=256" in e.value for e in at.error)


def test_microphone_source_waits_for_a_recording(tiny_dataset):
    at = _run()
    at.radio[0].set_value("Microphone").run()
    assert not at.exception, at.exception
    assert any("record a clip" in i.value for i in at.info)
