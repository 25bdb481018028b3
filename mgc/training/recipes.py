"""The recipes a run is trained with, and :class:`TrainConfig`, everything that defines a run besides the data.

Two recipes, named so that results say what made them (:func:`describe_recipe`
puts their settings into words, for pages and the CLI):

``study``
    The study's pipeline taken as is: raw MFCCs (no input scaling), Adam, the
    study's learning rate and dropout, every epoch run, no class weights.
``improved``
    The same networks, trained the way an honest split needs: per-coefficient
    standardisation fitted on the training part only (a ``Normalization`` layer
    inside the model, so classification applies it too); every epoch, each
    training segment replaced by a 3-s window cut at a random frame of its
    track's training segments, then mixed with another example by mixup
    (:mod:`mgc.training.augment`); Adam decaying to 0 along a cosine; balanced
    class weights; no early stopping.

Every setting of a recipe is a field of :class:`TrainConfig` of the same name:
``None`` takes the recipe's value, anything else overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..config import MODEL_NAMES, STUDY_MODELS
from ..dataset import EVALUATE_ON, SPLITS
from ..errors import ParameterError, check_positive_int
from ..models import STUDY_LEARNING_RATE

RECIPES = {
    "study": {
        "standardize": False,
        "early_stopping": 0,
        "class_weight": False,
        "learning_rate": None,
        "input_noise": 0.0,
        "monitor": "val_loss",
        "random_windows": False,
        "mixup": 0.0,
        "lr_schedule": "constant",
        "epochs": 100,
        "balanced_sampling": False,
        "spec_mask": False,
    },
    # First built by (artist-leaky) cross-validation over tracks of a 3-genre subset, then re-checked on the
    # fault-filtered valid part of the ten-genre subset (tools/select_recipe.py; README, "Study recipe,
    # improved recipe and a plain baseline"): balanced sampling, no mixup, no class weights, less validation,
    # input noise, more dropout, fewer epochs, a lower rate and spec masking did not beat it there. Early
    # stopping is off (the monitor only applies when it is turned on).
    "improved": {
        "standardize": True,
        "early_stopping": 0,
        "class_weight": True,
        "learning_rate": 1e-3,
        "input_noise": 0.0,
        "monitor": "val_accuracy",
        "random_windows": True,
        "mixup": 0.4,
        "lr_schedule": "cosine",
        "epochs": 60,
        "balanced_sampling": False,
        "spec_mask": False,
    },
}

#: What each recipe is for, in a few words (:func:`describe_recipe` adds its settings).
RECIPE_PURPOSE = {
    "study": "the study's pipeline as is",
    "improved": "the same networks, trained the way an honest split needs",
}

LR_SCHEDULES = ("constant", "cosine")
#: Models whose rows have no frames (one embedding per segment): random windows and masks do not apply.
FRAMELESS_MODELS = ("transfer",)


def _rate(value: float) -> str:
    """``1e-4`` rather than ``0.0001``: learning rates as papers write them."""
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def recipe_learning_rate(name: str) -> str:
    """The recipe's learning rate as text: its own, else the study's (``'1e-4'``, or one per model if they differ)."""
    rate = RECIPES[name]["learning_rate"]
    if rate is not None:
        return _rate(rate)
    # the study's networks; the transfer head (not in the study) takes 1e-3 where a recipe has no rate
    rates = {_rate(STUDY_LEARNING_RATE[m]) for m in STUDY_MODELS}
    if len(rates) == 1:
        return rates.pop()
    return ", ".join(f"{m} {_rate(STUDY_LEARNING_RATE[m])}" for m in STUDY_MODELS)


def describe_recipe(name: str) -> str:
    """The recipe's settings in words, e.g. ``'raw MFCCs, Adam 1e-4, 100 epochs, no class weights'``.

    Raises
    ------
    ParameterError
        ``name`` is not one of :data:`RECIPES`.
    """
    if name not in RECIPES:
        raise ParameterError(f"recipe={name!r} is not one of {', '.join(RECIPES)}")
    r = RECIPES[name]
    parts = ["standardised MFCCs (fitted on the training part)" if r["standardize"] else "raw MFCCs"]
    if r["random_windows"]:
        parts.append("random 3-s training windows")
    if r["mixup"]:
        parts.append(f"mixup ({r['mixup']:g})")
    if r["spec_mask"]:
        parts.append("masked bands of frames and coefficients")
    if r["input_noise"]:
        parts.append(f"input noise (sd {r['input_noise']:g})")
    if r["balanced_sampling"]:
        parts.append("classes sampled equally often")
    adam = f"Adam {recipe_learning_rate(name)}"
    if r["lr_schedule"] == "cosine":
        parts.append(f"{adam} decaying to 0 over {r['epochs']} epochs (cosine)")
    else:
        parts += [adam, f"{r['epochs']} epochs"]
    if r["early_stopping"]:
        parts.append(f"early stopping on {r['monitor']} (patience {r['early_stopping']})")
    parts.append("balanced class weights" if r["class_weight"] else "no class weights")
    return ", ".join(parts)


def recipe_help(name: str) -> str:
    """``'<purpose>: <settings>'`` (:data:`RECIPE_PURPOSE`, :func:`describe_recipe`), for captions and help."""
    return f"{RECIPE_PURPOSE.get(name, name)}: {describe_recipe(name)}"


def recipe_values(key: str, *, sep: str = ", ") -> str:
    """One setting across the recipes, e.g. ``recipe_values('epochs')`` -> ``'study 100, improved 60'``."""
    if key == "learning_rate":
        return sep.join(f"{r} {recipe_learning_rate(r)}" for r in RECIPES)
    return sep.join(f"{r} {v[key]}" for r, v in RECIPES.items())


def variant_order(variant: str) -> tuple:
    """Sort key of variant names: ``study`` (the baseline), then ``improved``, then the rest by name."""
    return (variant != "study", variant != "improved", variant)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run besides the data.

    Attributes
    ----------
    model : {'mlp', 'cnn', 'lstm'}
    recipe : {'study', 'improved'}
        Sets the defaults of every setting below that is None (:data:`RECIPES`).
    split : {'segment', 'track', 'fault-filtered'}
    evaluate_on : {'auto', 'test', 'valid'}
        What a ``fault-filtered`` split tests on (see :func:`mgc.dataset.make_split`).
    epochs : int or None
        At most this many epochs; None takes the recipe's (:func:`recipe_values`).
    batch_size : int
    learning_rate : float or None
        Adam's (starting) rate; None takes the recipe's (the study's when the recipe has none).
    seed : int
        Seeds the split, the weights and the shuffling.
    test_size, validation_size : float
        Fractions for the segment and track splits.
    dropout : float
    cnn_pool_strides : int
        Pooling stride of the CNN (see :mod:`mgc.models.builders`).
    standardize, early_stopping, class_weight : optional
        Override the recipe: standardise inputs; patience in epochs (0 = off);
        balanced class weights.
    monitor : {'val_loss', 'val_accuracy'} or None
        What early stopping watches (and which epoch's weights it keeps); None
        takes the recipe's.
    input_noise : float or None
        Standard deviation of Gaussian noise added to the (standardised) inputs
        while training only (0 = none); None takes the recipe's.
    random_windows : bool or None
        Replace each training segment every epoch by a window at a random frame
        of its track's training segments (:mod:`mgc.training.augment`).
    mixup : float or None
        Beta's alpha of mixup (0 = off).
    lr_schedule : {'constant', 'cosine'} or None
        The learning rate over the run: constant, or from its start to 0 along a cosine.
    balanced_sampling : bool or None
        Draw every epoch's training rows with the classes equally often
        (:func:`mgc.training.augment.balanced_order`), the alternative to class weights
        for unequal classes (use one or the other).
    spec_mask : bool or None
        Mask one band of frames and one of coefficients per training example
        every epoch (:func:`mgc.training.augment.spec_mask`).
    fast : bool
        The fast execution path (:func:`mgc.training.fit.compile_options`): several
        training steps per call of Keras's loop, and the LSTM and Adam as fused
        TensorFlow kernels (:mod:`mgc.models.fused`). The same seed still gives the
        same history. False runs one step per call with Keras's own LSTM and Adam, the
        path of runs made before this option existed (the two differ by float32 rounding).
    """

    model: str = "cnn"
    recipe: str = "study"
    split: str = "segment"
    evaluate_on: str = "auto"
    epochs: int | None = None
    batch_size: int = 32
    learning_rate: float | None = None
    seed: int = 0
    test_size: float = 0.25
    validation_size: float = 0.2
    dropout: float = 0.3
    cnn_pool_strides: int = 2
    standardize: bool | None = None
    early_stopping: int | None = None
    monitor: str | None = None
    class_weight: bool | None = None
    input_noise: float | None = None
    random_windows: bool | None = None
    mixup: float | None = None
    lr_schedule: str | None = None
    balanced_sampling: bool | None = None
    spec_mask: bool | None = None
    fast: bool = True

    def __post_init__(self):
        if not isinstance(self.fast, bool):
            raise ParameterError(f"fast={self.fast!r} must be True or False")
        if self.model not in MODEL_NAMES:
            raise ParameterError(f"model={self.model!r} is not one of {', '.join(MODEL_NAMES)}")
        if self.recipe not in RECIPES:
            raise ParameterError(f"recipe={self.recipe!r} is not one of {', '.join(RECIPES)}")
        if self.split not in SPLITS:
            raise ParameterError(f"split={self.split!r} is not one of {', '.join(SPLITS)}")
        if self.evaluate_on not in EVALUATE_ON:
            raise ParameterError(f"evaluate_on={self.evaluate_on!r} is not one of {', '.join(EVALUATE_ON)}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if value is None and name == "epochs":
                continue
            # stored as a plain int: the configuration goes into the run's JSON manifest
            object.__setattr__(self, name, check_positive_int(name, value))
        if self.learning_rate is not None and not 0 < self.learning_rate < 1:
            raise ParameterError(f"learning_rate={self.learning_rate!r} must be in (0, 1)")
        if self.monitor not in (None, "val_loss", "val_accuracy"):
            raise ParameterError(f"monitor={self.monitor!r} must be 'val_loss' or 'val_accuracy'")
        if self.input_noise is not None and not 0 <= self.input_noise < 10:
            raise ParameterError(f"input_noise={self.input_noise!r} must be in [0, 10) (a standard deviation)")
        if self.lr_schedule not in (None,) + LR_SCHEDULES:
            raise ParameterError(f"lr_schedule={self.lr_schedule!r} must be one of {', '.join(LR_SCHEDULES)}")
        if self.mixup is not None and not 0 <= self.mixup <= 10:
            raise ParameterError(f"mixup={self.mixup!r} must be in [0, 10] (Beta's alpha; 0 turns it off)")
        if self.early_stopping is not None and self.early_stopping < 0:
            raise ParameterError(f"early_stopping={self.early_stopping!r} must be >= 0 epochs (0 turns it off)")

    def overrides(self) -> dict:
        """The settings given explicitly that differ from the recipe's (learning rate included; the
        number of epochs, shown with every run anyway, is not counted)."""
        recipe = RECIPES[self.recipe]
        out = {
            k: getattr(self, k)
            for k in recipe
            if k not in ("learning_rate", "epochs") and getattr(self, k) is not None and getattr(self, k) != recipe[k]
        }
        if self.learning_rate is not None and self.learning_rate != self.resolved_learning_rate():
            out["learning_rate"] = self.learning_rate
        return out

    def resolved_learning_rate(self) -> float:
        """The recipe's learning rate for this model (the study's when the recipe has none)."""
        return RECIPES[self.recipe]["learning_rate"] or STUDY_LEARNING_RATE[self.model]

    def resolved(self) -> TrainConfig:
        """A copy with the recipe's defaults and the study's learning rate filled in.

        For ``transfer`` (one embedding per segment, no frames), random windows and
        spectrogram masks do not apply and are off whatever the recipe says.
        """
        # every recipe key is a field of the same name: None takes the recipe's value
        recipe = RECIPES[self.recipe]
        filled = {
            k: recipe[k] if getattr(self, k) is None else getattr(self, k) for k in recipe if k != "learning_rate"
        }
        if self.model in FRAMELESS_MODELS:
            filled.update(random_windows=False, spec_mask=False)
        return replace(self, **filled, learning_rate=self.learning_rate or self.resolved_learning_rate())


def parse_variant(text: str, *, split: str) -> tuple[str, TrainConfig]:
    """A named variant from ``NAME=RECIPE[:JSON overrides]`` (or a plain recipe name), trained under ``split``.

    Example: ``balanced=improved:{"class_weight": false, "balanced_sampling": true}``.

    Raises
    ------
    ParameterError
        The overrides are not a JSON object of :class:`TrainConfig` fields, or a value is out of range.
    """
    import json

    name, _, spec = text.partition("=")
    recipe, _, overrides = (spec or name).partition(":")
    try:
        fields = json.loads(overrides) if overrides else {}
        if not isinstance(fields, dict):
            raise ValueError("not a JSON object")
        return name, TrainConfig(recipe=recipe, split=split, **fields)
    except (ValueError, TypeError) as e:
        raise ParameterError(f"variant {text!r} must be NAME=RECIPE[:JSON object of TrainConfig fields]: {e}") from e
