"""The Keras bootstrap: Keras on the TensorFlow backend, quiet, and seeded when a run starts.

It sits under every stage (like :mod:`mgc.config`): feature extraction runs the
pretrained tagger, the models stage builds networks, the run store loads them.

Every stage that needs Keras at run time (training, loading a stored model) goes
through :func:`keras_module`, so the backend and TensorFlow's log level are set in
one place before the first import.
"""

from __future__ import annotations

import os


def keras_module():
    """Import Keras on the TensorFlow backend with TensorFlow's start-up chatter silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


def seeded_keras(seed: int):
    """:func:`keras_module`, with Python, NumPy and TensorFlow seeded and TensorFlow's ops made deterministic."""
    keras = keras_module()
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    return keras
