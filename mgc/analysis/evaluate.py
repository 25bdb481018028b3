"""A stored run's model scored on other features: another dataset, or a split's test part.

Tracks the run trained or selected on are never scored (:func:`seen_tracks`): an
evaluation that counted them would measure memory, not generalisation.
"""

from __future__ import annotations

import numpy as np

from ..dataset import faulty_tracks, make_split
from ..errors import DatasetError, ParameterError
from ..features import FeatureSet
from ..runs import Run, evaluate_predictions


def seen_tracks(run: Run) -> set[str] | None:
    """Track ids a run trained or selected on (its train and validation parts), None if it does not record them.

    (A refit's train part holds every track of its twin, the twin's test part included.)
    """
    ids = run.manifest["split"].get("track_ids")
    if ids is None:
        return None
    seen = set(ids.get("train", [])) | set(ids.get("validation", []))
    return None if "" in seen else seen  # features without track ids (the study's JSON): unknown, not "all heard"


def evaluate_run(
    run: Run,
    features: FeatureSet,
    *,
    split: str | None = None,
    seed: int | None = None,
    keep_faulty: bool = False,
) -> dict:
    """Metrics of a stored run's model on other features (all of them, or a split's test part).

    Classes are matched by name; every class of ``features`` must be one the run
    knows. Tracks the run trained or selected on are never scored: they are
    dropped, and counted in the result's ``excluded_tracks``. Scoring all of
    ``features`` (no ``split``) also leaves out GTZAN's faulty tracks
    (:func:`mgc.dataset.faulty_tracks`: repetitions, mislabellings, distortions)
    unless ``keep_faulty``; a split's test part is scored as the protocol made it.

    Parameters
    ----------
    run : Run
    features : FeatureSet
        Of the kind and shape the run learned from.
    split : str or None
        One of :data:`mgc.dataset.SPLITS`: score its test part (made with the
        run's fractions and seed); None: every track of ``features``.
    seed : int or None
        Overrides the run's seed for ``split``.
    keep_faulty : bool
        With no ``split``, score GTZAN's faulty tracks too.

    Returns
    -------
    dict
        As :func:`mgc.runs.evaluate_predictions`, plus ``excluded_tracks``
        (number of tracks dropped because the run had heard them; None when the
        run does not record its tracks), ``excluded_examples`` (a few of their ids)
        and ``faulty_excluded`` (GTZAN's faulty tracks left out).

    Raises
    ------
    ParameterError
        Unknown classes or another input shape.
    DatasetError
        Every track asked for is one the run trained or selected on.
    """
    known = run.classes
    unknown = [c for c in features.classes if c not in known]
    if unknown:
        raise ParameterError(f"the run {run.id!r} knows the classes {known}; these are not among them: {unknown}")
    if list(features.X.shape[1:]) != run.manifest["input_shape"]:
        raise ParameterError(
            f"features of shape {features.X.shape[1:]} do not fit the run's input {run.manifest['input_shape']}"
        )
    mapping = np.array([known.index(c) for c in features.classes])
    rows = np.arange(len(features.y))
    if split:
        cfg = run.manifest["config"]
        s = make_split(
            split,
            y=features.y,
            track_ids=features.track_ids,
            test_size=cfg["test_size"],
            validation_size=cfg["validation_size"],
            seed=cfg["seed"] if seed is None else seed,
            evaluate_on=cfg.get("evaluate_on", "auto"),
            classes=features.classes,
            official=features.official,
        )
        rows = s.test
    faulty: set[str] = set()
    if not split and not keep_faulty:
        faulty = faulty_tracks(set(features.track_ids[rows]))
        rows = rows[~np.isin(features.track_ids[rows], list(faulty))]
        if len(rows) == 0:
            raise DatasetError(
                f"every track asked for is one of GTZAN's faulty tracks ({len(faulty)}); "
                "score them with keep_faulty=True (CLI: --keep-faulty)"
            )
    seen = seen_tracks(run)
    excluded: list[str] = []
    if seen is not None:
        asked = features.track_ids[rows]
        heard = np.isin(asked, list(seen))
        excluded = sorted(set(asked[heard]))
        rows = rows[~heard]
        if len(rows) == 0:
            raise DatasetError(
                f"all {len(excluded)} track(s) asked for are ones run {run.id!r} trained or selected on "
                f"(e.g. {', '.join(excluded[:3])}): nothing honest is left to score. Evaluate on tracks it never heard"
            )
    probs = run.model().predict(features.X[rows], batch_size=256, verbose=0)
    out = evaluate_predictions(probs, mapping[features.y[rows]], features.track_ids[rows], known)
    out["excluded_tracks"] = None if seen is None else len(excluded)
    out["excluded_examples"] = excluded[:5]
    out["faulty_excluded"] = len(faulty)
    return out
