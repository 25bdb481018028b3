"""Stage 7, analysis: what stored runs say, on new data, new clips and beside the study.

- :mod:`mgc.analysis.evaluate`: a run scored on other features, never on tracks it heard.
- :mod:`mgc.analysis.classify`: a clip of any length classified window by window, with the trust checks.
- :mod:`mgc.analysis.baseline`: an RBF-SVM on segment statistics, and a paired sign test between two runs.
- :mod:`mgc.analysis.report`: the tables of the results (Table 2, the leakage ladder, per class, runs).
"""

from .baseline import BaselineResult, paired_tracks, segment_stats, svm_baseline
from .classify import ClipResult, ModelAnswer, classify, classify_signal, predict_windows, warm_up
from .evaluate import evaluate_run, seen_tracks
from .report import leakage_ladder, misclassified, per_class_table, runs_table, score_row, table2

__all__ = [
    "BaselineResult",
    "ClipResult",
    "ModelAnswer",
    "classify",
    "classify_signal",
    "evaluate_run",
    "leakage_ladder",
    "misclassified",
    "paired_tracks",
    "per_class_table",
    "predict_windows",
    "runs_table",
    "score_row",
    "seen_tracks",
    "segment_stats",
    "svm_baseline",
    "table2",
    "warm_up",
]
