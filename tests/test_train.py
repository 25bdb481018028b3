"""Unit tests of mgc.training.fit, mgc.analysis.evaluate and mgc.runs on tiny synthetic features
(a few epochs, seconds each)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mgc.analysis import evaluate_run, seen_tracks
from mgc.dataset import make_split, refit_split
from mgc.errors import ArtifactError, DatasetError, ParameterError
from mgc.models import CNN_DEVIATION
from mgc.runs import FILES, OPTIONAL_FILES, check_id, delete_run, list_runs, load_run, save_run
from mgc.training import RECIPES, TrainConfig, train

LOGS = ("accuracy", "loss", "rmse", "val_accuracy", "val_loss", "val_rmse")


def _fit(features, root, run_id, **cfg):
    cfg = {"model": "mlp", "split": "track", "epochs": 2, "batch_size": 16, **cfg}
    return train(features, TrainConfig(**cfg), root=root, run_id=run_id)


def _split(features, run):
    s = run.manifest["split"]["settings"]
    return make_split(run.manifest["split"]["name"], y=features.y, track_ids=features.track_ids, **s)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def run(tiny_features, root):
    """A 2-epoch MLP on the track split, stored and read back."""
    return _fit(tiny_features, root, "base", seed=3)


# --------------------------------------------------------------------------- #
# What a run stores
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_run_folder_holds_every_file_and_no_temporary(run, root):
    assert run.id == "base" and run.path == root / "base"
    assert sorted(p.name for p in run.path.iterdir()) == sorted(FILES + OPTIONAL_FILES)  # trust.json: every run has it
    assert not [p for p in root.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.slow
def test_manifest(run, tiny_features):
    m = run.manifest
    for key in ("model", "recipe", "status", "split", "dataset", "config", "versions"):
        assert key in m, key
    assert (m["id"], m["model"], m["recipe"], m["status"]) == ("base", "mlp", "study", "finished")
    assert (m["epochs_requested"], m["epochs_run"], m["best_epoch"]) == (2, 2, None)
    assert m["config"]["learning_rate"] == 1e-4 and m["config"]["seed"] == 3
    assert m["config"]["standardize"] is False and m["config"]["early_stopping"] == 0
    assert m["input_shape"] == [130, 13] and m["n_params"] == 1_030_403
    assert m["dataset"]["classes"] == ["a", "b", "c"]
    assert m["dataset"]["n_segments"] == 420 and m["dataset"]["n_tracks"] == 42
    assert m["dataset"]["fingerprint"] == "synthetic-test"
    assert m["dataset"]["per_class"]["b"] == {"tracks": 14, "segments": 140}
    assert m["deviation"] == ""
    assert {"python", "numpy", "keras", "mgc"} <= set(m["versions"])
    assert m["features"]["n_mfcc"] == 13
    # 14 tracks per class: 4 test (round 3.5), 2 validation (round 2.0), 8 train
    assert m["split"]["name"] == "track" and m["split"]["label"] == "track"
    assert m["split"]["tracks"] == {"train": 24, "validation": 6, "test": 12}
    assert m["split"]["segments"] == {"train": 240, "validation": 60, "test": 120}
    assert m["split"]["test_tracks_per_class"] == {"a": 4, "b": 4, "c": 4} and m["split"]["thin_classes"] == []
    ids = m["split"]["track_ids"]
    assert {k: len(v) for k, v in ids.items()} == m["split"]["tracks"]
    assert not set(ids["train"]) & set(ids["test"]) and not set(ids["validation"]) & set(ids["test"])
    assert sorted(ids["train"] + ids["validation"] + ids["test"]) == sorted(set(tiny_features.track_ids.tolist()))
    assert m["metrics_from"] is None and m["tags"] == []


@pytest.mark.slow
def test_history_has_every_curve_per_epoch(run):
    h = run.history
    assert h["epoch"] == [1, 2]
    for k in LOGS + ("seconds",):
        assert len(h[k]) == 2, k
        assert all(isinstance(v, float) and np.isfinite(v) for v in h[k]), k
    assert all(0 <= v <= 1 for v in h["accuracy"] + h["val_accuracy"])
    assert all(0 <= v <= np.sqrt(2) for v in h["rmse"] + h["val_rmse"])


@pytest.mark.slow
def test_metrics_agree_with_stored_predictions(run):
    m, p = run.metrics, run.predictions()
    assert set(p) == {"track_ids", "segment_index", "y_true", "probs"}
    assert p["probs"].shape == (120, 3) and p["probs"].dtype == np.float32
    np.testing.assert_allclose(p["probs"].sum(axis=1), 1.0, rtol=1e-5)
    assert m["n_segments"] == 120 and m["n_tracks"] == 12
    assert m["segment_accuracy"] == pytest.approx(np.mean(p["probs"].argmax(1) == p["y_true"]))
    assert 0 <= m["track_accuracy_vote"] <= 1 and 0 <= m["track_accuracy_mean"] <= 1
    assert np.asarray(m["confusion"]).sum() == 120
    assert np.asarray(m["track_confusion"]).sum() == 12
    assert sorted(np.unique(p["track_ids"]).tolist()) == run.manifest["split"]["track_ids"]["test"]


@pytest.mark.slow
def test_model_loads_safely_and_reproduces_stored_probabilities(run, tiny_features):
    p = run.predictions()
    model = run.model()
    assert run.model() is model  # loaded once
    assert model.name == "mlp" and not model.compiled
    row = {(t, s): i for i, (t, s) in enumerate(zip(tiny_features.track_ids, tiny_features.segment_index, strict=True))}
    rows = [row[(t, s)] for t, s in zip(p["track_ids"], p["segment_index"], strict=True)]
    np.testing.assert_array_equal(tiny_features.y[rows], p["y_true"])
    probs = model.predict(tiny_features.X[rows], batch_size=256, verbose=0)
    np.testing.assert_allclose(probs, p["probs"], rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_track_split_keeps_test_tracks_out_of_training(run, tiny_features):
    p = run.predictions()
    split = _split(tiny_features, run)
    test_tracks = np.unique(p["track_ids"])
    assert len(test_tracks) == run.manifest["split"]["tracks"]["test"]
    assert len(p["track_ids"]) == run.manifest["split"]["segments"]["test"]
    train_tracks = np.unique(tiny_features.track_ids[split.train])
    val_tracks = np.unique(tiny_features.track_ids[split.validation])
    assert len(train_tracks) == run.manifest["split"]["tracks"]["train"]
    assert not set(test_tracks) & set(train_tracks)
    assert not set(test_tracks) & set(val_tracks)
    # whole tracks are tested: every one of a test track's 10 segments
    for t in test_tracks:
        assert sorted(p["segment_index"][p["track_ids"] == t]) == list(range(10))


@pytest.mark.slow
def test_evaluate_run_on_the_same_split_gives_the_stored_metrics(run, tiny_features):
    m = evaluate_run(run, tiny_features, split="track")
    for k in ("segment_accuracy", "track_accuracy_vote", "track_accuracy_mean", "n_segments", "n_tracks"):
        assert m[k] == run.metrics[k], k
    assert m["loss"] == pytest.approx(run.metrics["loss"], rel=1e-5)
    assert m["rmse"] == pytest.approx(run.metrics["rmse"], rel=1e-5)
    assert m["confusion"] == run.metrics["confusion"]
    assert m["excluded_tracks"] == 0 and m["excluded_examples"] == []  # its own test part: nothing heard


@pytest.mark.slow
def test_evaluate_run_on_all_segments_scores_only_the_tracks_it_never_heard(run, tiny_features, feature_factory):
    m = evaluate_run(run, tiny_features)
    # the 24 train and 6 validation tracks are dropped: the 12 test tracks are left
    assert m["n_segments"] == 120 and m["n_tracks"] == 12
    assert m["excluded_tracks"] == 30
    assert m["excluded_examples"] == sorted(seen_tracks(run))[:5]
    assert {t["track_id"] for t in m["tracks"]} == set(run.manifest["split"]["track_ids"]["test"])
    assert m["segment_accuracy"] == run.metrics["segment_accuracy"]
    other = feature_factory(classes=("a", "z"), tracks_per_class=2, segments=2)
    with pytest.raises(ParameterError, match=r"not among them: \['z'\]"):
        evaluate_run(run, other)


@pytest.mark.slow
def test_evaluate_run_on_all_tracks_leaves_out_gtzan_faulty_tracks_unless_asked(run, tiny_features):
    from dataclasses import replace

    from mgc.config import GTZAN_GENRES
    from mgc.dataset import faulty_tracks

    every = [f"{g}.{i:05d}" for g in GTZAN_GENRES for i in range(100)]
    faulty = sorted(faulty_tracks(every))[:3]
    test = sorted(run.manifest["split"]["track_ids"]["test"])
    renamed = dict(zip(test[:3], faulty, strict=True))  # three of the 12 unheard tracks get faulty GTZAN names
    fs = replace(tiny_features, track_ids=np.array([renamed.get(t, t) for t in tiny_features.track_ids]))
    m = evaluate_run(run, fs)
    assert m["faulty_excluded"] == 3 and m["n_tracks"] == 12 - 3
    assert not {t["track_id"] for t in m["tracks"]} & set(faulty)
    kept = evaluate_run(run, fs, keep_faulty=True)
    assert kept["faulty_excluded"] == 0 and kept["n_tracks"] == 12
    assert evaluate_run(run, fs, split="track")["faulty_excluded"] == 0  # a split's test part is the protocol's


# --------------------------------------------------------------------------- #
# Stopping, determinism, recipes
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_should_stop_ends_the_run_after_the_epoch(tiny_features, tmp_path):
    seen = []
    r = train(
        tiny_features,
        TrainConfig(model="mlp", split="track", epochs=3, batch_size=16),
        on_epoch=seen.append,
        should_stop=lambda: len(seen) >= 1,
        root=tmp_path,
        run_id="stopped",
    )
    assert r.manifest["status"] == "stopped"
    assert r.manifest["epochs_run"] == 1 and r.manifest["epochs_requested"] == 3
    assert r.history["epoch"] == [1]
    assert [e.epoch for e in seen] == [1] and seen[0].epochs == 3
    assert set(LOGS) <= set(seen[0].logs)
    assert r.predictions()["probs"].shape == (120, 3)  # a stopped run is still evaluated and stored


@pytest.mark.slow
def test_same_seed_gives_the_same_history(run, tiny_features, tmp_path):
    again = _fit(tiny_features, tmp_path, "again", seed=3)
    for k in LOGS:
        assert again.history[k] == run.history[k], k
    np.testing.assert_array_equal(again.predictions()["probs"], run.predictions()["probs"])
    assert again.manifest["split"] == run.manifest["split"]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mlp", "cnn", "lstm"])
def test_the_fast_path_learns_what_the_graph_executor_learns(model, tiny_features, tmp_path):
    """The fast path (16 steps per call, fused LSTM and Adam) against one step per call, the path before.

    The same seed must give the fast path the same history twice, and the two paths the same
    curves (to float32 rounding, in case the loop's order of operations differs).
    """
    fast = _fit(tiny_features, tmp_path, f"{model}-fast", model=model, seed=5, epochs=3)
    again = _fit(tiny_features, tmp_path, f"{model}-fast-again", model=model, seed=5, epochs=3)
    graph = _fit(tiny_features, tmp_path, f"{model}-graph", model=model, seed=5, epochs=3, fast=False)
    assert fast.manifest["config"]["fast"] is True and graph.manifest["config"]["fast"] is False
    assert fast.manifest["execution"]["steps_per_execution"] > 1 == graph.manifest["execution"]["steps_per_execution"]
    for k in LOGS:
        assert again.history[k] == fast.history[k], k
        np.testing.assert_allclose(fast.history[k], graph.history[k], rtol=1e-3, atol=1e-4, err_msg=k)
    np.testing.assert_allclose(fast.predictions()["probs"], graph.predictions()["probs"], atol=1e-3)
    # the stored model is plain Keras whatever the path (a fused LSTM is stored as the LSTM it computes)
    assert not any("Fused" in type(layer).__name__ for layer in fast.model().layers)


@pytest.mark.slow
def test_another_seed_gives_another_split(run, tiny_features):
    a = make_split("track", y=tiny_features.y, track_ids=tiny_features.track_ids, seed=3)
    b = make_split("track", y=tiny_features.y, track_ids=tiny_features.track_ids, seed=4)
    assert not np.array_equal(a.test, b.test)


@pytest.mark.slow
def test_improved_recipe_standardises_with_the_training_mean(tiny_features, tmp_path):
    import keras

    r = _fit(tiny_features, tmp_path, "improved", recipe="improved", seed=1)
    cfg = r.manifest["config"]
    settings = (cfg["standardize"], cfg["early_stopping"], cfg["class_weight"], cfg["learning_rate"])
    assert settings == (True, 0, True, 1e-3)
    assert (cfg["random_windows"], cfg["lr_schedule"], cfg["epochs"], cfg["mixup"]) == (True, "cosine", 2, 0.4)
    assert RECIPES["improved"]["standardize"] and not RECIPES["study"]["standardize"]
    model = r.model()
    norm = model.layers[1]
    assert isinstance(norm, keras.layers.Normalization) and norm.name == "standardize"
    split = _split(tiny_features, r)
    train_part = tiny_features.X[split.train].reshape(-1, 13).astype(np.float64)
    np.testing.assert_allclose(np.asarray(norm.mean).reshape(-1), train_part.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(norm.variance).reshape(-1), train_part.var(axis=0), rtol=1e-5)
    # not the mean of all segments (that would leak the test part into the scaling)
    everything = tiny_features.X.reshape(-1, 13).astype(np.float64).mean(axis=0)
    assert not np.allclose(np.asarray(norm.mean).reshape(-1), everything, rtol=1e-5, atol=1e-6)
    assert r.manifest["best_epoch"] is None  # no early stopping in the recipe


@pytest.mark.slow
@pytest.mark.parametrize("monitor", ["val_accuracy", "val_loss"])
def test_early_stopping_keeps_the_best_epoch_of_its_monitor(tiny_features, tmp_path, monitor):
    r = _fit(tiny_features, tmp_path, monitor, epochs=4, early_stopping=1, monitor=monitor, learning_rate=0.05)
    h = r.history[monitor][: r.manifest["epochs_run"]]
    best = (np.argmax(h) if monitor == "val_accuracy" else np.argmin(h)) + 1
    assert r.manifest["best_epoch"] == best
    assert r.manifest["epochs_run"] <= min(4, best + 1)  # patience 1: one epoch past the best at most


@pytest.mark.slow
def test_study_cnn_run_records_the_deviation(tmp_path, feature_factory):
    small = feature_factory(tracks_per_class=2, segments=4)  # 24 segments: the smallest useful fit
    r = _fit(small, tmp_path, "cnn", model="cnn", split="segment", epochs=1, batch_size=32)
    assert r.manifest["deviation"] == CNN_DEVIATION
    assert r.manifest["config"]["cnn_pool_strides"] == 2
    assert r.manifest["n_params"] == 45_059
    # 24 segments: 6 test, round(0.2 * 18) = 4 validation, 14 train
    assert r.manifest["split"]["segments"] == {"train": 14, "validation": 4, "test": 6}


@pytest.mark.slow
def test_fault_filtered_split_of_unlisted_tracks_fails_before_training(tiny_features, tmp_path):
    with pytest.raises(DatasetError, match="fault-filtered"):
        _fit(tiny_features, tmp_path, "ff", split="fault-filtered")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "kwargs, rule",
    [
        ({"model": "rnn"}, "model='rnn' is not one of"),
        ({"recipe": "best"}, "recipe='best' is not one of"),
        ({"split": "random"}, "split='random' is not one of"),
        ({"epochs": 0}, "epochs=0 must be a positive integer"),
        ({"batch_size": True}, "batch_size=True must be a positive integer"),
        ({"learning_rate": 2.0}, r"learning_rate=2.0 must be in \(0, 1\)"),
        ({"early_stopping": -1}, "early_stopping=-1 must be >= 0"),
        ({"monitor": "loss"}, "monitor='loss' must be 'val_loss' or 'val_accuracy'"),
        ({"evaluate_on": "train"}, "evaluate_on='train' is not one of auto, test, valid"),
        ({"lr_schedule": "step"}, "lr_schedule='step' must be one of constant, cosine"),
    ],
)
def test_bad_config(kwargs, rule):
    with pytest.raises(ParameterError, match=rule):
        TrainConfig(**kwargs)


def test_resolved_fills_the_recipe_and_keeps_overrides():
    c = TrainConfig(model="lstm", recipe="improved", early_stopping=5).resolved()
    assert (c.learning_rate, c.standardize, c.early_stopping, c.class_weight) == (1e-3, True, 5, True)
    assert (c.random_windows, c.lr_schedule, c.epochs, c.mixup) == (True, "cosine", 60, 0.4)
    assert TrainConfig(recipe="study").resolved().epochs == 100
    assert TrainConfig(recipe="improved", epochs=7).resolved().epochs == 7
    assert TrainConfig(model="lstm", recipe="study").resolved().learning_rate == 1e-4  # the study's
    assert TrainConfig(model="cnn", recipe="improved", learning_rate=5e-4).resolved().learning_rate == 5e-4
    # early stopping, when turned on in the improved recipe, watches validation accuracy; an explicit monitor wins
    assert TrainConfig(recipe="improved").resolved().monitor == "val_accuracy"
    assert TrainConfig(recipe="improved", monitor="val_loss").resolved().monitor == "val_loss"
    assert TrainConfig(recipe="study").resolved().input_noise == 0.0


@pytest.mark.slow
def test_evaluate_run_uses_the_runs_own_test_fraction(run, tiny_features, tmp_path):
    # the stored run, as if trained with test_size=0.5 (7 of 14 tracks per class tested), still
    # recording the tracks it heard under 0.25: those are dropped from the larger test part
    shutil.copytree(run.path, tmp_path / "half")
    manifest = json.loads((tmp_path / "half" / "manifest.json").read_text())
    manifest["config"]["test_size"] = 0.5
    manifest["split"]["settings"]["test_size"] = 0.5
    (tmp_path / "half" / "manifest.json").write_text(json.dumps(manifest))
    half = load_run("half", root=tmp_path)
    expected = make_split("track", y=tiny_features.y, track_ids=tiny_features.track_ids, test_size=0.5, seed=3)
    asked = tiny_features.track_ids[expected.test]
    heard = np.isin(asked, sorted(seen_tracks(run)))
    assert len(set(asked)) == 21 and 0 < len(set(asked[heard])) < 21  # a mixed case, not a trivial one
    m = evaluate_run(half, tiny_features, split="track")
    assert m["excluded_tracks"] == len(set(asked[heard]))
    assert m["n_segments"] == int((~heard).sum()) and m["n_tracks"] == len(set(asked[~heard]))


# --------------------------------------------------------------------------- #
# The run store
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_list_runs_reports_damaged_folders_and_ignores_hidden_ones(run, tmp_path):
    shutil.copytree(run.path, tmp_path / "good")
    shutil.copytree(run.path, tmp_path / "badjson")
    (tmp_path / "badjson" / "manifest.json").write_text("{not json")
    shutil.copytree(run.path, tmp_path / "nomodel")
    (tmp_path / "nomodel" / "model.keras").unlink()
    shutil.copytree(run.path, tmp_path / "nokey")
    manifest = json.loads((tmp_path / "nokey" / "manifest.json").read_text())
    del manifest["split"]
    (tmp_path / "nokey" / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "empty").mkdir()
    (tmp_path / ".tmp-half-written-x").mkdir()
    (tmp_path / ".tmp-half-written-x" / "manifest.json").write_text("{")
    (tmp_path / "stray.txt").write_text("not a run")

    runs, problems = list_runs(tmp_path)
    assert [r.id for r in runs] == ["good"]
    assert len(problems) == 4, problems
    text = "\n".join(problems)
    assert "badjson/manifest.json is missing or not valid JSON" in text
    assert "run 'nomodel' is incomplete: missing model.keras" in text
    assert "run 'nokey': manifest.json lacks 'split'" in text
    assert "run 'empty' is incomplete" in text
    assert ".tmp-" not in text


def test_list_runs_of_a_missing_folder_is_empty(tmp_path):
    assert list_runs(tmp_path / "nowhere") == ([], [])


@pytest.mark.parametrize("bad", ["../x", "/abs", "a/b", "", ".hidden", "..", "a..b", "x" * 129, "a b", None])
def test_check_id_rejects_unsafe_names(bad):
    with pytest.raises(ParameterError, match="is not valid"):
        check_id(bad)


@pytest.mark.parametrize("good", ["20250101-120000-mlp-track-study-s0", "a", "A.b_c-1"])
def test_check_id_accepts_safe_names(good):
    assert check_id(good) == good


def test_load_and_delete_refuse_unsafe_ids(tmp_path):
    with pytest.raises(ParameterError):
        load_run("../no-such-run-folder", root=tmp_path / "runs")
    with pytest.raises(ParameterError):
        delete_run("../x", root=tmp_path)


@pytest.mark.slow
def test_delete_run(run, tmp_path):
    shutil.copytree(run.path, tmp_path / "doomed")
    shutil.copytree(run.path, tmp_path / "kept")
    delete_run("doomed", root=tmp_path)
    assert not (tmp_path / "doomed").exists()
    assert [r.id for r in list_runs(tmp_path)[0]] == ["kept"]
    with pytest.raises(ArtifactError, match="no run 'doomed'"):
        delete_run("doomed", root=tmp_path)
    with pytest.raises(ArtifactError, match="no run 'doomed'"):
        load_run("doomed", root=tmp_path)


@pytest.mark.slow
def test_save_run_refuses_to_overwrite_and_leaves_nothing_when_it_fails(run, tmp_path):
    parts = dict(manifest=run.manifest, history=run.history, metrics=run.metrics, predictions=run.predictions())
    with pytest.raises(ArtifactError, match="exists already"):
        save_run("base", model=run.model(), root=run.path.parent, **parts)

    class Broken:
        def save(self, path):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_run("half", model=Broken(), root=tmp_path, **parts)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_unsafe_model_file_is_refused(run, tmp_path):
    import keras

    inputs = keras.Input(shape=(130, 13), name="mfcc")
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    save_run(
        "lambda",
        model=model,
        root=tmp_path,
        manifest=run.manifest,
        history=run.history,
        metrics=run.metrics,
        predictions=run.predictions(),
    )
    stored = load_run("lambda", root=tmp_path)
    with pytest.raises(ArtifactError, match="could not be loaded safely"):
        stored.model()


@pytest.mark.slow
def test_load_run_by_folder_path(run):
    again = load_run(run.path)
    assert again.id == "base" and again.metrics == run.metrics


@pytest.mark.slow
def test_load_run_by_id_prefers_the_runs_folder_to_the_working_folder(run, tmp_path, monkeypatch):
    (tmp_path / "base").mkdir()  # an unrelated folder that happens to share the run's id
    monkeypatch.chdir(tmp_path)
    assert load_run("base", root=run.path.parent).path == run.path


@pytest.mark.slow
def test_damaged_model_and_predictions_files_raise_artifact_errors(run, tmp_path):
    shutil.copytree(run.path, tmp_path / "damaged")
    model_bytes = (run.path / "model.keras").read_bytes()
    (tmp_path / "damaged" / "model.keras").write_bytes(model_bytes[: len(model_bytes) // 2])
    (tmp_path / "damaged" / "predictions.npz").write_bytes(b"not an npz file")
    damaged = load_run("damaged", root=tmp_path)  # listed: the JSON files are fine
    with pytest.raises(ArtifactError, match="run 'damaged': model.keras could not be loaded safely"):
        damaged.model()
    with pytest.raises(ArtifactError, match="run 'damaged': predictions.npz is unreadable"):
        damaged.predictions()


@pytest.mark.slow
def test_the_stored_model_carries_no_optimizer_state(run, tmp_path):
    import zipfile

    import h5py

    with zipfile.ZipFile(run.path / "model.keras") as z:
        z.extract("model.weights.h5", tmp_path)
    with h5py.File(tmp_path / "model.weights.h5") as f:
        assert "optimizer" not in f, list(f)
        assert "layers" in f


@pytest.mark.slow
def test_overrides_are_recorded_and_marked_in_the_label(tiny_features, tmp_path):
    assert TrainConfig(recipe="study").overrides() == {}
    assert TrainConfig(recipe="study", standardize=False, learning_rate=1e-4).overrides() == {}  # the recipe's own
    assert TrainConfig(recipe="improved", mixup=0.2, early_stopping=0, epochs=9).overrides() == {"mixup": 0.2}
    assert TrainConfig(recipe="improved", mixup=0.4).overrides() == {}
    r = _fit(tiny_features, tmp_path, "custom", epochs=1, random_windows=True, learning_rate=3e-4)
    assert r.manifest["overrides"] == {"random_windows": True, "learning_rate": 3e-4}
    assert r.recipe_label == "study*" and "· study* ·" in r.label


@pytest.mark.slow
def test_cosine_schedule_decays_the_learning_rate_to_zero(tiny_features, tmp_path, monkeypatch):
    import keras

    seen = []
    original = keras.Model.compile

    def spy(self, optimizer=None, **kw):
        seen.append(optimizer)
        return original(self, optimizer=optimizer, **kw)

    monkeypatch.setattr(keras.Model, "compile", spy)
    r = _fit(tiny_features, tmp_path, "cos", epochs=2, lr_schedule="cosine", learning_rate=1e-3)
    schedule = seen[-1].learning_rate if not hasattr(seen[-1], "_learning_rate") else seen[-1]._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    steps = 2 * -(-r.manifest["split"]["segments"]["train"] // 16)
    assert float(schedule(0)) == pytest.approx(1e-3) and float(schedule(steps)) == pytest.approx(0, abs=1e-9)
    assert r.manifest["config"]["lr_schedule"] == "cosine"


# --------------------------------------------------------------------------- #
# evaluate_run never scores a track the run heard
# --------------------------------------------------------------------------- #
def _rows_of(features, keep):
    """The features restricted to the rows where ``keep`` is True."""
    return dataclasses.replace(
        features,
        X=features.X[keep],
        y=features.y[keep],
        track_ids=features.track_ids[keep],
        segment_index=features.segment_index[keep],
    )


@pytest.mark.slow
def test_seen_tracks_are_the_train_and_validation_parts(run):
    ids = run.manifest["split"]["track_ids"]
    assert seen_tracks(run) == set(ids["train"]) | set(ids["validation"])
    assert len(seen_tracks(run)) == 30 and not seen_tracks(run) & set(ids["test"])


def test_seen_tracks_of_a_run_on_features_without_track_ids_are_unknown():
    from mgc.runs import Run

    blind = Run(
        id="json",
        path=Path("."),
        manifest={"split": {"name": "segment", "track_ids": {"train": [""], "validation": [""], "test": [""]}}},
        history={},
        metrics={},
    )
    assert seen_tracks(blind) is None  # unknown, not "every track heard"


@pytest.mark.slow
def test_evaluate_run_on_heard_tracks_only_is_refused(run, tiny_features):
    heard = _rows_of(tiny_features, np.isin(tiny_features.track_ids, sorted(seen_tracks(run))))
    with pytest.raises(DatasetError) as e:
        evaluate_run(run, heard)
    msg = str(e.value)
    assert "all 30 track(s) asked for are ones run 'base' trained or selected on" in msg
    assert "e.g. a.0" in msg and "nothing honest is left to score" in msg


@pytest.mark.slow
def test_evaluate_run_on_tracks_it_never_heard_excludes_nothing(run, tiny_features):
    renamed = dataclasses.replace(tiny_features, track_ids=np.char.replace(tiny_features.track_ids, ".", ".1"))
    m = evaluate_run(run, renamed)  # other ids: tracks of other songs, as far as the run can tell
    assert m["excluded_tracks"] == 0 and m["excluded_examples"] == []
    assert m["n_tracks"] == 42 and m["n_segments"] == 420


@pytest.mark.slow
def test_evaluate_run_of_a_run_that_does_not_record_its_tracks_excludes_nothing_and_says_so(
    run, tiny_features, tmp_path
):
    shutil.copytree(run.path, tmp_path / "old")
    manifest = json.loads((tmp_path / "old" / "manifest.json").read_text())
    del manifest["split"]["track_ids"]
    (tmp_path / "old" / "manifest.json").write_text(json.dumps(manifest))
    old = load_run("old", root=tmp_path)
    assert seen_tracks(old) is None
    m = evaluate_run(old, tiny_features)
    assert m["excluded_tracks"] is None and m["n_tracks"] == 42


# --------------------------------------------------------------------------- #
# The fault-filtered protocol, tested on valid, and a refit on train + valid
# --------------------------------------------------------------------------- #
FF_COUNTS = {"blues": (8, 6, 0), "jazz": (8, 2, 0), "rock": (8, 4, 1)}  # train, valid, test-list tracks


@pytest.fixture(scope="module")
def ff(ff_features_factory, root):
    """A 2-epoch MLP on the fault-filtered split of synthetic features with GTZAN ids, and its refit."""
    fs = ff_features_factory(FF_COUNTS, segments=4, seed=7)
    twin = _fit(fs, root, "ff-twin", split="fault-filtered", seed=1)
    refit = train(
        fs,
        TrainConfig(model="mlp", split="fault-filtered", epochs=2, batch_size=16, seed=1),
        root=root,
        run_id="ff-refit",
        metrics_from=twin,
        tags=("reference",),
        split=refit_split(
            track_ids=fs.track_ids,
            twin_tracks=twin.manifest["split"]["track_ids"],
            twin_id=twin.id,
            name="fault-filtered",
        ),
    )
    return fs, twin, refit


@pytest.mark.slow
def test_fault_filtered_run_records_its_protocol_and_thin_classes(ff):
    fs, twin, _ = ff
    split = twin.manifest["split"]
    assert split["label"] == twin.protocol == "fault-filtered (tested on valid)"
    assert split["settings"]["evaluated_on"] == "valid" and split["settings"]["unused_test_list_tracks"] == 1
    assert twin.manifest["config"]["evaluate_on"] == "auto"
    # validation: round(0.2 * 8) = 2 train-list tracks per class; the valid list is the test part
    assert split["tracks"] == {"train": 18, "validation": 6, "test": 12}
    assert split["test_tracks_per_class"] == {"blues": 6, "jazz": 2, "rock": 4}
    assert split["thin_classes"] == ["jazz"]
    assert twin.metrics["n_tracks"] == 12 and twin.metrics["track_balanced_accuracy"] is not None
    trust = json.loads((twin.path / "trust.json").read_text())
    assert trust["fitted_on"] == "fault-filtered (tested on valid) split, valid part (12 tracks)"


@pytest.mark.slow
def test_evaluate_run_on_the_fault_filtered_split_gives_the_stored_metrics(ff):
    fs, twin, _ = ff
    m = evaluate_run(twin, fs, split="fault-filtered")
    assert m["excluded_tracks"] == 0 and m["n_tracks"] == 12
    assert m["track_accuracy_mean"] == twin.metrics["track_accuracy_mean"]
    assert m["track_balanced_accuracy"] == pytest.approx(twin.metrics["track_balanced_accuracy"])


@pytest.mark.slow
def test_forcing_the_missing_test_list_fails_before_training(ff, tmp_path):
    fs, _, _ = ff
    with pytest.raises(DatasetError, match=r"tests only 1 track\(s\) \(blues 0, jazz 0, rock 1\)"):
        _fit(fs, tmp_path, "forced", split="fault-filtered", evaluate_on="test")
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_a_refit_carries_its_twins_scores_and_checks(ff):
    fs, twin, refit = ff
    m = refit.manifest
    assert m["split"]["label"] == refit.protocol == "fault-filtered (refit on train + valid)"
    assert m["split"]["tracks"] == {"train": 36, "validation": 0, "test": 0}  # all of the twin's tracks
    assert m["metrics_from"]["run"] == "ff-twin" and m["metrics_from"]["split"] == "fault-filtered (tested on valid)"
    assert "no test part of its own" in m["metrics_from"]["note"]
    assert m["tags"] == ["reference"]
    assert refit.metrics == twin.metrics and refit.score == twin.score
    np.testing.assert_array_equal(refit.predictions()["probs"], twin.predictions()["probs"])
    assert (refit.path / "trust.json").read_text() == (twin.path / "trust.json").read_text()
    assert refit.score_text.endswith("(its twin's: ff-twin)")
    assert seen_tracks(refit) == {t for p in twin.manifest["split"]["track_ids"].values() for t in p}
    # it heard the twin's test part: only the unused test-list track is left to score
    left = evaluate_run(refit, fs)
    assert left["excluded_tracks"] == 36 and left["n_tracks"] == 1


@pytest.mark.slow
def test_metrics_from_is_required_exactly_for_a_split_without_test_part(ff, tmp_path):
    fs, twin, _ = ff
    cfg = TrainConfig(model="mlp", split="fault-filtered", epochs=1, batch_size=16)
    refit = refit_split(
        track_ids=fs.track_ids, twin_tracks=twin.manifest["split"]["track_ids"], twin_id=twin.id, name="fault-filtered"
    )
    with pytest.raises(ParameterError, match="metrics_from must be given exactly when the split has no test part"):
        train(fs, cfg, root=tmp_path, split=refit)
    with pytest.raises(ParameterError, match="metrics_from must be given exactly.*this split has 48 test rows"):
        train(fs, cfg, root=tmp_path, metrics_from=twin)
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_a_refit_refuses_a_twin_of_other_classes(ff, run, tmp_path):
    fs, twin, _ = ff
    refit = refit_split(
        track_ids=fs.track_ids, twin_tracks=twin.manifest["split"]["track_ids"], twin_id=twin.id, name="fault-filtered"
    )
    with pytest.raises(ParameterError, match=r"metrics_from='base' knows \['a', 'b', 'c'\]"):
        train(
            fs,
            TrainConfig(model="mlp", split="fault-filtered", epochs=1, batch_size=16),
            root=tmp_path,
            split=refit,
            metrics_from=run,
        )
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_a_refits_per_class_table_notes_its_twins_test_part(ff):
    from mgc.analysis import per_class_table

    _, twin, refit = ff
    assert per_class_table(refit)["note"].tolist() == per_class_table(twin)["note"].tolist()


@pytest.mark.slow
def test_a_refit_of_a_twin_in_another_folder_leaves_no_half_run(ff, tmp_path):
    fs, twin, _ = ff
    refit = refit_split(
        track_ids=fs.track_ids, twin_tracks=twin.manifest["split"]["track_ids"], twin_id=twin.id, name="fault-filtered"
    )
    try:
        train(
            fs,
            TrainConfig(model="mlp", split="fault-filtered", epochs=1, batch_size=16),
            root=tmp_path,
            run_id="elsewhere",
            split=refit,
            metrics_from=twin,
        )
    except ArtifactError:
        assert not any(tmp_path.iterdir())  # refused: nothing stored
    else:
        assert (tmp_path / "elsewhere" / "trust.json").is_file()  # or stored with its twin's checks


def test_the_fast_path_is_the_default_and_a_choice():
    from mgc.models import fused as fused_module
    from mgc.models import kernels
    from mgc.training.fit import compile_options, execution

    assert TrainConfig().fast is True
    for model in ("mlp", "cnn", "lstm"):
        fast, before = compile_options(TrainConfig(model=model)), compile_options(TrainConfig(model=model, fast=False))
        assert fast["steps_per_execution"] > 1 and before["steps_per_execution"] == 1
        # the manifest says which fused kernels a run used: the LSTM's only for the LSTM, the CNN's (when they
        # could be built here) only for the CNN, none on the path before
        used = execution(TrainConfig(model=model))["fused_kernels"]
        cnn = ["conv_1", "max_pooling", "batch_norm"] if kernels.load() is not None else []
        assert used == {"lstm": ["lstm", "adam"], "cnn": [*cnn, "adam"], "mlp": ["adam"]}[model]
        assert execution(TrainConfig(model=model, fast=False))["fused_kernels"] == []
        # and in how many parts of each batch the fused LSTM ran: fixed, whatever the machine's cores
        parts = execution(TrainConfig(model=model))["lstm_parts"]
        assert parts == (fused_module.LSTM_PARTS if model == "lstm" else None)
        assert execution(TrainConfig(model=model, fast=False))["lstm_parts"] is None
    with pytest.raises(ParameterError, match="fast="):
        TrainConfig(fast="yes")
