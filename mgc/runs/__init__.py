"""Stage 5, runs: what a training run leaves behind, and how it is scored and trusted.

- :mod:`mgc.runs.store`: one folder per run (:class:`Run`, :func:`save_run`, :func:`load_run`,
  :func:`list_runs`, :func:`delete_run`) and the default runs the pages offer.
- :mod:`mgc.runs.metrics`: segment and track metrics of predicted probabilities.
- :mod:`mgc.runs.trust`: when an answer should not be trusted (checks fitted on held-out tracks).

Training (:mod:`mgc.training`) writes runs; analysis (:mod:`mgc.analysis`) reads them.
Loading a model imports Keras, nothing else here does.
"""

from .metrics import evaluate_predictions
from .store import (
    DEFAULT_MIN_OVER_CHANCE,
    FILES,
    OPTIONAL_FILES,
    PROTOCOL_RANK,
    Run,
    check_id,
    default_classify_runs,
    default_result_runs,
    delete_run,
    group_by_classes,
    list_runs,
    load_run,
    runs_dir,
    save_run,
    short_labels,
)
from .trust import Trust, assess, explain_checks, fit_trust, load_trust

__all__ = [
    "DEFAULT_MIN_OVER_CHANCE",
    "FILES",
    "OPTIONAL_FILES",
    "PROTOCOL_RANK",
    "Run",
    "Trust",
    "assess",
    "check_id",
    "default_classify_runs",
    "default_result_runs",
    "delete_run",
    "evaluate_predictions",
    "explain_checks",
    "fit_trust",
    "group_by_classes",
    "list_runs",
    "load_run",
    "load_trust",
    "runs_dir",
    "save_run",
    "short_labels",
]
