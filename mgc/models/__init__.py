"""Stage 4, models: the study's networks as Keras builders, and the Keras bootstrap.

- :mod:`mgc.models.builders`: :func:`build_mlp`, :func:`build_cnn`, :func:`build_lstm` (named, uncompiled).
- :mod:`mgc.models.builders` also has :func:`build_transfer`, the head on pretrained embeddings.
- :mod:`mgc.models.fused`: :func:`fused_classes` (the LSTM and Adam as fused TensorFlow kernels, for the
  fast training path) and :func:`plain_config` (back to plain Keras layers before a model is stored).
- :func:`keras_module` (TensorFlow backend, quiet) and :func:`seeded_keras` come from :mod:`mgc.backend`, the
  Keras bootstrap every stage that runs Keras shares.

Nothing here imports Keras until a model is built or loaded.
"""

from ..backend import keras_module, seeded_keras
from .builders import (
    BUILDERS,
    CNN_DEVIATION,
    MODEL_NAMES,
    STUDY_LEARNING_RATE,
    build,
    build_cnn,
    build_lstm,
    build_mlp,
    build_transfer,
)
from .fused import fused_classes, plain_config

__all__ = [
    "BUILDERS",
    "CNN_DEVIATION",
    "MODEL_NAMES",
    "STUDY_LEARNING_RATE",
    "build",
    "build_cnn",
    "build_lstm",
    "build_mlp",
    "build_transfer",
    "fused_classes",
    "plain_config",
    "keras_module",
    "seeded_keras",
]
