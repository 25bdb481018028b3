"""Unit tests of mgc.train and mgc.runs on tiny synthetic features (a few epochs, seconds each)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from mgc.dataset import make_split
from mgc.errors import ArtifactError, DatasetError, ParameterError
from mgc.models import CNN_DEVIATION
from mgc.runs import FILES, check_id, delete_run, list_runs, load_run, save_run
from mgc.train import RECIPES, TrainConfig, evaluate_run, train

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
def test_run_folder_holds_every_file_and_no_temporary(run, root):
    assert run.id == "base" and run.path == root / "base"
    assert sorted(p.name for p in run.path.iterdir()) == sorted(FILES)
    assert not [p for p in root.iterdir() if p.name.startswith(".tmp-")]


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
    assert m["dataset"]["n_segments"] == 180 and m["dataset"]["n_tracks"] == 18
    assert m["dataset"]["fingerprint"] == "synthetic-test"
    assert m["dataset"]["per_class"]["b"] == {"tracks": 6, "segments": 60}
    assert m["deviation"] == ""
    assert {"python", "numpy", "keras", "mgc"} <= set(m["versions"])
    assert m["features"]["n_mfcc"] == 13
    # 6 tracks per class: 2 test (round 1.5), 1 validation (round 0.8), 3 train
    assert m["split"]["name"] == "track"
    assert m["split"]["tracks"] == {"train": 9, "validation": 3, "test": 6}
    assert m["split"]["segments"] == {"train": 90, "validation": 30, "test": 60}


def test_history_has_every_curve_per_epoch(run):
    h = run.history
    assert h["epoch"] == [1, 2]
    for k in LOGS + ("seconds",):
        assert len(h[k]) == 2, k
        assert all(isinstance(v, float) and np.isfinite(v) for v in h[k]), k
    assert all(0 <= v <= 1 for v in h["accuracy"] + h["val_accuracy"])
    assert all(0 <= v <= np.sqrt(2) for v in h["rmse"] + h["val_rmse"])


def test_metrics_agree_with_stored_predictions(run):
    m, p = run.metrics, run.predictions()
    assert set(p) == {"track_ids", "segment_index", "y_true", "probs"}
    assert p["probs"].shape == (60, 3) and p["probs"].dtype == np.float32
    np.testing.assert_allclose(p["probs"].sum(axis=1), 1.0, rtol=1e-5)
    assert m["n_segments"] == 60 and m["n_tracks"] == 6
    assert m["segment_accuracy"] == pytest.approx(np.mean(p["probs"].argmax(1) == p["y_true"]))
    assert 0 <= m["track_accuracy_vote"] <= 1 and 0 <= m["track_accuracy_mean"] <= 1
    assert np.asarray(m["confusion"]).sum() == 60
    assert np.asarray(m["track_confusion"]).sum() == 6


def test_model_loads_safely_and_reproduces_stored_probabilities(run, tiny_features):
    p = run.predictions()
    model = run.model()
    assert run.model() is model  # loaded once
    assert model.name == "mlp" and not model.compiled
    row = {(t, s): i for i, (t, s) in enumerate(zip(tiny_features.track_ids, tiny_features.segment_index))}
    rows = [row[(t, s)] for t, s in zip(p["track_ids"], p["segment_index"])]
    np.testing.assert_array_equal(tiny_features.y[rows], p["y_true"])
    probs = model.predict(tiny_features.X[rows], batch_size=256, verbose=0)
    np.testing.assert_allclose(probs, p["probs"], rtol=1e-6, atol=1e-7)


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


def test_evaluate_run_on_the_same_split_gives_the_stored_metrics(run, tiny_features):
    m = evaluate_run(run, tiny_features, split="track")
    for k in ("segment_accuracy", "track_accuracy_vote", "track_accuracy_mean", "n_segments", "n_tracks"):
        assert m[k] == run.metrics[k], k
    assert m["loss"] == pytest.approx(run.metrics["loss"], rel=1e-5)
    assert m["rmse"] == pytest.approx(run.metrics["rmse"], rel=1e-5)
    assert m["confusion"] == run.metrics["confusion"]


def test_evaluate_run_on_all_segments_and_with_unknown_classes(run, tiny_features, feature_factory):
    m = evaluate_run(run, tiny_features)
    assert m["n_segments"] == 180 and m["n_tracks"] == 18
    other = feature_factory(classes=("a", "z"), tracks_per_class=2, segments=2)
    with pytest.raises(ParameterError, match=r"not among them: \['z'\]"):
        evaluate_run(run, other)


# --------------------------------------------------------------------------- #
# Stopping, determinism, recipes
# --------------------------------------------------------------------------- #
def test_should_stop_ends_the_run_after_the_epoch(tiny_features, tmp_path):
    seen = []
    r = train(tiny_features, TrainConfig(model="mlp", split="track", epochs=3, batch_size=16),
              on_epoch=seen.append, should_stop=lambda: len(seen) >= 1, root=tmp_path, run_id="stopped")
    assert r.manifest["status"] == "stopped"
    assert r.manifest["epochs_run"] == 1 and r.manifest["epochs_requested"] == 3
    assert r.history["epoch"] == [1]
    assert [e.epoch for e in seen] == [1] and seen[0].epochs == 3
    assert set(LOGS) <= set(seen[0].logs)
    assert r.predictions()["probs"].shape == (60, 3)  # a stopped run is still evaluated and stored


def test_same_seed_gives_the_same_history(run, tiny_features, tmp_path):
    again = _fit(tiny_features, tmp_path, "again", seed=3)
    for k in LOGS:
        assert again.history[k] == run.history[k], k
    np.testing.assert_array_equal(again.predictions()["probs"], run.predictions()["probs"])
    assert again.manifest["split"] == run.manifest["split"]


def test_another_seed_gives_another_split(run, tiny_features):
    a = make_split("track", y=tiny_features.y, track_ids=tiny_features.track_ids, seed=3)
    b = make_split("track", y=tiny_features.y, track_ids=tiny_features.track_ids, seed=4)
    assert not np.array_equal(a.test, b.test)


def test_improved_recipe_standardises_with_the_training_mean(tiny_features, tmp_path):
    import keras

    r = _fit(tiny_features, tmp_path, "improved", recipe="improved", seed=1)
    cfg = r.manifest["config"]
    assert (cfg["standardize"], cfg["early_stopping"], cfg["class_weight"], cfg["learning_rate"]) == (True, 0, True, 1e-3)
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


@pytest.mark.parametrize("monitor", ["val_accuracy", "val_loss"])
def test_early_stopping_keeps_the_best_epoch_of_its_monitor(tiny_features, tmp_path, monitor):
    r = _fit(tiny_features, tmp_path, monitor, epochs=4, early_stopping=1, monitor=monitor, learning_rate=0.05)
    h = r.history[monitor][:r.manifest["epochs_run"]]
    best = (np.argmax(h) if monitor == "val_accuracy" else np.argmin(h)) + 1
    assert r.manifest["best_epoch"] == best
    assert r.manifest["epochs_run"] <= min(4, best + 1)  # patience 1: one epoch past the best at most


def test_study_cnn_run_records_the_deviation(tmp_path, feature_factory):
    small = feature_factory(tracks_per_class=2, segments=4)  # 24 segments: the smallest useful fit
    r = _fit(small, tmp_path, "cnn", model="cnn", split="segment", epochs=1, batch_size=32)
    assert r.manifest["deviation"] == CNN_DEVIATION
    assert r.manifest["config"]["cnn_pool_strides"] == 2
    assert r.manifest["n_params"] == 45_059
    # 24 segments: 6 test, round(0.2 * 18) = 4 validation, 14 train
    assert r.manifest["split"]["segments"] == {"train": 14, "validation": 4, "test": 6}


def test_fault_filtered_split_of_unlisted_tracks_fails_before_training(tiny_features, tmp_path):
    with pytest.raises(DatasetError, match="fault-filtered"):
        _fit(tiny_features, tmp_path, "ff", split="fault-filtered")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("kwargs, rule", [
    ({"model": "rnn"}, "model='rnn' is not one of"),
    ({"recipe": "best"}, "recipe='best' is not one of"),
    ({"split": "random"}, "split='random' is not one of"),
    ({"epochs": 0}, "epochs=0 must be a positive integer"),
    ({"batch_size": True}, "batch_size=True must be a positive integer"),
    ({"learning_rate": 2.0}, r"learning_rate=2.0 must be in \(0, 1\)"),
    ({"early_stopping": -1}, "early_stopping=-1 must be >= 0"),
    ({"monitor": "loss"}, "monitor='loss' must be 'val_loss' or 'val_accuracy'"),
    ({"lr_schedule": "step"}, "lr_schedule='step' must be one of constant, cosine"),
])
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


def test_evaluate_run_uses_the_runs_own_test_fraction(run, tiny_features, tmp_path):
    # the stored run, as if trained with test_size=0.5 (3 of 6 tracks per class tested: 90 segments)
    shutil.copytree(run.path, tmp_path / "half")
    manifest = json.loads((tmp_path / "half" / "manifest.json").read_text())
    manifest["config"]["test_size"] = 0.5
    manifest["split"]["settings"]["test_size"] = 0.5
    (tmp_path / "half" / "manifest.json").write_text(json.dumps(manifest))
    half = load_run("half", root=tmp_path)
    expected = make_split("track", y=tiny_features.y, track_ids=tiny_features.track_ids, test_size=0.5, seed=3)
    m = evaluate_run(half, tiny_features, split="track")
    assert m["n_segments"] == len(expected.test) == 90


# --------------------------------------------------------------------------- #
# The run store
# --------------------------------------------------------------------------- #
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


def test_unsafe_model_file_is_refused(run, tmp_path):
    import keras

    inputs = keras.Input(shape=(130, 13), name="mfcc")
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    save_run("lambda", model=model, root=tmp_path, manifest=run.manifest, history=run.history,
             metrics=run.metrics, predictions=run.predictions())
    stored = load_run("lambda", root=tmp_path)
    with pytest.raises(ArtifactError, match="could not be loaded safely"):
        stored.model()


def test_load_run_by_folder_path(run):
    again = load_run(run.path)
    assert again.id == "base" and again.metrics == run.metrics


def test_load_run_by_id_prefers_the_runs_folder_to_the_working_folder(run, tmp_path, monkeypatch):
    (tmp_path / "base").mkdir()  # an unrelated folder that happens to share the run's id
    monkeypatch.chdir(tmp_path)
    assert load_run("base", root=run.path.parent).path == run.path


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


def test_the_stored_model_carries_no_optimizer_state(run, tmp_path):
    import zipfile

    import h5py

    with zipfile.ZipFile(run.path / "model.keras") as z:
        z.extract("model.weights.h5", tmp_path)
    with h5py.File(tmp_path / "model.weights.h5") as f:
        assert "optimizer" not in f, list(f)
        assert "layers" in f


def test_overrides_are_recorded_and_marked_in_the_label(tiny_features, tmp_path):
    assert TrainConfig(recipe="study").overrides() == {}
    assert TrainConfig(recipe="study", standardize=False, learning_rate=1e-4).overrides() == {}  # the recipe's own
    assert TrainConfig(recipe="improved", mixup=0.2, early_stopping=0, epochs=9).overrides() == {"mixup": 0.2}
    assert TrainConfig(recipe="improved", mixup=0.4).overrides() == {}
    r = _fit(tiny_features, tmp_path, "custom", epochs=1, random_windows=True, learning_rate=3e-4)
    assert r.manifest["overrides"] == {"random_windows": True, "learning_rate": 3e-4}
    assert r.recipe_label == "study*" and "· study* ·" in r.label


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
