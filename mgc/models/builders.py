"""The study's three networks, and the transfer head beyond the study, as Keras builders.

Each study builder takes the input shape ``(frames, n_mfcc)`` and the number of classes
and returns a named, uncompiled ``keras.Model`` (softmax output). An optional
``normalize`` layer (a fitted ``keras.layers.Normalization``) is put first when
the caller standardises inputs inside the model (the "improved" configuration);
the study-exact configuration has none.

:func:`build_transfer` is the fourth model: a small head on the frozen embeddings
of a pretrained tagger (input ``(width,)``, see :mod:`mgc.features.embed`), the
transfer learning the study names as future work.

The CNN and the study's text
----------------------------
Table 1 of the study gives three 32-filter convolutions (3x3, 3x3, 2x2, ReLU),
each followed by max-pooling with a "3x3 grid size, 3x3 strides", edges padded,
and batch normalisation. Taken literally on a 130 x 13 input with unpadded
("valid") convolutions, the width shrinks 13 -> 11 -> pool 4 -> 2 -> pool 1, and
the third 2x2 convolution no longer fits a width of 1: the network cannot be
built. The public tutorial code the study follows pools with 3x3 windows and
2x2 strides (2x2 window for the last pool), which fits (13 -> 11 -> 6 -> 4 -> 2
-> 1 -> 1). :func:`build_cnn` uses that as the default (``pool_strides=2``) and
keeps the stride a parameter; ``pool_strides=3`` raises a
:class:`~mgc.errors.ParameterError` that says where the shape collapses unless
``conv_padding="same"`` is also chosen.
"""

from __future__ import annotations

from ..config import MODEL_NAMES
from ..errors import ParameterError, check_positive_int

#: Learning rate of Adam per model: the study states 1e-4 for the RNN-LSTM; the
#: tutorial code it follows uses 1e-4 for all three.
#: The transfer head (not in the study) uses Adam's usual 1e-3: a shallow head on fixed features.
STUDY_LEARNING_RATE = {"mlp": 1e-4, "cnn": 1e-4, "lstm": 1e-4, "transfer": 1e-3}

#: What the CNN builder does differently from the study's literal text.
CNN_DEVIATION = (
    "The study's literal pooling (3x3 windows, 3x3 strides) cannot be built on a 130x13 input: "
    "after the second pooling the map is 1 coefficient wide, too narrow for the third 2x2 convolution. "
    "We use the stride of the tutorial code the study follows (3x3 windows, 2x2 strides, 'same' padding; "
    "2x2 window for the last pooling), which fits; the stride is a parameter."
)


def _check(input_shape, n_classes: int) -> tuple[int, int]:
    import numbers

    shape = tuple(input_shape)
    if len(shape) != 2 or not all(isinstance(v, numbers.Integral) and v > 0 for v in shape):
        raise ParameterError(f"input_shape={shape} must be (frames, n_mfcc) with positive integer sizes")
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 2:
        raise ParameterError(f"n_classes={n_classes!r} must be an integer >= 2")
    return int(shape[0]), int(shape[1])


def _dropout(name: str, rate: float) -> float:
    if not 0 <= rate < 1:
        raise ParameterError(f"{name}={rate!r} must be in [0, 1)")
    return rate


def _inputs(shape, normalize, noise: float = 0.0):
    import keras

    if not 0 <= noise:
        raise ParameterError(f"input_noise={noise!r} must be >= 0 (a standard deviation)")
    inputs = keras.Input(shape=shape, name="mfcc")
    x = normalize(inputs) if normalize is not None else inputs
    if noise > 0:  # active while training only
        x = keras.layers.GaussianNoise(noise, name="input_noise")(x)
    return inputs, x


def build_mlp(input_shape, n_classes: int, *, dropout: float = 0.3, normalize=None, input_noise: float = 0.0):
    """The study's MLP: flatten -> Dense 512 -> 256 -> 128 (ReLU), dropout after each.

    Parameters
    ----------
    input_shape : tuple (frames, n_mfcc)
    n_classes : int >= 2
    dropout : float in [0, 1)
        Rate after each hidden layer (0.3 in the tutorial code).
    normalize : keras layer or None
        Put first (e.g. a fitted ``keras.layers.Normalization``).
    input_noise : float
        Standard deviation of Gaussian noise added after ``normalize`` while
        training (0: no noise layer). Not part of the study.

    Returns
    -------
    keras.Model named ``"mlp"``, uncompiled.
    """
    import keras
    from keras import layers

    shape = _check(input_shape, n_classes)
    _dropout("dropout", dropout)
    inputs, x = _inputs(shape, normalize, input_noise)
    x = layers.Flatten(name="flatten")(x)
    # three fully connected layers, each followed by dropout
    for i, units in enumerate((512, 256, 128), start=1):
        x = layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
        x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="genre")(x)
    return keras.Model(inputs, outputs, name="mlp")


def build_cnn(
    input_shape,
    n_classes: int,
    *,
    pool_strides: int = 2,
    conv_padding: str = "valid",
    dropout: float = 0.3,
    normalize=None,
    input_noise: float = 0.0,
    fused: bool = False,
):
    """The study's CNN (Table 1), with the pooling stride as a parameter.

    Three blocks of Conv2D (32 filters; 3x3, 3x3, 2x2; ReLU) -> MaxPooling
    (3x3, 3x3, 2x2 windows; ``pool_strides``; padded) -> BatchNormalization, then
    flatten -> Dense 64 (ReLU) -> dropout -> softmax. See the module docstring for
    why the default stride is 2, not the 3 of the study's text.

    Parameters
    ----------
    input_shape : tuple (frames, n_mfcc)
    n_classes : int >= 2
    pool_strides : int
        Stride of every pooling layer (2 fits; the study's text says 3).
    conv_padding : {'valid', 'same'}
        Padding of the convolutions ('valid' as in the tutorial code).
    dropout : float in [0, 1)
        Rate before the output (0.3 in the study).
    normalize : keras layer or None
    input_noise : float
        As in :func:`build_mlp`.
    fused : bool
        Run the first convolution, every pooling and batch normalisation on the C++ kernels of :mod:`mgc.models.kernels`
        (:mod:`mgc.models.fused_conv`: the same weights and function, pooling exactly, the convolution
        to float32 rounding; for training, see :func:`mgc.models.fused.plain_config` for storing).

    Returns
    -------
    keras.Model named ``"cnn"``, uncompiled.

    Raises
    ------
    ParameterError
        The feature map becomes too small for a layer with these settings.
    """
    import keras
    from keras import layers

    frames, coeffs = _check(input_shape, n_classes)
    _dropout("dropout", dropout)
    if conv_padding not in ("valid", "same"):
        raise ParameterError(f"conv_padding={conv_padding!r} must be 'valid' or 'same'")
    pool_strides = check_positive_int("pool_strides", pool_strides)
    if not isinstance(fused, bool):
        raise ParameterError(f"fused={fused!r} must be True or False")
    conv, pooling, batchnorm = layers.Conv2D, layers.MaxPooling2D, layers.BatchNormalization
    if fused:
        from .fused_conv import conv_classes

        conv, pooling, batchnorm = conv_classes()
    inputs, x = _inputs((frames, coeffs), normalize, input_noise)
    x = layers.Reshape((frames, coeffs, 1), name="add_channel")(x)
    h, w = frames, coeffs
    for i, (kernel, pool) in enumerate(((3, 3), (3, 3), (2, 2)), start=1):
        if conv_padding == "valid":
            h, w = h - kernel + 1, w - kernel + 1
        if h < 1 or w < 1:
            raise ParameterError(
                f"pool_strides={pool_strides} with conv_padding={conv_padding!r}: the {kernel}x{kernel} kernel of "
                f"convolution {i} does not fit the {h + kernel - 1}x{w + kernel - 1} feature map it receives; "
                "use pool_strides=2 (the tutorial code's) or conv_padding='same'"
            )
        # convolution, pooling ('same' padding pads the edges), batch normalisation
        x = conv(32, (kernel, kernel), activation="relu", padding=conv_padding, name=f"conv_{i}")(x)
        x = pooling((pool, pool), strides=(pool_strides, pool_strides), padding="same", name=f"pool_{i}")(x)
        x = batchnorm(name=f"batchnorm_{i}")(x)
        h, w = -(-h // pool_strides), -(-w // pool_strides)
    # classifier head
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="genre")(x)
    return keras.Model(inputs, outputs, name="cnn")


def build_lstm(
    input_shape, n_classes: int, *, dropout: float = 0.3, normalize=None, input_noise: float = 0.0, fused: bool = False
):
    """The study's RNN-LSTM: LSTM 64 (sequences) -> LSTM 64 -> Dense 64 ReLU -> dropout -> softmax.

    Parameters
    ----------
    input_shape : tuple (frames, n_mfcc)
        Frames are the time steps.
    n_classes : int >= 2
    dropout : float in [0, 1)
    normalize : keras layer or None
    input_noise : float
        As in :func:`build_mlp`.
    fused : bool
        Run each LSTM layer as TensorFlow's fused CPU kernel (:class:`mgc.models.fused.FusedLSTM`:
        the same weights and function, to float32 rounding; for training, see
        :func:`mgc.models.fused.plain_config` for storing).

    Returns
    -------
    keras.Model named ``"lstm"``, uncompiled.
    """
    import keras
    from keras import layers

    shape = _check(input_shape, n_classes)
    _dropout("dropout", dropout)
    if not isinstance(fused, bool):
        raise ParameterError(f"fused={fused!r} must be True or False")
    lstm = layers.LSTM
    if fused:
        from .fused import fused_classes

        lstm = fused_classes()[0]
    inputs, x = _inputs(shape, normalize, input_noise)
    # two stacked LSTM layers over the frames
    x = lstm(64, return_sequences=True, name="lstm_1")(x)
    x = lstm(64, name="lstm_2")(x)
    # classifier head
    x = layers.Dense(64, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="genre")(x)
    return keras.Model(inputs, outputs, name="lstm")


def build_transfer(
    input_shape, n_classes: int, *, dropout: float = 0.3, normalize=None, input_noise: float = 0.0, hidden: int = 256
):
    """The transfer head: a small classifier on a pretrained tagger's embeddings (beyond the study).

    Parameters
    ----------
    input_shape : tuple of int
        ``(width,)``: the embedding size (1506 for musicnn's pooled embeddings).
    n_classes : int
    dropout : float
        Rate of the dropout before each dense layer.
    normalize : keras.layers.Normalization or None
        Standardisation fitted on the training embeddings (the improved recipe).
    input_noise : float
        Standard deviation of Gaussian noise added to the inputs while training.
    hidden : int
        ReLU units of the one hidden layer; 0 makes the head a logistic regression.

    Returns
    -------
    keras.Model
        Named ``transfer``, softmax output.
    """
    import numbers

    import keras

    shape = tuple(input_shape)
    if len(shape) != 1 or not isinstance(shape[0], numbers.Integral) or shape[0] <= 0:
        raise ParameterError(f"input_shape={shape} must be (width,): one embedding per segment")
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 2:
        raise ParameterError(f"n_classes={n_classes!r} must be an integer >= 2")
    if isinstance(hidden, bool) or not isinstance(hidden, numbers.Integral) or hidden < 0:
        raise ParameterError(f"hidden={hidden!r} must be an integer >= 0 (0: no hidden layer)")
    _dropout("dropout", dropout)
    layers = keras.layers
    inputs = keras.Input(shape=shape, name="embedding")
    x = normalize(inputs) if normalize is not None else inputs
    if input_noise > 0:
        x = layers.GaussianNoise(input_noise, name="input_noise")(x)
    x = layers.Dropout(dropout, name="dropout_in")(x)
    if hidden:
        x = layers.Dense(hidden, activation="relu", name="dense")(x)
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="genre")(x)
    return keras.Model(inputs, outputs, name="transfer")


BUILDERS = {"mlp": build_mlp, "cnn": build_cnn, "lstm": build_lstm, "transfer": build_transfer}


def build(name: str, input_shape, n_classes: int, **kwargs):
    """Build one of :data:`MODEL_NAMES` by name (keyword arguments go to its builder)."""
    if name not in BUILDERS:
        raise ParameterError(f"model={name!r} is not one of {', '.join(MODEL_NAMES)}")
    return BUILDERS[name](input_shape, n_classes, **kwargs)
