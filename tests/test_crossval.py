"""Unit tests of mgc.training.crossval (grouped k-fold comparison of recipes) and the pieces it adds to training."""

from __future__ import annotations

import numpy as np
import pytest

from mgc.dataset import make_split, track_folds
from mgc.errors import ArtifactError, ParameterError
from mgc.training import TrainConfig, crossval, train
from mgc.training.crossval import cross_validate, load_results, result_name, summarize, variant_settings

FAST = {"epochs": 1, "batch_size": 64}


@pytest.fixture(scope="module")
def compared(tiny_features, tmp_path_factory):
    """Two variants of the MLP on 3 folds of the tiny features (6 one-epoch runs; 42 tracks, 14 tested per fold)."""
    out = tmp_path_factory.mktemp("cv")
    variants = {"study": TrainConfig(**FAST), "improved": TrainConfig(recipe="improved", **FAST)}
    seen = []
    rows = cross_validate(tiny_features, variants, out_dir=out, models=("mlp",), n_folds=3, on_result=seen.append)
    return out, rows, seen


@pytest.mark.slow
def test_every_variant_runs_on_every_fold_and_every_track_is_tested_once(compared, tiny_features):
    out, rows, seen = compared
    assert len(rows) == 6 and seen == rows
    assert sorted((r["variant"], r["fold"]) for r in rows) == sorted(
        (v, k) for v in ("study", "improved") for k in range(3)
    )
    for v in ("study", "improved"):
        tested = [t["track_id"] for r in rows if r["variant"] == v for t in r["tracks"]]
        assert sorted(tested) == sorted(np.unique(tiny_features.track_ids))
    assert {r["config"]["recipe"] for r in rows} == {"study", "improved"}
    assert all(r["config"]["split"] == "track" and r["model"] == "mlp" for r in rows)
    assert sorted(p.name for p in out.iterdir()) == sorted(result_name(r["variant"], "mlp", r["fold"]) for r in rows)


@pytest.mark.slow
def test_results_on_disk_are_read_not_retrained(compared, tiny_features, monkeypatch):
    out, rows, _ = compared

    def no_training(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr(crossval, "train", no_training)
    variants = {"study": TrainConfig(**FAST), "improved": TrainConfig(recipe="improved", **FAST)}
    again = cross_validate(tiny_features, variants, out_dir=out, models=("mlp",), n_folds=3)
    assert again == rows
    assert sorted(load_results(out), key=str) == sorted(rows, key=str)


@pytest.mark.slow
def test_summary_pools_tracks_and_pairs_folds(compared):
    _, rows, _ = compared
    df = summarize(rows)
    assert list(df["variant"]) == ["study", "improved"]  # the baseline first
    for _, line in df.iterrows():
        mine = [t for r in rows if r["variant"] == line["variant"] for t in r["tracks"]]
        assert line["tracks"] == len(mine) == 42 and line["folds"] == 3
        assert line["track accuracy"] == pytest.approx(np.mean([t["true"] == t["predicted"] for t in mine]), abs=1e-4)
    imp = df[df["variant"] == "improved"].iloc[0]
    study = df[df["variant"] == "study"].iloc[0]
    assert imp["Δ track acc vs study"] == pytest.approx(imp["track accuracy"] - study["track accuracy"], abs=2e-4)
    won, tied, lost = map(int, imp["folds won/tied/lost"].split("/"))
    assert won + tied + lost == 3
    assert np.isnan(study["Δ track acc vs study"]) or study["Δ track acc vs study"] is None


@pytest.mark.slow
def test_variant_settings_say_what_each_variant_was(compared):
    _, rows, _ = compared
    df = variant_settings(rows).set_index("variant")
    assert list(df.index) == ["study", "improved"]
    assert df.loc["study", "standardize"] == False and df.loc["study", "monitor"] == "-"  # noqa: E712
    assert df.loc["improved", "standardize"] == True and df.loc["improved", "monitor"] == "-"  # noqa: E712
    assert df.loc["improved", "random windows"] == True and df.loc["study", "random windows"] == False  # noqa: E712
    assert df.loc["improved", "learning rate"] == 1e-3 and df.loc["study", "learning rate"] == 1e-4


@pytest.mark.slow
def test_damaged_result_file_and_bad_names_are_reported(compared, tiny_features, tmp_path):
    (tmp_path / result_name("study", "mlp", 0)).write_text("{not json")
    with pytest.raises(ArtifactError, match="damaged.*delete it"):
        load_results(tmp_path)
    with pytest.raises(ParameterError, match="variant name"):
        cross_validate(tiny_features, {"../x": TrainConfig(**FAST)}, out_dir=tmp_path, models=("mlp",), n_folds=3)


@pytest.mark.slow
def test_results_made_with_other_folds_are_not_mixed_in(compared, tiny_features, monkeypatch):
    out, _, _ = compared
    monkeypatch.setattr(crossval, "train", lambda *a, **k: pytest.fail("trained instead of refusing"))
    with pytest.raises(ArtifactError, match=r"made with other folds or data.*seed=0.*now n_folds=3, seed=7"):
        cross_validate(tiny_features, {"study": TrainConfig(**FAST)}, out_dir=out, models=("mlp",), n_folds=3, seed=7)


@pytest.mark.slow
def test_train_takes_a_given_split_and_checks_it(tiny_features, tmp_path):
    fold = track_folds(y=tiny_features.y, track_ids=tiny_features.track_ids, n_folds=3)[1]
    run = train(tiny_features, TrainConfig(model="mlp", split="track", **FAST), root=tmp_path, run_id="f", split=fold)
    assert run.manifest["split"]["settings"]["fold"] == 1
    assert sorted(np.unique(run.predictions()["track_ids"])) == sorted(np.unique(tiny_features.track_ids[fold.test]))
    seg = make_split("segment", y=tiny_features.y, track_ids=tiny_features.track_ids)
    with pytest.raises(ParameterError, match="differs from config.split"):
        train(tiny_features, TrainConfig(model="mlp", split="track", **FAST), root=tmp_path, split=seg)


@pytest.mark.slow
def test_input_noise_is_a_training_only_layer(tiny_features, tmp_path):
    run = train(
        tiny_features,
        TrainConfig(model="cnn", split="track", recipe="improved", input_noise=0.5, **FAST),
        root=tmp_path,
        run_id="noisy",
    )
    model = run.model()
    assert [layer.name for layer in model.layers][1:3] == ["standardize", "input_noise"]
    X = tiny_features.X[:4]
    np.testing.assert_allclose(model.predict_on_batch(X), model.predict_on_batch(X))  # no noise at inference
    assert run.manifest["config"]["input_noise"] == 0.5
    with pytest.raises(ParameterError, match="input_noise"):
        TrainConfig(input_noise=-1.0)


@pytest.mark.slow
def test_cli_compare_prints_each_fold_and_the_summary(tiny_features, tmp_path, capsys):
    from mgc.cli import main

    npz = tiny_features.save(tmp_path / "tiny.npz")
    args = [
        "compare",
        "--data",
        str(npz),
        "--out",
        str(tmp_path / "cv"),
        "--models",
        "mlp",
        "--folds",
        "3",
        "--epochs",
        "1",
        "--recipes",
        "study,improved",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count(" mlp fold ") == 6 and "3 folds over tracks" in out
    assert "Δ track acc vs study" in out and "folds won/tied/lost" in out
    assert len(list((tmp_path / "cv").glob("*.json"))) == 6
    assert main(args) == 0  # a second call reads the results back
    assert main(["compare", "--data", str(npz), "--out", str(tmp_path / "cv"), "--recipes", "study,best"]) == 2
    assert "--recipes: 'best' is not one of study, improved" in capsys.readouterr().err


@pytest.mark.slow
def test_comparison_figure_puts_study_and_improved_first_and_takes_many_variants(compared):
    from mgc.plots import recipe_comparison

    _, rows, _ = compared
    many = [dict(r, variant=f"{r['variant']}-{i}") for i in range(4) for r in rows] + rows  # 10 variants
    fig = recipe_comparison(many)
    names = [t.name for t in fig.data if t.type == "bar"]
    assert len(names) == 10 and names[:2] == ["study", "improved"]
    assert all(t.legendgroup == t.name.split(":")[0] for t in fig.data)  # a variant's dots toggle with its bar
    assert list(summarize(many)["variant"])[:2] == ["study", "improved"]


def test_parse_variant_reads_name_recipe_and_overrides():
    from mgc.errors import ParameterError
    from mgc.training import parse_variant

    name, cfg = parse_variant('balanced=improved:{"class_weight": false, "balanced_sampling": true}', split="track")
    assert name == "balanced" and cfg.recipe == "improved" and cfg.split == "track"
    assert cfg.class_weight is False and cfg.balanced_sampling is True
    assert parse_variant("study", split="fault-filtered")[1].recipe == "study"
    for bad in ("x=improved:[1, 2]", "x=improved:{not json}", 'x=improved:{"no_such_field": 1}', "x=nosuch"):
        with pytest.raises(ParameterError):
            parse_variant(bad, split="track")


def test_results_on_other_folds_with_the_same_seed_are_refused(feature_factory, tmp_path, monkeypatch):
    # e.g. a result made before track_folds used scikit-learn: same n_folds, seed and data, other test tracks
    import json

    features = feature_factory(tracks_per_class=6, segments=2)
    folds = track_folds(y=features.y, track_ids=features.track_ids, n_folds=3, seed=0)
    other = sorted(set(features.track_ids) - set(features.track_ids[folds[0].test]))[:6]
    row = {
        "n_folds": 3,
        "fold_seed": 0,
        "dataset_fingerprint": features.fingerprint,
        "track_accuracy": 0.5,
        "tracks": [{"track_id": t, "true": 0, "predicted": 0} for t in other],
    }
    (tmp_path / result_name("study", "mlp", 0)).write_text(json.dumps(row))
    monkeypatch.setattr(crossval, "train", lambda *a, **k: pytest.fail("trained instead of refusing"))
    with pytest.raises(ArtifactError, match=r"made with other folds: it tested 6 tracks, not the 6 of fold 0"):
        cross_validate(features, {"study": TrainConfig(**FAST)}, out_dir=tmp_path, models=("mlp",), n_folds=3)
