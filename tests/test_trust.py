"""Unit tests of mgc.runs.trust: fitting the four checks on synthetic windows, and the flags they raise."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from mgc.analysis import ModelAnswer
from mgc.config import MODEL_TITLES
from mgc.errors import ArtifactError, ParameterError
from mgc.runs.trust import FALLBACK, FILE, KINDS, Trust, assess, fit, load_trust, shape_variation, window_descriptors

CLASSES = ["a", "b", "c"]
WINDOWS = 4


def _music(rng, n_tracks: int, spread: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Windows whose timbre moves from frame to frame around a per-track centre (what the models learn from).

    ``spread=0`` gives a track at the centre of them all, moving as much as the median one: the most typical.
    """
    X, tids = [], []
    for t in range(n_tracks):
        centre = rng.normal(0, spread, 13) if spread else np.zeros(13)
        movement = rng.uniform(3, 5) if spread else 4.0  # how much the timbre moves differs from track to track
        X.append(centre + rng.normal(0, movement, (WINDOWS, 130, 13)))
        tids += [f"t.{t:05d}"] * WINDOWS
    return np.concatenate(X).astype(np.float32), np.array(tids)


def _window_probs(kind: str, k: int = WINDOWS) -> np.ndarray:
    """``right``: all windows confident in a; ``wrong``: half the windows say a, half b (a wins the mean, weakly)."""
    if kind == "wrong":
        return np.array([[0.5, 0.3, 0.2], [0.3, 0.4, 0.3]] * (k // 2))
    return np.tile([0.9, 0.05, 0.05], (k, 1))


@pytest.fixture(scope="module")
def fitted():
    """Checks fitted on 40 training tracks and 20 held-out ones: 12 answered right (a, confident), 8 wrong."""
    rng = np.random.default_rng(0)
    X_train, _ = _music(rng, 40)
    X_eval, tids = _music(rng, 20)
    probs, y = [], []
    for t in range(20):
        right = t < 12
        probs.append(_window_probs("right" if right else "wrong"))
        y += [0 if right else 1] * WINDOWS  # the wrong ones are b tracks answered a
    data = fit(
        X_train=X_train,
        X_eval=X_eval,
        eval_track_ids=tids,
        eval_probs=np.concatenate(probs),
        eval_y=np.array(y),
        fitted_on="synthetic valid part",
    )
    return {"data": data, "trust": Trust(json.loads(json.dumps(data))), "X_eval": X_eval, "rng": rng}


def _answer(window_probs, run_id="r1", model="mlp"):
    wp = np.asarray(window_probs, dtype=float)
    return ModelAnswer(run_id, run_id, model, CLASSES, wp, wp.mean(axis=0))


def _kinds(flags):
    return [f["kind"] for f in flags]


def test_descriptors_are_mean_std_and_frame_change_per_coefficient():
    X = np.zeros((2, 4, 13))
    X[1, :, 3] = [0, 2, 0, 2]
    D = window_descriptors(X)
    assert D.shape == (2, 39) and D.dtype == np.float64
    assert D[1, 3] == 1.0 and D[1, 13 + 3] == 1.0 and D[1, 26 + 3] == 2.0 and not D[0].any()
    assert shape_variation(X)[1] == pytest.approx(1.0 / 12)  # MFCC 0 is left out: 12 coefficients
    with pytest.raises(ParameterError, match="must be"):
        window_descriptors(np.zeros((3, 13)))


def test_fitted_thresholds(fitted):
    d = fitted["data"]
    assert d["fitted_on"] == "synthetic valid part (20 tracks)" and d["version"] == 1
    m = d["music"]
    assert len(m["location"]) == 39 and np.asarray(m["precision"]).shape == (39, 39)
    assert m["outlier_sd"] == 3.0
    assert m["held_out_flagged"] <= 1  # 3 sd beyond the mean on a log scale: of 20 held-out tracks, at most one
    # confidence: right tracks 0.9, wrong ones 0.4 -> the threshold keeping every right one and no wrong one
    assert d["confidence"]["fitted"] and d["confidence"]["threshold"] == pytest.approx(0.9)
    assert d["confidence"]["youden_j"] == 1.0 and d["confidence"]["below"] == {"n": 8, "right": 0}
    assert (d["confidence"]["n"], d["confidence"]["right"]) == (20, 12)
    # window agreement: right 100 %, wrong 50 %
    assert d["agreement"]["fitted"] and d["agreement"]["threshold"] == pytest.approx(1.0)


def test_held_out_music_passes_and_far_or_frozen_windows_do_not(fitted):
    trust, rng = fitted["trust"], fitted["rng"]
    X_new, _ = _music(rng, 1, spread=0)
    ok = trust.music_check(X_new)
    assert not ok["atypical"] and not ok["stationary"]
    assert ok["distance"] < ok["distance_threshold"] and ok["variation"] > ok["variation_threshold"]
    far = trust.music_check(X_new + 40.0)  # another timbre altogether (as speech or a tone is)
    assert far["atypical"] and far["distance"] > far["distance_threshold"]
    frozen = trust.music_check(np.repeat(X_new[:, :1], 130, axis=1) + rng.normal(0, 0.01, X_new.shape))
    assert frozen["stationary"] and frozen["variation"] < 0.05  # noise and drones: the timbre never moves


def test_assess_passes_a_confident_typical_clip(fitted):
    trust, rng = fitted["trust"], fitted["rng"]
    X, _ = _music(rng, 1, spread=0)
    assert assess([_answer(_window_probs("right"))], X, [trust]) == []


def test_assess_flags_low_confidence_and_disagreeing_windows(fitted):
    trust, rng = fitted["trust"], fitted["rng"]
    X, _ = _music(rng, 1, spread=0)
    flags = assess([_answer(_window_probs("wrong"))], X, [trust])
    assert _kinds(flags) == ["low-confidence", "windows-disagree"]
    low, split = flags
    assert low["run"] == "r1" and low["value"] == pytest.approx(0.4) and low["threshold"] == pytest.approx(0.9)
    assert "MLP (r1) is unsure: 40% for a, under its threshold 90%" in low["message"]
    assert "on the synthetic valid part (20 tracks), 0 of 8 answers below it were right" in low["message"]
    assert split["value"] == pytest.approx(0.5) and "windows disagree: 50% of them say a" in split["message"]


def test_assess_flags_a_clip_that_is_not_music_once(fitted):
    trust, rng = fitted["trust"], fitted["rng"]
    X, _ = _music(rng, 1, spread=0)
    two = [_answer(_window_probs("right"), "r1"), _answer(_window_probs("right"), "r2", "cnn")]
    flags = assess(two, X + 40.0, [trust, trust])
    assert _kinds(flags) == ["not-music"]  # one flag for the clip, not one per model
    f = flags[0]
    assert f["run"] is None and f["distance"] > trust.data["music"]["distance_threshold"]
    assert "far from the training music" in f["message"] and "the genres below are a guess" in f["message"]


def test_assess_flags_models_that_disagree_and_skips_runs_without_checks(fitted):
    trust, rng = fitted["trust"], fitted["rng"]
    X, _ = _music(rng, 1, spread=0)
    says_b = np.tile([0.05, 0.9, 0.05], (WINDOWS, 1))
    flags = assess([_answer(_window_probs("right"), "r1"), _answer(says_b, "r2", "lstm")], X, [trust, None])
    assert _kinds(flags) == ["models-disagree"]
    assert flags[0]["run"] is None and flags[0]["message"] == f"The models disagree: MLP a, {MODEL_TITLES['lstm']} b."
    # a run without checks raises nothing of its own, even for a far-off clip
    assert assess([_answer(_window_probs("wrong"), "r2")], X + 40.0, [None]) == []
    assert set(KINDS) == {"not-music", "low-confidence", "windows-disagree", "models-disagree"}


def test_without_wrong_held_out_tracks_the_thresholds_are_defaults_and_say_so(fitted):
    rng = np.random.default_rng(3)
    X_train, _ = _music(rng, 10)
    X_eval, tids = _music(rng, 5)
    data = fit(
        X_train=X_train,
        X_eval=X_eval,
        eval_track_ids=tids,
        eval_probs=np.tile([0.9, 0.05, 0.05], (20, 1)),
        eval_y=np.zeros(20, int),
        fitted_on="all-right part",
    )
    assert data["confidence"] == {"threshold": FALLBACK["confidence"], "fitted": False, "n": 5, "right": 5}
    assert data["agreement"]["threshold"] == FALLBACK["agreement"] and not data["agreement"]["fitted"]
    X, _ = _music(rng, 1, spread=0)
    flags = assess([_answer(np.tile([0.45, 0.35, 0.2], (WINDOWS, 1)))], X, [Trust(data)])
    assert _kinds(flags) == ["low-confidence"]
    assert "(a default: all-right part (5 tracks) had no wrong or no right track to fit one)" in flags[0]["message"]
    with pytest.raises(ParameterError, match="held-out windows"):
        fit(
            X_train=X_train,
            X_eval=X_eval[:0],
            eval_track_ids=tids[:0],
            eval_probs=np.zeros((0, 3)),
            eval_y=np.zeros(0, int),
            fitted_on="nothing",
        )


def test_load_trust_reads_back_refuses_damage_and_is_none_when_missing(fitted, tmp_path):
    run = SimpleNamespace(id="r", path=tmp_path)
    assert load_trust(run) is None
    (tmp_path / FILE).write_text(json.dumps(fitted["data"]))
    back = load_trust(run)
    assert back.data == fitted["data"] and back.fitted_on == "synthetic valid part (20 tracks)"
    damaged = dict(fitted["data"], music=dict(fitted["data"]["music"], precision=[[1.0]]))
    (tmp_path / FILE).write_text(json.dumps(damaged))
    with pytest.raises(ArtifactError, match="run 'r': trust.json is damaged"):
        load_trust(run)
    (tmp_path / FILE).write_text("{not json")
    with pytest.raises(ArtifactError, match="damaged"):
        load_trust(run)
