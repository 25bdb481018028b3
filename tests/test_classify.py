"""Tests of mgc.analysis.classify and the CLI's train / evaluate / classify on the tiny audio dataset."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mgc.analysis.classify import PREDICT_BATCH, classify, classify_signal, predict_windows, warm_up
from mgc.errors import AudioError, ParameterError
from mgc.features import extract_dataset
from mgc.runs import load_run
from mgc.runs.trust import FILE as TRUST_FILE
from mgc.runs.trust import KINDS
from mgc.training import TrainConfig, train

PROJECT = Path(__file__).resolve().parents[1]
SR = 22050
WINDOW = 66150  # samples in one 3-s window at 22,050 Hz


def _tone(seconds: float, sr: int = SR, channels: int = 1) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    y = 0.4 * np.sin(2 * np.pi * 330 * t) + 0.05 * np.random.default_rng(0).standard_normal(len(t))
    y = y.astype(np.float32)
    return np.stack([y, 0.5 * y], axis=1) if channels == 2 else y


def _mgc(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "mgc", *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory, tiny_dataset):
    """Features of the tiny dataset (saved to .npz) and two 1-epoch runs trained on them."""
    base = tmp_path_factory.mktemp("classify")
    fs = extract_dataset(tiny_dataset, use_cache=False, workers=1)
    npz = fs.save(base / "tiny.npz")
    runs = base / "runs"
    cfg = {"split": "track", "epochs": 1, "batch_size": 16}
    study = train(fs, TrainConfig(model="mlp", **cfg), root=runs, run_id="mlp-study")
    improved = train(fs, TrainConfig(model="mlp", recipe="improved", seed=1, **cfg), root=runs, run_id="mlp-improved")
    return {"base": base, "features": fs, "npz": npz, "runs": runs, "study": study, "improved": improved}


@pytest.fixture(scope="module")
def run(work):
    return work["study"]


def _check_answer(answer, n_windows, classes):
    assert answer.window_probs.shape == (n_windows, len(classes))
    np.testing.assert_allclose(answer.window_probs.sum(axis=1), 1.0, rtol=1e-5)
    assert answer.probs.sum() == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(answer.probs, answer.window_probs.mean(axis=0))
    assert answer.predicted in classes and answer.confidence == pytest.approx(answer.probs.max())
    assert len(answer.window_predictions) == n_windows


# --------------------------------------------------------------------------- #
# classify()
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_features_of_the_tiny_dataset(work):
    fs = work["features"]
    assert fs.classes == ("clicks", "noise", "tones")
    assert fs.X.shape == (420, 130, 13) and fs.n_tracks == 42


@pytest.mark.slow
def test_a_wav_path(run, tiny_dataset):
    path = tiny_dataset / "genres" / "tones" / "tones.00001.wav"
    res = classify(path, [run])
    assert res.name == "tones.00001.wav"
    assert res.duration == pytest.approx(30.0) and res.native_sr == SR and res.channels == 1
    assert not res.truncated
    np.testing.assert_allclose(res.starts, np.arange(10) * 3.0)
    assert len(res.answers) == 1
    a = res.answers[0]
    assert (a.run_id, a.model, a.classes) == ("mlp-study", "mlp", ["clicks", "noise", "tones"])
    _check_answer(a, 10, a.classes)


@pytest.mark.slow
def test_a_wav_path_gives_what_the_training_features_give(run, work, tiny_dataset):
    """The clip path (decode, windows, MFCC) and the dataset path agree on a 30-s track."""
    fs = work["features"]
    res = classify(tiny_dataset / "genres" / "noise" / "noise.00002.wav", [run])
    rows = np.flatnonzero(fs.track_ids == "noise.00002")
    expected = run.model().predict(fs.X[rows], verbose=0)
    np.testing.assert_allclose(res.answers[0].window_probs, expected, atol=1e-4)


@pytest.mark.slow
def test_bytes_of_a_44k_stereo_flac(run):
    buf = io.BytesIO()
    sf.write(buf, _tone(10.0, sr=44100, channels=2), 44100, format="FLAC")
    res = classify(buf.getvalue(), [run])
    assert res.name == "uploaded audio"
    assert (res.native_sr, res.channels) == (44100, 2)
    assert res.duration == pytest.approx(10.0, abs=1e-3)
    np.testing.assert_allclose(res.starts, [0.0, 3.0, 6.0])  # the last 1 s is no full window
    _check_answer(res.answers[0], 3, run.classes)


@pytest.mark.slow
def test_a_70s_clip_is_windowed_over_its_whole_length(run, tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, _tone(70.0), SR, subtype="PCM_16")
    res = classify(path, [run])
    # 70 s = 23 full 3-s windows (69 s) and 1 s left over
    assert len(res.starts) == 23
    np.testing.assert_allclose(res.starts, np.arange(23) * 3.0)
    _check_answer(res.answers[0], 23, run.classes)
    assert not any("windows, spread over" in n for n in res.notes)


@pytest.mark.slow
def test_a_last_window_just_short_of_3s_is_kept_when_it_gives_130_frames(run):
    # 129 hops * 512 = 66048 samples give 130 frames: the partial window counts
    y = _tone((WINDOW + 66100) / SR)[: WINDOW + 66100]
    starts, answers, flags = classify_signal(y, [run], sr=SR)
    np.testing.assert_allclose(starts, [0.0, 3.0])
    assert isinstance(flags, list)
    assert answers[0].window_probs.shape == (2, 3)


@pytest.mark.slow
def test_max_windows_bounds_the_work_and_spreads_the_windows(run, tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, _tone(70.0), SR, subtype="PCM_16")
    res = classify(path, [run], max_windows=5)
    assert len(res.starts) == 5
    assert res.starts[0] == 0.0 and res.starts[-1] == 66.0
    assert np.all(np.diff(res.starts) > 0)
    assert res.answers[0].window_probs.shape == (5, 3)
    assert "5 of 23 windows, spread over the clip, were classified" in res.notes


@pytest.mark.slow
def test_max_duration_truncates_and_says_so(run, tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, _tone(70.0), SR, subtype="PCM_16")
    res = classify(path, [run], max_duration=12.0)
    assert res.truncated and res.duration == pytest.approx(12.0)
    assert len(res.starts) == 4
    assert any(n.startswith("only the first 12 s of ") for n in res.notes)


@pytest.mark.slow
def test_truncation_note_gives_the_files_length(run, tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, _tone(70.0), SR, subtype="PCM_16")
    res = classify(path, [run], max_duration=12.0)
    assert "only the first 12 s of 70 s were analysed" in res.notes


@pytest.mark.slow
def test_too_short_clip(run, tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, _tone(1.0), SR)
    with pytest.raises(AudioError, match=r"'short.wav' lasts 1.00 s; at least 3.00 s is needed"):
        classify(path, [run])


@pytest.mark.slow
def test_silence(run, tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(5 * SR, np.float32), SR)
    with pytest.raises(AudioError, match="silent"):
        classify(path, [run])


@pytest.mark.slow
@pytest.mark.parametrize("data", [b"this is not audio at all " * 200, b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_non_audio_bytes(run, data):
    with pytest.raises(AudioError, match="could not decode 'upload.bin'"):
        classify(data, [run], name="upload.bin")


@pytest.mark.slow
def test_empty_bytes_and_no_runs(run):
    with pytest.raises(AudioError, match="empty"):
        classify(b"", [run])
    with pytest.raises(ParameterError, match="at least one run"):
        classify(b"", [])


@pytest.mark.slow
def test_two_runs_at_once_give_two_answers(work, tiny_dataset):
    study, improved = work["study"], work["improved"]
    path = tiny_dataset / "genres" / "clicks" / "clicks.00000.wav"
    res = classify(path, [study, improved])
    assert [a.run_id for a in res.answers] == ["mlp-study", "mlp-improved"]
    for a in res.answers:
        _check_answer(a, 10, study.classes)
    # each answer is the one the run gives alone
    alone = classify(path, [improved]).answers[0]
    np.testing.assert_allclose(res.answers[1].probs, alone.probs, rtol=1e-6)
    assert not np.allclose(res.answers[0].probs, res.answers[1].probs)


@pytest.mark.slow
def test_runs_with_other_feature_settings_are_refused(work, tmp_path):
    import shutil

    shutil.copytree(work["study"].path, tmp_path / "other")
    manifest = json.loads((tmp_path / "other" / "manifest.json").read_text())
    manifest["features"]["n_mfcc"] = 20
    manifest["input_shape"] = [130, 20]
    (tmp_path / "other" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ParameterError, match="different feature settings"):
        classify(b"x", [work["study"], load_run("other", root=tmp_path)])


@pytest.mark.slow
def test_classify_signal_checks_the_rate(run):
    with pytest.raises(ParameterError, match="sr=44100 does not match the runs' feature rate 22050 Hz"):
        classify_signal(_tone(4.0), [run], sr=44100)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["cnn", "lstm"])
def test_fixed_size_batches_give_each_windows_own_probabilities(tiny_runs_artifacts, tiny_features, model):
    """Padding rows never leak into real rows (batch norm and LSTM work row by row at inference)."""
    run = load_run(f"tiny-{model}", root=tiny_runs_artifacts / "runs")
    warm_up(run)
    keras_model = run.model()
    seen = []

    class Spy:
        def predict_on_batch(self, chunk):
            seen.append(chunk.shape[0])
            return keras_model.predict_on_batch(chunk)

    for k in (1, PREDICT_BATCH, PREDICT_BATCH + 1, 2 * PREDICT_BATCH + 3):
        X = tiny_features.X[:k]
        probs = predict_windows(Spy(), X)
        assert probs.shape == (k, len(run.classes)) and probs.dtype == np.float64
        np.testing.assert_allclose(probs, keras_model.predict(X, batch_size=64, verbose=0), rtol=1e-4, atol=1e-6)
    assert set(seen) == {PREDICT_BATCH}  # one batch size: TensorFlow traces one graph
    with pytest.raises(ParameterError, match="no window"):
        predict_windows(keras_model, tiny_features.X[:0])


# --------------------------------------------------------------------------- #
# Trust flags
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_every_trained_run_has_checks_and_a_clip_carries_their_flags(run, tiny_dataset):
    assert (run.path / TRUST_FILE).is_file()
    res = classify(tiny_dataset / "genres" / "tones" / "tones.00001.wav", [run])
    assert isinstance(res.flags, list) and res.trusted is (not res.flags)
    assert all(f["kind"] in KINDS and f["message"] for f in res.flags)
    assert "no-checks" not in [f["kind"] for f in res.flags]
    assert not any("unsure" in n for n in res.notes)  # the old notes are gone: flags say it now
    import importlib

    assert not hasattr(importlib.import_module("mgc.analysis.classify"), "LOW_CONFIDENCE")


@pytest.mark.slow
def test_a_run_without_checks_says_so_and_is_not_trusted(work, tiny_dataset, tmp_path):
    import shutil

    shutil.copytree(work["study"].path, tmp_path / "unchecked")
    (tmp_path / "unchecked" / TRUST_FILE).unlink()
    old = load_run("unchecked", root=tmp_path)
    res = classify(tiny_dataset / "genres" / "tones" / "tones.00001.wav", [old])
    assert [f["kind"] for f in res.flags] == ["no-checks"]
    assert res.flags[0]["run"] == "unchecked" and "no fitted trust checks" in res.flags[0]["message"]
    assert not res.trusted


@pytest.mark.slow
def test_two_runs_that_disagree_are_flagged(work):
    study, improved = work["study"], work["improved"]
    y = _tone(9.0)
    starts, answers, flags = classify_signal(y, [study, improved], sr=SR)
    kinds = [f["kind"] for f in flags]
    assert (answers[0].predicted != answers[1].predicted) == ("models-disagree" in kinds)


# --------------------------------------------------------------------------- #
# The CLI
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def cli_files(work, tiny_dataset):
    bad = work["base"] / "bad.wav"
    bad.write_bytes(b"not a wav file, just text" * 50)
    return [str(tiny_dataset / "genres" / "tones" / "tones.00002.wav"), str(bad)]


@pytest.mark.slow
def test_cli_classify_json(work, cli_files):
    good, bad = cli_files
    p = _mgc(
        "classify",
        good,
        bad,
        "--run",
        "mlp-study",
        "--run",
        "mlp-improved",
        "--runs",
        str(work["runs"]),
        "--format",
        "json",
    )
    assert p.returncode == 1, p.stderr  # one of the two files failed (0 only when every file is classified)
    clips = json.loads(p.stdout)
    assert [c["file"] for c in clips] == [good, bad]  # one entry per clip, its answers inside
    clip = clips[0]
    assert set(clip) == {"file", "duration", "trusted", "flags", "notes", "window_starts", "answers"}
    assert clip["duration"] == pytest.approx(30.0) and clip["notes"] == []
    assert clip["window_starts"] == [3.0 * k for k in range(10)]
    assert clip["trusted"] is (clip["flags"] == [])
    for f in clip["flags"]:
        assert f["kind"] in KINDS and isinstance(f["message"], str) and f["run"] in (None, "mlp-study", "mlp-improved")
    assert [a["run"] for a in clip["answers"]] == ["mlp-study", "mlp-improved"]
    for a in clip["answers"]:
        assert set(a) == {"run", "model", "classes", "predicted", "confidence", "probabilities", "window_probabilities"}
        assert a["model"] == "mlp" and a["classes"] == ["clicks", "noise", "tones"]
        assert a["predicted"] == max(a["probabilities"], key=a["probabilities"].get)
        assert sum(a["probabilities"].values()) == pytest.approx(1.0, abs=2e-4)
        assert a["confidence"] == max(a["probabilities"].values())
        wp = np.array(a["window_probabilities"])
        assert wp.shape == (10, 3)
        np.testing.assert_allclose(wp.mean(axis=0), [a["probabilities"][c] for c in a["classes"]], atol=2e-4)
    assert set(clips[1]) == {"file", "error"} and "could not decode 'bad.wav'" in clips[1]["error"]


@pytest.mark.slow
def test_cli_classify_csv(work, cli_files, capsys):
    # in-process (the subprocess path is covered by the json test): same parser, same command function
    from mgc.cli import main

    good, bad = cli_files
    code = main(["classify", good, bad, "--run", "mlp-study", "--runs", str(work["runs"]), "--format", "csv"])
    out = capsys.readouterr().out
    assert code == 1  # bad.wav failed
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == [
        "file",
        "run",
        "predicted",
        "confidence",
        "windows",
        "trusted",
        "flags",
        "p_clicks",
        "p_noise",
        "p_tones",
        "error",
    ]
    assert rows[0]["trusted"] in ("True", "False") and (rows[0]["trusted"] == "True") == (rows[0]["flags"] == "")
    assert rows[1]["trusted"] == "" and rows[1]["flags"] == ""
    assert [r["file"] for r in rows] == [good, bad]
    assert rows[0]["run"] == "mlp-study" and rows[0]["windows"] == "10" and rows[0]["error"] == ""
    assert sum(float(rows[0][f"p_{c}"]) for c in ("clicks", "noise", "tones")) == pytest.approx(1.0, abs=2e-4)
    assert rows[1]["run"] == "" and "could not decode" in rows[1]["error"]


@pytest.mark.slow
def test_cli_classify_of_bad_files_only_exits_2(work, cli_files, capsys):
    from mgc.cli import main

    assert main(["classify", cli_files[1], "--run", "mlp-study", "--runs", str(work["runs"])]) == 2
    assert "bad.wav: ERROR could not decode" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_train_then_evaluate(work, tmp_path, capsys):
    # in-process, like `python -m mgc train ...` (the subprocess path is covered by the classify test)
    from mgc.cli import main

    runs = tmp_path / "cli-runs"
    code = main(
        [
            "train",
            "--data",
            str(work["npz"]),
            "--model",
            "mlp",
            "--split",
            "track",
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--runs",
            str(runs),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "features: 420 segments, 42 tracks, classes clicks, noise, tones (0 files skipped)" in out
    assert re.search(r"^mlp epoch   1/1  acc \d\.\d{4} loss \d+\.\d{4}  val_acc \d\.\d{4}", out, re.M), out
    found = re.search(
        r"^run (\S+) \(finished, track split\): test segment accuracy (\d\.\d{4}) "
        r"\(balanced \d\.\d{4}\), track accuracy \d\.\d{4} \(balanced \d\.\d{4}, macro-F1 \d\.\d{4}\), "
        r"12 tracks",
        out,
        re.M,
    )
    assert found, out
    run_id, accuracy = found.groups()
    stored = load_run(run_id, root=runs)
    assert stored.manifest["model"] == "mlp" and stored.manifest["split"]["name"] == "track"
    assert f"{stored.metrics['segment_accuracy']:.4f}" == accuracy

    # the same split's test part gives the same accuracy
    assert main(["evaluate", run_id, "--data", str(work["npz"]), "--split", "track", "--runs", str(runs)]) == 0
    out = capsys.readouterr().out
    assert f"run {run_id} on {work['npz']} (track split, test part): 120 segments, 12 tracks" in out
    assert f"segment accuracy {accuracy}" in out and "excluded" not in out

    # on all segments, the 30 tracks it trained or selected on are dropped, and it says so
    assert main(["evaluate", run_id, "--data", str(work["npz"]), "--runs", str(runs)]) == 0
    out = capsys.readouterr().out
    assert f"run {run_id} on {work['npz']} (all segments): 120 segments, 12 tracks" in out
    excluded = r"^  excluded 30 track\(s\) the run trained or selected on \(e\.g\. clicks\.\d{5}, "
    assert re.search(excluded, out, re.M), out
    assert f"segment accuracy {accuracy}" in out


@pytest.mark.slow
def test_cli_reports_a_missing_run_in_one_line(work, cli_files):
    p = _mgc("classify", cli_files[0], "--run", "no-such-run", "--runs", str(work["runs"]))
    assert p.returncode == 2
    assert p.stderr.strip().startswith("error: no run 'no-such-run'")
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_cli_train_chooses_the_honest_split_and_takes_evaluate_on(tmp_path, capsys):
    from conftest import make_ff_features
    from mgc.cli import main

    npz = make_ff_features({"blues": (6, 6, 0), "rock": (6, 5, 0)}, segments=2).save(tmp_path / "ff.npz")
    runs = tmp_path / "runs"
    base = ["train", "--data", str(npz), "--model", "mlp", "--epochs", "1", "--batch-size", "16", "--runs", str(runs)]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "split: fault-filtered (the honest one these tracks allow; --split to choose)" in out
    found = re.search(r"^run (\S+) \(finished, fault-filtered \(tested on valid\) split\)", out, re.M)
    assert found, out
    assert load_run(found.group(1), root=runs).manifest["config"]["evaluate_on"] == "auto"
    # the test list is not there: forcing it is refused in one line
    assert main(base + ["--split", "fault-filtered", "--evaluate-on", "test"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the 'fault-filtered' split leaves its test part empty") and "test list" in err, err
    assert main(base + ["--evaluate-on", "valid"]) == 0
    out = capsys.readouterr().out
    run_id = re.search(r"^run (\S+) ", out, re.M).group(1)
    assert load_run(run_id, root=runs).manifest["config"]["evaluate_on"] == "valid"
