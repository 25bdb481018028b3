"""The CNN's C++ kernels (mgc.models.kernels) as Keras layers (mgc.models.fused_conv), against Keras's own layers.

Each fused layer is held to the Keras layer it replaces, with the same random weights, forwards and
backwards: pooling exactly (the same maxima, the gradient at the same first maximum), the convolution
and batch normalisation to float32 rounding. The kernels are built by the test session if needed
(about 20 s once per machine); a machine without a compiler skips the kernel tests, and the fallback
tests check that the layers are then Keras's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from mgc.models import build, kernels, plain_config

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def layers():
    if kernels.load() is None:
        pytest.skip(f"the CNN kernels are not available here: {kernels.unavailable_reason()}")
    from mgc.models.fused_conv import conv_classes

    return conv_classes()


def _same_weights(plain, fused, shape, *, scale=0.5, seed=2):
    plain.build(shape)
    fused.build(shape)
    rng = np.random.default_rng(seed)
    weights = [rng.normal(scale=scale, size=w.shape).astype(np.float32) for w in plain.get_weights()]
    plain.set_weights(weights)
    fused.set_weights(weights)


def _forward_backward(layer, x, *, training=True):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x, training=training)
        loss = tf.reduce_sum(tf.sin(3 * out + 0.1))  # a loss that weighs every output differently
    grads = tape.gradient(loss, [x, *layer.trainable_weights])
    return out.numpy(), [g.numpy() for g in grads]


def _close(a, b, name, rtol=1e-4):
    assert np.abs(a).max() > 1e-3, f"{name}: the comparison is not between zeros"
    np.testing.assert_allclose(b, a, rtol=rtol, atol=rtol * np.abs(a).max(), err_msg=name)


@pytest.mark.parametrize(
    "shape, kernel, filters",
    [
        ((5, 130, 13, 1), 3, 32),  # the CNN's first convolution
        ((3, 9, 4, 1), 3, 32),
        ((1, 3, 3, 1), 3, 32),
        ((4, 64, 6, 32), 3, 32),  # its second: gradients by the kernels, register tiles and remainders
        ((3, 31, 2, 32), 2, 32),  # its third: an input two wide (TensorFlow's input gradient)
        ((2, 7, 5, 5), 3, 7),  # channel counts without the vector paths
    ],
)
def test_fused_conv_computes_the_keras_conv_and_its_gradients(layers, shape, kernel, filters):
    FusedConv2D = layers[0]
    plain = keras.layers.Conv2D(filters, (kernel, kernel), activation="relu")
    fused = FusedConv2D(filters, (kernel, kernel), activation="relu")
    _same_weights(plain, fused, shape, scale=0.5 / np.sqrt(shape[-1]))
    x = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    (out_p, grads_p), (out_f, grads_f) = _forward_backward(plain, x), _forward_backward(fused, x)
    assert out_f.shape == (shape[0], shape[1] - kernel + 1, shape[2] - kernel + 1, filters)
    assert (out_p == 0).mean() > 0.2  # the ReLU cuts: its mask is part of what is compared
    np.testing.assert_allclose(out_f, out_p, atol=2e-6)
    for name, a, b in zip(["input", "kernel", "bias"], grads_p, grads_f, strict=True):
        _close(a, b, name)


def test_fused_conv_falls_back_to_keras_where_the_kernel_does_not_apply(layers):
    FusedConv2D = layers[0]
    for kwargs, channels in [({"activation": "tanh"}, 1), ({"padding": "same"}, 1), ({"strides": 2}, 3)]:
        plain = keras.layers.Conv2D(4, (3, 3), **kwargs)
        fused = FusedConv2D(4, (3, 3), **kwargs)
        _same_weights(plain, fused, (2, 8, 6, channels))
        x = np.random.default_rng(4).normal(size=(2, 8, 6, channels)).astype(np.float32)
        np.testing.assert_array_equal(fused(x).numpy(), plain(x).numpy(), err_msg=str(kwargs))


@pytest.mark.parametrize(
    "pool, strides, padding, shape",
    [
        ((3, 3), (2, 2), "same", (4, 128, 11, 32)),  # the CNN's first pooling
        ((2, 2), (2, 2), "same", (3, 30, 1, 32)),  # its last: a window wider than the map
        ((3, 2), (3, 1), "valid", (2, 10, 7, 5)),
        ((3, 3), (1, 1), "same", (2, 5, 5, 3)),
    ],
)
def test_fused_pooling_is_exactly_keras_pooling_ties_included(layers, pool, strides, padding, shape):
    FusedMaxPooling2D = layers[1]
    plain = keras.layers.MaxPooling2D(pool, strides=strides, padding=padding)
    fused = FusedMaxPooling2D(pool, strides=strides, padding=padding)
    rng = np.random.default_rng(5)
    # rounded values and ReLU zeros: many windows hold their maximum twice, so the tie rule is tested
    x = np.maximum(np.round(rng.normal(size=shape), 1), 0).astype(np.float32)
    (out_p, (dx_p,)), (out_f, (dx_f,)) = _forward_backward(plain, x), _forward_backward(fused, x)
    np.testing.assert_array_equal(out_f, out_p)
    assert np.abs(dx_p).max() > 0
    np.testing.assert_array_equal(dx_f, dx_p)


def test_fused_batch_norm_computes_keras_batch_norm_and_its_moving_statistics(layers):
    FusedBatchNormalization = layers[2]
    plain, fused = keras.layers.BatchNormalization(), FusedBatchNormalization()
    _same_weights(plain, fused, (6, 31, 2, 32), scale=0.3)
    for layer in (plain, fused):  # gamma, beta random; the moving statistics start as Keras's
        layer.moving_mean.assign(np.zeros(32, np.float32))
        layer.moving_variance.assign(np.ones(32, np.float32))
    x = (np.random.default_rng(6).normal(size=(6, 31, 2, 32)) * 3 + 1.5).astype(np.float32)
    (out_p, grads_p), (out_f, grads_f) = _forward_backward(plain, x), _forward_backward(fused, x)
    np.testing.assert_allclose(out_f, out_p, atol=3e-5)
    for name, a, b in zip(["input", "gamma", "beta"], grads_p, grads_f, strict=True):
        _close(a, b, name, rtol=2e-4)
    np.testing.assert_allclose(fused.moving_mean.numpy(), plain.moving_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused.moving_variance.numpy(), plain.moving_variance.numpy(), rtol=1e-5)
    # inference uses the moving statistics: Keras's own code, so with the same statistics the same outputs
    fused.moving_mean.assign(plain.moving_mean)
    fused.moving_variance.assign(plain.moving_variance)
    np.testing.assert_array_equal(fused(x, training=False).numpy(), plain(x, training=False).numpy())


def test_the_kernels_repeat_bit_for_bit(layers):
    # op determinism: the weight gradients are summed from per-sample parts in sample order
    model = build("cnn", (130, 13), 10, fused=True, dropout=0.0)  # dropout would draw new masks
    x = tf.constant(np.random.default_rng(7).normal(size=(32, 130, 13)).astype(np.float32))

    def grads():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x, training=True) ** 2)
        return [g.numpy() for g in tape.gradient(loss, model.trainable_weights)]

    first, second = grads(), grads()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_fused_cnn_is_stored_as_plain_keras_layers(layers, tmp_path):
    model = build("cnn", (130, 13), 10, fused=True)
    names = {layer.__class__.__name__ for layer in model.layers}
    assert {"FusedConv2D", "FusedMaxPooling2D", "FusedBatchNormalization"} <= names
    plain = keras.Model.from_config(plain_config(model.get_config()))
    plain.set_weights(model.get_weights())
    path = tmp_path / "cnn.keras"
    plain.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert not any(layer.__class__.__name__.startswith("Fused") for layer in loaded.layers)
    x = np.random.default_rng(8).normal(size=(3, 130, 13)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_the_pooling_gradient_refuses_an_argmax_outside_the_input(layers):
    ops = kernels.load()
    with pytest.raises(tf.errors.InvalidArgumentError, match="outside x_shape"):
        ops.mgc_max_pool_grad([1, 2, 2, 1], tf.constant([[[[4]]]], tf.int32), tf.ones((1, 1, 1, 1)))


def _child(code: str, **env) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_without_a_compiler_the_cnn_runs_keras_layers_and_the_manifest_says_why(tmp_path):
    code = (
        "import json, numpy as np; from mgc.models import build, kernels; "
        "from mgc.training.fit import execution; from mgc.training.recipes import TrainConfig; "
        "m = build('cnn', (130, 13), 10, fused=True); "
        "x = np.random.default_rng(0).normal(size=(2, 130, 13)).astype('float32'); m(x, training=True); "
        "print(json.dumps({'reason': kernels.unavailable_reason(), "
        "'execution': execution(TrainConfig(model='cnn', epochs=1))}))"
    )
    out = json.loads(_child(code, CXX=str(tmp_path / "no-such-compiler"), MGC_KERNEL_DIR=str(tmp_path / "k")))
    assert "no C++ compiler" in out["reason"] and "no-such-compiler" in out["reason"]
    assert "conv_1" not in out["execution"]["fused_kernels"]
    assert out["execution"]["cnn_kernels"].startswith("not used: no C++ compiler")


def test_a_failing_build_is_reported_with_the_compilers_words(tmp_path, monkeypatch):
    broken = tmp_path / "cnn_ops.cc"
    broken.write_text("this is not C++\n")
    monkeypatch.setattr(kernels, "SOURCE", broken)
    monkeypatch.setenv("MGC_KERNEL_DIR", str(tmp_path / "k"))
    with pytest.raises(kernels.KernelsUnavailable, match="compiling cnn_ops.cc failed"):
        kernels.build()
    assert not list((tmp_path / "k").glob("*.so"))  # nothing half-built is left to be loaded


@pytest.mark.slow
def test_a_damaged_cached_library_is_built_again(tmp_path):
    # a truncated .so in the cache (a full disk, damage): loading it would crash the process (SIGBUS), so the
    # digest beside it is checked first and the library built again
    env = {"MGC_KERNEL_DIR": str(tmp_path)}
    path = _child("from mgc.models import kernels; print(kernels.build())", **env)
    with open(path, "r+b") as f:
        f.truncate(4096)
    out = _child(
        "from mgc.models import kernels; print(kernels.load() is not None, kernels.unavailable_reason())", **env
    )
    assert out == "True None"
    assert os.path.getsize(path) > 4096
