"""Classify a clip of any length with one or more stored runs.

The clip is decoded (any supported container, rate and channel count), cut into
the study's 3-s windows over its whole length, and each model gives a probability
per class and window; a model's clip-level answer is the mean over windows. Work
is bounded: at most ``max_duration`` seconds are decoded and at most
``max_windows`` windows, spread evenly, are classified.

Runs may hear different features: the study's networks the MFCCs at 22050 Hz,
the transfer model the pretrained tagger's embeddings at 16 kHz. The clip is then
decoded once per rate, each kind is computed over the same 3-s windows, and every
answer is checked on the features its model heard. The tagger, a far larger
network, embeds at most :data:`MAX_EMBEDDING_WINDOWS` windows per clip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..audio import Decoded, Source, check_signal, usable
from ..errors import ParameterError
from ..features import FeatureParams, Params, kind_of, params_from_dict, windows_of
from ..runs import Run, assess, load_trust

#: Windows go to a model in batches of exactly this many rows (the last one padded):
#: TensorFlow traces a new graph for every new batch size, which costs 0.2-1 s per
#: model, far more than classifying the windows; one fixed size is traced once.
PREDICT_BATCH = 16
#: Windows the pretrained tagger embeds per clip at most (about 0.05 CPU-seconds each), spread over it.
MAX_EMBEDDING_WINDOWS = 30


def predict_windows(model, X: np.ndarray) -> np.ndarray:
    """Class probabilities of a model for each window, in fixed-size batches.

    Parameters
    ----------
    model : keras.Model
    X : np.ndarray [shape=(k, frames, n_mfcc) or (k, width)]

    Returns
    -------
    probs : np.ndarray [shape=(k, n_classes), dtype=float64]
        Row ``i`` depends on window ``i`` only (padding rows are dropped; the
        networks have no layer that mixes rows at inference).
    """
    X = np.asarray(X, dtype=np.float32)
    out = []
    for start in range(0, len(X), PREDICT_BATCH):
        chunk = X[start : start + PREDICT_BATCH]
        n = len(chunk)
        if n < PREDICT_BATCH:
            chunk = np.concatenate([chunk, np.zeros((PREDICT_BATCH - n, *X.shape[1:]), np.float32)])
        out.append(np.asarray(model.predict_on_batch(chunk), dtype=np.float64)[:n])
    if not out:
        raise ParameterError("X holds no window to classify")
    return np.concatenate(out)


def warm_up(run: Run) -> None:
    """Load a run's model and trace its prediction graph once, so the first clip is as fast as the next."""
    predict_windows(run.model(), np.zeros((1, *run.manifest["input_shape"]), np.float32))


@dataclass
class ModelAnswer:
    """One model's answer for a clip."""

    run_id: str
    label: str
    model: str
    classes: list[str]
    window_probs: np.ndarray  # (k, n_classes)
    probs: np.ndarray  # (n_classes,), mean over windows
    starts: np.ndarray | None = None  # (k,) start of each window, s (models on embeddings may hear fewer)

    @property
    def predicted(self) -> str:
        return self.classes[int(np.argmax(self.probs))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))

    @property
    def window_predictions(self) -> list[str]:
        return [self.classes[i] for i in self.window_probs.argmax(axis=1)]


@dataclass
class ClipResult:
    """Answers of all models for one clip, with facts about the clip."""

    name: str
    duration: float
    native_sr: int
    channels: int
    truncated: bool
    starts: np.ndarray  # window start times, seconds
    answers: list[ModelAnswer]
    notes: list[str] = field(default_factory=list)
    flags: list[dict] = field(default_factory=list)

    @property
    def trusted(self) -> bool:
        """True when no check (:mod:`mgc.runs.trust`) raised a flag."""
        return not self.flags


def _count_windows(n_samples: int, params: Params) -> int:
    """Windows the whole signal holds with no ``max_windows`` bound (as :func:`mgc.features.windows_of` cuts it)."""
    full, rest = divmod(n_samples, params.samples_per_segment)
    if isinstance(params, FeatureParams):
        return full + int(rest > 0 and 1 + rest // params.hop_length == params.frames_per_segment)
    return full + int(rest >= params.min_samples)


def feature_groups(runs: list[Run]) -> list[tuple[Params, list[Run]]]:
    """The runs grouped by the features they hear (MFCCs, embeddings), in the order first met.

    Raises
    ------
    ParameterError
        No run, or runs of one kind of features with different settings.
    """
    if not runs:
        raise ParameterError("choose at least one run to classify with")
    groups: dict[str, tuple[Params, list[Run]]] = {}
    for r in runs:
        params = params_from_dict(r.manifest["features"])
        kind = kind_of(params)
        if kind in groups and groups[kind][0] != params:
            other = groups[kind][1][0]
            raise ParameterError(
                f"the chosen runs use different feature settings for {kind} ({other.id}: "
                f"{other.manifest['input_shape']}, {r.id}: {r.manifest['input_shape']}); choose runs made with "
                "the same parameters"
            )
        groups.setdefault(kind, (params, []))[1].append(r)
    return list(groups.values())


def check_compatible(runs: list[Run]) -> Params:
    """The feature parameters the runs share; raises unless they share one layout (class lists may differ)."""
    groups = feature_groups(runs)
    if len(groups) > 1:
        raise ParameterError(
            "the chosen runs hear different features ("
            + ", ".join(f"{r.id}: {kind_of(p)}" for p, rs in groups for r in rs)
            + "); classify them with classify(), which computes each kind"
        )
    return groups[0][0]


def _window_limit(params: Params, max_windows: int | None) -> int | None:
    if isinstance(params, FeatureParams):
        return max_windows
    return MAX_EMBEDDING_WINDOWS if max_windows is None else min(max_windows, MAX_EMBEDDING_WINDOWS)


def _answers(y: np.ndarray, params: Params, runs: list[Run], name: str, max_windows):
    """Every run's window probabilities for a signal already checked as usable (:func:`mgc.audio.usable`)."""
    X, starts = windows_of(y, params, max_windows=_window_limit(params, max_windows))
    if len(X) == 0:
        raise ParameterError(f"{name!r} gives no full {params.segment_duration:.1f}-s window")
    answers = []
    for run in runs:
        probs = predict_windows(run.model(), X)
        answers.append(ModelAnswer(run.id, run.label, run.model_name, run.classes, probs, probs.mean(axis=0), starts))
    return X, starts, answers


def _flags(runs: list[Run], answers: list, heard: list, mfcc_windows=None) -> list[dict]:
    """The trust flags; ``mfcc_windows(params)`` gives the clip's MFCC windows for runs on embeddings."""
    trusts = [load_trust(run) for run in runs]
    wanted = next((t.mfcc_params for t in trusts if t is not None and t.mfcc_params), None)
    mfcc = mfcc_windows(params_from_dict(wanted)) if wanted and mfcc_windows is not None else None
    flags = assess(answers, heard, trusts, mfcc=mfcc)
    for run, t in zip(runs, trusts, strict=True):
        if t is None:
            flags.append(
                {
                    "kind": "no-checks",
                    "run": run.id,
                    "message": (
                        f"Run {run.id!r} has no fitted trust checks "
                        "(made before they existed, or its trust.json is missing): "
                        "its answer is not checked for confidence or for input that is not music."
                    ),
                }
            )
    return flags


def classify_signal(
    y: np.ndarray, runs: list[Run], *, sr: int, name: str = "clip", max_windows: int | None = 200
) -> tuple[np.ndarray, list[ModelAnswer], list[dict]]:
    """Window probabilities of every run for a mono signal already at the runs' rate, and the trust flags.

    The runs must hear one kind of features (:func:`classify` mixes kinds).

    Returns
    -------
    starts : np.ndarray [shape=(k,)]
        Window start times in seconds.
    answers : list of ModelAnswer
    flags : list of dict
        What :func:`mgc.runs.trust.assess` found (empty: nothing to distrust). A run
        without fitted checks adds a ``no-checks`` note instead.
    """
    params = check_compatible(runs)
    if sr != params.sr:
        raise ParameterError(f"sr={sr} does not match the runs' feature rate {params.sr} Hz")
    check_signal(y, sr=sr, min_duration=params.segment_duration, name=name)
    X, starts, answers = _answers(y, params, runs, name, max_windows)
    mfcc = None if kind_of(params) == "embedding" else (lambda p: X if p == params else None)
    return starts, answers, _flags(runs, answers, [X] * len(answers), mfcc)


def classify(
    source: Source | Decoded,
    runs: list[Run],
    *,
    name: str | None = None,
    max_duration: float = 600.0,
    max_windows: int | None = 200,
) -> ClipResult:
    """Decode a file or bytes and classify it with every run.

    Parameters
    ----------
    source : path, bytes, file object or mgc.audio.Decoded
        A :class:`~mgc.audio.Decoded` clip at its native rate (``decode(..., sr=None)``) is
        resampled per rate, not decoded again (the page decodes an upload once for the
        models and its player).
    runs : list of Run
        Runs on MFCCs, on embeddings, or both (each kind with one set of parameters).
    name : str or None
        Shown in messages (an upload's name); never opened.
    max_duration : float
        Seconds decoded at most (from the start).
    max_windows : int or None
        Windows classified at most, spread over the clip.

    Returns
    -------
    ClipResult
        With ``flags``: why the answer should not be trusted (empty when nothing
        was found; see :mod:`mgc.runs.trust`).

    Raises
    ------
    AudioError
        Unreadable or over the decode budget (see :func:`mgc.audio.decode`), too short
        (under one 3-s window) or silent: the rule of :func:`mgc.audio.usable`.
    ParameterError
        Incompatible runs.
    """
    groups = feature_groups(runs)
    label = name or (os.path.basename(str(source)) if isinstance(source, (str, os.PathLike)) else "uploaded audio")
    data = source.read() if hasattr(source, "read") else source  # a stream is read once, decoded per rate
    by_run, heard, notes, first = {}, {}, [], None
    for params, group in groups:
        d = usable(data, sr=params.sr, max_duration=max_duration, min_duration=params.segment_duration, name=label)
        X, starts, answers = _answers(d.y, params, group, label, max_windows)
        for a in answers:
            by_run[a.run_id], heard[a.run_id] = a, X
        n_windows = _count_windows(len(d.y), params)
        if n_windows > len(starts):
            what = "embedded by the pretrained tagger" if kind_of(params) == "embedding" else "classified"
            notes.append(f"{len(starts)} of {n_windows} windows, spread over the clip, were {what}")
        if first is None:
            first = (d, starts)
    d, starts = first
    if d.truncated:
        notes.insert(0, f"only the first {max_duration:.0f} s of {d.source_duration:.0f} s were analysed")
    answers = [by_run[r.id] for r in runs]

    def mfcc_windows(p):
        # the MFCC windows the study's networks heard, else computed here for the not-music check alone
        for params, group in groups:
            if params == p:
                return heard[group[0].id]
        y = usable(data, sr=p.sr, max_duration=max_duration, min_duration=p.segment_duration, name=label).y
        return windows_of(y, p, max_windows=max_windows)[0]

    flags = _flags(runs, answers, [heard[r.id] for r in runs], mfcc_windows)
    return ClipResult(label, d.duration, d.native_sr, d.channels, d.truncated, starts, answers, notes, flags)
