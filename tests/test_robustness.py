"""The robustness catalogue (issue 12): crafted inputs and faults, each with its message, exit code and bound.

Every input is built at test time (:mod:`crafted`) and small on disk. Memory bounds are
measured in a subprocess (``resource.getrusage`` peak) that runs under an address-space
limit, so a decoder that trusts a lying header fails there as it would on a small
server, instead of allocating gigabytes here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import crafted
from mgc import audio
from mgc.errors import AudioError, ParameterError

ROOT = Path(__file__).resolve().parents[1]
SR = crafted.SR
#: Address space a measured subprocess may use: the bombs ask for 7 GB and more.
AS_LIMIT = 3 * 2**30
#: Peak resident memory a refused or bounded input may add to the imports, in MB.
PEAK_MB = 150


def measure(code: str, *, setup: str = "import mgc.features", limit: int = AS_LIMIT, timeout: float = 120) -> dict:
    """Run ``code`` (which sets ``outcome``) in a fresh interpreter under ``limit`` bytes of address space.

    ``setup`` runs first (the imports), and its peak is the baseline. Returns
    ``{"outcome", "seconds", "peak_mb", "base_mb"}`` with ``peak_mb`` the peak resident
    memory beyond the baseline; an exception in ``code`` becomes the outcome
    ``"<Type>: <message>"``.
    """
    script = (
        "import json, resource, time\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))\n"
        f"{setup}\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "t0 = time.perf_counter()\n"
        "try:\n" + textwrap.indent(textwrap.dedent(code), "    ") + "\n"
        "except BaseException as e:\n"
        "    outcome = f'{type(e).__name__}: {e}'\n"
        "print(json.dumps({'outcome': outcome, 'seconds': time.perf_counter() - t0, 'base_mb': base,\n"
        "    'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base}))\n"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- #
# 1, 8: the decode budget and the sample-rate and channel ranges
# --------------------------------------------------------------------------- #
def test_bomb_flac_is_refused_before_allocating(tmp_path):
    """Defect 1: 384 kHz x 8 channels x 700 s claimed; Classify decodes up to 600 s (7 GB of float32)."""
    bomb = crafted.flac_bomb(tmp_path)
    assert bomb.stat().st_size < 20_000
    r = measure(f"from mgc import audio\naudio.decode({str(bomb)!r}, max_duration=600.0)\noutcome = 'decoded'")
    assert r["outcome"].startswith("AudioError: 'bomb.flac' would decode 230,400,000 frames x 8 channels")
    assert "1,843,200,000 samples" in r["outcome"] and "max_samples=67,108,864" in r["outcome"]
    assert r["peak_mb"] < PEAK_MB and r["seconds"] < 5


def test_bomb_upload_bytes_meet_the_same_budget(tmp_path):
    """The Classify page passes the upload's bytes: the same check applies before anything is read."""
    data = crafted.flac_bomb(tmp_path).read_bytes()
    with pytest.raises(AudioError, match=r"'upload.flac' would decode .* over the decode budget"):
        audio.decode(data, max_duration=600.0, name="upload.flac")


def test_classify_refuses_the_bomb_with_an_audio_error(tmp_path):
    """What Classify does with it, through :func:`mgc.analysis.classify` (no model is needed to refuse)."""
    from mgc.analysis import classify
    from mgc.runs import Run

    run = Run("r", tmp_path, {"input_shape": [130, 13], "features": {}}, {}, {})
    with pytest.raises(AudioError, match="over the decode budget"):
        classify(crafted.flac_bomb(tmp_path).read_bytes(), [run], name="bomb.flac")


def test_the_budget_can_be_set_and_names_its_parameter(tmp_path):
    path = tmp_path / "st.wav"
    sf.write(path, np.zeros((SR * 4, 2), np.float32) + 0.1, SR)
    with pytest.raises(AudioError, match=r"88,200 frames x 2 channels = 176,400 samples .*max_samples=100,000"):
        audio.decode(path, max_samples=100_000)
    assert len(audio.decode(path, max_samples=100_000, max_duration=2.0).y) == 2 * SR
    with pytest.raises(ParameterError, match="max_samples=0 must be a positive integer"):
        audio.decode(path, max_samples=0)


def test_the_resampled_output_is_budgeted_too(tmp_path):
    path = tmp_path / "low.wav"
    sf.write(path, crafted.tone(4.0, sr=4000), 4000)
    with pytest.raises(AudioError, match=r"88,200 samples once resampled to 22,050 Hz"):
        audio.decode(path, max_samples=50_000)


def test_a_target_rate_out_of_range_is_a_parameter_error():
    with pytest.raises(ParameterError, match="sr=2000000000 must be at most 384000"):
        audio.decode(b"x", sr=2_000_000_000)


@pytest.mark.parametrize("rate", [1, 3999, 384_001, 2_000_000_000])
def test_absurd_sample_rates_are_refused_at_once(tmp_path, rate):
    """Defect 8: a 1 Hz header was 'classical 93-98 %'; a 2 GHz one cost 4 s in the resampler."""
    path = crafted.wav_with_rate(tmp_path, rate)
    for call in (audio.decode, audio.info):
        with pytest.raises(AudioError) as e:
            call(path)
        assert f"reports a sample rate of {rate:,} Hz; accepted: 4,000-384,000 Hz" in str(e.value)


def test_the_range_ends_are_accepted(tmp_path):
    for rate in (4000, 384_000):
        path = tmp_path / f"ok{rate}.wav"
        sf.write(path, crafted.tone(0.5, sr=rate), rate)
        assert audio.decode(path).native_sr == rate


def test_absurd_sample_rate_in_a_dataset_is_skipped_quickly(tmp_path):
    from mgc.features import extract_dataset

    d = tmp_path / "genres" / "a"
    d.mkdir(parents=True)
    sf.write(d / "a.00000.wav", crafted.tone(30.0), SR)
    crafted.wav_with_rate(d, 1).rename(d / "a.00001.wav")
    fs = extract_dataset(tmp_path, cache_dir=tmp_path / "c", workers=1)
    assert fs.n_tracks == 1
    assert "sample rate of 1 Hz" in fs.skipped[0].reason


def test_a_header_with_too_many_channels_is_refused(tmp_path):
    with pytest.raises(AudioError, match="channels"):
        audio.decode(crafted.many_channels_wav(tmp_path))


def test_a_stream_without_a_length_is_budgeted_as_it_is_read():
    """Where the container gives no length, the budget is enforced block by block."""
    from mgc.audio.decode import _read_mono

    class Endless:  # a decoder that never ends, as a stream without a length may
        def read(self, frames, dtype, always_2d, out=None):
            block = np.full((frames, 2), 0.1, np.float32)
            if out is not None:
                out[:frames] = block
                return out[:frames]
            return block

    with pytest.raises(AudioError, match=r"more than 200,000 frames of 2 channel\(s\) and gives no length"):
        _read_mono(Endless(), "stream", frames=None, channels=2, native_sr=SR, budget=200_000)


@pytest.mark.slow
def test_real_bomb_flac_is_refused_with_little_memory(tmp_path):
    """Defect 1 as reported: a real 700-s, 384 kHz, 8-channel FLAC of silence (~40 s to write)."""
    bomb = crafted.flac_real_bomb(tmp_path)
    assert bomb.stat().st_size < 5_000_000  # libsndfile's FLAC encoder: 2.4 MB
    r = measure(f"from mgc import audio\naudio.decode({str(bomb)!r}, max_duration=600.0)\noutcome = 'decoded'")
    assert "over the decode budget" in r["outcome"] and r["peak_mb"] < PEAK_MB and r["seconds"] < 5


# --------------------------------------------------------------------------- #
# 2: extraction decodes what the features use, bounded
# --------------------------------------------------------------------------- #
def test_a_one_hour_file_costs_what_its_first_30_s_cost(tmp_path):
    """Defect 2: a 60-min file in a dataset was decoded whole (2.16 GB for an MP3) to use 30 s."""
    from mgc.features import extract_file, track_segments

    path = crafted.long_flac(tmp_path, minutes=60)
    assert path.stat().st_size < 2_000_000
    r = measure(
        f"from mgc.features import extract_file\nX, seg = extract_file({str(path)!r})\noutcome = f'{{len(X)}} segments'"
    )
    assert r["outcome"] == "10 segments" and r["peak_mb"] < PEAK_MB
    X, _ = extract_file(path)
    first = sf.read(path, frames=30 * SR, dtype="float32")[0]
    np.testing.assert_array_equal(X, track_segments(first)[0])


def test_a_flac_claiming_days_is_a_clear_error_in_bounded_memory(tmp_path):
    """Defect 2: a FLAC whose header claims 2**35 frames asked for 20 GB."""
    path = crafted.flac_huge_length(tmp_path)
    r = measure(f"from mgc.features import extract_file\nextract_file({str(path)!r})\noutcome = 'read'")
    assert r["outcome"].startswith("AudioError: 'huge-length.flac' is corrupt or truncated: decoding failed after")
    assert r["peak_mb"] < PEAK_MB
    with pytest.raises(AudioError, match=r"34,359,738,368 samples .* over the decode budget"):
        audio.decode(path)  # the whole file, as the old extraction asked


def test_a_1_hz_header_no_longer_becomes_billions_of_samples(tmp_path):
    """Defect 2: a 441 kB WAV whose header says 1 Hz became 4.86e9 samples, 19 GB, then SIGSEGV."""
    path = crafted.wav_with_rate(tmp_path, 1)
    assert path.stat().st_size < 500_000
    r = measure(f"from mgc.features import extract_file\nextract_file({str(path)!r})\noutcome = 'read'")
    assert "sample rate of 1 Hz" in r["outcome"] and r["peak_mb"] < PEAK_MB and r["seconds"] < 5


# --------------------------------------------------------------------------- #
# 9: messages that say what is true
# --------------------------------------------------------------------------- #
def test_an_id3_only_mp3_is_not_called_missing(tmp_path):
    path = crafted.id3_only_mp3(tmp_path)
    for call in (audio.decode, audio.info):
        with pytest.raises(AudioError) as e:
            call(path)
        msg = str(e.value)
        assert "tag-only.mp3" in msg and "no audio stream was recognised" in msg
        assert "does not exist" not in msg and "pipe" not in msg


def test_a_folder_is_called_a_folder(tmp_path):
    (tmp_path / "clips").mkdir()
    with pytest.raises(AudioError, match="'clips' is a folder, not an audio file"):
        audio.decode(tmp_path / "clips")


# --------------------------------------------------------------------------- #
# 10: one readability and silence rule
# --------------------------------------------------------------------------- #
@pytest.fixture
def faulty_dataset(tmp_path) -> Path:
    """Two good tracks and a truncated, a NaN and a silent one, in one class."""
    d = tmp_path / "data" / "genres" / "a"
    d.mkdir(parents=True)
    for i in range(2):
        sf.write(d / f"a.0000{i}.wav", crafted.tone(30.0, freq=300 + 100 * i), SR, subtype="PCM_16")
    for i, make in enumerate((crafted.truncated_wav, crafted.nan_wav, crafted.silent_wav), start=2):
        make(d).rename(d / f"a.0000{i}.wav")
    return tmp_path / "data"


def test_silent_tracks_give_no_training_segments(faulty_dataset, tmp_path):
    """Defect 10: extract kept a silent 30-s file as 10 segments; classify rejects it as silent."""
    from mgc.features import extract_dataset

    fs = extract_dataset(faulty_dataset, cache_dir=tmp_path / "c", workers=1)
    reasons = {s.track_id: s.reason for s in fs.skipped}
    assert set(reasons) == {"a.00002", "a.00003", "a.00004"} and fs.n_tracks == 2
    assert "truncated" in reasons["a.00002"] and "non-finite" in reasons["a.00003"]
    assert "is silent" in reasons["a.00004"]


def test_survey_and_extraction_agree_on_every_file(faulty_dataset, tmp_path):
    from mgc.dataset import dataset_survey, find_tracks
    from mgc.features import extract_dataset

    ds = find_tracks(faulty_dataset)
    survey = dataset_survey(ds)
    fs = extract_dataset(ds, cache_dir=tmp_path / "c", workers=1)
    assert set(survey.failures["track_id"]) == {s.track_id for s in fs.skipped}


def test_cli_info_counts_the_same_files_readable(faulty_dataset):
    r = subprocess.run(
        [sys.executable, "-m", "mgc", "info", str(faulty_dataset)], cwd=ROOT, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if line.startswith("a "))
    assert row.split()[:3] == ["a", "5", "2"]  # class, tracks, readable
    assert "unreadable files: 3" in r.stdout
    for word in ("truncated", "non-finite", "silent"):
        assert word in r.stdout


def test_explore_and_classify_refuse_silence_alike(tmp_path):
    silent = crafted.silent_wav(tmp_path).read_bytes()
    with pytest.raises(AudioError, match="is silent"):
        audio.usable(silent, name="silent.wav", max_duration=30.0)  # Explore's upload and microphone


# --------------------------------------------------------------------------- #
# 3: Ctrl-C stops the whole command, after storing what finished
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_ctrl_c_stops_train_all_after_storing_the_interrupted_run(tmp_path, feature_factory):
    """Defect 3: Ctrl-C during the first of three models saved it as stopped, then trained the other two."""
    import signal
    import time

    from mgc.runs import list_runs

    features = tmp_path / "f.npz"
    feature_factory(tracks_per_class=14, segments=4).save(features)
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-m", "mgc", "train", "--data", str(features), "--model", "all", "--split", "track"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen(
        [*cmd, "--epochs", "2000", "--runs", str(runs)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as from a terminal: a process a non-interactive shell starts in the background (as CI may be)
        # inherits SIGINT ignored, and Python then never raises KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        seen = []
        for line in p.stdout:  # the first epoch line says the first model is training
            seen.append(line)
            if line.startswith("mlp epoch"):
                break
        assert seen and seen[-1].startswith("mlp epoch"), "".join(seen) + p.stderr.read()
        p.send_signal(signal.SIGINT)
        t0 = time.perf_counter()
        out, err = p.communicate(timeout=120)
        after = time.perf_counter() - t0
    finally:
        p.kill()
    assert p.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err
    assert "stopped by Ctrl-C after" in out and "not trained: cnn, lstm" in out
    assert "cnn epoch" not in out and "lstm epoch" not in out
    stored, problems = list_runs(runs)
    assert problems == [] and [r.model_name for r in stored] == ["mlp"]
    assert stored[0].manifest["status"] == "stopped" and stored[0].manifest["stopped_by"] == "interrupt"
    assert stored[0].label.endswith(f"stopped (interrupted) · {stored[0].id}")
    assert after < 60


# --------------------------------------------------------------------------- #
# 4: run folders whose names are not ids
# --------------------------------------------------------------------------- #
def _fake_run_folder(path: Path, *, model: str = "cnn", score: float = 0.9) -> Path:
    """A run folder with the files :func:`mgc.runs.load_run` checks (the model is never loaded here)."""
    path.mkdir(parents=True)
    manifest = {
        "model": model,
        "recipe": "study",
        "status": "finished",
        "created": "2026-01-01T00:00:00",
        "dataset": {"classes": ["a", "b", "c"]},
        "split": {"name": "track"},
    }
    (path / "manifest.json").write_text(json.dumps(manifest))
    (path / "history.json").write_text("{}")
    (path / "metrics.json").write_text(json.dumps({"segment_accuracy": score, "track_accuracy_mean": score}))
    np.savez(path / "predictions.npz", probs=np.zeros((1, 3)))
    (path / "model.keras").write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip
    return path


def test_a_folder_that_is_not_a_run_id_is_reported_never_listed(tmp_path):
    """Defect 4: 'my best run (copy)' was listed, became Classify's default, and could not be loaded."""
    from mgc.runs import default_classify_runs, list_runs, load_run

    _fake_run_folder(tmp_path / "runs" / "good-cnn", score=0.7)
    for bad in ("my best run (copy)", "-dash-first", "ünïcode"):
        _fake_run_folder(tmp_path / "runs" / bad, score=0.95)
    runs, problems = list_runs(tmp_path / "runs")
    assert [r.id for r in runs] == ["good-cnn"]
    assert len(problems) == 3 and all("is not a valid run id" in p and "not listed" in p for p in problems)
    assert any("'my best run (copy)'" in p for p in problems)
    assert default_classify_runs(runs) == ["good-cnn"]
    for r in runs:  # whatever is listed loads again by its id
        assert load_run(r.id, root=tmp_path / "runs").id == r.id


# --------------------------------------------------------------------------- #
# 9: a model.keras that is there but is not a Keras archive
# --------------------------------------------------------------------------- #
def test_a_non_zip_model_is_not_called_missing(tmp_path):
    from mgc.errors import ArtifactError
    from mgc.runs import load_run

    folder = _fake_run_folder(tmp_path / "runs" / "r1")
    crafted.not_a_zip_model(folder / "model.keras")
    run = load_run("r1", root=tmp_path / "runs")
    with pytest.raises(ArtifactError) as e:
        run.model()
    msg = str(e.value)
    assert "'r1'" in msg and "it is not a readable Keras archive" in msg and "not found" not in msg.lower()


# --------------------------------------------------------------------------- #
# 5, 6, 7: atomic writes, cache write failures, concurrent cache writers
# --------------------------------------------------------------------------- #
def test_two_saves_to_one_path_at_once_both_succeed(tmp_path, feature_factory, monkeypatch):
    """Defect 5: two 'mgc extract --out same.npz' at once; the second rename found no '.tmp-<name>'.

    The race is made deterministic: a second save runs while the first is about to rename.
    """
    from mgc.features import FeatureSet

    fs = feature_factory(tracks_per_class=2, segments=2)
    out = tmp_path / "same.npz"
    real_replace, nested = os.replace, []

    def replace(src, dst):
        if not nested:
            nested.append(src)
            fs.save(out)  # the other writer, between this one's write and its rename
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    fs.save(out)
    assert nested and FeatureSet.load(out).X.shape == fs.X.shape
    assert [p.name for p in tmp_path.iterdir()] == ["same.npz"]  # no temporary file left


@pytest.fixture
def two_class_dataset(tmp_path) -> Path:
    """Classes a and b, 8 short tracks each (16 in all), 3.1 s long: one segment each."""
    for c, freq in (("a", 300.0), ("b", 900.0)):
        d = tmp_path / "data" / "genres" / c
        d.mkdir(parents=True)
        for i in range(8):
            sf.write(d / f"{c}.{i:05d}.wav", crafted.tone(3.1, freq=freq + 10 * i), SR, subtype="PCM_16")
    return tmp_path / "data"


def test_a_cache_that_cannot_be_written_warns_and_keeps_the_features(two_class_dataset, tmp_path):
    """Defect 6: the cache path a folder, or the cache folder a file, was a traceback and lost the extraction."""
    from mgc.dataset import find_tracks
    from mgc.features import extract_dataset
    from mgc.features.mfcc import STUDY_PARAMS
    from mgc.features.store import store_dir

    as_file = tmp_path / "cache-is-a-file"
    as_file.write_text("not a folder")
    as_dir = tmp_path / "cache-holds-a-folder"  # the store's marker file is a folder
    (store_dir(as_dir, find_tracks(two_class_dataset).genres_dir, STUDY_PARAMS) / "STORE.json").mkdir(parents=True)
    for cache_dir in (as_file, as_dir):
        with pytest.warns(RuntimeWarning, match="could not write the feature cache"):
            fs = extract_dataset(two_class_dataset, cache_dir=cache_dir, workers=1)
        assert fs.n_tracks == 16 and len(fs.X) == 16
        assert "could not write the feature cache" in fs.cache_stats["cache_problem"]


def test_cli_extract_writes_its_output_when_the_cache_cannot_be(two_class_dataset, tmp_path):
    art = tmp_path / "art"
    art.mkdir()
    (art / "cache").write_text("a file where the cache folder goes")
    out = tmp_path / "F.npz"
    r = subprocess.run(
        [sys.executable, "-m", "mgc", "extract", "--data", str(two_class_dataset), "--out", str(out), "--workers", "1"],
        cwd=ROOT,
        env={**os.environ, "MGC_ARTIFACTS": str(art)},
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert out.is_file() and "Traceback" not in r.stderr
    assert "cache: " in r.stdout and "could not write the feature cache" in r.stdout


def test_cli_extract_to_a_folder_is_one_clear_line(two_class_dataset, tmp_path):
    (tmp_path / "out.npz").mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "mgc", "extract", "--data", str(two_class_dataset), "--out", str(tmp_path / "out.npz")],
        cwd=ROOT,
        env={**os.environ, "MGC_ARTIFACTS": str(tmp_path / "art")},
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    # off a terminal, progress lines come first ("extract: 16/16 files (100%), ..."), then the one error line
    lines = [line for line in r.stderr.splitlines() if not line.startswith("extract: ")]
    assert len(lines) == 1 and lines[0].startswith("error: could not write features to"), r.stderr
    assert "extract: 16/16 files (100%)" in r.stderr


def test_concurrent_extractions_into_one_cache_lose_nothing(two_class_dataset, tmp_path):
    """Defect 7: extractions of classes a and b into one cache at once left 8 of 16 entries.

    Made deterministic: the extraction of b runs, and writes the cache, while that of a is
    between reading the cache and writing it back.
    """
    from mgc.dataset import find_tracks
    from mgc.features import extract_dataset
    from mgc.features.mfcc import STUDY_PARAMS
    from mgc.features.store import FeatureStore, store_dir

    cdir = tmp_path / "cache"
    other = []

    def meanwhile(done, total, message):
        if not other:
            other.append(extract_dataset(two_class_dataset, classes=["b"], cache_dir=cdir, workers=1))

    extract_dataset(two_class_dataset, classes=["a"], cache_dir=cdir, workers=1, on_progress=meanwhile)
    store = FeatureStore(store_dir(cdir, find_tracks(two_class_dataset).genres_dir, STUDY_PARAMS), STUDY_PARAMS)
    records = store.records()
    assert len(records) == 16
    assert {r.path.split("/")[0] for r in records} == {"a", "b"}


@pytest.mark.slow
def test_two_cli_extractions_at_once_into_one_cache_and_one_output(two_class_dataset, tmp_path):
    """Defects 5 and 7 as reported: two processes, really at once."""
    from mgc.dataset import find_tracks
    from mgc.features.mfcc import STUDY_PARAMS
    from mgc.features.store import FeatureStore, store_dir

    env = {**os.environ, "MGC_ARTIFACTS": str(tmp_path / "art")}
    out = tmp_path / "same.npz"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mgc", "extract", "--data", str(two_class_dataset), "--out", str(out)]
            + ["--classes", c, "--workers", "1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in ("a", "b")
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    folder = store_dir(tmp_path / "art" / "cache", find_tracks(two_class_dataset).genres_dir, STUDY_PARAMS)
    assert FeatureStore(folder, STUDY_PARAMS).status() == {"exists": True, "files": 16, "failed": 0}


# --------------------------------------------------------------------------- #
# 13: classify's exit code, and folders
# --------------------------------------------------------------------------- #
@pytest.fixture
def fake_classify(monkeypatch):
    """``mgc classify`` with a stand-in model: files whose name holds 'bad' fail, the others are 'a'."""
    import mgc.analysis
    import mgc.runs
    from mgc.analysis.classify import ClipResult, ModelAnswer

    def classify(path, runs, **kwargs):
        calls.append(kwargs)
        if "bad" in Path(path).name:
            raise AudioError(f"{Path(path).name!r} is silent (peak level -120 dBFS)")
        probs = np.array([[0.8, 0.2]])
        answer = ModelAnswer("r", "MLP · r", "mlp", ["a", "b"], probs, probs[0])
        return ClipResult(Path(path).name, 3.0, SR, 1, False, np.zeros(1), [answer])

    calls = []
    monkeypatch.setattr(mgc.runs, "load_run", lambda run, root=None: run)
    monkeypatch.setattr(mgc.analysis, "classify", classify)
    return calls


def _classify_cli(*files, capsys, extra=()) -> tuple[int, str, str]:
    from mgc.cli import main

    code = main(["classify", *map(str, files), "--run", "r", *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_classify_exit_code_says_whether_every_file_was_classified(fake_classify, tmp_path, capsys):
    """Defect 13: exit 0 although some files failed."""
    good, bad = tmp_path / "good.wav", tmp_path / "bad.wav"
    code, out, err = _classify_cli(good, capsys=capsys)
    assert code == 0 and "good.wav" in out
    code, out, err = _classify_cli(good, bad, capsys=capsys)
    assert code == 1 and "bad.wav: ERROR" in out and "1 of 2 file(s) could not be classified" in err
    code, out, err = _classify_cli(bad, capsys=capsys)
    assert code == 2


def test_classify_takes_a_folder_as_its_audio_files(fake_classify, tmp_path, capsys):
    """Defect 13: a folder argument was 'does not exist or is not a file'."""
    clips = tmp_path / "clips"
    (clips / "sub").mkdir(parents=True)
    for name in ("one.wav", "sub/two.flac", "notes.txt", ".hidden.wav"):
        (clips / name).write_bytes(b"")
    code, out, _ = _classify_cli(clips, capsys=capsys)
    assert code == 0
    assert "one.wav" in out and "two.flac" in out and "notes" not in out and "hidden" not in out
    (tmp_path / "empty").mkdir()
    code, out, _ = _classify_cli(tmp_path / "empty", capsys=capsys)
    assert code == 2 and "is a folder with no audio file in it" in out


# --------------------------------------------------------------------------- #
# 12: which clip Classify classifies
# --------------------------------------------------------------------------- #
def _pick_script():
    import streamlit as st

    from dashboard.widgets import pick_source

    class Clip:
        name = "song.mp3"

    picked = pick_source(Clip(), Clip())
    st.write(f"picked: {picked[1]}")


def test_with_an_upload_and_a_recording_the_page_asks_which():
    """Defect 12: when both existed, the upload silently won."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_pick_script, default_timeout=60).run()
    assert not at.exception
    radio = at.radio[0]
    assert radio.label == "Classify" and radio.options == ["the upload (song.mp3)", "the recording"]
    assert at.markdown[-1].value == "picked: song.mp3" and "Classifying the upload" in at.caption[0].value
    radio.set_value("recording").run()
    assert at.markdown[-1].value == "picked: microphone recording"
    assert "Classifying the recording" in at.caption[0].value


# --------------------------------------------------------------------------- #
# 11: training jobs are private to the session that started them
# --------------------------------------------------------------------------- #
@pytest.fixture
def held_training(monkeypatch):
    """``mgc.training.jobs.train`` replaced by one that holds until released (``entered``, ``release`` events)."""
    import threading
    from types import SimpleNamespace

    import mgc.training.jobs as jobs

    state = SimpleNamespace(entered=threading.Event(), release=threading.Event())

    def held(features, cfg, *, on_epoch=None, should_stop=None, root=None, dataset_note="", **kw):
        state.entered.set()
        assert state.release.wait(120), "the test never released the job"
        return SimpleNamespace(id=f"fake-{cfg.model}", manifest={"status": "stopped"}, protocol="track", metrics={})

    monkeypatch.setattr(jobs, "train", held)
    yield state
    state.release.set()


def test_the_job_board_tells_each_owner_about_their_own_jobs_only(held_training, feature_factory):
    from mgc.errors import ParameterError
    from mgc.training import JobBoard, TrainConfig

    fs = feature_factory(tracks_per_class=2, segments=2)
    board = JobBoard()
    job = board.start(fs, [TrainConfig(model="mlp", epochs=2)], owner="alice")
    assert held_training.entered.wait(60) and job.running
    assert board.get(job.id, owner="alice") is job and board.latest(owner="alice") is job
    assert board.get(job.id, owner="bob") is None and board.latest(owner="bob") is None
    assert board.busy()
    with pytest.raises(ParameterError) as e:
        board.start(fs, [TrainConfig(model="cnn", epochs=2)], owner="bob")
    assert "another session's training job is running" in str(e.value) and job.id not in str(e.value)
    with pytest.raises(ParameterError, match=f"a training job \\({job.id}\\) is running"):
        board.start(fs, [TrainConfig(model="cnn", epochs=2)], owner="alice")
    shared = JobBoard(shared=True)
    other = shared.start(fs, [TrainConfig(model="mlp", epochs=2)], owner="alice")
    assert shared.latest(owner="bob") is other
    held_training.release.set()
    job.join(60)
    other.join(60)
    assert not job.running and not other.running


def _start_job_script():
    import streamlit as st

    from conftest import make_features
    from dashboard import training

    if "job_id" not in st.session_state:
        training.start_training(
            make_features(tracks_per_class=14, segments=2),  # the job makes the track split first
            models=["mlp"],
            split="track",
            recipe="study",
            epochs=2,
            batch_size=32,
            learning_rate=None,
            seed=0,
        )
    training.training_panel()


def _panel_script():
    from dashboard import training

    training.training_panel()


@pytest.mark.parametrize("shared", [False, True], ids=["private", "shared"])
def test_a_fresh_session_neither_sees_nor_stops_another_sessions_job(held_training, monkeypatch, shared):
    """Defect 11: a new browser session saw another session's running job, and got its Stop button."""
    from streamlit.testing.v1 import AppTest

    from dashboard import training

    if shared:
        monkeypatch.setenv(training.SHARE_ENV, "1")
    else:
        monkeypatch.delenv(training.SHARE_ENV, raising=False)
    try:
        owner = AppTest.from_function(_start_job_script, default_timeout=60).run()
        assert not owner.exception, [e.value for e in owner.exception]
        assert held_training.entered.wait(60)
        owner.run()
        assert [b.label for b in owner.button] == ["Stop"]  # the owner sees the job and can stop it
        token = owner.query_params[training.OWNER_PARAM]  # in the page's URL: a reload keeps it
        assert token == owner.session_state["job_owner"]
        reloaded = AppTest.from_function(_panel_script, default_timeout=60)
        reloaded.query_params[training.OWNER_PARAM] = token
        assert [b.label for b in reloaded.run().button] == ["Stop"]
        visitor = AppTest.from_function(_panel_script, default_timeout=60).run()
        assert not visitor.exception, [e.value for e in visitor.exception]
        job = training.job_board().latest(owner=owner.session_state["job_owner"])
        if shared:
            assert [b.label for b in visitor.button] == ["Stop"]
        else:
            assert not visitor.button and not visitor.get("progress")
            (info,) = [i.value for i in visitor.info]
            assert info.startswith("Another session is training on this server") and job.id not in info
    finally:
        held_training.release.set()
        for board in (training._board(False), training._board(True)):
            for j in list(board._jobs.values()):
                j.stop()
                j.join(60)
        training._board.clear()


def test_classify_decodes_as_many_seconds_as_asked(fake_classify, tmp_path, capsys):
    """A file over the decode budget at 600 s (high rate, many channels) can be classified over fewer."""
    _classify_cli(tmp_path / "good.wav", capsys=capsys)
    _classify_cli(tmp_path / "good.wav", capsys=capsys, extra=["--max-duration", "120"])
    assert [c["max_duration"] for c in fake_classify] == [600.0, 120.0]
    with pytest.raises(SystemExit):
        _classify_cli(tmp_path / "good.wav", capsys=capsys, extra=["--max-duration", "0"])
    assert "is not a positive number of seconds" in capsys.readouterr().err
