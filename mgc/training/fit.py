"""One training run: split, build, compile, fit with callbacks, evaluate, store.

Two recipes, named so that results say what made them:

``study``
    The study's pipeline taken as is: raw MFCCs (no input scaling), Adam, the
    study's learning rate and dropout, every epoch run, no class weights.
``improved``
    The same networks, trained the way an honest split needs: per-coefficient
    standardisation fitted on the training part only (a ``Normalization`` layer
    inside the model, so classification applies it too); every epoch, each
    training segment replaced by a 3-s window cut at a random frame of its
    track's training segments, then mixed with another example by mixup
    (alpha 0.4; :mod:`mgc.augment`); Adam from 1e-3 down to 0 along a cosine
    over 60 epochs; balanced class weights; no early stopping.

Every run records, per epoch and for train and validation, the accuracy, the
cross-entropy loss, and the RMSE between the one-hot label and the softmax output
(the study's "error"; see :mod:`mgc.evaluate`).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable

import numpy as np

from . import __version__
from .augment import balanced_order, mixup, random_windows, spec_mask, training_runs
from .dataset import EVALUATE_ON, SPLITS, Split, make_split, thin_classes
from .errors import ParameterError
from .evaluate import evaluate_predictions
from .extract import FeatureSet
from .models import CNN_DEVIATION, MODEL_NAMES, STUDY_LEARNING_RATE, build
from .runs import Run, load_run, runs_dir, save_run
from .trust import fit_trust

RECIPES = {
    "study": {"standardize": False, "early_stopping": 0, "class_weight": False, "learning_rate": None,
              "input_noise": 0.0, "monitor": "val_loss", "random_windows": False, "mixup": 0.0,
              "lr_schedule": "constant", "epochs": 100, "balanced_sampling": False,
              "spec_mask": False},
    # Chosen by 3-fold cross-validation over the tracks of the reference subset (tools/compare_recipes.py;
    # README, "Study recipe vs improved recipe"). Random windows, a learning rate that decays to 0 and mixup
    # made the difference; early stopping on a validation part of ~18 tracks picked noisy epochs and is off
    # (the monitor only applies when it is turned on).
    "improved": {"standardize": True, "early_stopping": 0, "class_weight": True, "learning_rate": 1e-3,
                 "input_noise": 0.0, "monitor": "val_accuracy", "random_windows": True, "mixup": 0.4,
                 "lr_schedule": "cosine", "epochs": 60, "balanced_sampling": False,
                 "spec_mask": False},
}

LR_SCHEDULES = ("constant", "cosine")


def keras_module():
    """Import Keras on the TensorFlow backend with TensorFlow's start-up chatter silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run besides the data.

    Attributes
    ----------
    model : {'mlp', 'cnn', 'lstm'}
    recipe : {'study', 'improved'}
        Sets the defaults of every setting below that is None.
    split : {'segment', 'track', 'fault-filtered'}
    evaluate_on : {'auto', 'test', 'valid'}
        What a ``fault-filtered`` split tests on (see :func:`mgc.dataset.make_split`).
    epochs : int or None
        At most this many epochs; None takes the recipe's (the study's figures: 100).
    batch_size : int
    learning_rate : float or None
        Adam's (starting) rate; None takes the recipe's (study: the study's 1e-4; improved: 1e-3).
    seed : int
        Seeds the split, the weights and the shuffling.
    test_size, validation_size : float
        Fractions for the segment and track splits.
    dropout : float
    cnn_pool_strides : int
        Pooling stride of the CNN (see :mod:`mgc.models`).
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
        of its track's training segments (:mod:`mgc.augment`).
    mixup : float or None
        Beta's alpha of mixup (0 = off).
    lr_schedule : {'constant', 'cosine'} or None
        The learning rate over the run: constant, or from its start to 0 along a cosine.
    balanced_sampling : bool or None
        Draw every epoch's training rows with the classes equally often
        (:func:`mgc.augment.balanced_order`), the alternative to class weights
        for unequal classes (use one or the other).
    spec_mask : bool or None
        Mask one band of frames and one of coefficients per training example
        every epoch (:func:`mgc.augment.spec_mask`).
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

    def __post_init__(self):
        if self.model not in MODEL_NAMES:
            raise ParameterError(f"model={self.model!r} is not one of {', '.join(MODEL_NAMES)}")
        if self.recipe not in RECIPES:
            raise ParameterError(f"recipe={self.recipe!r} is not one of {', '.join(RECIPES)}")
        if self.split not in SPLITS:
            raise ParameterError(f"split={self.split!r} is not one of {', '.join(SPLITS)}")
        if self.evaluate_on not in EVALUATE_ON:
            raise ParameterError(f"evaluate_on={self.evaluate_on!r} is not one of {', '.join(EVALUATE_ON)}")
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if v is None and name == "epochs":
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ParameterError(f"{name}={v!r} must be a positive integer")
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
        out = {k: getattr(self, k) for k in recipe if k not in ("learning_rate", "epochs")
               and getattr(self, k) is not None and getattr(self, k) != recipe[k]}
        if self.learning_rate is not None and self.learning_rate != self.resolved_learning_rate():
            out["learning_rate"] = self.learning_rate
        return out

    def resolved_learning_rate(self) -> float:
        """The recipe's learning rate for this model (the study's when the recipe has none)."""
        return RECIPES[self.recipe]["learning_rate"] or STUDY_LEARNING_RATE[self.model]

    def resolved(self) -> "TrainConfig":
        """A copy with the recipe's defaults and the study's learning rate filled in."""
        # every recipe key is a field of the same name: None takes the recipe's value
        recipe = RECIPES[self.recipe]
        filled = {k: recipe[k] if getattr(self, k) is None else getattr(self, k) for k in recipe if k != "learning_rate"}
        return replace(self, **filled, learning_rate=self.learning_rate or self.resolved_learning_rate())


@dataclass(frozen=True)
class EpochReport:
    """What ``on_epoch`` receives after each epoch."""

    epoch: int  # 1-based
    epochs: int
    logs: dict  # accuracy, loss, rmse, val_accuracy, val_loss, val_rmse
    seconds: float  # of this epoch
    elapsed: float  # since fit began


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "mgc": __version__}
    for pkg in ("numpy", "tensorflow", "tensorflow-cpu", "keras", "librosa", "soundfile"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _new_id(cfg: TrainConfig, root) -> str:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{cfg.model}-{cfg.split}-{cfg.recipe}-s{cfg.seed}"
    run_id, n = base, 1
    while (runs_dir(root) / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def _seed(seed: int):
    keras = keras_module()
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    return keras


def _class_weights(y: np.ndarray, n_classes: int) -> dict[int, float]:
    counts = np.bincount(y, minlength=n_classes)
    return {i: float(len(y) / (n_classes * c)) for i, c in enumerate(counts) if c}


def _augmented_epochs(keras, cfg: TrainConfig, features: FeatureSet, rows: np.ndarray,
                      class_weight: dict | None, n_classes: int):
    """A Keras dataset that makes a new augmented, shuffled training set every epoch (seeded)."""
    X, y = features.X[rows], features.y[rows]
    runs = training_runs(X, track_ids=features.track_ids[rows], segment_index=features.segment_index[rows]) \
        if cfg.random_windows else None
    onehot = np.eye(n_classes, dtype=np.float32)[y]
    per_row = np.array([class_weight[int(c)] for c in y], dtype=np.float32) if class_weight else None
    rng = np.random.default_rng(cfg.seed)
    fill = X.reshape(-1, X.shape[-1]).mean(axis=0) if cfg.spec_mask else None

    class Epochs(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.on_epoch_end()

        def __len__(self):
            return -(-len(y) // cfg.batch_size)

        def __getitem__(self, i):
            part = slice(i * cfg.batch_size, (i + 1) * cfg.batch_size)
            if self.w is None:
                return self.x[part], self.y[part]
            return self.x[part], self.y[part], self.w[part]

        def on_epoch_end(self):
            order = balanced_order(y, rng) if cfg.balanced_sampling else rng.permutation(len(y))
            x = random_windows(runs, rng)[order] if runs is not None else X[order]
            if cfg.spec_mask:
                x = spec_mask(x, rng, fill=fill)
            self.x, self.y, self.w = x, onehot[order], None if per_row is None else per_row[order]
            if cfg.mixup:
                self.x, self.y, self.w = mixup(self.x, self.y, alpha=cfg.mixup, rng=rng, weights=self.w)

    return Epochs()


def train(
    features: FeatureSet,
    config: TrainConfig,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    root=None,
    run_id: str | None = None,
    dataset_note: str = "",
    split: Split | None = None,
    metrics_from: Run | None = None,
    tags: tuple[str, ...] = (),
) -> Run:
    """Train one model on extracted features and store the run.

    Parameters
    ----------
    features : FeatureSet
        The segment table (:func:`mgc.extract.extract_dataset`).
    config : TrainConfig
    on_epoch : callable(EpochReport) or None
        Called after every epoch (progress, live curves).
    should_stop : callable() -> bool or None
        Polled after every epoch; when it returns True the run ends cleanly there
        and is stored with status ``stopped``. Ctrl-C does the same.
    root : path or None
        Runs folder (default ``artifacts/runs``).
    run_id : str or None
        Folder name; default ``<time>-<model>-<split>-<recipe>-s<seed>``.
    dataset_note : str
        Free text stored in the manifest (e.g. which classes were dropped).
    split : Split or None
        Use these rows instead of making ``config.split`` (e.g. one fold of
        :func:`mgc.dataset.track_folds`, or :func:`mgc.dataset.refit_split`);
        its name must be ``config.split``.
    metrics_from : Run or None
        For a split without a test part (a refit on train + valid): the run whose
        test metrics, predictions and trust thresholds this one carries, labelled
        as such (``manifest["metrics_from"]``). Required exactly then.
    tags : tuple of str
        Stored in the manifest (``"reference"`` marks the shipped runs).

    Returns
    -------
    Run
        The stored run, read back.

    Raises
    ------
    DatasetError
        The split leaves a needed part empty.
    ParameterError
        Bad configuration.
    """
    cfg = config.resolved()
    if split is None:
        split = make_split(cfg.split, y=features.y, track_ids=features.track_ids, test_size=cfg.test_size,
                           validation_size=cfg.validation_size, seed=cfg.seed, evaluate_on=cfg.evaluate_on,
                           classes=features.classes)
    elif split.name != cfg.split:
        raise ParameterError(f"split={split.name!r} (the rows given) differs from config.split={cfg.split!r}")
    elif max((int(p.max()) for p in (split.train, split.validation, split.test) if len(p)), default=-1) >= len(features.y):
        raise ParameterError(f"split rows point past the {len(features.y)} rows of the features")
    if (len(split.test) == 0) != (metrics_from is not None):
        raise ParameterError("metrics_from must be given exactly when the split has no test part (a refit); "
                             f"this split has {len(split.test)} test rows")
    if metrics_from is not None:
        if list(metrics_from.classes) != list(features.classes):
            raise ParameterError(f"metrics_from={metrics_from.id!r} knows {metrics_from.classes}, "
                                 f"not the classes of these features {list(features.classes)}")
        if not (metrics_from.path / "trust.json").is_file():
            raise ParameterError(f"metrics_from={metrics_from.id!r} has no trust.json for the refit to carry")
    keras = _seed(cfg.seed)
    n_classes = len(features.classes)
    if n_classes < 2:
        raise ParameterError(f"the features hold {n_classes} class; at least 2 are needed to train")
    X, y = features.X, features.y
    X_train, y_train = X[split.train], y[split.train]
    X_val, y_val = X[split.validation], y[split.validation]
    onehot = np.eye(n_classes, dtype=np.float32)

    normalize = None
    if cfg.standardize:
        flat = X_train.reshape(-1, X_train.shape[-1]).astype(np.float64)
        normalize = keras.layers.Normalization(axis=-1, mean=flat.mean(0), variance=flat.var(0), name="standardize")
    kwargs = {"dropout": cfg.dropout, "normalize": normalize, "input_noise": cfg.input_noise}
    if cfg.model == "cnn":
        kwargs["pool_strides"] = cfg.cnn_pool_strides
    model = build(cfg.model, X.shape[1:], n_classes, **kwargs)
    rate = cfg.learning_rate
    if cfg.lr_schedule == "cosine":
        steps = cfg.epochs * -(-len(X_train) // cfg.batch_size)
        rate = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=max(1, steps))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate),
        loss="categorical_crossentropy",
        metrics=["accuracy", keras.metrics.RootMeanSquaredError(name="rmse")],
    )

    history: dict[str, list] = {k: [] for k in ("epoch", "accuracy", "loss", "rmse", "val_accuracy", "val_loss",
                                                "val_rmse", "seconds")}
    state = {"user_stop": False, "t0": time.perf_counter(), "t_epoch": 0.0}

    class Recorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            state["t_epoch"] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            seconds = time.perf_counter() - state["t_epoch"]
            history["epoch"].append(epoch + 1)
            history["seconds"].append(seconds)
            for k in ("accuracy", "loss", "rmse", "val_accuracy", "val_loss", "val_rmse"):
                history[k].append(logs.get(k))
            if on_epoch:
                on_epoch(EpochReport(epoch + 1, cfg.epochs, logs, seconds, time.perf_counter() - state["t0"]))
            if should_stop and should_stop():
                state["user_stop"] = True
                self.model.stop_training = True

    callbacks = [Recorder()]
    early = None
    if cfg.early_stopping and len(X_val):
        early = keras.callbacks.EarlyStopping(monitor=cfg.monitor, patience=cfg.early_stopping,
                                              restore_best_weights=True)
        callbacks.append(early)
    started = dt.datetime.now().isoformat(timespec="seconds")
    try:
        weights = _class_weights(y_train, n_classes) if cfg.class_weight else None
        if cfg.random_windows or cfg.mixup or cfg.balanced_sampling or cfg.spec_mask:
            data = {"x": _augmented_epochs(keras, cfg, features, split.train, weights, n_classes)}
        else:
            data = {"x": X_train, "y": onehot[y_train], "batch_size": cfg.batch_size, "shuffle": True,
                    "class_weight": weights}
        model.fit(
            **data,
            validation_data=(X_val, onehot[y_val]) if len(X_val) else None,
            epochs=cfg.epochs, verbose=0, callbacks=callbacks,
        )
    except KeyboardInterrupt:
        if not history["epoch"]:
            raise
        state["user_stop"] = True
    fit_seconds = time.perf_counter() - state["t0"]

    if metrics_from is None:
        X_test, y_test, t_test = X[split.test], y[split.test], features.track_ids[split.test]
        probs = model.predict(X_test, batch_size=256, verbose=0)
        metrics = evaluate_predictions(probs, y_test, t_test, features.classes)
        predictions = {"track_ids": t_test.astype(str), "segment_index": features.segment_index[split.test],
                       "y_true": y_test, "probs": probs.astype(np.float32)}
    else:
        metrics, predictions = metrics_from.metrics, metrics_from.predictions()
    parts = {part: np.unique(features.track_ids[getattr(split, part)]).astype(str).tolist()
             for part in ("train", "validation", "test")}
    test_tracks = {c: int(len(np.unique(features.track_ids[split.test][features.y[split.test] == i])))
                   for i, c in enumerate(features.classes)}
    if metrics_from is not None:  # a refit shows its twin's scores: count the twin's test part
        test_tracks = metrics_from.manifest["split"].get("test_tracks_per_class", test_tracks)
    best_epoch = None
    if early is not None and history[cfg.monitor]:
        values = np.array(history[cfg.monitor], dtype=float)
        best_epoch = int(np.nanargmin(values) if cfg.monitor == "val_loss" else np.nanargmax(values)) + 1
    status = "stopped" if state["user_stop"] and len(history["epoch"]) < cfg.epochs else "finished"
    manifest = {
        "id": None,
        "model": cfg.model,
        "recipe": cfg.recipe,
        "overrides": config.overrides(),
        "status": status,
        "created": started,
        "finished": dt.datetime.now().isoformat(timespec="seconds"),
        "fit_seconds": round(fit_seconds, 2),
        "epoch_seconds_mean": round(float(np.mean(history["seconds"])), 4) if history["seconds"] else None,
        "epochs_requested": cfg.epochs,
        "epochs_run": len(history["epoch"]),
        "best_epoch": best_epoch,
        "config": asdict(cfg),
        "features": features.params.to_dict(),
        "input_shape": list(X.shape[1:]),
        "n_params": int(model.count_params()),
        "dataset": {
            "source": features.source,
            "fingerprint": features.fingerprint,
            "classes": list(features.classes),
            "n_tracks": int(features.n_tracks),
            "n_segments": int(len(X)),
            "per_class": features.counts(),
            "skipped_files": [s.path for s in features.skipped],
            "note": dataset_note,
        },
        "split": {
            "name": split.name,
            "label": split.label,
            "settings": split.settings,
            "segments": split.sizes(),
            "tracks": {part: len(ids) for part, ids in parts.items()},
            "test_tracks_per_class": test_tracks,
            "thin_classes": thin_classes(test_tracks),
            "track_ids": parts,
        },
        "metrics_from": None if metrics_from is None else {
            "run": metrics_from.id, "split": metrics_from.manifest["split"].get("label", metrics_from.manifest["split"]["name"]),
            "note": "trained on train + valid, so it has no test part of its own: its scores are those of this "
                    "train-only twin, on the twin's test part"},
        "tags": list(tags),
        "deviation": CNN_DEVIATION if cfg.model == "cnn" and cfg.cnn_pool_strides != 3 else "",
        "versions": _versions(),
    }
    run_id = run_id or _new_id(cfg, root)
    manifest["id"] = run_id
    # store an uncompiled copy built from the config: no optimizer state in the file
    # (clone_model compiles its clone like the original, and the Adam moments triple the size)
    export = keras.Model.from_config(model.get_config())
    export.set_weights(model.get_weights())
    save_run(run_id, manifest=manifest, history=history, metrics=metrics, predictions=predictions,
             model=export, root=root)
    run = load_run(run_id, root=root)
    fit_trust(run, features, twin=metrics_from)
    return run


def seen_tracks(run: Run) -> set[str] | None:
    """Track ids a run trained or selected on (its train and validation parts), None if it does not record them.

    (A refit's train part holds every track of its twin, the twin's test part included.)
    """
    ids = run.manifest["split"].get("track_ids")
    if ids is None:
        return None
    return set(ids.get("train", [])) | set(ids.get("validation", []))


def evaluate_run(run: Run, features: FeatureSet, *, split: str | None = None, seed: int | None = None) -> dict:
    """Metrics of a stored run's model on other features (all of them, or a split's test part).

    Classes are matched by name; every class of ``features`` must be one the run
    knows. Tracks the run trained or selected on are never scored: they are
    dropped, and counted in the result's ``excluded_tracks``.

    Returns
    -------
    dict
        As :func:`mgc.evaluate.evaluate_predictions`, plus ``excluded_tracks``
        (number of tracks dropped because the run had heard them; None when the
        run does not record its tracks) and ``excluded_examples`` (a few of their ids).

    Raises
    ------
    ParameterError
        Unknown classes or another input shape.
    DatasetError
        Every track asked for is one the run trained or selected on.
    """
    from .errors import DatasetError

    known = run.classes
    unknown = [c for c in features.classes if c not in known]
    if unknown:
        raise ParameterError(f"the run {run.id!r} knows the classes {known}; these are not among them: {unknown}")
    if list(features.X.shape[1:]) != run.manifest["input_shape"]:
        raise ParameterError(f"features of shape {features.X.shape[1:]} do not fit the run's input {run.manifest['input_shape']}")
    mapping = np.array([known.index(c) for c in features.classes])
    rows = np.arange(len(features.y))
    if split:
        cfg = run.manifest["config"]
        s = make_split(split, y=features.y, track_ids=features.track_ids, test_size=cfg["test_size"],
                       validation_size=cfg["validation_size"], seed=cfg["seed"] if seed is None else seed,
                       evaluate_on=cfg.get("evaluate_on", "auto"), classes=features.classes)
        rows = s.test
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
    return out
