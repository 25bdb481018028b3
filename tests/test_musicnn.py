"""The Keras 3 port of musicnn gives the original graph's outputs.

The reference arrays (``tests/fixtures/musicnn/reference.npz``) were computed once by
``tools/musicnn_reference.py`` with the package's own TensorFlow-1 graph in a separate
environment (tensorflow-cpu 2.21 + tf-keras); see ``tests/fixtures/musicnn/README.md``.
The weights come from the ``musicnn`` wheel that the README's setup installs.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from mgc.errors import ParameterError
from mgc.features import EMBEDDING_PARAMS, EmbeddingParams, embedding_segments, embedding_windows, musicnn
from mgc.features.embed import backbone_function, mel_patches
from mgc.features.musicnn_gemm import MusicnnGemm

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "musicnn"


def _reference_tool():
    spec = importlib.util.spec_from_file_location("musicnn_reference", ROOT / "tools" / "musicnn_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ref():
    with np.load(FIXTURES / "reference.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = musicnn.save_backbone(tmp_path_factory.mktemp("pretrained") / "musicnn-msd.keras")
    return musicnn.load_backbone(str(path))


def _outputs(model, mel: np.ndarray) -> dict:
    return dict(zip(musicnn.OUTPUTS, (np.asarray(o) for o in model.predict_on_batch(mel)), strict=True))


def _close(a, b, *, scale: float):
    # relative to the size of the reference values: float32 convolutions summed in another order
    np.testing.assert_allclose(a, b, rtol=0, atol=scale * max(1.0, float(np.abs(b).max())))


def test_tags_and_checkpoint_variables_are_the_originals(ref):
    assert tuple(str(t) for t in ref["tags"]) == musicnn.MSD_TAGS
    listed = {
        line.split()[0]
        for line in (FIXTURES / "variables.txt").read_text().splitlines()
        if line and not line.startswith("#") and "power" not in line
    }
    mapped = {f"{scope}/{n}" for scope in musicnn._CONV.values() for n in ("kernel", "bias")}
    mapped |= {f"{scope}/{n}" for scope in musicnn._DENSE.values() for n in ("kernel", "bias")}
    mapped |= {
        f"{scope}/{n}" for scope in musicnn._BN.values() for n in ("gamma", "beta", "moving_mean", "moving_variance")
    }
    assert mapped == {v for v in listed if "/" in v}  # every weight of the checkpoint is used, none invented


def test_port_gives_the_original_outputs_on_the_synthetic_clip(model, ref):
    out = _outputs(model, ref["synthetic/mel"])
    _close(out["tags"], ref["synthetic/taggram"], scale=1e-5)
    _close(out["mean_pool"], ref["synthetic/mean_pool"], scale=1e-5)
    _close(out["max_pool"], ref["synthetic/max_pool"], scale=1e-5)
    _close(out["penultimate"], ref["synthetic/penultimate"], scale=1e-5)


@pytest.fixture(scope="module")
def gemm(model):
    return MusicnnGemm(model, workers=2)


def _gemm_outputs(gemm, mel: np.ndarray) -> dict:
    return dict(zip(musicnn.OUTPUTS, gemm(mel), strict=True))


def test_matrix_product_path_gives_the_original_outputs_on_the_synthetic_clip(gemm, ref):
    # the forward pass the project runs (DFT over bands, banded products, batch norm after the max)
    out = _gemm_outputs(gemm, ref["synthetic/mel"])
    assert all(v.dtype == np.float32 for v in out.values())
    _close(out["tags"], ref["synthetic/taggram"], scale=1e-5)
    _close(out["mean_pool"], ref["synthetic/mean_pool"], scale=1e-5)
    _close(out["max_pool"], ref["synthetic/max_pool"], scale=1e-5)
    _close(out["penultimate"], ref["synthetic/penultimate"], scale=1e-5)


def test_matrix_product_path_equals_the_keras_model_whatever_the_batch(model, gemm):
    rng = np.random.default_rng(7)
    # log-mel-like values, and a patch of zeros (silence); batches split over threads unevenly
    mel = rng.uniform(0, 4, (7, 187, 96)).astype(np.float32)
    mel[3] = 0
    keras_out = _outputs(model, mel)
    for batch in (mel, mel[:1], mel[2:5]):
        out = _gemm_outputs(gemm, batch)
        want = _outputs(model, batch) if len(batch) != len(mel) else keras_out
        for name in musicnn.OUTPUTS:
            _close(out[name], want[name], scale=1e-5)
    one_thread = _gemm_outputs(MusicnnGemm(model, workers=1), mel)
    for name in musicnn.OUTPUTS:  # a patch's outputs do not depend on the others in its call
        _close(one_thread[name], _gemm_outputs(gemm, mel)[name], scale=1e-6)


def test_matrix_product_path_refuses_other_shapes(gemm):
    with pytest.raises(ParameterError, match=r"mel must have shape \(k, 187, 96\)"):
        gemm(np.zeros((2, 96, 187), np.float32))
    with pytest.raises(ParameterError, match="workers=0 must be"):
        MusicnnGemm(musicnn.build_musicnn(), workers=0)


def test_embeddings_are_the_keras_models_pooled_outputs():
    y = _reference_tool().synthetic_clip(seconds=10.0)
    X, _ = embedding_segments(y)
    mel = mel_patches(np.stack([y[i * 48000 : (i + 1) * 48000] for i in range(3)]))
    out = _outputs(musicnn.load_backbone(), mel)
    assert isinstance(backbone_function(), MusicnnGemm)
    _close(X, np.concatenate([out["mean_pool"], out["max_pool"]], axis=1), scale=1e-5)


def test_front_end_matches_the_reference_mel(ref):
    tool = _reference_tool()
    y = tool.synthetic_clip()
    np.testing.assert_array_equal(y[:256], ref["synthetic/audio_head"])
    # a segment's patch equals the original's first patch: 187 centred frames of the first 3 s
    ours = mel_patches(y[None, : EMBEDDING_PARAMS.samples_per_segment])
    assert ours.shape == (1, 187, 96) and ours.dtype == np.float32
    np.testing.assert_allclose(ours[0], ref["synthetic/mel"][0], rtol=0, atol=1e-5)
    assert np.isfinite(ours).all()  # no float16 overflow


def test_port_on_real_recordings(model, ref, shared_data):
    tool = _reference_tool()
    from mgc import audio

    for name, file in tool.RECORDINGS.items():
        y = audio.load(shared_data / "librosa" / file, sr=16000, max_duration=tool.RECORDING_SECONDS)
        mel = tool.patches(tool.log_mel(y[: int(tool.RECORDING_SECONDS * 16000)]))
        np.testing.assert_allclose(mel[0].mean(axis=0), ref[f"{name}/mel_patch0_band_mean"], rtol=0, atol=2e-3)
        for out in (_outputs(model, mel), _gemm_outputs(MusicnnGemm(model), mel)):  # the port, the fast path
            _close(out["tags"], ref[f"{name}/taggram"], scale=2e-3)
            _close(out["penultimate"], ref[f"{name}/penultimate"], scale=2e-3)
            top = musicnn.MSD_TAGS[int(out["tags"].mean(axis=0).argmax())]
            assert top == musicnn.MSD_TAGS[int(ref[f"{name}/taggram"].mean(axis=0).argmax())]


def test_saved_backbone_records_source_checksums_and_licence(model, tmp_path):
    path = musicnn.save_backbone(tmp_path / "b.keras")
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["source"].startswith("musicnn==0.1.0")
    assert len(info["checkpoint_sha256"]) == 64 and info["checkpoint_sha256"] == musicnn.checkpoint_sha256()
    assert "ISC" in info["licence"] and "Universitat Pompeu Fabra" in info["licence"]
    assert info["tags"] == list(musicnn.MSD_TAGS)


def test_damaged_backbone_file_is_rebuilt(tmp_path):
    path = musicnn.save_backbone(tmp_path / "b.keras")
    path.write_bytes(b"not a keras file")
    m = musicnn.load_backbone.__wrapped__(str(path))
    assert m.name == "musicnn_msd" and path.stat().st_size > 1_000_000


def test_embeddings_per_segment_like_the_study_segments():
    y = _reference_tool().synthetic_clip(seconds=10.0)
    X, seg = embedding_segments(y)
    # 3 full 3-s segments, then 1 s left: shorter than one 187-frame patch (2.98 s), dropped
    assert X.shape == (3, 1506) and list(seg) == [0, 1, 2] and X.dtype == np.float32
    W, starts = embedding_windows(y)
    np.testing.assert_allclose(W, X, rtol=0, atol=1e-5)
    assert list(starts) == [0.0, 3.0, 6.0]
    P, _ = embedding_segments(y, params=EmbeddingParams(layer="penultimate"))
    assert P.shape == (3, 200)


def test_embedding_params_refuse_another_front_end():
    with pytest.raises(ParameterError, match="the pretrained tagger was trained on sr=16000"):
        EmbeddingParams(sr=22050)
    with pytest.raises(ParameterError, match="layer='conv' must be one of pool, penultimate"):
        EmbeddingParams(layer="conv")
    with pytest.raises(ParameterError, match="shorter than one 187-frame patch"):
        EmbeddingParams(n_segments=20)
