"""Unit tests of mgc.models: shapes, names, parameter counts, layer sequences and errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from mgc.config import STUDY_MODELS
from mgc.errors import ParameterError
from mgc.models import BUILDERS, CNN_DEVIATION, MODEL_NAMES, build, build_cnn, build_lstm, build_mlp, build_transfer

keras = pytest.importorskip("keras")
layers = keras.layers

SHAPE = (130, 13)

# Parameter counts by hand (count_params() includes BatchNormalization's moving mean and
# variance, which are non-trainable).
#
# MLP: flatten 130*13 = 1690 inputs
#   Dense 512: 1690*512 + 512 = 865,792
#   Dense 256:  512*256 + 256 = 131,328
#   Dense 128:  256*128 + 128 =  32,896
#   softmax:    128*k + k        (k=10: 1,290; k=3: 387)
#   total k=10: 1,031,306; k=3: 1,030,403
#
# CNN, pool_strides=2, valid convolutions: 130x13 -> conv3 128x11 -> pool(s2, same) 64x6
#   -> conv3 62x4 -> pool 31x2 -> conv2 30x1 -> pool(2x2, s2) 15x1 -> flatten 15*1*32 = 480
#   Conv 3x3x1x32 + 32  =    320;  BatchNorm 4*32 = 128
#   Conv 3x3x32x32 + 32 =  9,248;  BatchNorm        128
#   Conv 2x2x32x32 + 32 =  4,128;  BatchNorm        128
#   Dense 64: 480*64 + 64 = 30,784
#   softmax:  64*k + k       (k=10: 650; k=3: 195)
#   total k=10: 45,514 (45,322 trainable: minus 3 * 2*32 moving statistics); k=3: 45,059
#
# CNN, pool_strides=3, conv_padding='same': 130x13 -> conv 130x13 -> pool(s3) 44x5 -> conv 44x5
#   -> pool 15x2 -> conv 15x2 -> pool(2x2, s3) 5x1 -> flatten 5*1*32 = 160
#   Dense 64: 160*64 + 64 = 10,304
#   total k=10: 320+128 + 9,248+128 + 4,128+128 + 10,304 + 650 = 25,034
#
# LSTM (4 gates, each (input + units) * units + units):
#   LSTM 64 on 13 inputs: 4 * ((13 + 64) * 64 + 64) = 4 * 4,992 = 19,968
#   LSTM 64 on 64 inputs: 4 * ((64 + 64) * 64 + 64) = 4 * 8,256 = 33,024
#   Dense 64: 64*64 + 64 = 4,160
#   softmax:  64*k + k       (k=10: 650; k=3: 195)
#   total k=10: 57,802; k=3: 57,347
PARAMS = {
    ("mlp", 10): 1_031_306,
    ("mlp", 3): 1_030_403,
    ("cnn", 10): 45_514,
    ("cnn", 3): 45_059,
    ("lstm", 10): 57_802,
    ("lstm", 3): 57_347,
}


def _of(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


def _kinds(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


# --------------------------------------------------------------------------- #
# Shapes, names, counts
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", STUDY_MODELS)
@pytest.mark.parametrize("n_classes", [3, 10])
def test_output_shape_name_and_parameter_count(name, n_classes):
    model = build(name, SHAPE, n_classes)
    assert model.name == name
    assert tuple(model.input_shape) == (None, *SHAPE)
    assert tuple(model.output_shape) == (None, n_classes)
    assert model.count_params() == PARAMS[(name, n_classes)]
    assert model.layers[0].name == "mfcc"
    assert model.layers[-1].name == "genre"
    assert not model.compiled  # uncompiled


@pytest.mark.parametrize("name", STUDY_MODELS)
def test_softmax_output_is_a_probability_per_segment(name):
    model = build(name, SHAPE, 4)
    x = np.random.default_rng(0).normal(size=(5, *SHAPE)).astype(np.float32)
    p = np.asarray(model(x, training=False))
    assert p.shape == (5, 4)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(p >= 0)


def test_cnn_trainable_parameters_exclude_batchnorm_statistics():
    model = build_cnn(SHAPE, 10)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 45_514 - 3 * 2 * 32


def test_cnn_with_study_strides_and_same_padding_builds():
    model = build_cnn(SHAPE, 10, pool_strides=3, conv_padding="same")
    assert model.count_params() == 25_034
    assert tuple(_of(model, layers.Flatten)[0].output.shape) == (None, 160)
    assert all(c.padding == "same" for c in _of(model, layers.Conv2D))


def test_builders_table_and_build_by_name_agree():
    assert set(BUILDERS) == set(MODEL_NAMES) == {"mlp", "cnn", "lstm", "transfer"}
    assert BUILDERS["mlp"] is build_mlp and BUILDERS["cnn"] is build_cnn and BUILDERS["lstm"] is build_lstm
    assert BUILDERS["transfer"] is build_transfer
    with pytest.raises(ParameterError, match="model='rnn' is not one of mlp, cnn, lstm, transfer"):
        build("rnn", SHAPE, 10)


# --------------------------------------------------------------------------- #
# Layer sequences
# --------------------------------------------------------------------------- #
def test_mlp_layers_dense_512_256_128_each_followed_by_dropout():
    model = build_mlp(SHAPE, 10, dropout=0.3)
    assert _kinds(model) == ["InputLayer", "Flatten"] + ["Dense", "Dropout"] * 3 + ["Dense"]
    dense = _of(model, layers.Dense)
    assert [d.units for d in dense] == [512, 256, 128, 10]
    assert [d.activation.__name__ for d in dense] == ["relu", "relu", "relu", "softmax"]
    assert [d.rate for d in _of(model, layers.Dropout)] == [0.3, 0.3, 0.3]


def test_cnn_three_conv_blocks_with_pooling_and_batchnorm():
    model = build_cnn(SHAPE, 10)
    block = ["Conv2D", "MaxPooling2D", "BatchNormalization"]
    assert _kinds(model) == ["InputLayer", "Reshape"] + block * 3 + ["Flatten", "Dense", "Dropout", "Dense"]
    convs = _of(model, layers.Conv2D)
    assert [c.filters for c in convs] == [32, 32, 32]
    assert [tuple(c.kernel_size) for c in convs] == [(3, 3), (3, 3), (2, 2)]
    assert all(c.activation.__name__ == "relu" and c.padding == "valid" for c in convs)
    pools = _of(model, layers.MaxPooling2D)
    assert [tuple(p.pool_size) for p in pools] == [(3, 3), (3, 3), (2, 2)]
    assert [tuple(p.strides) for p in pools] == [(2, 2)] * 3
    assert all(p.padding == "same" for p in pools)
    # 13 coefficients -> 11 -> 6 -> 4 -> 2 -> 1 -> 1, as the module docstring says
    assert [tuple(layer.output.shape[1:3]) for layer in convs + pools] == [
        (128, 11),
        (62, 4),
        (30, 1),
        (64, 6),
        (31, 2),
        (15, 1),
    ]
    head = _of(model, layers.Dense)
    assert [d.units for d in head] == [64, 10]
    assert _of(model, layers.Dropout)[0].rate == 0.3


def test_lstm_two_stacked_layers_then_dense_head():
    model = build_lstm(SHAPE, 10, dropout=0.2)
    assert _kinds(model) == ["InputLayer", "LSTM", "LSTM", "Dense", "Dropout", "Dense"]
    first, second = _of(model, layers.LSTM)
    assert (first.units, first.return_sequences) == (64, True)
    assert (second.units, second.return_sequences) == (64, False)
    assert tuple(first.output.shape) == (None, 130, 64)
    assert [d.units for d in _of(model, layers.Dense)] == [64, 10]
    assert _of(model, layers.Dropout)[0].rate == 0.2


@pytest.mark.parametrize("name", STUDY_MODELS)
def test_normalize_layer_goes_first_and_adds_no_trainable_weights(name):
    norm = layers.Normalization(axis=-1, mean=np.arange(13.0), variance=np.ones(13), name="standardize")
    model = build(name, SHAPE, 10, normalize=norm)
    assert model.layers[1] is norm
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == sum(
        int(np.prod(w.shape)) for w in build(name, SHAPE, 10).trainable_weights
    )


# --------------------------------------------------------------------------- #
# The study's literal CNN strides
# --------------------------------------------------------------------------- #
def test_cnn_study_strides_with_valid_padding_raise_and_say_why():
    with pytest.raises(ParameterError) as e:
        build_cnn(SHAPE, 10, pool_strides=3)
    msg = str(e.value)
    assert "pool_strides=3" in msg
    assert "convolution 3" in msg and "2x2 kernel" in msg and "does not fit" in msg
    assert "14x1" in msg  # the feature map the third convolution receives
    assert "conv_padding='same'" in msg and "pool_strides=2" in msg


def test_deviation_text_names_the_literal_and_the_used_stride():
    assert "3x3 strides" in CNN_DEVIATION and "2x2 strides" in CNN_DEVIATION


# --------------------------------------------------------------------------- #
# Bad arguments
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", STUDY_MODELS)
@pytest.mark.parametrize("n_classes", [1, 0, -3, 2.5, "10", True])
def test_bad_n_classes(name, n_classes):
    with pytest.raises(ParameterError, match=r"n_classes=.* must be an integer >= 2"):
        build(name, SHAPE, n_classes)


@pytest.mark.parametrize("name", STUDY_MODELS)
@pytest.mark.parametrize("shape", [(130,), (130, 13, 1), (0, 13), (130, 0), (130, -1)])
def test_bad_input_shape(name, shape):
    with pytest.raises(ParameterError, match=r"input_shape=.* must be \(frames, n_mfcc\) with positive integer sizes"):
        build(name, shape, 10)


@pytest.mark.parametrize("name", STUDY_MODELS)
@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_bad_dropout(name, rate):
    with pytest.raises(ParameterError, match=rf"dropout={rate!r} must be in \[0, 1\)"):
        build(name, SHAPE, 10, dropout=rate)


@pytest.mark.parametrize("strides", [0, -1, 2.0, "2"])
def test_bad_pool_strides(strides):
    with pytest.raises(ParameterError, match="pool_strides=.* must be a positive integer"):
        build_cnn(SHAPE, 10, pool_strides=strides)


def test_bad_conv_padding():
    with pytest.raises(ParameterError, match="conv_padding='causal' must be 'valid' or 'same'"):
        build_cnn(SHAPE, 10, conv_padding="causal")


def test_too_small_input_for_the_cnn_says_which_convolution():
    with pytest.raises(ParameterError, match="convolution 1"):
        build_cnn((2, 13), 10)


def test_zero_dropout_is_accepted():
    model = build_mlp(SHAPE, 2, dropout=0.0)
    assert [d.rate for d in _of(model, layers.Dropout)] == [0.0, 0.0, 0.0]


# --------------------------------------------------------------------------- #
# The transfer head (beyond the study)
# --------------------------------------------------------------------------- #
def test_transfer_head_one_hidden_layer_on_embeddings():
    model = build_transfer((1506,), 10)
    assert model.name == "transfer" and model.layers[0].name == "embedding" and model.layers[-1].name == "genre"
    assert _kinds(model) == ["InputLayer", "Dropout", "Dense", "Dropout", "Dense"]
    assert [d.units for d in _of(model, layers.Dense)] == [256, 10]
    assert model.count_params() == 1506 * 256 + 256 + 256 * 10 + 10
    p = np.asarray(model(np.ones((3, 1506), np.float32), training=False))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_transfer_head_without_hidden_layer_is_a_logistic_regression():
    model = build_transfer((200,), 4, hidden=0)
    assert [d.units for d in _of(model, layers.Dense)] == [4]
    assert model.count_params() == 200 * 4 + 4


@pytest.mark.parametrize("shape", [(130, 13), (0,), (-1,), ()])
def test_transfer_head_bad_input_shape(shape):
    with pytest.raises(ParameterError, match=r"input_shape=.* must be \(width,\): one embedding per segment"):
        build_transfer(shape, 10)


@pytest.mark.parametrize("hidden", [-1, 2.5, True])
def test_transfer_head_bad_hidden(hidden):
    with pytest.raises(ParameterError, match=r"hidden=.* must be an integer >= 0"):
        build_transfer((10,), 3, hidden=hidden)
