"""Tests of the synthetic demo dataset (mgc.dataset.demo)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import soundfile as sf

from mgc.config import GTZAN_GENRES, SR, TRACK_DURATION
from mgc.dataset.demo import DEMO_STYLES, synthesize_clip, write_demo_dataset
from mgc.errors import DatasetError, ParameterError


def _wavs(genres):
    return sorted(genres.rglob("*.wav"))


def _tree_bytes(genres):
    return {p.relative_to(genres).as_posix(): p.read_bytes() for p in _wavs(genres)}


# --------------------------------------------------------------------------- the styles


def test_styles_are_named_apart_from_gtzan():
    assert len(DEMO_STYLES) >= 5
    assert len(set(DEMO_STYLES)) == len(DEMO_STYLES)
    assert not set(DEMO_STYLES) & set(GTZAN_GENRES)
    for style in DEMO_STYLES:
        assert not set(style.split("-")) & set(GTZAN_GENRES), style


@pytest.mark.parametrize("style", DEMO_STYLES)
def test_synthesize_clip_is_float32_finite_and_peak_normalized(style):
    y = synthesize_clip(style, rng=np.random.default_rng(3), duration=4.0)
    assert y.dtype == np.float32
    assert y.shape == (4 * SR,)
    assert np.all(np.isfinite(y))
    assert 0.3 - 1e-4 <= np.max(np.abs(y)) <= 0.9 + 1e-4
    assert np.std(y) > 1e-3  # not silent, not a constant


def test_synthesize_clip_depends_only_on_the_generator():
    a = synthesize_clip("chiptune", rng=np.random.default_rng(5), duration=2.0)
    b = synthesize_clip("chiptune", rng=np.random.default_rng(5), duration=2.0)
    c = synthesize_clip("chiptune", rng=np.random.default_rng(6), duration=2.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("sr, duration", [(8000, 1.5), (44100, 0.25), (100, 3.0)])
def test_synthesize_clip_other_rates_and_lengths(sr, duration):
    y = synthesize_clip("drum-machine", rng=np.random.default_rng(0), duration=duration, sr=sr)
    assert y.shape == (round(sr * duration),)
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 0.9 + 1e-4


# --------------------------------------------------------------------------- writing


def test_layout_file_count_and_return_value(tmp_path):
    genres = write_demo_dataset(tmp_path, clips_per_style=3, duration=1.0)
    assert genres == tmp_path / "genres"
    assert sorted(p.name for p in genres.iterdir()) == sorted(DEMO_STYLES)
    for style in DEMO_STYLES:
        names = sorted(p.name for p in (genres / style).iterdir())
        assert names == [f"{style}.{i:05d}.wav" for i in range(3)]
    assert len(_wavs(genres)) == 3 * len(DEMO_STYLES)


def test_default_clip_is_gtzan_shaped(tmp_path):
    genres = write_demo_dataset(tmp_path, clips_per_style=1, styles=["ambient-drone"])
    info = sf.info(genres / "ambient-drone" / "ambient-drone.00000.wav")
    assert info.samplerate == SR == 22050
    assert info.channels == 1
    assert info.frames == SR * TRACK_DURATION == 661500
    assert info.format == "WAV"
    assert info.subtype == "PCM_16"


def test_rate_and_duration_are_honoured(tmp_path):
    genres = write_demo_dataset(tmp_path, clips_per_style=1, duration=2.5, sr=8000, styles="chiptune")
    info = sf.info(genres / "chiptune" / "chiptune.00000.wav")
    assert (info.samplerate, info.channels, info.frames) == (8000, 1, 20000)
    assert [p.name for p in genres.iterdir()] == ["chiptune"]


def test_written_values_are_in_range(tmp_path):
    genres = write_demo_dataset(tmp_path, clips_per_style=1, duration=3.0)
    for path in _wavs(genres):
        y, sr = sf.read(path, dtype="float32")
        assert y.ndim == 1 and sr == SR
        assert np.all(np.isfinite(y))
        assert 0.3 - 1e-3 <= np.max(np.abs(y)) <= 0.9 + 1e-3, path.name


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path):
    a = _tree_bytes(write_demo_dataset(tmp_path / "a", clips_per_style=2, duration=2.0, seed=7))
    b = _tree_bytes(write_demo_dataset(tmp_path / "b", clips_per_style=2, duration=2.0, seed=7))
    c = _tree_bytes(write_demo_dataset(tmp_path / "c", clips_per_style=2, duration=2.0, seed=8))
    assert a.keys() == b.keys() == c.keys()
    assert a == b
    assert all(a[k] != c[k] for k in a)
    # Clips of one style differ from each other too.
    assert a["chiptune/chiptune.00000.wav"] != a["chiptune/chiptune.00001.wav"]


def test_a_clip_does_not_depend_on_the_other_styles_written(tmp_path):
    full = _tree_bytes(write_demo_dataset(tmp_path / "full", clips_per_style=1, duration=2.0))
    one = _tree_bytes(write_demo_dataset(tmp_path / "one", clips_per_style=1, duration=2.0, styles=["chiptune"]))
    assert one == {"chiptune/chiptune.00000.wav": full["chiptune/chiptune.00000.wav"]}


def test_existing_files_are_overwritten(tmp_path):
    reference = _tree_bytes(write_demo_dataset(tmp_path / "ref", clips_per_style=1, duration=1.0))
    target = tmp_path / "dst" / "genres" / "drum-machine" / "drum-machine.00000.wav"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not a wav file")
    written = write_demo_dataset(tmp_path / "dst", clips_per_style=1, duration=1.0)
    assert _tree_bytes(written) == reference


def test_on_progress_is_called_once_per_clip_in_order(tmp_path):
    calls = []
    write_demo_dataset(
        tmp_path,
        clips_per_style=2,
        duration=0.5,
        on_progress=lambda done, total, message: calls.append((done, total, message)),
    )
    total = 2 * len(DEMO_STYLES)
    assert [(d, t) for d, t, _ in calls] == [(i, total) for i in range(1, total + 1)]
    assert all(isinstance(m, str) and m for _, _, m in calls)
    assert DEMO_STYLES[0] in calls[0][2] and DEMO_STYLES[-1] in calls[-1][2]


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"clips_per_style": 0}, "clips_per_style"),
        ({"clips_per_style": -3}, "clips_per_style"),
        ({"clips_per_style": 2.5}, "clips_per_style"),
        ({"clips_per_style": True}, "clips_per_style"),
        ({"seed": -1}, "seed"),
        ({"seed": 0.5}, "seed"),
        ({"duration": 0}, "duration"),
        ({"duration": -30.0}, "duration"),
        ({"duration": math.nan}, "duration"),
        ({"duration": math.inf}, "duration"),
        ({"duration": "30"}, "duration"),
        ({"sr": 0}, "sr"),
        ({"sr": -22050}, "sr"),
        ({"sr": 22050.0}, "sr"),
        ({"styles": ["blues"]}, "styles"),
        ({"styles": ["chiptune", "not-a-style"]}, "styles"),
        ({"styles": []}, "styles"),
        ({"styles": [3]}, "styles"),
        ({"styles": 3}, "styles"),
        ({"on_progress": "print"}, "on_progress"),
    ],
)
def test_bad_arguments_raise_parameter_error_naming_the_parameter(tmp_path, kwargs, name):
    with pytest.raises(ParameterError, match=rf"\b{re.escape(name)}="):
        write_demo_dataset(tmp_path, **kwargs)
    assert list(tmp_path.iterdir()) == []  # nothing written before the check


def test_unknown_style_lists_the_accepted_ones(tmp_path):
    with pytest.raises(ParameterError) as info:
        write_demo_dataset(tmp_path, styles=["rock"])
    message = str(info.value)
    assert "'rock'" in message
    assert all(style in message for style in DEMO_STYLES)


def test_root_must_be_a_path():
    with pytest.raises(ParameterError, match=r"\broot="):
        write_demo_dataset(42)


def test_root_that_is_a_file_raises_dataset_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DatasetError, match="cannot create"):
        write_demo_dataset(blocker, clips_per_style=1, duration=0.5)


@pytest.mark.parametrize(
    "style, kwargs, name",
    [
        ("rock", {}, "style"),
        ("chiptune", {"rng": 0}, "rng"),
        ("chiptune", {"duration": 0.0}, "duration"),
        ("chiptune", {"sr": 0}, "sr"),
        ("chiptune", {"sr": 10, "duration": 0.01}, "duration"),  # rounds to 0 samples
    ],
)
def test_synthesize_clip_bad_arguments(style, kwargs, name):
    kwargs = {"rng": np.random.default_rng(0), **kwargs}
    with pytest.raises(ParameterError, match=rf"\b{re.escape(name)}="):
        synthesize_clip(style, **kwargs)


def test_parameter_error_is_a_value_error():
    with pytest.raises(ValueError):
        write_demo_dataset("unused", clips_per_style=0)


# --------------------------------------------------------------------------- separability


def test_styles_are_separable_by_mean_mfcc_but_not_trivially(tmp_path):
    """Two clips per style, whole-clip mean MFCCs (13), standardised per coefficient.

    Clips of a style must sit closer together than clips of different styles. The
    styles share layers on purpose, so this is a sanity check, not a benchmark.
    """
    librosa = pytest.importorskip("librosa")
    genres = write_demo_dataset(tmp_path, clips_per_style=2, seed=0)
    features, labels = [], []
    for path in _wavs(genres):
        y, sr = sf.read(path, dtype="float32")
        features.append(librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13).mean(axis=1))
        labels.append(path.parent.name)
    x = np.asarray(features)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    labels = np.asarray(labels)
    dist = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
    same = labels[:, None] == labels[None, :]
    other = ~same
    np.fill_diagonal(same, False)

    # On average, a clip's same-style partner is clearly nearer than other styles' clips.
    assert dist[same].mean() < 0.85 * dist[other].mean()
    # For most clips the partner is nearer than the typical clip of another style ...
    partner = np.array([dist[i, same[i]].min() for i in range(len(x))])
    typical_other = np.array([np.median(dist[i, other[i]]) for i in range(len(x))])
    assert np.sum(partner < typical_other) >= 7
    # ... and the nearest neighbour is same-style far above chance (1 in 9 neighbours).
    np.fill_diagonal(dist, np.inf)
    nearest_same = labels[dist.argmin(axis=1)] == labels
    assert nearest_same.sum() >= 4
