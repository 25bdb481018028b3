"""Tests of mgc.training.jobs: background training jobs, their progress, stopping, failure and the job board.

Synchronisation is by ``join(timeout)`` and events set from the training thread, never by sleeping.
"""

from __future__ import annotations

import itertools
import threading
from types import SimpleNamespace

import pytest

import mgc.training.jobs as jobs
from mgc.dataset import make_split
from mgc.errors import DatasetError, ParameterError
from mgc.runs import list_runs
from mgc.training import EPOCH_COST, TrainConfig
from mgc.training.jobs import JobBoard, TrainingJob

TIMEOUT = 300  # seconds; a generous bound on a shared CPU, not a synchronisation delay


def _configs(*models, epochs=2, **kw):
    return [TrainConfig(model=m, split="track", epochs=epochs, batch_size=32, **kw) for m in models]


@pytest.fixture
def spy(monkeypatch):
    """Wrap mgc.training.jobs.train so that a test can act inside the training thread after each epoch.

    ``spy.after_epoch(job, report)`` is called after the job recorded the epoch; ``spy.progress``
    collects what ``train`` told the job it was doing, with the job's snapshot just after.
    """
    real = jobs.train
    state = SimpleNamespace(job=None, after_epoch=lambda job, report: None, snapshots=[], progress=[])

    def train(features, cfg, *, on_epoch, on_progress, **kw):
        def hook(report):
            on_epoch(report)
            state.snapshots.append(state.job.snapshot())
            state.after_epoch(state.job, report)

        def told(done, total, stage):
            on_progress(done, total, stage)
            state.progress.append((cfg.model, done, total, stage, state.job.snapshot()))

        return real(features, cfg, on_epoch=hook, on_progress=told, **kw)

    monkeypatch.setattr(jobs, "train", train)
    return state


def _fake_run(run_id: str) -> SimpleNamespace:
    """What a fake ``train`` returns: the parts of a Run the job reads."""
    return SimpleNamespace(id=run_id, manifest={"status": "finished"}, protocol="track", metrics={})


def _finish(job):
    job.join(TIMEOUT)
    assert not job._thread.is_alive(), "the job did not end in time"
    return job.snapshot()


@pytest.mark.slow
def test_two_models_run_in_the_background(feature_factory, tmp_path, spy, monkeypatch):
    import mgc.training.fit as fit

    monkeypatch.setattr(fit, "PROGRESS_SECONDS", 1e9)  # only each epoch's first batch: paces from whole epochs
    small = feature_factory(tracks_per_class=14, segments=4)  # the track split tests 12 tracks (at least 10)
    job = TrainingJob(small, _configs("mlp", "cnn"), root=tmp_path, dataset_note="tiny")
    spy.job = job
    first = job.snapshot()
    assert first["status"] == "created" and first["epochs_done"] == 0 and first["epochs_total"] == 4
    assert [m["status"] for m in first["models"]] == ["queued", "queued"]
    job.start()
    snap = _finish(job)

    assert snap["status"] == "finished" and snap["error"] == ""
    assert snap["epochs_done"] == snap["epochs_total"] == 4
    assert [m["status"] for m in snap["models"]] == ["finished", "finished"]
    ids = [m["run_id"] for m in snap["models"]]
    assert all(ids) and len(set(ids)) == 2
    runs, problems = list_runs(tmp_path)
    assert problems == [] and sorted(r.id for r in runs) == sorted(ids)
    assert {r.manifest["model"] for r in runs} == {"mlp", "cnn"}
    assert all(r.manifest["dataset"]["note"] == "tiny" for r in runs)
    for m in snap["models"]:
        assert [h["epoch"] for h in m["history"]] == [1, 2]
        assert all({"accuracy", "loss", "val_loss", "seconds"} <= set(h) for h in m["history"])
    assert snap["eta_seconds"] is None and snap["elapsed_seconds"] > 0

    # progress as seen from inside the thread, after each of the 4 epochs
    during = spy.snapshots
    assert [s["status"] for s in during] == ["running"] * 4
    assert [s["epochs_done"] for s in during] == [1, 2, 3, 4]
    assert [[m["status"] for m in s["models"]] for s in during] == [
        ["running", "queued"],
        ["running", "queued"],
        ["finished", "running"],
        ["finished", "running"],
    ]
    # both models train on the same rows of the track split (8 tracks x 4 segments x 3 classes)
    assert [m["rows"] for m in snap["models"]] == [96, 96]
    # after the MLP's 1st epoch: the MLP at its own pace, the CNN by the cost tables scaled by the speed the MLP
    # showed; every phase counted: its epochs and, beyond them, the CNN's build and tracing and both tails
    cnn_per_mlp = EPOCH_COST["cnn"] / EPOCH_COST["mlp"]
    first_pace = during[0]["models"][0]["history"][0]["seconds"]
    mlp, cnn = during[0]["models"]
    assert mlp["eta_basis"] == "own epochs" and mlp["eta_seconds"] > first_pace
    assert cnn["eta_basis"] == "table" and cnn["eta_seconds"] > 2 * first_pace * cnn_per_mlp
    assert during[0]["eta_basis"] == "table" and not during[0]["eta_at_most"]
    for s in during:
        assert s["eta_low"] <= s["eta_seconds"] <= s["eta_high"] and s["eta_text"]
    # once the MLP ended, its phases outside the epochs are measured, and they took part of the job's time
    phases = during[2]["models"][0]["phase_seconds"]
    assert {"build", "tail"} <= set(phases) and 0 < sum(phases.values()) < snap["elapsed_seconds"]
    assert during[2]["eta_basis"] == "own epochs"
    # after the CNN's last epoch: only its tail is left, priced by the MLP's measured one
    assert 0 < during[3]["eta_seconds"] < during[2]["eta_seconds"]
    # the stored runs' test scores, as the page shows them when the job ends
    for m in snap["models"]:
        run = next(r for r in runs if r.id == m["run_id"])
        assert m["scores"]["protocol"] == "track" and m["scores"]["test_tracks"] == run.metrics["n_tracks"] == 12
        assert m["scores"]["track_accuracy"] == run.metrics["track_accuracy_mean"]
        assert m["scores"]["balanced_accuracy"] == run.metrics["track_balanced_accuracy"]
        assert m["scores"]["loss"] == run.metrics["loss"] and m["stage"] == "stored"
    assert all(a["elapsed_seconds"] <= b["elapsed_seconds"] for a, b in itertools.pairwise(during))


@pytest.mark.slow
def test_stop_after_the_first_epoch(tiny_features, tmp_path, spy):
    job = TrainingJob(tiny_features, _configs("mlp", "lstm", epochs=3), root=tmp_path)
    spy.job = job
    spy.after_epoch = lambda job, report: job.stop()
    snap = _finish(job.start())

    assert snap["status"] == "stopped"
    first, second = snap["models"]
    assert first["status"] == "stopped" and len(first["history"]) == 1 and first["run_id"]
    assert second["status"] == "skipped" and second["history"] == [] and second["run_id"] is None
    runs, _ = list_runs(tmp_path)
    assert [r.id for r in runs] == [first["run_id"]]
    assert runs[0].manifest["status"] == "stopped"
    assert runs[0].manifest["epochs_run"] == 1 and runs[0].manifest["epochs_requested"] == 3
    assert runs[0].manifest["model"] == "mlp"


def test_a_failing_job_reports_the_error(tiny_features, tmp_path):
    # the synthetic track ids ('a.00001', ...) are in none of the fault-filtered lists
    with pytest.raises(DatasetError) as expected:
        make_split("fault-filtered", y=tiny_features.y, track_ids=tiny_features.track_ids)
    configs = [TrainConfig(model=m, split="fault-filtered", epochs=1) for m in ("mlp", "cnn")]
    job = TrainingJob(tiny_features, configs, root=tmp_path)
    snap = _finish(job.start())
    assert snap["status"] == "failed"
    assert snap["error"] == str(expected.value)
    assert "fault-filtered" in snap["error"]
    assert [m["status"] for m in snap["models"]] == ["failed", "failed"]
    assert [m["run_id"] for m in snap["models"]] == [None, None]
    assert list_runs(tmp_path) == ([], [])


def test_an_unexpected_error_is_reported_not_lost(tiny_features, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(jobs, "train", broken)
    snap = _finish(TrainingJob(tiny_features, _configs("mlp"), root=tmp_path).start())
    assert snap["status"] == "failed"
    assert snap["error"].startswith("RuntimeError: out of memory")


def test_job_board_refuses_a_second_concurrent_job(tiny_features, tmp_path, monkeypatch):
    entered, release = threading.Event(), threading.Event()

    def held(features, cfg, *, on_epoch=None, should_stop=None, root=None, dataset_note="", **kw):
        entered.set()
        assert release.wait(TIMEOUT), "the test never released the job"
        return _fake_run(f"fake-{cfg.model}")

    monkeypatch.setattr(jobs, "train", held)
    board = JobBoard()
    assert board.latest() is None and board.get(None) is None
    first = board.start(tiny_features, _configs("mlp"), root=tmp_path)
    try:
        assert entered.wait(TIMEOUT)
        assert first.running
        with pytest.raises(ParameterError, match=f"a training job \\({first.id}\\) is running"):
            board.start(tiny_features, _configs("cnn"), root=tmp_path)
        assert board.latest() is first
    finally:
        release.set()
    snap = _finish(first)
    assert snap["status"] == "finished" and snap["models"][0]["run_id"] == "fake-mlp"
    # once it ended, a new job is accepted
    second = board.start(tiny_features, _configs("cnn"), root=tmp_path)
    _finish(second)
    assert board.latest() is second and board.get(first.id) is first and board.get("nope") is None


def test_a_job_starts_once_and_needs_a_config(tiny_features, monkeypatch):
    monkeypatch.setattr(jobs, "train", lambda *a, **k: _fake_run("x"))
    with pytest.raises(ParameterError, match="configs is empty"):
        TrainingJob(tiny_features, [])
    job = TrainingJob(tiny_features, _configs("mlp")).start()
    with pytest.raises(ParameterError, match="was started already"):
        job.start()
    assert _finish(job)["status"] == "finished"


def test_eta_with_two_configs_of_the_same_model(tiny_features, monkeypatch):
    job = TrainingJob(tiny_features, _configs("mlp", "mlp", epochs=4))
    # as after 2 of 4 epochs of the first model, 2 s each: 2 + 4 epochs left, and what lies outside them
    job.status = "running"
    job.started = 0.0
    first = job.models[0]
    first.status, first.phase = "running", "epochs"
    first.history = [{"epoch": 1, "seconds": 2.0}, {"epoch": 2, "seconds": 2.0}]
    guessed = job.snapshot()  # the job has not made its splits: the rows are guessed, the range is widest
    assert guessed["eta_seconds"] > 0 and guessed["eta_high"] >= 2 * guessed["eta_seconds"] >= 4 * guessed["eta_low"]
    for m in job.models:
        m.rows = 100
    snap = job.snapshot()
    assert snap["eta_seconds"] > 6 * 2.0  # the epochs, and the tails of both and the second's build and tracing
    assert snap["eta_low"] <= snap["eta_seconds"] <= snap["eta_high"]
    assert snap["eta_high"] / snap["eta_low"] < guessed["eta_high"] / guessed["eta_low"]  # rows known: narrower
    # half-way through the 3rd epoch: half an epoch less
    first.batches = (5, 10)
    half = job.snapshot()
    assert snap["eta_seconds"] - half["eta_seconds"] == pytest.approx(1.0)
    assert half["epochs_progress"] == pytest.approx(2.5)


@pytest.mark.slow
def test_the_job_says_what_each_model_is_doing_batch_by_batch(tiny_features, tmp_path, spy, monkeypatch):
    import mgc.training.fit as fit

    monkeypatch.setattr(fit, "PROGRESS_SECONDS", 0.0)  # report every batch
    # one step per call of Keras's loop: every batch is reported (the fast path reports once per 16 steps)
    job = TrainingJob(tiny_features, _configs("mlp", epochs=2, fast=False), root=tmp_path)
    spy.job = job
    _finish(job.start())
    stages = [stage for _, _, _, stage, _ in spy.progress]
    # around the fit, in order; then each epoch from batch 0 (the first traces the graph) to validation
    assert stages[0] == "making the split" and stages[2] == "building the network"
    assert stages[1] in ("starting Keras", "loading TensorFlow (once per process)")
    assert stages[-3:] == ["evaluating on the test part", "storing the run", "fitting the trust checks"]
    assert stages[3] == "epoch 1/2 (the first batch traces the graph)"
    # the track split trains on 8 tracks x 10 segments x 3 classes = 240 rows: 8 batches of 32 per epoch
    assert spy.progress[-1][4]["models"][0]["rows"] == 240
    epoch_reports = [(done, total, stage) for _, done, total, stage, _ in spy.progress if stage.startswith("epoch")]
    expected = []
    for e, note in ((1, " (the first batch traces the graph)"), (2, "")):
        expected += [(0, 8, f"epoch {e}/2{note}")] + [(b, 8, f"epoch {e}/2") for b in range(1, 9)]
        expected.append((8, 8, f"epoch {e}/2: validating"))
    assert epoch_reports == expected
    # the snapshot follows: what the model does, its batches, and the epochs with the running share
    mid = next(s for _, done, _, stage, s in spy.progress if stage == "epoch 2/2" and done == 2)
    model = mid["models"][0]
    assert model["stage"] == "epoch 2/2" and model["batches"] == (2, 8) and len(model["history"]) == 1
    assert mid["epochs_progress"] == pytest.approx(1 + 2 / 8)
    # the time that was really left then (the job's end is known now): within a factor 2 (or 3 s) of the estimate.
    # A second or two on a shared 2-core machine: the range itself is held to known timelines in test_cost.py,
    # and to real jobs by bench/eta.py
    true_left = spy.progress[-1][4]["elapsed_seconds"] - mid["elapsed_seconds"]
    assert mid["eta_low"] <= mid["eta_seconds"] <= mid["eta_high"]
    assert abs(mid["eta_seconds"] - true_left) <= max(3.0, true_left), (mid["eta_seconds"], true_left)


@pytest.mark.slow
def test_on_the_fast_path_the_batches_reported_never_pass_the_epochs_steps(tiny_features, tmp_path, spy, monkeypatch):
    import mgc.training.fit as fit

    monkeypatch.setattr(fit, "PROGRESS_SECONDS", 0.0)
    job = TrainingJob(tiny_features, _configs("mlp", epochs=2), root=tmp_path)  # 16 steps per call, 8 per epoch
    assert job.configs[0].fast
    spy.job = job
    _finish(job.start())
    epochs = [(done, total, stage) for _, done, total, stage, _ in spy.progress if stage.startswith("epoch")]
    for e, note in ((1, " (the first batch traces the graph)"), (2, "")):
        mine = [r for r in epochs if r[2].startswith(f"epoch {e}/2")]
        # the start, one report for the one call of Keras's loop (clamped to the epoch's 8 steps), validation
        assert mine == [(0, 8, f"epoch {e}/2{note}"), (8, 8, f"epoch {e}/2"), (8, 8, f"epoch {e}/2: validating")]
