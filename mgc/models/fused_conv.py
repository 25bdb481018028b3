"""The CNN's first convolution, its max pooling and batch normalisation on the kernels of :mod:`mgc.models.kernels`.

:class:`FusedConv2D` is ``keras.layers.Conv2D``, :class:`FusedMaxPooling2D` is
``keras.layers.MaxPooling2D`` and :class:`FusedBatchNormalization` is
``keras.layers.BatchNormalization``; where the layer's settings fit a kernel (TensorFlow backend,
channels last, float32; for the convolution also stride and dilation 1, 'valid' padding, a
bias and ReLU: with one input channel forward and backward, with more the gradients only; for
batch normalisation training mode, the last axis, no mask, no renormalisation, centre and scale)
its forward pass and gradient run the kernel, otherwise the Keras layer's own code. Their
weights, configuration and outputs are those of the Keras layers:
pooling is exact (the same maxima, the gradient at the same first maximum of each window), the
convolution and the batch's statistics equal to float32 rounding (the same sums in another order;
the statistics summed in double). Batch normalisation updates its moving mean and variance with
Keras's own formula, and at inference (``training=False``) it is Keras's code.

They are used on the fast path of :func:`mgc.training.train` (``TrainConfig.fast``), like the
fused LSTM and Adam of :mod:`mgc.models.fused`, and :func:`mgc.models.fused.plain_config` turns
them back into the plain Keras layers before a model is stored. Without the kernels (no C++
compiler: :func:`mgc.models.kernels.unavailable_reason`) they are the Keras layers exactly.
"""

from __future__ import annotations

import functools

from . import kernels


@functools.cache
def conv_classes():
    """``(FusedConv2D, FusedMaxPooling2D, FusedBatchNormalization)``, defined once Keras is imported (TensorFlow)."""
    import keras
    import tensorflow as tf

    from .fused import _PACKAGE

    def conv_relu1(ops, x, w, b):
        @tf.custom_gradient
        def run(x, w, b):
            y = ops.mgc_conv_relu1(x, w, b)

            def grad(dy):
                dw, db = ops.mgc_conv_relu1_grad(x, y, dy, tf.shape(w)[:2])
                # the input's gradient by TensorFlow's op: the CNN's first layer needs none, and an
                # unused gradient is pruned from the compiled step
                dz = tf.where(y > 0, dy, tf.zeros_like(dy))
                dx = tf.compat.v1.nn.conv2d_backprop_input(tf.shape(x), w, dz, [1, 1, 1, 1], "VALID")
                return dx, dw, db

            return y, grad

        return run(x, w, b)

    def conv_relu(ops, layer, x, w, b):
        """relu(conv(x, w) + b) by TensorFlow's forward op, its gradients by the kernels."""

        @tf.custom_gradient
        def run(x, w, b):
            y = tf.nn.relu(layer.convolution_op(x, w) + b)

            def grad(dy):
                dz = tf.where(y > 0, dy, tf.zeros_like(dy))
                dw = ops.mgc_conv_filter_grad(x, dz, tf.shape(w)[:2])
                if x.shape[2] is not None and x.shape[2] >= 3:  # three positions per register tile fit a row
                    dx = ops.mgc_conv_input_grad(tf.shape(x, out_type=tf.int32), w, dz)
                else:
                    dx = tf.compat.v1.nn.conv2d_backprop_input(tf.shape(x), w, dz, [1, 1, 1, 1], "VALID")
                return dx, dw, tf.reduce_sum(dz, axis=(0, 1, 2))

            return y, grad

        return run(x, w, b)

    def max_pool(ops, x, pool_size, strides, padding):
        @tf.custom_gradient
        def run(x):
            y, where = ops.mgc_max_pool(x, ksize=list(pool_size), strides=list(strides), padding=padding)

            def grad(dy):
                return ops.mgc_max_pool_grad(tf.shape(x, out_type=tf.int32), where, dy)

            return y, grad

        return run(x)

    def batch_norm(ops, x, gamma, beta, epsilon):
        @tf.custom_gradient
        def run(x, gamma, beta):
            y, mean, variance = ops.mgc_batch_norm(x, gamma, beta, epsilon=epsilon)

            def grad(dy, dmean, dvariance):
                # the statistics leave only through stop_gradient (the moving averages): dmean, dvariance are None
                return ops.mgc_batch_norm_grad(x, dy, mean, variance, gamma, epsilon=epsilon)

            return (y, mean, variance), grad

        y, mean, variance = run(x, gamma, beta)
        return y, tf.stop_gradient(mean), tf.stop_gradient(variance)

    def _float32(*tensors) -> bool:
        return all(t.dtype == tf.float32 for t in tensors)

    @keras.saving.register_keras_serializable(package=_PACKAGE)
    class FusedConv2D(keras.layers.Conv2D):
        """``keras.layers.Conv2D`` whose 'valid' convolution + bias + ReLU runs on C++ kernels.

        One input channel: forward and gradients by the kernels. More: the forward pass by
        TensorFlow's op, the gradients of the kernel (and, for inputs at least three wide, of the
        input) by the kernels.
        """

        def _fusable(self, inputs) -> bool:
            return (
                keras.backend.backend() == "tensorflow"
                and self.data_format == "channels_last"
                and self.padding == "valid"
                and tuple(self.strides) == (1, 1)
                and tuple(self.dilation_rate) == (1, 1)
                and self.groups == 1
                and self.use_bias
                and self.activation is keras.activations.relu
                and inputs.shape[-1] is not None
            )

        def call(self, inputs):
            ops = kernels.load()
            if ops is None or not self._fusable(inputs):
                return super().call(inputs)
            w, b = tf.convert_to_tensor(self.kernel), tf.convert_to_tensor(self.bias)
            if not _float32(inputs, w, b):
                return super().call(inputs)
            if inputs.shape[-1] == 1:
                return conv_relu1(ops, inputs, w, b)
            return conv_relu(ops, self, inputs, w, b)

    @keras.saving.register_keras_serializable(package=_PACKAGE)
    class FusedMaxPooling2D(keras.layers.MaxPooling2D):
        """``keras.layers.MaxPooling2D`` keeping each maximum's position (a C++ kernel), for its gradient."""

        def call(self, inputs):
            ops = kernels.load()
            if (
                ops is None
                or keras.backend.backend() != "tensorflow"
                or self.data_format != "channels_last"
                or not _float32(inputs)
            ):
                return super().call(inputs)
            return max_pool(ops, inputs, self.pool_size, self.strides, self.padding.upper())

    @keras.saving.register_keras_serializable(package=_PACKAGE)
    class FusedBatchNormalization(keras.layers.BatchNormalization):
        """``keras.layers.BatchNormalization`` whose training-mode pass and gradient run as a C++ kernel."""

        def call(self, inputs, training=None, mask=None):
            ops = kernels.load()
            if (
                ops is None
                or not (training and self.trainable)
                or mask is not None
                or self.renorm
                or not (self.center and self.scale)
                or self.axis not in (-1, len(inputs.shape) - 1)
                or keras.backend.backend() != "tensorflow"
                or not _float32(inputs)
            ):
                return super().call(inputs, training=training, mask=mask)
            gamma, beta = tf.convert_to_tensor(self.gamma), tf.convert_to_tensor(self.beta)
            y, mean, variance = batch_norm(ops, inputs, gamma, beta, float(self.epsilon))
            # Keras's own update of the moving statistics
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
            return y

    return FusedConv2D, FusedMaxPooling2D, FusedBatchNormalization
