"""Stage 6, training: recipes, augmentation, one fit, background jobs, cross-validation.

- :mod:`mgc.training.recipes`: :data:`RECIPES` (``study``, ``improved``) and :class:`TrainConfig`.
- :mod:`mgc.training.augment`: random windows, mixup, balanced sampling, masks (NumPy).
- :mod:`mgc.training.fit`: :func:`train`, one run from features to a stored :class:`~mgc.runs.Run`.
- :mod:`mgc.training.stream`: training from rows that stay on disk (:class:`RowSource`, :func:`as_source`).
- :mod:`mgc.training.jobs`: training in a background thread that a user interface polls.
- :mod:`mgc.training.cost`: each model's epoch cost (:data:`EPOCH_COST`) and the jobs' time-left estimate.
- :mod:`mgc.training.crossval`: recipes compared on the same folds, paired by track.

Importing this package does not import TensorFlow; :func:`train` does.
"""

from .cost import EPOCH_COST, ModelPace, TimeLeft, clock, time_left
from .crossval import cross_validate, load_comparisons, load_results, summarize, variant_settings
from .fit import EpochReport, EpochSampler, TrainingInterrupted, train
from .jobs import JobBoard, TrainingJob, run_scores
from .recipes import (
    LR_SCHEDULES,
    RECIPE_PURPOSE,
    RECIPES,
    TrainConfig,
    describe_recipe,
    parse_variant,
    recipe_help,
    recipe_values,
    variant_order,
)
from .stream import ArrayRows, RowSource, as_source

__all__ = [
    "ArrayRows",
    "EPOCH_COST",
    "LR_SCHEDULES",
    "RECIPES",
    "RECIPE_PURPOSE",
    "RowSource",
    "EpochReport",
    "EpochSampler",
    "JobBoard",
    "ModelPace",
    "TrainConfig",
    "TrainingInterrupted",
    "TimeLeft",
    "TrainingJob",
    "as_source",
    "clock",
    "cross_validate",
    "describe_recipe",
    "load_comparisons",
    "load_results",
    "parse_variant",
    "recipe_help",
    "recipe_values",
    "run_scores",
    "summarize",
    "time_left",
    "train",
    "variant_order",
    "variant_settings",
]
