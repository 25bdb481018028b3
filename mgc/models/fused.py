"""Fused kernels for training on the CPU: the LSTM's whole sequence, and Adam's update, each as one op.

On TensorFlow without a GPU, Keras runs an LSTM as a ``while_loop`` of small ops per time
step (two matrix products, four activations, the state updates; then the same again backwards):
with 130 frames the cost is the ops, not the arithmetic. TensorFlow has a fused CPU kernel for
exactly this cell (``BlockLSTMV2``, the ``ifco`` gate order of Keras's weights, no peepholes, no
clipping) and its gradient (``BlockLSTMGradV2``). :class:`FusedLSTM` is ``keras.layers.LSTM``
with its inner loop replaced by that op where the layer's settings allow it (no mask, dropout,
reversal or unrolling; tanh and sigmoid; a bias), so its weights, configuration and outputs are
those of the Keras layer, to float32 rounding (the same products summed in another order).

The kernel runs on one core. So each batch is cut into :data:`LSTM_PARTS` parts (2), each part
run as its own kernel, forwards and backwards: independent ops, which TensorFlow's inter-op pool
runs at once, one per core. Each sample's recurrence is its own, so the outputs are those of one
kernel; only the weight gradients are summed in another order (per part, then over the parts).
The count is fixed, not taken from the machine's cores: the parts set the order of those sums,
so a count from the cores would give another history (in the last bits, growing over a run) on
a machine with other cores; fixed, the parts do not tie the history to the cores (with
TensorFlow's threads at 1/1 instead of 2/2 a run repeats bit for bit: the README). The price:
the kernel costs per frame and call, not per row, so two half batches cost about 1.2-1.35x the
CPU time of one batch (``bench/lstm_parts.py``); more cores than parts stay idle in the LSTM,
and one core runs the parts one after the other. A batch smaller than the parts (the epoch's
last batch, a prediction of one clip) is padded with zero rows to one per part, sliced off after:
their gradients are exact zeros. No part may be empty: the kernel's gradient over an empty batch
is uninitialised memory, not zeros.

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

from ..errors import check_positive_int

#: Registered-name prefix of the fused classes in a model's configuration.
_PACKAGE = "mgc_fused"

#: Parts of each batch the fused LSTM runs as independent kernels (see the module): fixed, not the
#: machine's cores, so that the history does not depend on them. Recorded in a run's manifest.
LSTM_PARTS = 2


def _pad_rows(t, rows):
    """``t`` with ``rows`` (a scalar tensor, >= 0) rows of zeros appended along its first axis."""
    import tensorflow as tf

    return tf.pad(t, tf.concat([[[0, rows]], tf.zeros((tf.rank(t) - 1, 2), tf.int32)], axis=0))


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

        #: Parts of each batch run as independent ops (:data:`LSTM_PARTS`; an instance may be given
        #: another count before its first call, as ``bench/lstm_parts.py`` does; not stored in its config).
        parts = LSTM_PARTS

        def inner_loop(self, sequences, initial_state, mask, training=False):
            if not self._fusable(mask):
                return super().inner_loop(sequences, initial_state, mask, training=training)
            cell = self.cell
            w = tf.concat([tf.convert_to_tensor(cell.kernel), tf.convert_to_tensor(cell.recurrent_kernel)], axis=0)
            b = tf.convert_to_tensor(cell.bias)
            parts = check_positive_int("parts", self.parts)
            # the batch (its size known only when the graph runs) padded with zero rows to at least one per
            # part: the kernel's gradient over an empty batch is uninitialised memory, not zeros. A zero row's
            # outputs are sliced off, so its gradients are exact zeros and change no sum.
            n = tf.shape(sequences)[0]
            m = tf.maximum(n, parts)
            padded = [_pad_rows(t, m - n) for t in (sequences, *initial_state)]
            bounds = [m * k // parts for k in range(parts + 1)]
            sizes = tf.stack([hi - lo for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)])
            # each part batch-major in, batch-major out: its transposes run in parallel with the others'
            outs, hs, cs = [], [], []
            for x, h0, c0 in zip(*(tf.split(t, sizes, axis=0, num=parts) for t in padded), strict=True):
                h, c = block_lstm(tf.transpose(x, (1, 0, 2)), h0, c0, w, b)
                hs.append(h[-1])
                cs.append(c[-1])
                if self.return_sequences:
                    outs.append(tf.transpose(h, (1, 0, 2)))
            last_h, last_c = (tf.concat(t, axis=0)[:n] for t in (hs, cs))
            outputs = tf.concat(outs, axis=0)[:n] if self.return_sequences else last_h[:, None, :]
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
