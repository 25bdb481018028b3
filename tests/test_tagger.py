"""The taggram (mgc.features.tagger): its windows, its time axis, its bounds, its refusals, and its figure.

The fast tests replace the network by a stand-in (``_tag_probabilities``), so they check everything
around it without TensorFlow; the ``slow`` ones run the real tagger.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from mgc import plots
from mgc.errors import AudioError, MgcError, ParameterError
from mgc.features import Taggram, embedding_windows, tagger, taggram
from mgc.features.musicnn import MSD_TAGS

SR = 22050
PATCH_S = 186 * 256 / 16000  # 2.976 s: the audio that fills one 187-frame patch


def _noise(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)


@pytest.fixture
def fake_tagger(monkeypatch):
    """The network replaced by the mean level of each patch, so tests see which audio reached it."""
    calls = []

    def fake(patches, on_progress):
        calls.append(patches.shape)
        if on_progress is not None:
            on_progress(len(patches), len(patches), "windows")
        level = patches.mean(axis=(1, 2))
        return np.repeat(level[:, None], len(MSD_TAGS), axis=1).astype(np.float32)

    monkeypatch.setattr(tagger, "_tag_probabilities", fake)
    return calls


# --------------------------------------------------------------------------- #
# Windows
# --------------------------------------------------------------------------- #
def test_a_30_s_clip_gets_19_windows_every_1_5_s():
    starts, hop = tagger.window_starts(30 * SR, sr=SR)
    assert hop == pytest.approx(1.5)
    assert len(starts) == 19
    np.testing.assert_array_equal(np.diff(starts), round(1.5 * SR))
    assert starts[0] == 0
    assert starts[-1] / SR + PATCH_S <= 30  # every window's patch lies inside the clip


def test_long_clips_are_bounded_by_widening_the_hop():
    n = 3600 * SR  # an hour
    starts, hop = tagger.window_starts(n, sr=SR, hop=1.5, max_windows=40)
    assert len(starts) == 40
    assert hop > 1.5
    assert starts[-1] / SR + PATCH_S <= n / SR
    assert starts[-1] / SR > 3600 - hop - PATCH_S  # the windows still span the whole clip
    one, _ = tagger.window_starts(n, sr=SR, max_windows=1)
    assert one.tolist() == [0]


def test_a_clip_of_exactly_one_patch_gets_one_window():
    n = int(np.ceil(PATCH_S * SR))
    starts, _ = tagger.window_starts(n, sr=SR)
    assert starts.tolist() == [0]


def test_a_clip_shorter_than_one_patch_is_refused_with_its_duration():
    with pytest.raises(AudioError, match=r"lasts 2\.00 s, shorter than one 187-frame patch .*2\.98 s"):
        tagger.window_starts(2 * SR, sr=SR)
    with pytest.raises(AudioError, match="shorter than one 187-frame patch"):
        taggram(_noise(2.0), sr=SR)  # refused before the network is loaded


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(hop=0), "hop=0 must be a positive number of seconds"),
        (dict(hop=float("nan")), "hop=nan must be a positive number of seconds"),
        (dict(hop="1"), "hop='1' must be a positive number of seconds"),
        (dict(max_windows=0), "max_windows=0 must be a positive integer"),
        (dict(sr=0), "sr=0 must be a positive integer"),
    ],
)
def test_bad_window_parameters_name_the_parameter_and_the_rule(kwargs, message):
    args = dict(sr=SR) | kwargs
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tagger.window_starts(30 * SR, **args)


def test_taggram_refuses_signals_that_are_not_mono_float_or_finite(fake_tagger):
    with pytest.raises(ParameterError, match=r"y must be a mono signal of shape \(n,\)"):
        taggram(np.zeros((2, 5 * SR), np.float32), sr=SR)
    with pytest.raises(ParameterError, match="floating-point"):
        taggram(np.zeros(5 * SR, np.int16), sr=SR)
    y = _noise(5.0)
    y[100] = np.nan
    with pytest.raises(AudioError, match="non-finite"):
        taggram(y, sr=SR)
    assert fake_tagger == []  # none of them reached the network
    assert issubclass(AudioError, MgcError)


# --------------------------------------------------------------------------- #
# The taggram, with the network replaced
# --------------------------------------------------------------------------- #
def test_taggram_shapes_and_time_axis(fake_tagger):
    tg = taggram(_noise(30.0), sr=SR)
    assert isinstance(tg, Taggram)
    assert tg.probabilities.shape == (19, 50) and tg.probabilities.dtype == np.float32
    assert tg.tags == MSD_TAGS
    assert fake_tagger == [(19, 187, 96)]  # one patch per window, at the tagger's input shape
    np.testing.assert_allclose(tg.starts, np.arange(19) * 1.5)
    np.testing.assert_allclose(tg.times, tg.starts + 1.5)  # window centres
    assert tg.window == pytest.approx(3.0) and tg.hop == pytest.approx(1.5) and tg.duration == pytest.approx(30.0)


def test_taggram_windows_follow_the_audio(fake_tagger):
    # silence, then noise from 15 s: windows that hear only silence get the lowest level
    y = np.concatenate([np.zeros(15 * SR, np.float32), _noise(15.0)])
    tg = taggram(y, sr=SR)
    level = tg.probabilities[:, 0]
    quiet = tg.starts + 3.0 <= 15.0
    loud = tg.starts >= 15.0
    assert quiet.any() and loud.any()
    assert level[quiet].max() < level[loud].min()


def test_taggram_work_is_bounded_for_a_long_clip(fake_tagger):
    tg = taggram(_noise(600.0, sr=8000), sr=8000, max_windows=12)
    assert fake_tagger == [(12, 187, 96)]
    assert len(tg.times) == 12 and tg.hop > 1.5
    assert tg.starts[-1] + PATCH_S <= 600.0 and tg.starts[-1] > 600.0 - tg.hop - PATCH_S


def test_top_tags_are_ordered_by_mean_probability():
    p = np.zeros((4, 50), np.float32)
    p[:, 7] = 0.9
    p[:, 3] = [0.1, 0.2, 0.3, 0.4]
    p[0, 11] = 0.8  # high once, low on average
    tg = Taggram(
        times=np.arange(4) * 1.5 + 1.5,
        starts=np.arange(4) * 1.5,
        probabilities=p,
        tags=MSD_TAGS,
        window=3.0,
        hop=1.5,
        duration=7.5,
    )
    top = tg.top(3)
    assert [t for t, _ in top] == [MSD_TAGS[7], MSD_TAGS[3], MSD_TAGS[11]]
    assert top[0][1] == pytest.approx(0.9) and top[1][1] == pytest.approx(0.25)
    with pytest.raises(ParameterError, match="n=0 must be a positive integer"):
        tg.top(0)

    fig = plots.taggram(tg, n_tags=5)
    assert isinstance(fig, go.Figure)
    heat = fig.data[0]
    assert np.asarray(heat.z).shape == (5, 4)
    assert list(heat.y)[:3] == [MSD_TAGS[7], MSD_TAGS[3], MSD_TAGS[11]]  # most probable first, drawn on top
    assert fig.layout.yaxis.autorange == "reversed"
    assert tuple(fig.layout.xaxis.range) == (0, 7.5)  # the clip's span, as the MFCC figure's
    assert fig.layout.xaxis.title.text == "Time (s)"
    every = plots.taggram(tg, n_tags=None)
    assert np.asarray(every.data[0].z).shape == (50, 4)
    assert every.layout.height > fig.layout.height  # a readable row per tag


# --------------------------------------------------------------------------- #
# The real tagger
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_real_taggram_is_probabilities_and_matches_the_embedding_windows():
    y16 = _noise(12.0, sr=16000, seed=3)
    seen = []
    tg = taggram(y16, sr=16000, hop=3.0, on_progress=lambda d, t, m: seen.append((d, t)))
    _, starts, tags = embedding_windows(y16, with_tags=True)
    assert tg.probabilities.shape == (4, 50)
    assert np.all((tg.probabilities >= 0) & (tg.probabilities <= 1))
    np.testing.assert_allclose(tg.starts, starts)
    # the same patches as the embedding features: the same tag probabilities
    np.testing.assert_allclose(tg.probabilities, tags, atol=1e-5)
    assert seen[-1] == (4, 4)


@pytest.mark.slow
def test_real_taggram_of_a_clip_at_22050_hz():
    tg = taggram(_noise(30.0), sr=SR)
    assert tg.probabilities.shape == (19, 50)
    assert np.all(np.isfinite(tg.probabilities))
    assert len(tg.top(5)) == 5
