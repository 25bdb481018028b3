"""When an answer should not be trusted: thresholds fitted on held-out tracks, checks per clip.

A genre classifier always answers with one of the genres it knows, whatever it
hears. This module gives every run four checks, each with a threshold fitted on
the run's held-out evaluation part (for the ``fault-filtered`` protocol tested on
valid, that is the fault-filtered valid list: artists the model never heard):

``not-music``
    The clip does not look like the music the model was trained on. Each 3-s
    window is described by its MFCCs' mean and standard deviation over frames and
    their mean absolute frame-to-frame change (39 numbers); a Gaussian
    (Ledoit-Wolf shrinkage) is fitted on the training windows, and a clip whose
    median window Mahalanobis distance lies more than :data:`OUTLIER_SD` standard
    deviations above the held-out clips' mean (on a log scale) is *atypical*
    (speech, tones and sweeps land far out). A clip whose spectral shape hardly
    moves (the mean over MFCCs 1-12 of their standard deviation over frames,
    median over windows) more than :data:`OUTLIER_SD` standard deviations below
    the held-out clips' mean (log scale) is *stationary*, as noise and drones are.
    Either flags it. A fitted log-normal rather than an empirical percentile: a
    held-out part of a few dozen clips has no stable 1st percentile, and quiet
    music sits in that tail. For a transfer run, whose windows are the
    pretrained tagger's embeddings, the descriptors are those embeddings,
    standardised and projected on their first :data:`EMBEDDING_DIMS` principal
    components (fitted on the training windows): the distance then says how far
    what the tagger hears lies from the training music. The stationarity part
    needs frames and does not apply there.
``low-confidence``
    The model's clip-level top probability is below a threshold: the one that
    best separates right from wrong held-out tracks (Youden's J).
``windows-disagree``
    Too few windows agree with the clip's answer: the share of windows whose
    top class is the clip's, below the threshold that best separates right from
    wrong held-out tracks.
``models-disagree``
    Several models were asked and they give different answers (no threshold).

The fitted values live in ``trust.json`` beside the run's other files (plain
JSON, no pickle); :func:`fit_trust` writes it and :func:`load_trust` reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import model_title
from ..errors import ArtifactError, MgcError, ParameterError
from ..fileio import atomic_write
from .store import load_run

FILE = "trust.json"
#: A clip this many standard deviations (log scale) beyond the held-out clips' mean is not music-like
#: (about 0.1 % of a log-normal lies beyond 3).
OUTLIER_SD = 3.0
#: Thresholds used when the held-out part cannot fit one (no wrong, or no right, track).
FALLBACK = {"confidence": 0.5, "agreement": 0.5}
KINDS = ("not-music", "low-confidence", "windows-disagree", "models-disagree")
#: Principal components of the embeddings the not-music Gaussian of a transfer run is fitted in.
EMBEDDING_DIMS = 32


def window_descriptors(X: np.ndarray) -> np.ndarray:
    """Per window: MFCC means, standard deviations and mean absolute frame-to-frame change.

    Parameters
    ----------
    X : np.ndarray [shape=(k, frames, n_mfcc)]

    Returns
    -------
    D : np.ndarray [shape=(k, 3 * n_mfcc), dtype=float64]
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3 or X.shape[1] < 2:
        raise ParameterError(f"X of shape {X.shape} must be (windows, frames >= 2, coefficients)")
    return np.concatenate([X.mean(axis=1), X.std(axis=1), np.abs(np.diff(X, axis=1)).mean(axis=1)], axis=1)


def shape_variation(X: np.ndarray) -> np.ndarray:
    """Per window: mean over MFCCs 1.. of their standard deviation over frames (how much the timbre moves)."""
    X = np.asarray(X, dtype=np.float64)
    return X[:, :, 1:].std(axis=1).mean(axis=1)


def fit_projection(X_train: np.ndarray) -> dict:
    """Standardise embeddings and project them on their first principal components (for the not-music check).

    Parameters
    ----------
    X_train : np.ndarray [shape=(n, width)]
        Training windows' embeddings.

    Returns
    -------
    dict
        ``mean``, ``scale`` (width numbers each) and ``components``
        (``min(EMBEDDING_DIMS, n - 1, width)`` x width), plain lists.
    """
    X = np.asarray(X_train, dtype=np.float64)
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale = np.where(scale > 1e-6 * max(float(scale.max()), 1e-12), scale, 1.0)
    Z = (X - mean) / scale
    if len(Z) > 4000:  # the components of a few thousand windows are as good, and the SVD stays fast
        Z = Z[np.random.default_rng(0).choice(len(Z), 4000, replace=False)]
    k = max(1, min(EMBEDDING_DIMS, len(Z) - 1, X.shape[1]))
    _, _, vt = np.linalg.svd(Z, full_matrices=False)
    return {"mean": mean.tolist(), "scale": scale.tolist(), "components": vt[:k].tolist()}


def descriptors(X: np.ndarray, projection: dict | None = None) -> np.ndarray:
    """What the not-music Gaussian sees of each window: MFCC statistics, or projected embeddings.

    Parameters
    ----------
    X : np.ndarray [shape=(k, frames, n_mfcc) or (k, width)]
    projection : dict or None
        From :func:`fit_projection`; required for embeddings.

    Returns
    -------
    np.ndarray [shape=(k, d), dtype=float64]
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 3:
        return window_descriptors(X)
    if X.ndim != 2 or projection is None:
        raise ParameterError(
            f"X of shape {X.shape} must be MFCC windows (k, frames, coefficients), or embeddings (k, width) "
            "with a fitted projection"
        )
    p = {k: np.asarray(v) for k, v in projection.items()}
    if X.shape[1] != len(p["mean"]):
        raise ParameterError(f"embeddings of width {X.shape[1]} do not fit a projection of width {len(p['mean'])}")
    return ((X - p["mean"]) / p["scale"]) @ p["components"].T


#: Windows whose descriptors are computed at a time: only one chunk is ever copied to float64.
DESCRIPTOR_CHUNK = 4096


def _groups(track_ids: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The distinct track ids (sorted) and, for each, the positions of its rows, in one sort."""
    tracks, inverse = np.unique(np.asarray(track_ids).astype(str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    return tracks, np.split(order, np.cumsum(np.bincount(inverse, minlength=len(tracks)))[:-1])


def _take(X, index: np.ndarray) -> np.ndarray:
    """The rows of ``X`` at ``index``, in memory: an array, a memory map or a row source (``rows(index)``)."""
    index = np.asarray(index, dtype=np.int64)
    return X.rows(index) if hasattr(X, "rows") else np.asarray(X[index])


def _descriptors(X: np.ndarray, projection: dict | None) -> np.ndarray:
    """:func:`descriptors` of many windows, :data:`DESCRIPTOR_CHUNK` at a time."""
    if len(X) <= DESCRIPTOR_CHUNK:
        return descriptors(X, projection)
    return np.concatenate(
        [descriptors(X[at : at + DESCRIPTOR_CHUNK], projection) for at in range(0, len(X), DESCRIPTOR_CHUNK)]
    )


def _youden(score: np.ndarray, right: np.ndarray, fallback: float) -> dict:
    """The threshold on ``score`` that best separates right (above) from wrong (below) answers."""
    score, right = np.asarray(score, float), np.asarray(right, bool)
    info = {"n": int(len(score)), "right": int(right.sum())}
    if right.all() or not right.any():
        return {"threshold": fallback, "fitted": False, **info}
    best_j, best_t = -1.0, fallback
    for t in np.unique(score):
        tpr = np.mean(score[right] >= t)  # right answers kept
        fpr = np.mean(score[~right] >= t)  # wrong answers kept
        if tpr - fpr > best_j:
            best_j, best_t = tpr - fpr, float(t)
    below = score < best_t
    return {
        "threshold": best_t,
        "fitted": True,
        "youden_j": round(float(best_j), 4),
        **info,
        "below": {"n": int(below.sum()), "right": int(right[below].sum())},
        "above": {"n": int((~below).sum()), "right": int(right[~below].sum())},
    }


@dataclass
class Trust:
    """The fitted checks of one run (see the module docstring)."""

    data: dict

    @property
    def fitted_on(self) -> str:
        return self.data["fitted_on"]

    def distances(self, X: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each window's descriptors to the training windows."""
        m = self.data["music"]
        d = descriptors(X, m.get("projection")) - np.asarray(m["location"])
        return np.sqrt(np.maximum(0.0, np.einsum("ij,jk,ik->i", d, np.asarray(m["precision"]), d)))

    @property
    def mfcc_params(self) -> dict | None:
        """Feature parameters of the extra MFCC not-music check (runs on embeddings), or None."""
        extra = self.data.get("music_mfcc")
        return None if extra is None else extra["params"]

    def mfcc_music_check(self, X_mfcc: np.ndarray) -> dict | None:
        """The extra MFCC not-music check on MFCC windows of the clip; None when the run has none."""
        extra = self.data.get("music_mfcc")
        return None if extra is None else Trust({"music": extra}).music_check(X_mfcc)

    def music_check(self, X: np.ndarray) -> dict:
        """Clip-level scores of the not-music check: ``distance``, ``variation``, ``atypical``, ``stationary``."""
        m = self.data["music"]
        dist = float(np.median(self.distances(X)))
        frames = np.asarray(X).ndim == 3 and m.get("variation_threshold") is not None
        var = float(np.median(shape_variation(X))) if frames else None
        return {
            "distance": dist,
            "distance_threshold": m["distance_threshold"],
            "atypical": dist > m["distance_threshold"],
            "variation": var,
            "variation_threshold": m.get("variation_threshold"),
            "stationary": bool(frames and var < m["variation_threshold"]),
            "of": "embedding" if "projection" in m else "mfcc",
        }


def _track_scores(probs: np.ndarray, y: np.ndarray, track_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per track: confidence of the mean-probability answer, share of windows agreeing, and whether it is right."""
    conf, agree, right = [], [], []
    for rows in _groups(track_ids)[1]:
        p = probs[rows]
        answer = int(p.mean(axis=0).argmax())
        conf.append(float(p.mean(axis=0).max()))
        agree.append(float(np.mean(p.argmax(axis=1) == answer)))
        right.append(answer == int(y[rows][0]))
    return np.array(conf), np.array(agree), np.array(right)


def fit(
    *,
    X_train: np.ndarray,
    X_eval: np.ndarray,
    eval_track_ids: np.ndarray,
    eval_probs: np.ndarray,
    eval_y: np.ndarray,
    fitted_on: str,
) -> dict:
    """Fit the checks: the descriptor Gaussian on training windows, every threshold on held-out tracks.

    Parameters
    ----------
    X_train : np.ndarray [shape=(n, frames, n_mfcc) or (n, width)]
        Training windows (MFCCs, or a transfer run's embeddings).
    X_eval : np.ndarray [shape=(m, frames, n_mfcc) or (m, width)]
        Held-out windows, with ``eval_track_ids``, the model's ``eval_probs``
        [shape=(m, n_classes)] and true classes ``eval_y`` [shape=(m,)].
    fitted_on : str
        What the held-out part is, for the record (e.g. ``fault-filtered valid part``).

    Returns
    -------
    dict
        The content of ``trust.json``.
    """
    eval_track_ids = np.asarray(eval_track_ids).astype(str)
    if len(X_train) < 2 or len(X_eval) == 0:
        raise ParameterError(f"trust needs training windows and held-out windows; got {len(X_train)} and {len(X_eval)}")
    return {
        "version": 1,
        "fitted_on": f"{fitted_on} ({len(np.unique(eval_track_ids))} tracks)",
        "music": fit_music(X_train=X_train, X_eval=X_eval, eval_track_ids=eval_track_ids),
        **_answer_thresholds(eval_probs, eval_y, eval_track_ids),
    }


def fit_music(*, X_train: np.ndarray, X_eval: np.ndarray, eval_track_ids: np.ndarray) -> dict:
    """The not-music check alone: the descriptor Gaussian on training windows, thresholds on held-out tracks.

    Parameters
    ----------
    X_train : np.ndarray [shape=(n, frames, n_mfcc) or (n, width)]
    X_eval : np.ndarray [shape=(m, frames, n_mfcc) or (m, width)]
    eval_track_ids : np.ndarray [shape=(m,)]

    Returns
    -------
    dict
        ``trust.json``'s ``music`` part.
    """
    from sklearn.covariance import LedoitWolf

    eval_track_ids = np.asarray(eval_track_ids).astype(str)
    projection = fit_projection(X_train) if np.asarray(X_train).ndim == 2 else None
    lw = LedoitWolf().fit(_descriptors(X_train, projection))
    music = {"location": lw.location_.tolist(), "precision": lw.precision_.tolist()}
    if projection is not None:
        music["projection"] = projection
    trust = Trust({"music": music})
    _, groups = _groups(eval_track_ids)
    dist = np.array([np.median(trust.distances(X_eval[rows])) for rows in groups])
    log_d = np.log(np.maximum(dist, 1e-12))
    d_thr = float(np.exp(log_d.mean() + OUTLIER_SD * log_d.std()))
    if projection is None:
        var = np.array([np.median(shape_variation(X_eval[rows])) for rows in groups])
        log_v = np.log(np.maximum(var, 1e-12))
        v_thr = float(np.exp(log_v.mean() - OUTLIER_SD * log_v.std()))
        flagged = (dist > d_thr) | (var < v_thr)
    else:  # embeddings have no frames: no stationarity part
        v_thr, flagged = None, dist > d_thr
    return {
        **music,
        "distance_threshold": d_thr,
        "variation_threshold": v_thr,
        "outlier_sd": OUTLIER_SD,
        "held_out_flagged": int(np.sum(flagged)),
    }


def fit_trust(
    run,
    features,
    *,
    twin=None,
    mfcc=None,
    max_train_rows: int | None = None,
    max_eval_rows: int | None = None,
    seed: int = 0,
) -> Path:
    """Fit a stored run's checks on ``features`` (the ones it was trained on) and write its ``trust.json``.

    The Gaussian comes from the run's training tracks, the thresholds from its test
    part (predictions stored with the run). A refit (``manifest["metrics_from"]``)
    takes its twin's file as it is: it has no held-out part of its own.

    Parameters
    ----------
    run : Run
    features : FeatureSet
        Its ``X`` may be an array, a memory map or a row source (``rows(index)``, e.g. a
        :class:`~mgc.features.store.SegmentSource`): only the rows the checks use are read.
    twin : Run or None
        A refit's twin; default: the run of that id beside the refit.
    mfcc : FeatureSet or None
        For a run on embeddings: the study's MFCCs of the same tracks. The
        tagger's embeddings place speech among the music (measured: speech lies
        near the 95th percentile of unseen-artist music), so such a run also gets
        the MFCC not-music check (``music_mfcc``), fitted on the same training and
        held-out tracks.
    max_train_rows, max_eval_rows : int or None
        Bounds for a large (streamed) run: the not-music Gaussian is fitted on a seeded
        sample of at most ``max_train_rows`` training windows, and its thresholds on
        whole held-out tracks drawn at random until ``max_eval_rows`` windows (at least
        one track). The confidence and agreement thresholds always use every held-out
        track (they need only the stored probabilities). ``trust.json`` records what was
        sampled (``sampled``). None: every row.
    seed : int
        Seed of those samples.

    Raises
    ------
    ArtifactError
        The run does not record its tracks, ``features`` lacks them, or a refit's
        twin has no checks.
    """
    manifest = run.manifest
    target = run.path / FILE
    if manifest.get("metrics_from"):
        source = (twin.path if twin is not None else run.path.parent / manifest["metrics_from"]["run"]) / FILE
        if not source.is_file():
            raise ArtifactError(
                f"run {run.id!r} is a refit of {manifest['metrics_from']['run']!r}, which has no {FILE}"
            )
        _write(target, json.loads(source.read_text()))
        return target
    ids = manifest["split"].get("track_ids")
    track_ids = np.asarray(features.track_ids).astype(str)
    if not ids or np.any(track_ids == "") or "" in ids.get("train", []):
        raise ArtifactError(
            f"run {run.id!r} does not record its tracks (features without track ids): its trust checks cannot be fitted"
        )
    train_rows = np.flatnonzero(np.isin(track_ids, ids["train"]))
    if not len(train_rows):
        raise ArtifactError(f"none of run {run.id!r}'s training tracks is in these features")
    pred = run.predictions()
    pred_ids = np.asarray(pred["track_ids"]).astype(str)
    eval_rows = _rows_of(track_ids, np.asarray(features.segment_index), pred_ids, np.asarray(pred["segment_index"]))
    if eval_rows is None:
        raise ArtifactError(f"run {run.id!r}'s test segments are not all in these features")
    if len(train_rows) < 2 or not len(eval_rows):
        raise ParameterError(
            f"trust needs training windows and held-out windows; got {len(train_rows)} and {len(eval_rows)}"
        )
    rng = np.random.default_rng(seed)
    train_sample = _sample_rows(train_rows, max_train_rows, rng)
    eval_sample = _sample_tracks(pred_ids, max_eval_rows, rng)
    label = manifest["split"].get("label", manifest["split"]["name"])
    part = "valid part" if "tested on valid" in label else "test part"
    X_eval = _take(features.X, eval_rows[eval_sample])
    data = {
        "version": 1,
        "fitted_on": f"{label} split, {part} ({len(np.unique(pred_ids))} tracks)",
        "music": fit_music(
            X_train=_take(features.X, train_sample), X_eval=X_eval, eval_track_ids=pred_ids[eval_sample]
        ),
        **_answer_thresholds(pred["probs"], pred["y_true"], pred_ids),
    }
    if len(train_sample) < len(train_rows) or len(eval_sample) < len(pred_ids):
        data["sampled"] = {
            "train_windows": [int(len(train_sample)), int(len(train_rows))],
            "held_out_tracks": [int(len(np.unique(pred_ids[eval_sample]))), int(len(np.unique(pred_ids)))],
            "held_out_windows": [int(len(eval_sample)), int(len(pred_ids))],
            "seed": int(seed),
        }
    del X_eval
    if mfcc is not None and len(features.X.shape) == 2:
        mfcc_ids = np.asarray(mfcc.track_ids).astype(str)
        held = np.flatnonzero(np.isin(mfcc_ids, np.unique(pred_ids[eval_sample])))
        mtrain = _sample_rows(np.flatnonzero(np.isin(mfcc_ids, ids["train"])), max_train_rows, rng)
        if not len(held) or not len(mtrain):
            raise ArtifactError(f"mfcc features lack run {run.id!r}'s training or held-out tracks")
        data["music_mfcc"] = {
            **fit_music(X_train=_take(mfcc.X, mtrain), X_eval=_take(mfcc.X, held), eval_track_ids=mfcc_ids[held]),
            "params": mfcc.params.to_dict(),
        }
    _write(target, data)
    return target


def _answer_thresholds(probs: np.ndarray, y: np.ndarray, track_ids: np.ndarray) -> dict:
    """The low-confidence and windows-disagree thresholds, from held-out probabilities."""
    conf, agree, right = _track_scores(np.asarray(probs, float), np.asarray(y), np.asarray(track_ids).astype(str))
    return {
        "confidence": _youden(conf, right, FALLBACK["confidence"]),
        "agreement": _youden(agree, right, FALLBACK["agreement"]),
    }


def _rows_of(track_ids: np.ndarray, segments: np.ndarray, want_ids: np.ndarray, want_segments: np.ndarray):
    """Row of each (track id, segment) asked for, by one sort; None when one is missing."""
    if not len(want_ids):
        return np.zeros(0, np.int64)
    candidates = np.flatnonzero(np.isin(track_ids, np.unique(want_ids)))
    if not len(candidates):
        return None
    _, inverse = np.unique(np.concatenate([track_ids[candidates], want_ids]), return_inverse=True)
    width = int(max(segments[candidates].max(initial=0), want_segments.max(initial=0))) + 1
    have = inverse[: len(candidates)].astype(np.int64) * width + segments[candidates]
    want = inverse[len(candidates) :].astype(np.int64) * width + want_segments
    order = np.argsort(have, kind="stable")
    at = np.minimum(np.searchsorted(have, want, sorter=order), len(have) - 1)
    found = order[at]
    if np.any(have[found] != want):
        return None
    return candidates[found]


def _sample_rows(rows: np.ndarray, limit: int | None, rng) -> np.ndarray:
    """At most ``limit`` of ``rows`` (sorted, a seeded sample); all of them when None or enough."""
    if limit is None or len(rows) <= limit:
        return rows
    return np.sort(rng.choice(rows, int(limit), replace=False))


def _sample_tracks(track_ids: np.ndarray, limit: int | None, rng) -> np.ndarray:
    """Positions of whole tracks drawn at random until ``limit`` positions (at least one track); all when None."""
    if limit is None or len(track_ids) <= limit:
        return np.arange(len(track_ids))
    tracks, groups = _groups(track_ids)
    chosen, total = [], 0
    for t in rng.permutation(len(tracks)):
        if chosen and total + len(groups[t]) > limit:
            continue
        chosen.append(groups[t])
        total += len(groups[t])
    return np.sort(np.concatenate(chosen))


def _write(path: Path, data: dict) -> None:
    text = json.dumps(data)
    atomic_write(path, lambda f: f.write(text.encode()))


def load_trust(run) -> Trust | None:
    """A run's fitted checks, or None when it has none (runs made before they existed).

    Raises
    ------
    ArtifactError
        ``trust.json`` exists but is damaged.
    """
    path = run.path / FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        m = data["music"]
        n = len(m["location"])
        if np.asarray(m["precision"], float).shape != (n, n):
            raise ValueError("precision matrix does not fit the location")
        for key in ("confidence", "agreement"):
            float(data[key]["threshold"])
        float(m["distance_threshold"])
        if m.get("variation_threshold") is not None:
            float(m["variation_threshold"])
        if "projection" in m and np.asarray(m["projection"]["components"], float).shape[0] != n:
            raise ValueError("projection does not fit the location")
        if "music_mfcc" in data:
            float(data["music_mfcc"]["distance_threshold"]), dict(data["music_mfcc"]["params"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ArtifactError(f"run {run.id!r}: {FILE} is damaged: {e}") from e
    return Trust(data)


def assess(answers: list, X: np.ndarray | list, trusts: list, *, mfcc: np.ndarray | None = None) -> list[dict]:
    """The flags of one clip.

    Parameters
    ----------
    answers : list of ModelAnswer
        One per run (:mod:`mgc.analysis.classify`), with window and clip probabilities.
    X : np.ndarray [shape=(k, frames, n_mfcc)] or list of np.ndarray
        The windows the models heard: one array for all, or one per answer (runs on
        MFCCs and on embeddings hear different features of the same windows).
    trusts : list of (Trust or None)
        Each run's checks, in the order of ``answers``.
    mfcc : np.ndarray [shape=(k, frames, n_mfcc)] or None
        MFCC windows of the clip, for the extra check of runs on embeddings
        (:attr:`Trust.mfcc_params`); a run's not-music verdict is then either of its two checks.

    Returns
    -------
    list of dict
        Each flag: ``kind`` (one of :data:`KINDS`), ``run`` (run id, or None for
        the clip), ``message`` and the numbers behind it.
    """
    flags = []
    heard = list(X) if isinstance(X, (list, tuple)) else [X] * len(answers)
    if len(heard) != len(answers):
        raise ParameterError(f"X holds {len(heard)} window arrays for {len(answers)} answers")
    fitted = [(a, t, x) for a, t, x in zip(answers, trusts, heard, strict=True) if t is not None]
    if fitted:
        checks = []
        for _, t, x in fitted:
            c = t.music_check(x)
            extra = t.mfcc_music_check(mfcc) if mfcc is not None else None
            if extra is not None and not c["atypical"] and (extra["atypical"] or extra["stationary"]):
                c = extra  # the tagger heard music, the MFCCs did not: say what the MFCCs found
            checks.append(c)
        atypical = sum(c["atypical"] for c in checks) * 2 > len(checks)
        stationary = sum(c["stationary"] for c in checks) * 2 > len(checks)
        if atypical or stationary:
            c = next((c for c in checks if c["atypical"]), checks[0]) if atypical else checks[0]
            why = []
            if atypical:
                what = "what the pretrained tagger hears" if c["of"] == "embedding" else "its timbre"
                why.append(
                    f"{what} is far from the training music (distance {c['distance']:.1f}, "
                    f"threshold {c['distance_threshold']:.1f})"
                )
            if stationary:
                c = next(c for c in checks if c["stationary"])
                why.append(
                    f"its sound hardly changes (variation {c['variation']:.2f}, threshold "
                    f"{c['variation_threshold']:.2f}), as noise and drones do"
                )
            flags.append(
                {
                    "kind": "not-music",
                    "run": None,
                    **{k: c[k] for k in ("distance", "variation")},
                    "message": "This does not sound like the music the models learned from: "
                    + "; ".join(why)
                    + ". Speech, noise, tones and styles far from GTZAN land here: "
                    "the genres below are a guess.",
                }
            )
    for a, t, _ in fitted:
        title = f"{model_title(a.model)} ({a.run_id})"
        conf = t.data["confidence"]
        if a.confidence < conf["threshold"]:
            flags.append(
                {
                    "kind": "low-confidence",
                    "run": a.run_id,
                    "value": a.confidence,
                    "threshold": conf["threshold"],
                    "message": (
                        f"{title} is unsure: {a.confidence:.0%} for {a.predicted}, under its threshold "
                        f"{conf['threshold']:.0%}" + _below_text(conf, t.fitted_on)
                    ),
                }
            )
        agree = float(np.mean(a.window_probs.argmax(axis=1) == int(np.argmax(a.probs))))
        thr = t.data["agreement"]
        if len(a.window_probs) > 1 and agree < thr["threshold"]:
            flags.append(
                {
                    "kind": "windows-disagree",
                    "run": a.run_id,
                    "value": agree,
                    "threshold": thr["threshold"],
                    "message": (
                        f"{title}'s windows disagree: {agree:.0%} of them say {a.predicted}, under its "
                        f"threshold {thr['threshold']:.0%}" + _below_text(thr, t.fitted_on)
                    ),
                }
            )
    if len({a.predicted for a in answers}) > 1:
        said = ", ".join(f"{model_title(a.model)} {a.predicted}" for a in answers)
        flags.append({"kind": "models-disagree", "run": None, "message": f"The models disagree: {said}."})
    return flags


def _below_text(fit: dict, fitted_on: str) -> str:
    if not fit.get("fitted"):
        return f" (a default: {fitted_on} had no wrong or no right track to fit one)"
    b = fit["below"]
    return f" (on the {fitted_on}, {b['right']} of {b['n']} answers below it were right)"


#: What the four checks mean, for a reader of the answers.
CHECKS_TEXT = (
    "A model always answers with a genre it knows. Four checks say when not to believe it, each fitted "
    "on tracks the run held out (for the fault-filtered runs: the valid list, artists never heard):",
    "- **not music**: the clip's MFCC statistics are further from the training music than 99 % of held-out "
    "clips (speech, tones), or its timbre moves less than in 99 % of them (noise, drones); for the transfer "
    "model, what the pretrained tagger hears (its embeddings) is that far from the training music;",
    "- **low confidence**: the top probability is below the threshold that best separates right from wrong "
    "held-out answers;",
    "- **windows disagree**: too few 3-s windows agree with the clip's answer (same kind of threshold);",
    "- **models disagree**: the chosen models give different genres.",
)


def explain_checks(run_ids, *, root=None) -> str:
    """Markdown: what the checks mean, then each run's fitted thresholds (or why it has none).

    Parameters
    ----------
    run_ids : iterable of str
    root : path or None
        Runs folder (default ``artifacts/runs``).
    """
    lines = [*CHECKS_TEXT, ""]
    for rid in run_ids:
        try:
            t = load_trust(load_run(rid, root=root))
        except MgcError as e:
            lines.append(f"- `{rid}`: {e}")
            continue
        if t is None:
            lines.append(f"- `{rid}`: no fitted checks.")
            continue
        d = t.data
        m = d["music"]
        music = (
            f"distance > {m['distance_threshold']:.1f}, variation < {m['variation_threshold']:.2f}"
            if m.get("variation_threshold") is not None
            else f"embedding distance > {m['distance_threshold']:.1f}"
        )
        lines.append(
            f"- `{rid}`: confidence < {d['confidence']['threshold']:.0%}, window agreement < "
            f"{d['agreement']['threshold']:.0%}, {music}; fitted on the {t.fitted_on}."
        )
    return "\n".join(lines)
