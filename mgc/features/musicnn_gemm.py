"""The musicnn port's forward pass as a few large matrix products (inference only, numpy).

The Keras model of :mod:`mgc.features.musicnn` is the port, proven against the
original graph; this module computes the same function from the same weights,
restructured so that a 2-core CPU spends its time in well-shaped single-precision
matrix products (BLAS) instead of TensorFlow's convolution kernels, which handle
the front-end's one-channel convolutions poorly (the three temporal ones ran at
about 4 GFLOP per CPU-second, against about 65 for a plain matrix product;
``bench/transfer.py --profile``). Nothing is dropped or approximated: in exact
arithmetic it is the same function, computed in another order (and, for the
timbral convolutions, another basis), so the outputs agree with the Keras
model's to float32 rounding (``tests/test_musicnn.py`` holds both to the
reference fixtures).

What is restructured, for ``k`` patches of 187 frames x 96 bands:

- **The timbral convolutions through a DFT over the bands** (7 frames x 38 or 67
  bands, 204 filters: 81 % of the network's FLOPs). A correlation over the 96
  bands is, per frequency bin of a 96-point DFT, a product of the input's
  spectrum with the kernel's conjugate spectrum; summed over the 7 frames it is
  one small product per bin, and one product with the inverse DFT brings the
  result back to the bands where the kernel fits (59 and 30), where a circular
  correlation equals the linear one. 8.8 GFLOP per 10 patches instead of 22.7.
- **The temporal convolutions as banded (Toeplitz) matrices** (128, 64 and 32
  frames x 1 band): ``k * 96`` rows of one band's frames, 17 output frames per
  product with one banded weight matrix shared by every block; 3-18 % of the
  multiplications are by zeros of the band.
- **Batch norm moved after the frequency max.** Each front-end branch is
  convolution, ReLU, batch norm, then a max over frequency. ReLU and a batch norm
  whose scale is positive are increasing, so the max can be taken first and the
  two applied to 187 values instead of 96 x 187. For a negative scale the max
  becomes a min: that channel's kernel is negated at load time, and one max
  serves both. The input batch norm is one scale and shift of the mel patch.
- **The mid-end's 1-D convolutions** as seven shifted products over all patches
  laid end to end with 6 zero frames between them (no copy of the windows).
- **Threads.** A call splits its patches over one thread per core, each with one
  BLAS thread: under load, BLAS's own threads spend more time waiting for each
  other than multiplying.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import ParameterError, check_positive_int

#: Output frames per product in the temporal convolutions.
TEMPORAL_BLOCK = 17
#: Frames (of all patches) whose spectra the timbral convolutions hold at once (a few MB: they stay in cache).
ROW_CHUNK = 128
_F32 = np.float32
# one forward pass at a time: each fills the cores, and the BLAS thread limit is process-wide
_LOCK = threading.Lock()


def _cpus() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(4, n))


@functools.lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _blas_limit():
    """One BLAS thread while a pass runs: the threads of :class:`MusicnnGemm` use the cores, and BLAS's own
    threads, busy-waiting for each other, cost 2-3x the CPU time on a loaded machine (``bench/transfer.py``)."""
    try:
        return _blas_controller().limit(limits=1, user_api="blas")
    except ImportError:  # threadpoolctl is a dependency; without it BLAS keeps its own threads
        return contextlib.nullcontext()


def _bn(layer) -> tuple[np.ndarray, np.ndarray]:
    """A batch-norm layer at inference as ``x * scale + shift``."""
    gamma, beta, mean, var = (np.asarray(w, np.float64) for w in layer.get_weights())
    scale = gamma / np.sqrt(var + layer.epsilon)
    return scale.astype(_F32), (beta - mean * scale).astype(_F32)


def _banded(kernel: np.ndarray, block: int) -> np.ndarray:
    """The weights of ``block`` neighbouring outputs of a 1-D correlation as one matrix.

    ``kernel`` has shape ``(taps, channels)``. Row ``s`` and column ``(j, c)`` of the
    result hold ``kernel[s - j, c]`` where ``0 <= s - j < taps``, else 0: ``block + taps - 1``
    consecutive inputs times this matrix are ``block`` consecutive outputs.
    """
    taps, channels = kernel.shape
    out = np.zeros((taps + block - 1, block, channels), _F32)
    for j in range(block):
        out[j : j + taps, j, :] = kernel
    return out.reshape(-1, block * channels)


def _sign(bn: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """+1 where a batch norm's scale is positive (it keeps the order of its inputs), -1 where it reverses it."""
    return np.where(bn[0] >= 0, 1, -1).astype(_F32)


class MusicnnGemm:
    """The forward pass of a model from :func:`mgc.features.musicnn.build_musicnn`, as matrix products.

    Parameters
    ----------
    model : keras.Model
        The port with its weights (:func:`mgc.features.musicnn.load_backbone`); only
        its weights are read, once.
    workers : int > 0 or None
        Threads a call splits its patches over, each with one BLAS thread (default:
        the CPUs this process may use, at most 4). Calls are serialised: the
        products already fill the cores.

    Examples
    --------
    >>> fn = MusicnnGemm(load_backbone())            # doctest: +SKIP
    >>> tags, mean_pool, max_pool, penultimate = fn(mel_patches(segments))   # doctest: +SKIP
    """

    def __init__(self, model, *, workers: int | None = None):
        self.workers = _cpus() if workers is None else check_positive_int("workers", workers)
        layer = model.get_layer
        self.input_bn = _bn(layer("input_bn"))
        self.frames, self.bands = model.input_shape[1], model.input_shape[2]
        self._dft_weights(layer)
        self.temporal = []
        for frames in (128, 64, 32):
            kernel, bias = layer(f"temporal_{frames}").get_weights()
            bn = _bn(layer(f"temporal_{frames}_bn"))
            sign = _sign(bn)
            k = kernel[:, 0, 0, :].astype(_F32) * sign  # (frames, 51)
            self.temporal.append((frames, _banded(k, TEMPORAL_BLOCK), sign, bias.astype(_F32), bn))
        self.midend = []
        for i in (1, 2, 3):
            kernel, bias = layer(f"midend_{i}").get_weights()  # (7, width, 64)
            self.midend.append((kernel.astype(_F32), bias.astype(_F32), _bn(layer(f"midend_{i}_bn"))))
        self.pool_bn = _bn(layer("pool_bn"))
        self.dense = [tuple(w.astype(_F32) for w in layer(n).get_weights()) for n in ("penultimate", "logits")]
        self.penultimate_bn = _bn(layer("penultimate_bn"))

    def _dft_weights(self, layer) -> None:
        """The timbral kernels in the frequency domain of a DFT over the 96 bands, and the way back."""
        n = self.bands
        self.bins = n // 2 + 1
        k = np.arange(self.bins)[None, :]
        g = np.arange(n)[:, None]
        angle = 2 * np.pi * k * g / n  # (bands, bins)
        # x @ dft: the real parts of the spectrum, then the imaginary parts
        self.dft = np.concatenate([np.cos(angle), -np.sin(angle)], axis=1).astype(_F32)
        weight = np.where((k == 0) | (2 * k == n), 1.0, 2.0) / n  # a real signal's spectrum is symmetric
        self.timbral = []
        for name in ("timbral_74", "timbral_77"):
            kernel, bias = layer(name).get_weights()  # (7, kernel bands, 1, channels)
            taps, kbands, _, channels = kernel.shape
            bn = _bn(layer(f"{name}_bn"))
            sign = _sign(bn)
            w = np.zeros((taps, n, channels))
            w[:, :kbands] = kernel[:, :, 0, :] * sign
            # the kernel's spectrum W: a correlation multiplies the input's spectrum X by conj(W)
            wr = np.einsum("tgc,gk->ktc", w, np.cos(angle))  # (bins, 7, channels)
            wi = np.einsum("tgc,gk->ktc", w, -np.sin(angle))
            # rows of the per-bin product: [Re X of the 7 frames, Im X of the 7 frames]
            to_real = np.concatenate([wr, wi], axis=1).astype(_F32)  # Re X Re W + Im X Im W
            to_imag = np.concatenate([-wi, wr], axis=1).astype(_F32)  # Im X Re W - Re X Im W
            # only the bands where the kernel fits inside the 96 (the circular DFT wraps past them)
            f = np.arange(n - kbands + 1)[None, :]
            inverse = np.concatenate(
                [weight.T * np.cos(2 * np.pi * k.T * f / n), -weight.T * np.sin(2 * np.pi * k.T * f / n)]
            )  # (2 * bins, valid bands)
            self.timbral.append((to_real, to_imag, inverse.T.astype(_F32), sign, bias.astype(_F32), bn))

    @staticmethod
    def _relu_bn_of_max(zmax: np.ndarray, sign, bias, bn) -> np.ndarray:
        """``max over frequency of bn(relu(z + bias))``, given the max over frequency of ``sign * z``."""
        scale, shift = bn
        return np.maximum(zmax * sign + bias, 0) * scale + shift

    def _timbral(self, x: np.ndarray) -> list[np.ndarray]:
        n, frames, bands = x.shape
        rows = n * frames
        # the DFT over bands of every frame (the 6 padding frames stay zero), then, per frequency bin, the
        # 7 frames around each frame: (bins, rows, [real x 7, imaginary x 7])
        spectra = np.zeros((n, frames + 6, 2 * self.bins), _F32)
        spectra[:, 3 : 3 + frames] = x @ self.dft
        windows = np.lib.stride_tricks.sliding_window_view(spectra, 7, axis=1)  # (n, frames, 2 * bins, 7)
        windows = windows.reshape(n, frames, 2, self.bins, 7).transpose(3, 0, 1, 2, 4).reshape(self.bins, rows, 14)
        out = []
        for to_real, to_imag, inverse, sign, bias, bn in self.timbral:
            channels = to_real.shape[-1]
            zmax = np.empty((rows, channels), _F32)
            spectrum = np.empty((2, self.bins, ROW_CHUNK, channels), _F32)
            for r0 in range(0, rows, ROW_CHUNK):  # a few frames at a time, so that their spectra stay in cache
                r = min(ROW_CHUNK, rows - r0)
                part = spectrum if r == ROW_CHUNK else np.empty((2, self.bins, r, channels), _F32)
                # per bin, the output's spectrum: (2, bins, r, channels) -> (2 * bins, r * channels)
                np.matmul(windows[:, r0 : r0 + r], to_real, out=part[0])
                np.matmul(windows[:, r0 : r0 + r], to_imag, out=part[1])
                z = inverse @ part.reshape(2 * self.bins, r * channels)  # (valid bands, r * channels): back to bands
                z.max(axis=0, out=zmax[r0 : r0 + r].reshape(-1))
            out.append(self._relu_bn_of_max(zmax, sign, bias, bn).reshape(n, frames, channels))
        return out

    def _temporal(self, x: np.ndarray) -> list[np.ndarray]:
        n, frames, bands = x.shape
        block = TEMPORAL_BLOCK
        rows = np.ascontiguousarray(np.swapaxes(x, 1, 2)).reshape(n * bands, frames)  # one band's frames per row
        n_blocks = -(-frames // block)
        out = []
        for taps, weights, sign, bias, bn in self.temporal:
            left = (taps - 1) // 2  # "same" padding, as TensorFlow places it
            padded = np.zeros((n * bands, n_blocks * block + taps - 1), _F32)
            padded[:, left : left + frames] = rows
            channels = weights.shape[1] // block
            zmax = np.empty((n, n_blocks * block, channels), _F32)
            for t0 in range(0, frames, block):
                z = (padded[:, t0 : t0 + block + taps - 1] @ weights).reshape(n, bands, block, channels)
                z.max(axis=1, out=zmax[:, t0 : t0 + block])
            out.append(self._relu_bn_of_max(zmax[:, :frames], sign, bias, bn))
        return out

    def _midend(self, front: np.ndarray) -> list[np.ndarray]:
        n, frames, _ = front.shape
        stride = frames + 6  # each patch with its 3 zero frames on either side, patches end to end
        outputs = []
        h = front
        for i, (kernel, bias, (scale, shift)) in enumerate(self.midend):
            line = np.zeros((n * stride, h.shape[-1]), _F32)
            line.reshape(n, stride, -1)[:, 3 : 3 + frames] = h
            length = n * stride - 6
            z = line[0:length] @ kernel[0]
            for dt in range(1, kernel.shape[0]):
                z += line[dt : dt + length] @ kernel[dt]
            # the output of frame t of patch p sits at row p * stride + t
            z = np.pad(z, ((0, 6), (0, 0))).reshape(n, stride, -1)[:, :frames] + bias
            c = np.maximum(z, 0) * scale + shift
            h = c if i == 0 else c + h
            outputs.append(h)
        return outputs

    def __call__(self, mel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The tagger's outputs for a batch of mel patches, as the Keras model gives them.

        Parameters
        ----------
        mel : np.ndarray [shape=(k, 187, 96)]
            Log-compressed mel patches (:func:`mgc.features.embed.mel_patches`).

        Returns
        -------
        tags : np.ndarray [shape=(k, 50), dtype=float32]
        mean_pool, max_pool : np.ndarray [shape=(k, 753), dtype=float32]
        penultimate : np.ndarray [shape=(k, 200), dtype=float32]
        """
        mel = np.asarray(mel, dtype=_F32)
        if mel.ndim != 3 or mel.shape[1:] != (self.frames, self.bands):
            raise ParameterError(
                f"mel must have shape (k, {self.frames}, {self.bands}): patches of mel frames x bands; got {mel.shape}"
            )
        workers = min(self.workers, len(mel))
        with _LOCK, _blas_limit():
            if workers <= 1:
                return self._forward(mel)
            with ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(self._forward, np.array_split(mel, workers)))
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))

    def _forward(self, mel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        scale, shift = self.input_bn
        x = mel * scale[0] + shift[0]
        front = np.concatenate([*self._timbral(x), *self._temporal(x)], axis=-1)  # (k, 187, 561)
        features = np.concatenate([front, *self._midend(front)], axis=-1)  # (k, 187, 753)
        max_pool, mean_pool = features.max(axis=1), features.mean(axis=1, dtype=_F32)
        # the original interleaves them per feature: max_0, mean_0, max_1, mean_1, ...
        h = np.stack([max_pool, mean_pool], axis=-1).reshape(len(mel), -1)
        h = h * self.pool_bn[0] + self.pool_bn[1]
        (w1, b1), (w2, b2) = self.dense
        penultimate = np.maximum(h @ w1 + b1, 0) * self.penultimate_bn[0] + self.penultimate_bn[1]
        logits = penultimate @ w2 + b2
        from scipy.special import expit  # the sigmoid, without overflow for large negative logits

        tags = expit(logits).astype(_F32)
        return tags, mean_pool, max_pool, penultimate
