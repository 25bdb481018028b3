"""Fused kernels for training on the CPU: the LSTM's whole sequence, and Adam's update, each as one op.

On TensorFlow without a GPU, Keras runs an LSTM as a ``while_loop`` of small ops per time
step (two matrix products, four activations, the state updates; then the same again backwards):
with 130 frames the cost is the ops, not the arithmetic. TensorFlow has a fused CPU kernel for
exactly this cell (``BlockLSTMV2``, the ``ifco`` gate order of Keras's weights, no peepholes, no
clipping) and its gradient (``BlockLSTMGradV2``). :class:`FusedLSTM` is ``keras.layers.LSTM``
with its inner loop replaced by that op where the layer's settings allow it (no mask, dropout,
reversal or unrolling; tanh and sigmoid; a bias), so its weights, configuration and outputs are
those of the Keras layer, to float32 rounding (the same products summed in another order).

Keras's Adam updates each variable with about eight separate ops, each a pass over its values
(1M of them for the MLP). :class:`FusedAdam` is ``keras.optimizers.Adam`` whose update is
TensorFlow's one-pass kernel (``ResourceApplyAdam``): the same formula (Keras's ``alpha`` and
epsilon outside the square root), the step's powers of the betas computed as Keras does.

Both are used on the fast path of :func:`mgc.training.train` (``TrainConfig.fast``). A stored
model never holds them: :func:`plain_config` turns a model's configuration back into plain
Keras layers before it is saved. TensorFlow's op determinism covers both kernels (they are
plain CPU loops, no atomics): the same seed and data still give the same history.
"""

from __future__ import annotations

import functools

#: Registered-name prefix of the fused classes in a model's configuration.
_PACKAGE = "mgc_fused"


@functools.cache
def fused_classes():
    """``(FusedLSTM, FusedAdam)``, defined once Keras is imported (on the TensorFlow backend)."""
    import keras
    import tensorflow as tf
    from tensorflow.python.ops import gen_rnn_ops  # the fused ops' generated wrappers

    @tf.custom_gradient
    def block_lstm(x, h0, c0, w, b):
        """Every step of one LSTM layer: ``x`` [time, batch, inputs] -> ``h``, ``c`` [time, batch, units]."""
        units = tf.shape(b)[0] // 4
        peephole = tf.zeros((units,), x.dtype)  # unused (use_peephole=False), required by the op
        steps = tf.cast(tf.shape(x)[0], tf.int64)
        common = dict(seq_len_max=steps, x=x, cs_prev=c0, h_prev=h0, w=w, wci=peephole, wcf=peephole, wco=peephole, b=b)
        i, cs, f, o, ci, co, h = gen_rnn_ops.block_lstmv2(**common, cell_clip=0.0, use_peephole=False)

        def grad(dh, dcs):
            # the op's own gradient (the V1 gradient TensorFlow registers for it assumes the icfo gate order)
            g = gen_rnn_ops.block_lstm_grad_v2(
                **common,
                i=i,
                cs=cs,
                f=f,
                o=o,
                ci=ci,
                co=co,
                h=h,
                cs_grad=tf.zeros_like(cs) if dcs is None else dcs,
                h_grad=tf.zeros_like(h) if dh is None else dh,
                use_peephole=False,
            )
            x_grad, c0_grad, h0_grad, w_grad, _, _, _, b_grad = g
            return x_grad, h0_grad, c0_grad, w_grad, b_grad

        return (h, cs), grad

    @keras.saving.register_keras_serializable(package=_PACKAGE)
    class FusedLSTM(keras.layers.LSTM):
        """``keras.layers.LSTM`` whose sequence runs as TensorFlow's fused CPU kernel (see the module)."""

        def _fusable(self, mask) -> bool:
            cell = self.cell
            return (
                keras.backend.backend() == "tensorflow"
                and mask is None
                and not self.go_backwards
                and not self.unroll
                and not cell.dropout
                and not cell.recurrent_dropout
                and cell.use_bias
                and cell.activation is keras.activations.tanh
                and cell.recurrent_activation is keras.activations.sigmoid
            )

        def inner_loop(self, sequences, initial_state, mask, training=False):
            if not self._fusable(mask):
                return super().inner_loop(sequences, initial_state, mask, training=training)
            cell = self.cell
            h0, c0 = initial_state
            w = tf.concat([tf.convert_to_tensor(cell.kernel), tf.convert_to_tensor(cell.recurrent_kernel)], axis=0)
            h, cs = block_lstm(tf.transpose(sequences, (1, 0, 2)), h0, c0, w, tf.convert_to_tensor(cell.bias))
            last_h, last_c = h[-1], cs[-1]
            outputs = tf.transpose(h, (1, 0, 2)) if self.return_sequences else last_h[:, None, :]
            return last_h, outputs, [last_h, last_c]

    def handle(variable):
        return variable.handle if hasattr(variable, "handle") else variable.value.handle

    @keras.saving.register_keras_serializable(package=_PACKAGE)
    class FusedAdam(keras.optimizers.Adam):
        """``keras.optimizers.Adam`` whose update is TensorFlow's one-pass kernel (see the module)."""

        def update_step(self, gradient, variable, learning_rate):
            if self.amsgrad or isinstance(gradient, tf.IndexedSlices) or keras.backend.backend() != "tensorflow":
                return super().update_step(gradient, variable, learning_rate)
            dtype = variable.dtype
            step = tf.cast(self.iterations + 1, dtype)
            beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
            i = self._get_variable_index(variable)
            tf.raw_ops.ResourceApplyAdam(
                var=handle(variable),
                m=handle(self._momentums[i]),
                v=handle(self._velocities[i]),
                beta1_power=tf.pow(beta_1, step),
                beta2_power=tf.pow(beta_2, step),
                lr=tf.cast(learning_rate, dtype),
                beta1=beta_1,
                beta2=beta_2,
                epsilon=tf.cast(self.epsilon, dtype),
                grad=tf.cast(gradient, dtype),
            )

    return FusedLSTM, FusedAdam


#: Each fused class and the Keras layer it is stored as.
PLAIN_CLASSES = {
    "FusedLSTM": "LSTM",
    "FusedConv2D": "Conv2D",
    "FusedMaxPooling2D": "MaxPooling2D",
    "FusedBatchNormalization": "BatchNormalization",
}


def plain_config(config: dict) -> dict:
    """A functional model's configuration with every fused layer turned back into its Keras layer.

    The fused layers are :class:`FusedLSTM` and those of :mod:`mgc.models.fused_conv`
    (``FusedConv2D``, ``FusedMaxPooling2D``, ``FusedBatchNormalization``); :data:`PLAIN_CLASSES`
    maps each to its Keras class.

    Parameters
    ----------
    config : dict
        ``keras.Model.get_config()`` of a functional model.

    Returns
    -------
    dict
        A copy that ``keras.Model.from_config`` builds from plain Keras layers (same weights, in the same order).

    Raises
    ------
    ValueError
        A layer registered under this module's package is not in :data:`PLAIN_CLASSES`.
    """
    import copy

    out = copy.deepcopy(config)
    for layer in out.get("layers", []):
        name = layer.get("class_name")
        if name in PLAIN_CLASSES or str(layer.get("registered_name", "")).startswith(_PACKAGE):
            if name not in PLAIN_CLASSES:
                raise ValueError(f"layer class {name!r}: no plain Keras layer known for it (PLAIN_CLASSES)")
            layer.update(class_name=PLAIN_CLASSES[name], module="keras.layers", registered_name=None)
    return out
