"""Unit tests of mgc.features.mfcc: the study's MFCC segments, checked against per-segment librosa.

The reference everywhere is what the study's code does: cut the clip into 66150-sample
segments and call ``librosa.feature.mfcc(y=seg, sr=22050, n_mfcc=13, n_fft=2048,
hop_length=512).T`` once per segment, keeping a segment only when it has 130 frames.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from mgc import config
from mgc.errors import ParameterError
from mgc.features import STUDY_PARAMS, FeatureParams, clip_windows, mfcc_batch, track_segments

SR = config.SR
L = 66150  # samples per study segment
ATOL = 1e-4


def assert_mfcc_close(actual: np.ndarray, desired: np.ndarray, msg: str = "") -> None:
    """Within 1e-4 absolute, or 4 float32 ulps where the value is large.

    Both sides compute in float32; on a quiet segment c0 reaches -700..-1000 dB-ish units,
    where one float32 ulp is 6.1e-5, so two rounding steps alone can differ by 1.2e-4.
    """
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape, f"{msg}: shape {actual.shape} != {desired.shape}"
    tol = np.maximum(ATOL, 4 * np.spacing(np.abs(desired).astype(np.float32)))
    diff = np.abs(actual.astype(np.float64) - desired.astype(np.float64))
    bad = diff > tol
    assert not bad.any(), (
        f"{msg}: {int(bad.sum())} values off; worst {diff.max():.3g} at {np.unravel_index(diff.argmax(), diff.shape)}"
    )


def librosa_mfcc(seg: np.ndarray, params: FeatureParams = STUDY_PARAMS) -> np.ndarray:
    """The study's per-segment call, frames first."""
    return librosa.feature.mfcc(
        y=np.asarray(seg, dtype=np.float32),
        sr=params.sr,
        n_mfcc=params.n_mfcc,
        n_fft=params.n_fft,
        hop_length=params.hop_length,
    ).T


def study_loop(y: np.ndarray) -> tuple[list[int], list[np.ndarray]]:
    """The study's extraction loop over one clip (kept segment indices and their MFCCs)."""
    kept, mfccs = [], []
    for d in range(10):
        seg = y[d * L : (d + 1) * L]
        if len(seg) == 0:  # the study never met clips this short; librosa rejects empty input
            continue
        m = librosa_mfcc(seg)
        if len(m) == 130:
            kept.append(d)
            mfccs.append(m)
    return kept, mfccs


def music_like(seconds: float, seed: int) -> np.ndarray:
    """Notes with harmonics and envelopes, noise bursts, a quiet passage and near-silence.

    Segment 3 (9-12 s) is near-silent (-100 dBFS noise), segment 5 (15-18 s) is quiet
    (-40 dB); the rest is loud and varied, so the per-segment ``top_db`` floor differs.
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * SR))
    y = np.zeros(n)
    note = int(0.25 * SR)
    env = np.exp(-np.arange(note) / (0.08 * SR))
    for start in range(0, n - note, note):
        f0 = 110 * 2 ** (rng.integers(0, 36) / 12)
        t = np.arange(note) / SR
        tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 5))
        y[start : start + note] += 0.3 * env * tone
        if rng.random() < 0.3:  # a noise "drum" hit
            y[start : start + note // 4] += 0.4 * rng.standard_normal(note // 4) * env[: note // 4]
    y += 0.005 * rng.standard_normal(n)
    y[5 * L : 6 * L] *= 0.01
    near_silent = y[3 * L : 4 * L]
    near_silent[:] = 1e-5 * rng.standard_normal(len(near_silent))
    return y.astype(np.float32)


@pytest.fixture(scope="module")
def clip30() -> np.ndarray:
    return music_like(30.0, seed=1)


# --------------------------------------------------------------------------- #
# Constants
# --------------------------------------------------------------------------- #
def test_study_constants():
    assert config.SAMPLES_PER_SEGMENT == 66150
    assert config.FRAMES_PER_SEGMENT == 130
    assert STUDY_PARAMS.samples_per_segment == 66150
    assert STUDY_PARAMS.frames_per_segment == 130
    assert STUDY_PARAMS.shape == (130, 13)
    assert STUDY_PARAMS.segment_duration == pytest.approx(3.0)
    assert (STUDY_PARAMS.sr, STUDY_PARAMS.n_fft, STUDY_PARAMS.hop_length, STUDY_PARAMS.n_mfcc) == (22050, 2048, 512, 13)


def test_a_full_segment_gives_130_frames_in_librosa_too():
    assert librosa_mfcc(np.zeros(L, np.float32)).shape == (130, 13)


# --------------------------------------------------------------------------- #
# track_segments == the study's per-segment librosa calls
# --------------------------------------------------------------------------- #
def test_track_segments_equal_per_segment_librosa(clip30):
    X, seg = track_segments(clip30)
    assert X.shape == (10, 130, 13) and X.dtype == np.float32
    np.testing.assert_array_equal(seg, np.arange(10))
    for d in range(10):
        assert_mfcc_close(X[d], librosa_mfcc(clip30[d * L : (d + 1) * L]), f"segment {d}")


def test_near_silent_segment_matches_and_differs_from_loud_ones(clip30):
    X, _ = track_segments(clip30)
    ref = librosa_mfcc(clip30[3 * L : 4 * L])
    assert_mfcc_close(X[3], ref)
    # the near-silent segment's energy coefficient sits far below a loud segment's
    assert X[3, :, 0].mean() < X[0, :, 0].mean() - 100


def test_quiet_segments_take_the_dense_product_and_stay_within_1e4(clip30, monkeypatch):
    """|c0| >= DENSE_C0 (float32 steps of 6.1e-5 once past 512): librosa's own rounding, strictly 1e-4."""
    from mgc.features import mfcc as features

    y = clip30.copy()
    y[5 * L : 6 * L] *= 1e-4  # a near-silent segment beside loud ones
    calls = []
    real = features._mel_power
    monkeypatch.setattr(
        features,
        "_mel_power",
        lambda frames, params, *, dense: calls.append((len(frames), dense)) or real(frames, params, dense=dense),
    )
    X, _ = track_segments(y)
    quiet = [d for d in range(10) if np.abs(X[d, :, 0]).max() >= features.DENSE_C0]
    assert 5 in quiet and 0 not in quiet
    assert calls == [(10, False), (len(quiet), True)]
    for d in range(10):
        diff = np.abs(X[d].astype(np.float64) - librosa_mfcc(y[d * L : (d + 1) * L]))
        assert diff.max() <= ATOL, f"segment {d}: {diff.max():.3g}"


def test_digital_silence_segment_matches_librosa():
    y = music_like(9.0, seed=2)
    y[L : 2 * L] = 0.0
    X, seg = track_segments(y)
    np.testing.assert_array_equal(seg, [0, 1, 2])
    assert_mfcc_close(X[1], librosa_mfcc(y[L : 2 * L]))


def test_mfcc_batch_takes_the_db_floor_per_segment():
    """A loud segment next to a quiet one must not change the quiet one's features."""
    y = music_like(6.0, seed=3)
    quiet = y[L : 2 * L] * 1e-3
    both = mfcc_batch(np.stack([y[:L], quiet]))
    alone = mfcc_batch(quiet[None, :])
    assert_mfcc_close(both[1], alone[0])
    assert_mfcc_close(both[1], librosa_mfcc(quiet))


def test_clip_longer_than_30s_uses_only_the_first_ten_segments():
    y = music_like(31.0, seed=4)
    X, seg = track_segments(y)
    np.testing.assert_array_equal(seg, np.arange(10))
    assert_mfcc_close(X[9], librosa_mfcc(y[9 * L : 10 * L]))


@pytest.mark.parametrize(
    "n_samples, kept",
    [
        (2 * L + 66100, [0, 1, 2]),  # tail of 66100 samples: 1 + 66100 // 512 = 130 frames, kept
        (2 * L + 66048, [0, 1, 2]),  # shortest tail that still gives 130 frames
        (2 * L + 66047, [0, 1]),  # one sample less: 129 frames, dropped
        (2 * L + 60000, [0, 1]),  # 118 frames, dropped
        (int(6.5 * SR), [0, 1]),  # a 6.5-s clip
        (L - 1, [0]),  # one sample short of a segment: still 130 frames, kept (as in the study)
        (60000, []),  # shorter than one segment's 130 frames
    ],
)
def test_short_clip_drops_segments_like_the_study_loop(n_samples, kept):
    y = music_like(n_samples / SR + 0.1, seed=5)[:n_samples]
    X, seg = track_segments(y)
    ref_kept, ref = study_loop(y)
    assert ref_kept == kept  # the reference itself behaves as the study's rule says
    assert seg.tolist() == kept
    assert X.shape == (len(kept), 130, 13)
    for row, m in zip(X, ref, strict=True):
        assert_mfcc_close(row, m)


def test_track_segments_rejects_multichannel_input():
    with pytest.raises(ParameterError, match="mono"):
        track_segments(np.zeros((2, L), np.float32))


def test_mfcc_batch_rejects_1d_input():
    with pytest.raises(ParameterError, match="2-D"):
        mfcc_batch(np.zeros(L, np.float32))


def test_non_study_parameters_match_librosa():
    params = FeatureParams(n_mfcc=20, n_fft=1024, hop_length=256, n_segments=2, track_duration=4.0)
    assert params.samples_per_segment == 44100
    assert params.frames_per_segment == int(np.ceil(44100 / 256))
    y = music_like(4.0, seed=6)
    X, seg = track_segments(y, params=params)
    assert X.shape == (2, params.frames_per_segment, 20)
    for d in range(2):
        assert_mfcc_close(X[d], librosa_mfcc(y[d * 44100 : (d + 1) * 44100], params))


# --------------------------------------------------------------------------- #
# clip_windows
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def clip70() -> np.ndarray:
    return music_like(70.0, seed=7)


@pytest.fixture(scope="module")
def windows70(clip70):
    return clip_windows(clip70)


def test_clip_windows_on_70s_start_every_3s(windows70):
    X, starts = windows70
    # 70 s = 23 full windows + 1 s left over (44 frames: dropped)
    assert X.shape == (23, 130, 13) and X.dtype == np.float32
    np.testing.assert_allclose(starts, np.arange(23) * 3.0)


def test_clip_windows_equal_per_window_librosa(clip70, windows70):
    X, starts = windows70
    # first, second, every fourth and the last window (each librosa call costs ~0.1 s)
    for i in sorted({0, 1, *range(4, 23, 4), 22}):
        a = int(round(starts[i] * SR))
        assert_mfcc_close(X[i], librosa_mfcc(clip70[a : a + L]), f"window {i}")


def test_clip_windows_keep_a_130_frame_tail_computed_unpadded():
    y = music_like(2 * L / SR + 4, seed=8)[: 2 * L + 66100]
    X, starts = clip_windows(y)
    np.testing.assert_allclose(starts, [0.0, 3.0, 6.0])
    assert_mfcc_close(X[2], librosa_mfcc(y[2 * L :]))
    # and a tail one frame short is dropped
    X2, starts2 = clip_windows(y[: 2 * L + 66047])
    np.testing.assert_allclose(starts2, [0.0, 3.0])
    assert X2.shape == (2, 130, 13)


def test_clip_windows_shorter_than_a_window_is_empty():
    X, starts = clip_windows(np.ones(L // 2, np.float32))
    assert X.shape == (0, 130, 13) and starts.shape == (0,)


def test_max_windows_spreads_evenly(windows70, clip70):
    X_all, starts_all = windows70
    X, starts = clip_windows(clip70, max_windows=5)
    assert X.shape == (5, 130, 13)
    assert starts[0] == 0.0 and starts[-1] == starts_all[-1] == 66.0
    gaps = np.diff(starts)
    assert np.all(gaps > 0)
    assert gaps.max() - gaps.min() <= 3.0  # as even as whole windows allow
    idx = np.searchsorted(starts_all, starts)
    np.testing.assert_allclose(starts_all[idx], starts)
    assert_mfcc_close(X, X_all[idx], "picked windows")  # batch size changes float32 rounding only


def test_max_windows_above_the_count_keeps_all(windows70, clip70):
    X, starts = clip_windows(clip70[: 4 * L], max_windows=10)
    np.testing.assert_allclose(starts, [0.0, 3.0, 6.0, 9.0])
    assert_mfcc_close(X, windows70[0][:4], "first windows")


@pytest.mark.parametrize("bad", [0, -3])
def test_max_windows_must_be_positive(bad):
    with pytest.raises(ParameterError, match=f"max_windows={bad}"):
        clip_windows(np.zeros(L, np.float32), max_windows=bad)


# --------------------------------------------------------------------------- #
# FeatureParams validation
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"sr": 0}, "sr=0"),
        ({"sr": -22050}, "sr=-22050"),
        ({"n_mfcc": 0}, "n_mfcc=0"),
        ({"n_mfcc": 2.5}, "n_mfcc=2.5"),
        ({"n_mfcc": True}, "n_mfcc=True"),
        ({"n_fft": 0}, "n_fft=0"),
        ({"hop_length": -1}, "hop_length=-1"),
        ({"n_mels": 0}, "n_mels=0"),
        ({"n_segments": 0}, "n_segments=0"),
        ({"track_duration": 0}, "track_duration=0"),
        ({"track_duration": -30.0}, "track_duration=-30.0"),
        ({"n_mfcc": 200}, "n_mfcc=200"),
        ({"hop_length": 100_000}, "hop_length=100000"),
    ],
)
def test_feature_params_errors_name_the_parameter(kwargs, needle):
    with pytest.raises(ParameterError) as e:
        FeatureParams(**kwargs)
    assert needle in str(e.value)


def test_n_mfcc_above_n_mels_names_both():
    with pytest.raises(ParameterError, match=r"n_mfcc=40 must not exceed n_mels=32"):
        FeatureParams(n_mfcc=40, n_mels=32)


def test_feature_params_key_is_stable_and_distinguishes():
    assert FeatureParams().key() == STUDY_PARAMS.key()
    assert FeatureParams(n_mfcc=20).key() != STUDY_PARAMS.key()
    assert FeatureParams(**STUDY_PARAMS.to_dict()) == STUDY_PARAMS
