"""AppTest of the Explore page on a tiny synthetic dataset written at test time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGE = "views/explore.py"
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


STEPS = (
    "1. Waveform",
    "2. FFT spectrum",
    "3. STFT spectrogram",
    "4. Log-spectrogram",
    "5. Mel filterbank",
    "6. Mel spectrogram",
    "7. MFCCs",
)
#: Session-state keys of the clip's sections that start closed (the waveform and the MFCCs start open).
CLOSED = ("explore_spectrum", "explore_stft", "explore_log", "explore_filterbank", "explore_mel")


@pytest.fixture(autouse=True)
def _fresh_caches():
    """The page's caches are per process: each test starts without another test's figures or taggrams."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


@pytest.fixture
def fake_tagger(monkeypatch):
    """The tagger's network replaced by a stand-in (AppTest runs the page in this process): no TensorFlow."""
    from mgc.features import tagger
    from mgc.features.musicnn import MSD_TAGS

    runs = []

    def fake(patches, on_progress):
        runs.append(len(patches))
        on_progress(len(patches) // 2, len(patches), "windows")  # the page's progress bar, as the real one
        on_progress(len(patches), len(patches), "windows")
        p = np.linspace(0.05, 0.6, len(MSD_TAGS), dtype=np.float32)[::-1]  # rock most probable, happy least
        return np.tile(p, (len(patches), 1))

    monkeypatch.setattr(tagger, "_tag_probabilities", fake)
    return runs


def _run(**state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    at.switch_page(PAGE)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def _open(at: AppTest, *keys: str) -> AppTest:
    for key in keys:
        at.session_state[key] = True
    return at.run()


def _images(at: AppTest) -> list[str]:
    """The captions of the page's images (figures drawn on the server), in page order."""
    return [caption for element in at.image for caption in element.captions]


def test_page_opens_on_the_waveform_and_the_mfccs_and_draws_only_those(tiny_dataset):
    at = _run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value.startswith("Explore")
    assert str(tiny_dataset) in at.caption[0].value
    labels = [e.label for e in at.expander]
    for step in STEPS:
        assert any(label.startswith(step) for label in labels), (step, labels)
    assert any("tagger" in label for label in labels), labels
    # by default the open sections are images drawn on the server: no plotly figure, so no plotly bundle
    assert not at.get("plotly_chart")
    pictures = _images(at)
    assert len(pictures) == 2  # the open sections; the closed ones and the overview tab are not computed
    assert "n_mfcc=13" in pictures[1]
    assert not at.metric  # the overview tab is closed
    # defaults are the study's values, marked as such
    n_fft = next(s for s in at.select_slider if s.label.startswith("n_fft"))
    assert n_fft.value == 2048


def test_the_interactive_switch_draws_the_same_sections_as_plotly_figures(tiny_dataset):
    at = _run()
    switch = next(t for t in at.toggle if t.label.startswith("Interactive"))
    assert switch.value is False
    switch.set_value(True).run()
    assert not at.exception, at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 2 and not _images(at)
    titles = [c.proto.spec for c in charts]
    assert "Waveform" in titles[0] and "MFCCs" in titles[1]


def test_every_section_opened_as_images_draws_the_heatmaps_as_images(tiny_dataset):
    at = _open(_run(), *CLOSED)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    # all seven steps as images, none as a plotly figure
    assert len(_images(at)) == 7
    assert not at.get("plotly_chart")
    captions = _images(at)
    assert sum("n_fft=2048, hop_length=512" in c for c in captions) == 4, captions  # STFT, log, mel, MFCCs
    assert "128 filters, n_fft=2048" in captions[4] and "bin spacing" in captions[1]


def test_every_section_opened_draws_its_figure(tiny_dataset):
    at = _open(_run(explore_interactive=True), *CLOSED)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == 7
    next(t for t in at.toggle if t.label == "Power in dB").set_value(False).run()  # linear magnitude
    assert not at.exception, at.exception
    assert any("Magnitude" in c.proto.spec for c in at.get("plotly_chart"))


def test_the_overview_tab_lists_the_unreadable_file_and_the_counts(tiny_dataset):
    at = _run(explore_tab="Dataset overview")
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) == 2  # the two overview charts only: the clip tab is not run
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
    assert len(_images(at)) == 2


def test_a_parameter_change_redraws_from_the_cache_when_it_comes_back(tiny_dataset):
    from dashboard import explore

    at = _run()
    slider = next(s for s in at.select_slider if s.label.startswith("n_mfcc"))
    slider.set_value(20).run()
    assert "n_mfcc=20" in _images(at)[1]
    calls = []
    original = explore.images.mfcc
    explore.images.mfcc = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        next(s for s in at.select_slider if s.label.startswith("n_mfcc")).set_value(13).run()
        next(s for s in at.select_slider if s.label.startswith("n_mfcc")).set_value(20).run()
    finally:
        explore.images.mfcc = original
    assert not at.exception, at.exception
    assert calls == []  # both parameter sets were drawn before: no figure made again
    assert "n_mfcc=20" in _images(at)[1]


def test_the_caption_says_when_only_the_start_of_a_longer_file_is_analysed(tiny_dataset):
    long = tiny_dataset / "genres" / "blues" / "blues.00000.wav"
    t = np.arange(45 * SR) / SR
    _write(long, 0.5 * np.sin(2 * np.pi * 220 * t))
    at = _run()
    captions = " ".join(c.value for c in at.caption)
    assert "its first 30 s of 45.0 s" in captions, captions


def test_unreadable_track_shows_an_error_not_a_traceback(tiny_dataset):
    at = _run()
    next(s for s in at.selectbox if s.label == "Class").set_value("rock").run()
    track = next(s for s in at.selectbox if s.label == "Track")
    bad = next(t for t in track.options if "00009" in t)  # options are the shown labels (file names)
    track.select_index(track.options.index(bad)).run()
    assert not at.exception, at.exception
    assert any("rock.00009.wav" in e.value for e in at.error)
    assert len(at.get("plotly_chart")) == 0 and not _images(at)


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


def test_the_taggram_runs_only_when_opened_and_says_what_the_tagger_is(tiny_dataset, fake_tagger):
    at = _run()
    assert fake_tagger == []  # closed: the network never ran
    at = _open(at, "explore_taggram")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert fake_tagger == [19]  # the default 30-s track: 19 windows of 3 s every 1.5 s
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and "Taggram" in charts[0].proto.spec  # the waveform and the MFCCs are images
    text = " ".join(c.value for c in at.caption)
    for words in ("musicnn", "Million Song Dataset", "50", "ISC", "classical", "disco", "reggae"):
        assert words in text, words
    top = next(m.value for m in at.markdown if m.value.startswith("Top tags"))
    assert "**rock** 0.60" in top and "19 windows" in top
    next(t for t in at.toggle if t.label == "All 50 tags").set_value(True).run()
    assert not at.exception, at.exception
    assert fake_tagger == [19]  # the tags come from the cache
    assert '"happy"' in at.get("plotly_chart")[0].proto.spec  # the least probable tag is drawn too


def test_the_taggram_of_a_clip_shorter_than_one_patch_says_why(tiny_dataset, fake_tagger):
    short = tiny_dataset / "genres" / "blues" / "blues.00002.wav"
    _write(short, 0.5 * np.sin(2 * np.pi * 440 * np.arange(2 * SR) / SR))
    at = _run(explore_taggram=True)
    assert fake_tagger == [19]  # the default track's taggram
    track = next(s for s in at.selectbox if s.label == "Track")
    track.select_index(next(i for i, t in enumerate(track.options) if "00002" in t)).run()
    assert not at.exception, at.exception
    assert any("shorter than one 187-frame patch" in e.value for e in at.error), [e.value for e in at.error]
    assert fake_tagger == [19]  # refused before the network


@pytest.mark.slow
def test_the_taggram_with_the_real_tagger(tiny_dataset):
    at = _run(explore_taggram=True)
    at.default_timeout = 300  # TensorFlow import and the tagger's first build
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "Taggram" in at.get("plotly_chart")[0].proto.spec
    assert any(m.value.startswith("Top tags") for m in at.markdown)
