"""The CNN's first convolution and its max pooling on the kernels of :mod:`mgc.models.kernels`, as Keras layers.

:class:`FusedConv2D` is ``keras.layers.Conv2D`` and :class:`FusedMaxPooling2D` is
``keras.layers.MaxPooling2D``; where the layer's settings fit a kernel (TensorFlow backend,
channels last, float32; for the convolution also one input channel, stride and dilation 1,
'valid' padding, a bias and ReLU) its forward pass and gradient run the kernel, otherwise the
Keras layer's own code. Their weights, configuration and outputs are those of the Keras layers:
pooling is exact (the same maxima, the gradient at the same first maximum of each window), the
convolution equal to float32 rounding (the same nine products summed in another order).

They are used on the fast path of :func:`mgc.training.train` (``TrainConfig.fast``), like the
fused LSTM and Adam of :mod:`mgc.models.fused`, and :func:`mgc.models.fused.plain_config` turns
them back into the plain Keras layers before a model is stored. Without the kernels (no C++
compiler: :func:`mgc.models.kernels.unavailable_reason`) they are the Keras layers exactly.
"""

from __future__ import annotations

import functools

from . import kernels


def kernels_in_use() -> bool:
    """Whether the layers run the C++ kernels in this process (built and loaded, see :mod:`mgc.models.kernels`)."""
    return kernels.load() is not None


@functools.cache
def conv_classes():
    """``(FusedConv2D, FusedMaxPooling2D)``, defined once Keras is imported (on the TensorFlow backend)."""
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

    def max_pool(ops, x, pool_size, strides, padding):
        @tf.custom_gradient
        def run(x):
            y, where = ops.mgc_max_pool(x, ksize=list(pool_size), strides=list(strides), padding=padding)

            def grad(dy):
                return ops.mgc_max_pool_grad(tf.shape(x, out_type=tf.int32), where, dy)

            return y, grad

        return run(x)

    def _float32(*tensors) -> bool:
        return all(t.dtype == tf.float32 for t in tensors)

    @keras.saving.register_keras_serializable(package=_PACKAGE)
    class FusedConv2D(keras.layers.Conv2D):
        """``keras.layers.Conv2D`` whose one-channel 'valid' convolution + bias + ReLU runs as a C++ kernel."""

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
                and inputs.shape[-1] == 1
            )

        def call(self, inputs):
            ops = kernels.load()
            if ops is None or not self._fusable(inputs):
                return super().call(inputs)
            w, b = tf.convert_to_tensor(self.kernel), tf.convert_to_tensor(self.bias)
            if not _float32(inputs, w, b):
                return super().call(inputs)
            return conv_relu1(ops, inputs, w, b)

    @keras.saving.register_keras_serializable(package=_PACKAGE)
    class FusedMaxPooling2D(keras.layers.MaxPooling2D):
        """``keras.layers.MaxPooling2D`` whose pooling keeps each maximum's position (a C++ kernel), for its gradient."""

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

    return FusedConv2D, FusedMaxPooling2D
