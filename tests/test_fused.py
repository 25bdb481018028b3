"""The fused LSTM and Adam kernels of the fast training path (mgc.models.fused) against Keras's own.

Each is held to the Keras layer or optimiser it replaces, on random weights and data, forwards and
backwards: the same function to float32 rounding, not an echo of its own output.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from mgc.errors import ParameterError
from mgc.models import build, build_lstm, fused_classes, plain_config
from mgc.models.fused import LSTM_PARTS

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")


def _pair(return_sequences: bool, **kwargs):
    """A Keras LSTM and a FusedLSTM with the same random weights (bias not zero, so that it matters)."""
    FusedLSTM, _ = fused_classes()
    keras.utils.set_random_seed(1)
    plain = keras.layers.LSTM(8, return_sequences=return_sequences, **kwargs)
    fused = FusedLSTM(8, return_sequences=return_sequences, **kwargs)
    plain.build((None, 11, 5))
    fused.build((None, 11, 5))
    rng = np.random.default_rng(2)
    weights = [rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in plain.get_weights()]
    plain.set_weights(weights)
    fused.set_weights(weights)
    return plain, fused


@pytest.mark.parametrize("return_sequences", [True, False])
def test_fused_lstm_computes_the_keras_lstm_and_its_gradients(return_sequences):
    plain, fused = _pair(return_sequences)
    x = tf.constant(np.random.default_rng(3).normal(size=(4, 11, 5)).astype(np.float32))
    outs, grads = [], []
    for layer in (plain, fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, training=True)
            loss = tf.reduce_sum(tf.sin(3 * out))  # a loss that weighs every output differently
        outs.append(out.numpy())
        grads.append([g.numpy() for g in tape.gradient(loss, [x, *layer.trainable_weights])])
    assert outs[0].shape == ((4, 11, 8) if return_sequences else (4, 8))
    np.testing.assert_allclose(outs[1], outs[0], atol=2e-6)
    for name, a, b in zip(["input", "kernel", "recurrent_kernel", "bias"], grads[0], grads[1], strict=True):
        assert np.abs(a).max() > 1e-3, name  # the comparison is not between zeros
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5 * np.abs(a).max(), err_msg=name)


def _graph_outputs_and_gradients(layer, x):
    """Outputs and gradients (input, weights) of ``layer`` in a graph whose batch size is unknown until it runs.

    As in Keras's ``fit``: the batch dimension is ``None`` when the step is traced, so the fused layer cuts
    each batch into parts at run time (the last batch of an epoch is smaller than the others).
    """

    @tf.function(input_signature=[tf.TensorSpec((None, *x.shape[1:]), tf.float32)])
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, training=True)
            loss = tf.reduce_sum(tf.sin(3 * out))
        return out, tape.gradient(loss, [x, *layer.trainable_weights])

    out, grads = step(tf.constant(x))
    return out.numpy(), [g.numpy() for g in grads], step


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("batch", [1, 2, 3, 32, 33])
def test_fused_lstm_in_parts_matches_keras_for_any_batch_size(batch, return_sequences):
    # 1: fewer rows than parts (padded); 3, 33: parts of unequal size; 2, 32: equal parts
    plain, fused = _pair(return_sequences)
    x = np.random.default_rng(7).normal(size=(batch, 11, 5)).astype(np.float32)
    out_p, grads_p, _ = _graph_outputs_and_gradients(plain, x)
    out_f, grads_f, step = _graph_outputs_and_gradients(fused, x)
    assert out_f.shape == ((batch, 11, 8) if return_sequences else (batch, 8))
    np.testing.assert_allclose(out_f, out_p, atol=2e-6)
    for name, a, b in zip(["input", "kernel", "recurrent_kernel", "bias"], grads_p, grads_f, strict=True):
        assert np.abs(a).max() > 1e-3, name
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5 * np.abs(a).max(), err_msg=name)
    # it did run in parts: one forward and one gradient kernel per part in the traced step
    ops = [op.type for op in step.get_concrete_function().graph.get_operations()]
    assert ops.count("BlockLSTMV2") == LSTM_PARTS >= 2
    assert ops.count("BlockLSTMGradV2") == LSTM_PARTS


@pytest.mark.parametrize("parts, batch", [(1, 5), (3, 2), (4, 33)])
def test_fused_lstm_with_another_count_of_parts_still_computes_the_keras_lstm(parts, batch):
    plain, fused = _pair(True)
    fused.parts = parts
    x = np.random.default_rng(8).normal(size=(batch, 11, 5)).astype(np.float32)
    out_p, grads_p, _ = _graph_outputs_and_gradients(plain, x)
    out_f, grads_f, step = _graph_outputs_and_gradients(fused, x)
    np.testing.assert_allclose(out_f, out_p, atol=2e-6)
    for a, b in zip(grads_p, grads_f, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5 * np.abs(a).max())
    assert [op.type for op in step.get_concrete_function().graph.get_operations()].count("BlockLSTMV2") == parts
    fused.parts = 0
    with pytest.raises(ParameterError, match="parts=0"):
        fused(x)


def test_a_fused_model_trains_and_predicts_on_batches_of_any_size():
    """Keras's own fit and predict (dynamic batches: the epoch's last batch of 1, a prediction of one clip).

    The same steps as the plain Keras model from the same weights: plain SGD, so that each weight moves by
    its gradient, and a last batch of one row, where a part would be empty without the padding.
    """
    rng = np.random.default_rng(9)
    x = rng.normal(size=(33, 20, 13)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 33)]
    models = [build("lstm", (20, 13), 3, dropout=0.0, fused=fused) for fused in (False, True)]  # no random masks
    models[1].set_weights(models[0].get_weights())
    start = models[0].get_weights()
    for model in models:
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss="categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)  # batches of 32 and 1
    after = [m.get_weights() for m in models]
    assert max(np.abs(a - b).max() for a, b in zip(after[0], start, strict=True)) > 1e-2  # it did learn
    for a, b in zip(after[0], after[1], strict=True):
        assert np.isfinite(b).all()
        np.testing.assert_allclose(b, a, atol=2e-5)
    for batch in (1, 3):
        np.testing.assert_allclose(
            models[1].predict(x[:5], batch_size=batch, verbose=0),
            models[0].predict(x[:5], batch_size=batch, verbose=0),
            atol=1e-6,
        )


def test_fused_lstm_falls_back_to_keras_where_the_kernel_does_not_apply():
    # a reversed sequence is not what the fused op computes: the layer must run Keras's loop, same outputs
    plain, fused = _pair(True, go_backwards=True)
    x = np.random.default_rng(4).normal(size=(2, 11, 5)).astype(np.float32)
    np.testing.assert_allclose(fused(x).numpy(), plain(x).numpy(), atol=1e-6)
    assert not fused._fusable(None)
    assert not _pair(True, dropout=0.2)[1]._fusable(None)
    assert _pair(True)[1]._fusable(None)


def test_fused_adam_takes_the_steps_keras_adam_takes():
    _, FusedAdam = fused_classes()
    rng = np.random.default_rng(5)
    start = rng.normal(size=(300,)).astype(np.float32)
    grads = [rng.normal(size=(300,)).astype(np.float32) for _ in range(5)]
    finals = []
    for opt in (keras.optimizers.Adam(learning_rate=0.01), FusedAdam(learning_rate=0.01)):
        v = keras.Variable(start)
        for g in grads:
            opt.apply([tf.constant(g)], [v])
        finals.append(np.asarray(v.numpy()))
    moved = np.abs(finals[0] - start).max()
    assert moved > 0.04  # five steps of about the learning rate each
    np.testing.assert_allclose(finals[1], finals[0], atol=1e-6)  # float32 rounding of values near 1


def test_a_fused_model_is_stored_as_plain_keras_layers(tmp_path):
    model = build("lstm", (20, 13), 3, fused=True)
    assert [type(layer).__name__ for layer in model.layers].count("FusedLSTM") == 2
    plain = keras.Model.from_config(plain_config(model.get_config()))
    assert [type(layer).__name__ for layer in plain.layers].count("LSTM") == 2
    assert not any("Fused" in type(layer).__name__ for layer in plain.layers)
    plain.set_weights(model.get_weights())
    x = np.random.default_rng(6).normal(size=(3, 20, 13)).astype(np.float32)
    np.testing.assert_allclose(plain.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    # what a run stores loads in safe mode without the fused classes' registration being needed
    path = tmp_path / "m.keras"
    plain.save(path)
    assert "mgc_fused" not in str(keras.saving.load_model(path, safe_mode=True).get_config())


def test_fused_must_be_a_bool():
    with pytest.raises(ParameterError, match="fused="):
        build_lstm((20, 13), 3, fused="yes")
