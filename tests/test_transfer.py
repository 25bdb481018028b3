"""The transfer model: a head on the pretrained tagger's embeddings, trained, stored, checked and classified.

Most tests use in-memory embedding features (fast); the end-to-end ones embed the
session's tiny dataset with the real tagger (marked slow).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from mgc.analysis import classify
from mgc.cli import main
from mgc.errors import ParameterError
from mgc.features import EMBEDDING_PARAMS, FeatureSet, extract_dataset, params_from_dict
from mgc.runs import default_classify_runs, load_run, load_trust
from mgc.training import TrainConfig, train


def embedding_features(*, classes=("a", "b", "c"), tracks_per_class=14, segments=10, width=1506, seed=0):
    """Learnable fake embeddings: a class direction plus a track offset plus noise, non-negative like ReLU outputs."""
    rng = np.random.default_rng(seed)
    X, y, tids, seg = [], [], [], []
    for label, c in enumerate(classes):
        direction = np.zeros(width, np.float32)
        direction[label * 10 : label * 10 + 10] = 2.0
        for t in range(tracks_per_class):
            track = direction + 0.3 * rng.standard_normal(width).astype(np.float32)
            X.append(np.abs(track + 0.5 * rng.standard_normal((segments, width)).astype(np.float32)))
            y += [label] * segments
            tids += [f"{c}.{t + 1:05d}"] * segments
            seg += list(range(segments))
    return FeatureSet(
        X=np.concatenate(X),
        y=np.asarray(y, np.int64),
        track_ids=np.asarray(tids),
        segment_index=np.asarray(seg, np.int64),
        classes=tuple(classes),
        params=EMBEDDING_PARAMS,
        source="synthetic embeddings",
        fingerprint="synthetic-embeddings",
    )


@pytest.fixture(scope="module")
def emb():
    return embedding_features()


@pytest.fixture(scope="module")
def transfer_run(emb, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return train(emb, TrainConfig(model="transfer", recipe="improved", split="track", epochs=4), root=root)


def test_transfer_run_stores_its_features_and_scores(transfer_run, emb):
    man = transfer_run.manifest
    assert man["model"] == "transfer" and man["input_shape"] == [1506]
    assert params_from_dict(man["features"]) == EMBEDDING_PARAMS
    assert man["config"]["random_windows"] is False and man["config"]["spec_mask"] is False  # no frames
    assert man["config"]["learning_rate"] == 1e-3
    assert transfer_run.metrics["track_accuracy_mean"] > 0.9  # the classes are far apart
    # the stored model reproduces the stored probabilities
    test = np.isin(emb.track_ids, man["split"]["track_ids"]["test"])
    probs = transfer_run.model().predict(emb.X[test], verbose=0)
    np.testing.assert_allclose(probs, transfer_run.predictions()["probs"], atol=1e-5)


def test_transfer_trust_checks_live_in_embedding_space(transfer_run, emb):
    t = load_trust(transfer_run)
    m = t.data["music"]
    assert "projection" in m and m["variation_threshold"] is None
    assert len(m["location"]) == len(m["projection"]["components"]) <= 32
    heard = t.music_check(emb.X[:10])
    assert not heard["atypical"] and heard["of"] == "embedding" and not heard["stationary"]
    far = t.music_check(np.full((5, 1506), 40.0, np.float32))
    assert far["atypical"]


def test_the_study_networks_refuse_embeddings_and_transfer_refuses_mfccs(emb, tiny_features, tmp_path):
    with pytest.raises(ParameterError, match="model='cnn' learns from mfcc features, and these are embedding"):
        train(emb, TrainConfig(model="cnn", split="track", epochs=1), root=tmp_path)
    with pytest.raises(ParameterError, match="model='transfer' learns from embedding features.*EmbeddingParams"):
        train(tiny_features, TrainConfig(model="transfer", split="track", epochs=1), root=tmp_path)


def test_embedding_features_save_and_load(emb, tmp_path):
    path = emb.save(tmp_path / "emb.npz")
    back = FeatureSet.load(path)
    assert back.params == EMBEDDING_PARAMS and back.X.shape == emb.X.shape


def test_classify_default_is_the_transfer_run_alone_when_it_outranks_every_network(transfer_run, tmp_path):
    from mgc.runs import list_runs

    runs, _ = list_runs(transfer_run.path.parent)
    assert default_classify_runs(runs) == [transfer_run.id]


# --------------------------------------------------------------------------- #
# End to end with the real tagger (slow: embeds the tiny dataset)
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def tiny_embeddings(tiny_dataset, tmp_path_factory):
    return extract_dataset(tiny_dataset, params=EMBEDDING_PARAMS, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.mark.slow
def test_extracting_embeddings_is_cached_and_reports_bad_files(tiny_dataset, tiny_embeddings, tmp_path):
    fs = tiny_embeddings
    assert fs.X.shape == (42 * 10, 1506) and fs.params == EMBEDDING_PARAMS and not fs.skipped
    assert np.isfinite(fs.X).all()
    # a copy with one corrupt and one too-short file: both reported and skipped, the rest kept
    import shutil

    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    (root / "genres" / "tones" / "tones.00099.wav").write_bytes(b"RIFF nothing")
    sf.write(root / "genres" / "noise" / "noise.00098.wav", np.zeros(16000, np.float32) + 0.01, 16000)
    cache = tmp_path / "cache"
    again = extract_dataset(root, params=EMBEDDING_PARAMS, classes=["tones", "noise"], cache_dir=cache)
    assert sorted(s.track_id for s in again.skipped) == ["noise.00098", "tones.00099"]
    warm = extract_dataset(root, params=EMBEDDING_PARAMS, classes=["tones", "noise"], cache_dir=cache)
    assert warm.cache_stats["extracted"] == 0
    np.testing.assert_array_equal(warm.X, again.X)


@pytest.mark.slow
def test_cli_trains_all_four_models_and_classifies_with_them(tiny_dataset, tmp_path, capsys):
    runs = tmp_path / "runs"
    code = main(
        ["train", "--data", str(tiny_dataset), "--model", "all", "--recipe", "improved", "--split", "track"]
        + ["--epochs", "2", "--runs", str(runs)]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "mfcc features: 420 segments" in out and "embedding features: 420 segments" in out
    ids = sorted(p.name for p in runs.iterdir())
    assert len(ids) == 4 and sum("transfer" in i for i in ids) == 1
    transfer = load_run(next(i for i in ids if "transfer" in i), root=runs)
    cnn = load_run(next(i for i in ids if "-cnn-" in i), root=runs)
    clip = next((tiny_dataset / "genres" / "tones").iterdir())
    res = classify(clip, [cnn, transfer])
    assert [a.model for a in res.answers] == ["cnn", "transfer"]
    assert [len(a.window_probs) for a in res.answers] == [10, 10]
    np.testing.assert_allclose(res.answers[1].starts, np.arange(10) * 3.0)
    assert all(f["kind"] != "no-checks" for f in res.flags)
    code = main(["classify", str(clip), "--run", str(transfer.path), "--format", "json"])
    assert code == 0
    clips = json.loads(capsys.readouterr().out)
    assert clips[0]["answers"][0]["model"] == "transfer"


def test_a_transfer_run_also_gets_the_mfcc_not_music_check(emb, tiny_features, tmp_path):
    from mgc.analysis.classify import ModelAnswer
    from mgc.runs import assess

    run = train(
        emb,
        TrainConfig(model="transfer", recipe="improved", split="track", epochs=2),
        root=tmp_path,
        trust_mfcc=tiny_features,  # the same track ids, as MFCC segments
    )
    t = load_trust(run)
    assert t.mfcc_params == tiny_features.params.to_dict()
    assert t.data["music_mfcc"]["variation_threshold"] is not None  # MFCC frames: stationarity applies
    heard = emb.X[:10]  # what the tagger hears is music-like ...
    assert not t.music_check(heard)["atypical"]
    odd = np.full((10, 130, 13), -50.0, np.float32)  # ... but the MFCCs are nothing like the training music
    odd[:, :, 0] += np.linspace(0, 1, 130, dtype=np.float32)[None, :]
    probs = run.model().predict(heard, verbose=0).astype(float)
    answer = ModelAnswer(run.id, run.label, "transfer", run.classes, probs, probs.mean(axis=0), None)
    kinds = [f["kind"] for f in assess([answer], [heard], [t], mfcc=odd)]
    assert "not-music" in kinds
    assert "not-music" not in [f["kind"] for f in assess([answer], [heard], [t], mfcc=None)]
