"""Compare training recipes by grouped k-fold cross-validation over tracks.

One 25% track split of a small dataset tests a few dozen tracks: one track more or
less right moves the accuracy by three points, more than most differences between
recipes. Here every track is tested exactly once (:func:`mgc.dataset.track_folds`)
and every recipe sees the same folds, so two recipes are compared on all tracks,
fold by fold (paired).

Each (variant, model, fold) result is a small JSON file in ``out_dir``, written
atomically when its run ends: an interrupted comparison resumes where it stopped,
and the trained models themselves are not kept.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import STUDY_MODELS, model_title
from ..dataset import Split, track_folds
from ..errors import ArtifactError, MgcError, ParameterError
from ..features import FeatureSet
from .fit import train
from .recipes import TrainConfig, variant_order

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def result_name(variant: str, model: str, fold: int) -> str:
    """File name of one result: ``<variant>-<model>-fold<k>.json``."""
    return f"{variant}-{model}-fold{fold}.json"


def cross_validate(
    features: FeatureSet,
    variants: dict[str, TrainConfig],
    *,
    out_dir: str | os.PathLike,
    models=STUDY_MODELS,
    n_folds: int = 5,
    seed: int = 0,
    on_result: Callable[[dict], None] | None = None,
    splits: list[Split] | None = None,
    reuse: dict | None = None,
) -> list[dict]:
    """Train every variant and model on every fold; store and return one row per run.

    Parameters
    ----------
    features : FeatureSet
        With track ids (extracted from audio).
    variants : dict of str -> TrainConfig
        Name -> configuration (its ``model`` and ``split`` are replaced: the model
        by each of ``models``, the split by the folds). Names: letters, digits,
        ``_.-``.
    out_dir : path
        Where the result files go; results already there are read, not re-run.
    models : iterable of str
    n_folds : int >= 2
    seed : int
        Seeds the folds (each run keeps its configuration's seed).
    on_result : callable(dict) or None
        Called with each row as it is ready (also for rows read from disk).
    splits : list of Split, callable(TrainConfig) -> list of Split, or None
        Use these splits as the folds instead of track folds, e.g. the one
        fault-filtered split tested on valid (:func:`mgc.dataset.make_split`):
        the honest way to choose a recipe on GTZAN. A callable makes them per
        variant (from its configuration, so a variant may change e.g. its
        ``validation_size``). ``n_folds`` is then their number.
    reuse : dict of (variant, model, fold) -> Run, or None
        Stored runs to take a result from instead of training it again (e.g. the
        reference runs, for the variants they are). Each must have been trained
        with exactly the variant's resolved configuration on the same split and data.

    Returns
    -------
    list of dict
        Per run: variant, model, fold, segment and track accuracies, loss, RMSE,
        epochs run, seconds per epoch, and per test track its true and predicted
        (mean-probability) class.

    Raises
    ------
    ParameterError
        A variant name is not a plain label.
    ArtifactError
        A result in ``out_dir`` is damaged or was made with other folds or data.
    DatasetError
        The folds cannot be made (see :func:`mgc.dataset.track_folds`).
    """
    for name in variants:
        if not _LABEL.match(name):
            raise ParameterError(f"variant name {name!r} must be 1-64 letters, digits, '_', '.' or '-'")
    if splits is None:
        folds = track_folds(y=features.y, track_ids=features.track_ids, n_folds=n_folds, seed=seed)
        folds_of = {name: folds for name in variants}
    else:
        folds_of = {name: list(splits(cfg) if callable(splits) else splits) for name, cfg in variants.items()}
        if len({len(f) for f in folds_of.values()}) != 1 or any(
            not f or len({s.name for s in f}) != 1 for f in folds_of.values()
        ):
            raise ParameterError("splits must give every variant the same, non-zero number of splits of one protocol")
        n_folds = len(next(iter(folds_of.values())))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for model in models:
        for k in range(n_folds):
            for name, base in variants.items():
                split = folds_of[name][k]
                path = out / result_name(name, model, k)
                row = _read(path)
                if row is not None and (row.get("n_folds"), row.get("fold_seed"), row.get("dataset_fingerprint")) != (
                    n_folds,
                    seed,
                    features.fingerprint,
                ):
                    raise ArtifactError(
                        f"{path.name} in {out} was made with other folds or data (n_folds={row.get('n_folds')}, "
                        f"seed={row.get('fold_seed')}, dataset {row.get('dataset_fingerprint')!r}; "
                        f"now n_folds={n_folds}, "
                        f"seed={seed}, dataset {features.fingerprint!r}): use another out_dir"
                    )
                if row is not None and row.get("tracks"):
                    stored = {t["track_id"] for t in row["tracks"]}
                    if stored != set(features.track_ids[split.test].astype(str)):
                        # same n_folds, seed and data, yet other folds (e.g. made before track_folds used scikit-learn)
                        raise ArtifactError(
                            f"{path.name} in {out} was made with other folds: it tested {len(stored)} tracks, "
                            f"not the {len(np.unique(features.track_ids[split.test]))} of fold {k} now; "
                            "use another out_dir"
                        )
                if row is None:
                    cfg = replace(base, model=model, split=split.name)
                    run = (reuse or {}).get((name, model, k))
                    if run is not None:
                        _check_reuse(run, cfg, split, features)
                        row = result_row(
                            run, variant=name, fold=k, n_folds=n_folds, seed=seed, split=split, features=features
                        )
                    else:
                        with tempfile.TemporaryDirectory(prefix="mgc-cv-") as tmp:
                            run = train(features, cfg, root=tmp, run_id="cv", split=split)
                            row = result_row(
                                run, variant=name, fold=k, n_folds=n_folds, seed=seed, split=split, features=features
                            )
                    _write(path, row)
                rows.append(row)
                if on_result:
                    on_result(row)
    return rows


def result_row(run, *, variant: str, fold: int, n_folds: int, seed: int, split: Split, features: FeatureSet) -> dict:
    """The stored result of one (variant, model, fold): a run's test scores and per-track answers."""
    m = run.metrics
    return {
        "variant": variant,
        "model": run.model_name,
        "fold": fold,
        "n_folds": n_folds,
        "fold_seed": seed,
        "protocol": split.label,
        "run": run.id,
        "config": run.manifest["config"],
        "segment_accuracy": m["segment_accuracy"],
        "track_accuracy": m["track_accuracy_mean"],
        "track_balanced_accuracy": m.get("track_balanced_accuracy"),
        "track_accuracy_vote": m["track_accuracy_vote"],
        "loss": m["loss"],
        "rmse": m["rmse"],
        "epochs_run": run.manifest["epochs_run"],
        "epoch_seconds": run.manifest["epoch_seconds_mean"],
        "tracks": [{"track_id": t["track_id"], "true": t["true"], "predicted": t["mean"]} for t in m["tracks"]],
        "classes": list(features.classes),
        "dataset_fingerprint": features.fingerprint,
    }


def _check_reuse(run, cfg: TrainConfig, split: Split, features: FeatureSet) -> None:
    want, have = asdict(cfg.resolved()), run.manifest["config"]

    def same(key: str) -> bool:
        if key in have:
            return have[key] == want[key]
        return want[key] in (False, 0, None, "auto")  # a setting added after the run was made: it ran with it off

    differs = sorted(k for k in want if not same(k))
    tested = set(run.manifest["split"].get("track_ids", {}).get("test", []))
    if (
        differs
        or run.manifest["dataset"]["fingerprint"] != features.fingerprint
        or tested != set(features.track_ids[split.test])
    ):
        raise ArtifactError(
            f"run {run.id!r} cannot stand for this result: "
            + (f"its settings differ in {', '.join(differs)}" if differs else "it was tested on other tracks or data")
        )


def _read(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        row = json.loads(path.read_text())
        if not isinstance(row, dict) or "track_accuracy" not in row:
            raise ValueError("not a result")
        return row
    except (OSError, ValueError) as e:
        raise ArtifactError(f"result file {path.name} is damaged ({e}); delete it to re-run that fold") from e


def _write(path: Path, row: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(row, f)
    os.replace(tmp, path)


def load_results(out_dir: str | os.PathLike) -> list[dict]:
    """Every result file in ``out_dir`` (damaged ones raise :class:`~mgc.errors.ArtifactError`)."""
    return [_read(p) for p in sorted(Path(out_dir).glob("*-fold*.json"))]


def load_comparisons(folder: str | os.PathLike) -> dict[str, list[dict] | str]:
    """The comparisons stored under ``folder``, one sub-folder each: name -> result rows.

    A sub-folder with a damaged result file maps to the error message instead; an
    empty one is left out; a missing ``folder`` gives ``{}``.
    """
    folder = Path(folder)
    out: dict[str, list[dict] | str] = {}
    for d in sorted(p for p in folder.glob("*") if p.is_dir()) if folder.is_dir() else []:
        try:
            rows = load_results(d)
        except MgcError as e:
            out[d.name] = str(e)
            continue
        if rows:
            out[d.name] = rows
    return out


def _pooled_balanced(tracks: list[dict]) -> float:
    """Mean recall over the classes present among result tracks (``true`` / ``predicted``), pooled over folds."""
    classes = sorted({t["true"] for t in tracks})
    return float(np.mean([np.mean([t["true"] == t["predicted"] for t in tracks if t["true"] == c]) for c in classes]))


def summarize(rows: list[dict], *, baseline: str = "study"):
    """One line per (model, variant): accuracies over all folds, and the paired gain over ``baseline``.

    Returns
    -------
    pandas.DataFrame
        Columns: model, variant, protocol, folds, tracks (tested), track accuracy
        (pooled over all tested tracks), balanced accuracy (mean recall over the
        classes tested, pooled), track acc per fold (mean and sd), segment
        accuracy (mean over folds), cross-entropy (mean), epochs (mean), and
        against the baseline on the same folds: Δ track acc (pooled), folds won /
        tied / lost on track accuracy, and tracks only this variant got right
        minus tracks only the baseline got right.
    """
    import pandas as pd

    by_key: dict[tuple, dict[int, dict]] = {}
    for r in rows:
        by_key.setdefault((r["model"], r["variant"]), {})[r["fold"]] = r
    out = []
    for (model, variant), folds in by_key.items():
        tracks = [t for r in folds.values() for t in r["tracks"]]
        correct = {t["track_id"]: t["true"] == t["predicted"] for t in tracks}
        per_fold = np.array([r["track_accuracy"] for r in folds.values()])
        line = {
            "model": model_title(model),
            "variant": variant,
            "protocol": next(iter(folds.values())).get("protocol", "track"),
            "folds": len(folds),
            "tracks": len(tracks),
            "track accuracy": round(float(np.mean(list(correct.values()))), 4),
            "balanced accuracy": round(_pooled_balanced(tracks), 4),
            "track acc / fold (mean)": round(float(per_fold.mean()), 4),
            "track acc / fold (sd)": round(float(per_fold.std(ddof=1)), 4) if len(per_fold) > 1 else None,
            "segment accuracy (mean)": round(float(np.mean([r["segment_accuracy"] for r in folds.values()])), 4),
            "cross-entropy (mean)": round(float(np.mean([r["loss"] for r in folds.values()])), 4),
            "epochs (mean)": round(float(np.mean([r["epochs_run"] for r in folds.values()])), 1),
        }
        base = by_key.get((model, baseline))
        if base is not None and variant != baseline:
            shared = sorted(set(folds) & set(base))
            b_tracks = {t["track_id"]: t["true"] == t["predicted"] for k in shared for t in base[k]["tracks"]}
            v_tracks = {t["track_id"]: t["true"] == t["predicted"] for k in shared for t in folds[k]["tracks"]}
            diffs = [folds[k]["track_accuracy"] - base[k]["track_accuracy"] for k in shared]
            won, tied, lost = sum(d > 0 for d in diffs), sum(d == 0 for d in diffs), sum(d < 0 for d in diffs)
            base_tracks = [t for k in shared for t in base[k]["tracks"]]
            line.update(
                {
                    "Δ track acc vs " + baseline: round(
                        float(np.mean(list(v_tracks.values()))) - float(np.mean(list(b_tracks.values()))), 4
                    ),
                    "Δ balanced vs " + baseline: round(line["balanced accuracy"] - _pooled_balanced(base_tracks), 4)
                    if set(folds) == set(shared)
                    else None,
                    "folds won/tied/lost": f"{won}/{tied}/{lost}",
                    "tracks gained − lost": int(
                        sum(v and not b_tracks[t] for t, v in v_tracks.items())
                        - sum(b_tracks[t] and not v for t, v in v_tracks.items())
                    ),
                }
            )
        out.append(line)
    df = pd.DataFrame(out)
    if len(df):
        df = df.sort_values(["model", "variant"], key=lambda s: s.map(variant_order) if s.name == "variant" else s)
    return df.reset_index(drop=True)


def variant_settings(rows: list[dict]):
    """What each variant was: its training settings (those of its first result), one line per variant.

    Returns
    -------
    pandas.DataFrame
        Columns: variant, recipe, standardize, learning rate, epochs (at most),
        early stopping (patience, 0 = off), monitor, class weights, input noise,
        random windows, mixup alpha, lr schedule, balanced sampling, spec mask,
        dropout, validation size (settings an older result lacks: off).
    """
    import pandas as pd

    seen: dict[str, dict] = {}
    for r in rows:
        seen.setdefault(r["variant"], r.get("config", {}))
    out = [
        {
            "variant": v,
            "recipe": c.get("recipe"),
            "standardize": c.get("standardize"),
            "learning rate": c.get("learning_rate"),
            "epochs (at most)": c.get("epochs"),
            "early stopping": c.get("early_stopping"),
            "monitor": c.get("monitor") if c.get("early_stopping") else "-",
            "class weights": c.get("class_weight"),
            "input noise": c.get("input_noise"),
            "random windows": bool(c.get("random_windows")),
            "mixup alpha": c.get("mixup") or 0.0,
            "lr schedule": c.get("lr_schedule") or "constant",
            "balanced sampling": bool(c.get("balanced_sampling")),
            "spec mask": bool(c.get("spec_mask")),
            "dropout": c.get("dropout"),
            "validation size": c.get("validation_size"),
        }
        for v, c in sorted(seen.items(), key=lambda kv: variant_order(kv[0]))
    ]
    return pd.DataFrame(out)
