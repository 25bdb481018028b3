"""Benchmark: where one training step of the study's CNN spends its time, layer by layer and op by op.

Prints two markdown tables for one batch (``--batch-size``, 32 by default) of synthetic 130 x 13 segments,
TensorFlow's op determinism on (as :func:`mgc.training.train` runs):

* per layer of :func:`mgc.models.build_cnn`: CPU milliseconds of its forward pass and its gradients (for
  its weights, and for its input except the first convolution's, whose input needs none in training),
  each layer alone in a ``tf.function`` (median of ``--repeats`` batches);
* per op of the first two blocks, and candidates that compute the same function another way: a
  convolution as shifted slices concatenated and one matrix product (im2col, gradients by autodiff),
  max pooling as separable shifted maxima or as TensorFlow's pooling along each axis in turn, max pooling's
  gradient through ``MaxPoolWithArgmax`` or as masks of the window offsets, the pooling before the bias and
  ReLU (exact: max commutes with both), and batch normalisation as TensorFlow's fused kernel.
  Each candidate row says whether it gives the reference's outputs and gradients.

CPU seconds are process time (both cores); the load is printed, since the machine may be shared.

Usage::

    python bench/cnn_ops.py
    python bench/cnn_ops.py --repeats 100
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from pathlib import Path

from _timing import load_line  # bench/ is first on sys.path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _ms(fn, repeats: int) -> float:
    """Median CPU milliseconds of one call of the traced ``fn`` (after one call that traces it)."""
    fn()
    times = []
    for _ in range(repeats):
        c = time.process_time()
        fn()
        times.append(time.process_time() - c)
    return 1e3 * statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=40)
    p.add_argument("--layers-only", action="store_true", help="only the per-layer table (both builds)")
    args = p.parse_args(argv)

    import numpy as np
    import tensorflow as tf
    from tensorflow.python.ops import gen_nn_ops

    from mgc.models import build

    tf.config.experimental.enable_op_determinism()
    before = os.getloadavg()
    print(f"CPU: {os.cpu_count()} cores; load (1/5/15 min) before: {before[0]:.2f} / {before[1]:.2f} / {before[2]:.2f}")
    rng = np.random.default_rng(0)
    batch = tf.constant(rng.standard_normal((args.batch_size, 130, 13)).astype(np.float32))
    tables = {}
    for fused in (False, True):
        tf.keras.utils.set_random_seed(0) if hasattr(tf, "keras") else None
        model = build("cnn", (130, 13), 10, fused=fused)
        h = batch
        rows = []
        for layer in model.layers[1:]:
            x = h
            watch_input = layer.name != "conv_1" and layer.name != "add_channel"

            @tf.function
            def step(x=x, layer=layer, watch_input=watch_input):
                with tf.GradientTape() as tape:
                    if watch_input:
                        tape.watch(x)
                    out = layer(x, training=True)
                    loss = tf.reduce_sum(tf.sin(out))
                return tape.gradient(loss, ([x] if watch_input else []) + layer.trainable_weights)

            ms = _ms(step, args.repeats)
            h = layer(x, training=True)
            rows.append((layer.name, tuple(h.shape[1:]), ms))
        tables[fused] = rows
    from mgc.models import kernels

    print()
    print(f"Per layer, forward + gradients, batch {args.batch_size} (median of {args.repeats}); *fused*: the fast")
    print(
        f"path's layers (mgc.models.fused_conv; C++ kernels {'loaded' if kernels.load() else 'NOT loaded: '}"
        f"{kernels.unavailable_reason() or ''}):"
    )
    print()
    print("| layer | output | CPU ms, Keras layers | CPU ms, fused |")
    print("|---|---|---:|---:|")
    for (name, shape, ms), (_, _, fms) in zip(tables[False], tables[True], strict=True):
        print(f"| {name} | {'x'.join(map(str, shape))} | {ms:.2f} | {fms:.2f} |")
    print(f"| **sum** | | {sum(r[2] for r in tables[False]):.2f} | {sum(r[2] for r in tables[True]):.2f} |")
    if args.layers_only:
        print(load_line(before))
        return 0
    model = build("cnn", (130, 13), 10)

    def conv_im2col(x, k):
        kh, kw, c, f = k.shape
        hh, ww = x.shape[1] - kh + 1, x.shape[2] - kw + 1
        cols = tf.concat([x[:, i : i + hh, j : j + ww, :] for i in range(kh) for j in range(kw)], axis=-1)
        y = tf.matmul(tf.reshape(cols, (-1, kh * kw * c)), tf.reshape(k, (kh * kw * c, f)))
        return tf.reshape(y, (-1, hh, ww, f))

    def pool_separable(x, size, stride):
        for axis in (1, 2):
            n = x.shape[axis]
            out = -(-n // stride)
            total = max((out - 1) * stride + size - n, 0)
            pads = [[0, 0]] * 4
            pads[axis] = [total // 2, total - total // 2]
            xp = tf.pad(x, pads, constant_values=float("-inf"))
            m = None
            for i in range(size):
                index = [slice(None)] * 4
                index[axis] = slice(i, i + (out - 1) * stride + 1, stride)
                m = xp[tuple(index)] if m is None else tf.maximum(m, xp[tuple(index)])
            x = m
        return x

    def _place(g, axis):
        """Interleave the gradients of window offsets 0, 1, 2 (stride 2) along ``axis``: size 2n + 1."""
        g0, g1, g2 = g

        def pads(a, b):
            return [[0, 0]] * axis + [[a, b]] + [[0, 0]] * (3 - axis)

        even = tf.pad(g0, pads(0, 1)) + tf.pad(g2, pads(1, 0))
        stacked = tf.stack([even, tf.pad(g1, pads(0, 1))], axis=axis + 1)
        shape = stacked.shape.as_list()
        merged = tf.reshape(
            stacked, [-1 if d is None else d for d in shape[:axis]] + [2 * shape[axis]] + shape[axis + 2 :]
        )
        index = [slice(None)] * 4
        index[axis] = slice(0, 2 * g0.shape[axis] + 1)
        return merged[tuple(index)]

    def pool_grad_masks(x, pooled, dp):
        """MaxPoolGrad (3x3, stride 2, 'same') as masks of the window offsets (first maximum wins), in TF ops."""
        _, hh, ww, _ = x.shape
        oh, ow = pooled.shape[1], pooled.shape[2]
        th, tw = 2 * oh + 1 - hh, 2 * ow + 1 - ww
        xp = tf.pad(
            x, [[0, 0], [th // 2, th - th // 2], [tw // 2, tw - tw // 2], [0, 0]], constant_values=float("-inf")
        )
        taken, zero = tf.zeros_like(pooled, dtype=tf.bool), tf.zeros_like(dp)
        g = [[None] * 3 for _ in range(3)]
        for i in range(3):
            for j in range(3):
                hit = tf.logical_and(tf.equal(xp[:, i : i + 2 * oh - 1 : 2, j : j + 2 * ow - 1 : 2, :], pooled), ~taken)
                taken = tf.logical_or(taken, hit)
                g[i][j] = tf.where(hit, dp, zero)
        dxp = _place([_place(g[i], 2) for i in range(3)], 1)
        return dxp[:, th // 2 : th // 2 + hh, tw // 2 : tw // 2 + ww, :]

    def separable_native(x):
        return tf.nn.max_pool2d(tf.nn.max_pool2d(x, (3, 1), (2, 1), "SAME"), (1, 3), (1, 2), "SAME")

    def grads(fn, x, k=None, watch_input=True):
        """Outputs and gradients of ``sum(sin(fn(...)))`` for ``x`` (if watched) and ``k``."""
        with tf.GradientTape() as tape:
            watched = ([x] if watch_input else []) + ([k] if k is not None else [])
            tape.watch(watched)
            out = fn(x, k) if k is not None else fn(x)
            loss = tf.reduce_sum(tf.sin(out))
        return [out, *tape.gradient(loss, watched)]

    def same(a, b) -> str:
        worst = max(float(np.abs(u - v).max() / (np.abs(u).max() + 1e-12)) for u, v in zip(a, b, strict=True))
        return "bit for bit" if worst == 0 else f"to {worst:.0e} (relative)"

    ops = []
    for block_no, (shape, kernel) in enumerate((((130, 13, 1), 3), ((64, 6, 32), 3)), start=1):
        x = tf.constant(rng.standard_normal((args.batch_size, *shape)).astype(np.float32))
        k = tf.constant(0.3 * rng.standard_normal((kernel, kernel, shape[-1], 32)).astype(np.float32))
        y = tf.nn.conv2d(x, k, 1, "VALID")
        dy = tf.sin(y)
        first = block_no == 1  # the first convolution's input needs no gradient in training
        label = f"conv_{block_no} {'x'.join(map(str, shape))} -> {'x'.join(map(str, y.shape[1:]))}"
        ops.append(
            (
                label,
                "Conv2D (forward)",
                _ms(tf.function(lambda x=x, k=k: tf.nn.conv2d(x, k, 1, "VALID")), args.repeats),
                "",
            )
        )
        ops.append(
            (
                label,
                "Conv2DBackpropFilter",
                _ms(
                    tf.function(
                        lambda x=x, k=k, dy=dy: tf.compat.v1.nn.conv2d_backprop_filter(x, k.shape, dy, [1] * 4, "VALID")
                    ),
                    args.repeats,
                ),
                "",
            )
        )
        if not first:
            ops.append(
                (
                    label,
                    "Conv2DBackpropInput",
                    _ms(
                        tf.function(
                            lambda x=x, k=k, dy=dy: tf.compat.v1.nn.conv2d_backprop_input(
                                x.shape, k, dy, [1] * 4, "VALID"
                            )
                        ),
                        args.repeats,
                    ),
                    "",
                )
            )
        ref = grads(lambda x, k: tf.nn.conv2d(x, k, 1, "VALID"), x, k, watch_input=not first)
        ops.append(
            (
                label,
                "reference: forward + gradients",
                _ms(
                    tf.function(
                        lambda x=x, k=k, f=first: grads(
                            lambda a, b: tf.nn.conv2d(a, b, 1, "VALID"), x, k, watch_input=not f
                        )
                    ),
                    args.repeats,
                ),
                "",
            )
        )
        cand = grads(conv_im2col, x, k, watch_input=not first)
        ops.append(
            (
                label,
                "candidate: im2col (slices + one matmul), autodiff",
                _ms(tf.function(lambda x=x, k=k, f=first: grads(conv_im2col, x, k, watch_input=not f)), args.repeats),
                same(ref, cand),
            )
        )
        r = tf.nn.relu(y)
        pooled = tf.nn.max_pool2d(r, 3, 2, "SAME")
        dp = tf.sin(pooled)
        plabel = f"pool_{block_no} 3x3 stride 2 on {'x'.join(map(str, r.shape[1:]))}"
        ops.append(
            (
                plabel,
                "MaxPool (forward)",
                _ms(tf.function(lambda r=r: tf.nn.max_pool2d(r, 3, 2, "SAME")), args.repeats),
                "",
            )
        )
        ops.append(
            (
                plabel,
                "MaxPoolGrad",
                _ms(
                    tf.function(
                        lambda r=r, p=pooled, d=dp: gen_nn_ops.max_pool_grad(
                            r, p, d, [1, 3, 3, 1], [1, 2, 2, 1], "SAME"
                        )
                    ),
                    args.repeats,
                ),
                "",
            )
        )
        ops.append(
            (
                plabel,
                "candidate: MaxPoolWithArgmax (forward)",
                _ms(
                    tf.function(
                        lambda r=r: tf.nn.max_pool_with_argmax(r, 3, 2, "SAME", include_batch_in_index=True)[0]
                    ),
                    args.repeats,
                ),
                "",
            )
        )
        _, argmax = tf.nn.max_pool_with_argmax(r, 3, 2, "SAME", include_batch_in_index=True)
        ops.append(
            (
                plabel,
                "candidate: MaxPoolGradWithArgmax",
                _ms(
                    tf.function(
                        lambda r=r, d=dp, a=argmax: gen_nn_ops.max_pool_grad_with_argmax(
                            r, d, a, [1, 3, 3, 1], [1, 2, 2, 1], "SAME", include_batch_in_index=True
                        )
                    ),
                    args.repeats,
                ),
                "",
            )
        )
        ref_grad = gen_nn_ops.max_pool_grad(r, pooled, dp, [1, 3, 3, 1], [1, 2, 2, 1], "SAME")
        mask_grad = tf.function(pool_grad_masks)(r, pooled, dp)
        ops.append(
            (
                plabel,
                "candidate: MaxPoolGrad as masks of the 9 window offsets (TF ops)",
                _ms(tf.function(lambda r=r, p=pooled, d=dp: pool_grad_masks(r, p, d)), args.repeats),
                same([ref_grad], [mask_grad]),
            )
        )
        bias = tf.constant(0.1 * rng.standard_normal(32).astype(np.float32))

        def block(x, k, b=bias, pool_first=False):
            y = tf.nn.conv2d(x, k, 1, "VALID")
            if pool_first:  # max commutes with a per-channel bias and with ReLU (both monotone): the same outputs
                return tf.nn.relu(tf.nn.bias_add(tf.nn.max_pool2d(y, 3, 2, "SAME"), b))
            return tf.nn.max_pool2d(tf.nn.relu(tf.nn.bias_add(y, b)), 3, 2, "SAME")

        blabel = f"conv_{block_no} + bias + ReLU + pool_{block_no}"
        bref = grads(block, x, k, watch_input=not first)
        ops.append(
            (
                blabel,
                "reference: Keras's order, forward + gradients",
                _ms(tf.function(lambda x=x, k=k, f=first: grads(block, x, k, watch_input=not f)), args.repeats),
                "",
            )
        )
        bcand = grads(functools.partial(block, pool_first=True), x, k, watch_input=not first)
        ops.append(
            (
                blabel,
                "candidate: pool before bias and ReLU (4x fewer values for the element-wise ops)",
                _ms(
                    tf.function(
                        lambda x=x, k=k, f=first: grads(
                            functools.partial(block, pool_first=True), x, k, watch_input=not f
                        )
                    ),
                    args.repeats,
                ),
                same(bref, bcand),
            )
        )
        # a random input (no ReLU zeros): ties would make the two gradients' choice of maximum differ
        z = tf.constant(rng.standard_normal(r.shape).astype(np.float32))
        pref = grads(lambda a: tf.nn.max_pool2d(a, 3, 2, "SAME"), z)
        ops.append(
            (
                plabel,
                "reference: forward + gradient",
                _ms(tf.function(lambda z=z: grads(lambda a: tf.nn.max_pool2d(a, 3, 2, "SAME"), z)), args.repeats),
                "",
            )
        )
        pcand = grads(lambda a: pool_separable(a, 3, 2), z)
        ops.append(
            (
                plabel,
                "candidate: separable shifted maxima, autodiff",
                _ms(tf.function(lambda z=z: grads(lambda a: pool_separable(a, 3, 2), z)), args.repeats),
                same(pref, pcand),
            )
        )
        ops.append(
            (
                plabel,
                "candidate: separable, TensorFlow's MaxPool (3, 1) then (1, 3), forward + gradients",
                _ms(tf.function(lambda z=z: grads(separable_native, z)), args.repeats),
                same(pref, grads(separable_native, z)),
            )
        )
    import keras

    z = tf.constant(rng.standard_normal((args.batch_size, 64, 6, 32)).astype(np.float32))
    bn = keras.layers.BatchNormalization()
    bn.build(z.shape)
    gamma, beta = tf.Variable(tf.ones(32)), tf.Variable(tf.zeros(32))

    def keras_bn():
        with tf.GradientTape() as tape:
            tape.watch(z)
            out = bn(z, training=True)
            loss = tf.reduce_sum(tf.sin(out))
        return [out, *tape.gradient(loss, [z, *bn.trainable_weights])]

    def fused_bn():
        with tf.GradientTape() as tape:
            tape.watch(z)
            out = tf.compat.v1.nn.fused_batch_norm(z, gamma, beta, epsilon=bn.epsilon, is_training=True)[0]
            loss = tf.reduce_sum(tf.sin(out))
        return [out, *tape.gradient(loss, [z, gamma, beta])]

    blabel = "batchnorm_1 on 64x6x32"
    ops.append(
        (
            blabel,
            "reference: Keras BatchNormalization, forward + gradients",
            _ms(tf.function(keras_bn), args.repeats),
            "",
        )
    )
    ops.append(
        (
            blabel,
            "candidate: FusedBatchNormV3 (no moving statistics kept)",
            _ms(tf.function(fused_bn), args.repeats),
            same(keras_bn(), fused_bn()),
        )
    )
    print()
    print(f"Per op, batch {args.batch_size} (median of {args.repeats}), and candidates for the same function:")
    print()
    print("| where | op or candidate | CPU ms | same as the reference |")
    print("|---|---|---:|---|")
    for where, what, ms, eq in ops:
        print(f"| {where} | {what} | {ms:.2f} | {eq} |")
    print()
    print(load_line(before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
