"""One training run: split, build, compile, fit with callbacks, evaluate, store.

:func:`train` takes a :class:`~mgc.features.FeatureSet` and a
:class:`~mgc.training.recipes.TrainConfig` and leaves a stored
:class:`~mgc.runs.Run`. Every run records, per epoch and for train and
validation, the accuracy, the cross-entropy loss, and the RMSE between the one-hot
label and the softmax output (the study's "error"; see :mod:`mgc.runs.metrics`).

Recipes that augment (random windows, mixup, balanced sampling, masks) feed Keras
an :class:`EpochSampler` through a ``keras.utils.PyDataset``: a new augmented,
shuffled training set every epoch, drawn from the training rows only.

Features whose segments are not in memory (an ``np.memmap``, or any row source of
:mod:`mgc.training.stream`) are *streamed*: every batch, validation batch and test
chunk reads only its rows, and the augmented epochs are drawn as
:class:`EpochSampler` draws them (same seed, same data: same history).
"""

from __future__ import annotations

import datetime as dt
import functools
import platform
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from .. import __version__
from ..config import MODEL_FEATURES
from ..dataset import Split, make_split, thin_classes, tracks_per_class
from ..errors import ParameterError
from ..features import FeatureSet, kind_of
from ..models import CNN_DEVIATION, build, fused_classes, keras_module, plain_config, seeded_keras
from ..models.fused import LSTM_PARTS
from ..runs import Run, evaluate_predictions, fit_trust, load_run, runs_dir, save_run
from .augment import balanced_order, mixup, random_windows, spec_mask, training_runs
from .recipes import TrainConfig
from .stream import RowBatches, StreamSampler, as_source, frame_mean, in_memory, moments

#: A streamed run fits its not-music check on at most this many training rows (a seeded sample), not on all of them,
TRUST_TRAIN_ROWS = 50_000
#: and its thresholds on whole held-out tracks drawn until this many rows (confidence and agreement: every track),
#: so the end of a run holds a bounded part of the data (see :func:`mgc.runs.fit_trust`).
TRUST_EVAL_ROWS = 20_000
#: Test rows predicted at a time by a streamed run (a multiple of the prediction batch of 256).
PREDICT_CHUNK = 256 * 32

#: The per-epoch logs a run's history keeps (train and validation).
LOGS = ("accuracy", "loss", "rmse", "val_accuracy", "val_loss", "val_rmse")
#: Seconds between two reports of the batches done within an epoch (``on_progress`` of :func:`train`).
PROGRESS_SECONDS = 0.25

#: Training steps per call of Keras's compiled loop on the fast path (``TrainConfig.fast``):
#: fewer round trips from Python per epoch (bench/train.py). The fast path also runs the LSTM and
#: Adam as fused TensorFlow kernels (:mod:`mgc.models.fused`). XLA is not part of it: Keras turns
#: ``jit_compile`` off while TensorFlow's op determinism is on (as in every run, for same seed ->
#: same history), and with determinism off it was slower here for all three networks
#: (bench/train_candidates.py).
STEPS_PER_EXECUTION = 16


def compile_options(cfg: TrainConfig) -> dict:
    """The ``keras.Model.compile`` arguments that set how a run's training step executes.

    Parameters
    ----------
    cfg : TrainConfig

    Returns
    -------
    dict
        ``jit_compile`` (always False, see :data:`STEPS_PER_EXECUTION`) and
        ``steps_per_execution``: :data:`STEPS_PER_EXECUTION` on the fast path (``cfg.fast``),
        else 1 (the path of runs made before the option).
    """
    return {"jit_compile": False, "steps_per_execution": STEPS_PER_EXECUTION if cfg.fast else 1}


def execution(cfg: TrainConfig) -> dict:
    """What a run's manifest records under ``execution``: how its training step ran.

    Parameters
    ----------
    cfg : TrainConfig

    Returns
    -------
    dict
        :func:`compile_options`, ``op_determinism`` (always on), ``fused_kernels`` (those of
        :mod:`mgc.models.fused` and :mod:`mgc.models.fused_conv` the fast path used; the CNN's
        only if its C++ kernels were built, else ``cnn_kernels`` says why not), ``lstm_parts`` (the
        parts of each batch the fused LSTM ran as independent kernels, :data:`mgc.models.fused.LSTM_PARTS`;
        None without it) and a note on what repeats.
    """
    fused = ((["lstm"] if cfg.model == "lstm" else []) + ["adam"]) if cfg.fast else []
    extra = {}
    if cfg.fast and cfg.model == "cnn":
        from ..models import kernels

        if kernels.load() is not None:
            fused = ["conv_1", "max_pooling", "batch_norm", *fused]
        else:
            extra["cnn_kernels"] = f"not used: {kernels.unavailable_reason()}"
    return {
        **compile_options(cfg),
        "op_determinism": True,
        "fused_kernels": fused,
        **extra,
        "lstm_parts": LSTM_PARTS if "lstm" in fused else None,
        "note": "the same seed and data give the same history on either path (TrainConfig.fast), on any machine "
        "(the fused LSTM's parts are fixed, not the cores; the CNN's kernels sum in sample order, whatever the "
        "threads); the two paths differ by float32 rounding (the fast one sums the same products in fused "
        "kernels, the LSTM's weight gradients per part)",
    }


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`train`, raised once the epochs that finished are stored as a ``stopped`` run.

    A ``KeyboardInterrupt``, so that whatever loops over runs (``mgc train --model all``,
    cross-validation) stops too, unless it catches this to report :attr:`run` first.

    Attributes
    ----------
    run : Run
        The stored run (``manifest["status"] == "stopped"``, ``manifest["stopped_by"] == "interrupt"``).
    """

    def __init__(self, run: Run):
        super().__init__(f"training interrupted; run {run.id} stored as stopped")
        self.run = run


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


def _class_weights(y: np.ndarray, n_classes: int) -> dict[int, float]:
    counts = np.bincount(y, minlength=n_classes)
    return {i: float(len(y) / (n_classes * c)) for i, c in enumerate(counts) if c}


# --------------------------------------------------------------------------- #
# Augmented epochs and the per-epoch recorder
# --------------------------------------------------------------------------- #
class EpochSampler:
    """A new augmented, shuffled training set every epoch (seeded), in batches; plain NumPy.

    Parameters
    ----------
    cfg : TrainConfig
        Resolved: its ``random_windows``, ``mixup``, ``balanced_sampling``,
        ``spec_mask``, ``batch_size`` and ``seed`` apply.
    features : FeatureSet
    rows : np.ndarray [shape=(n,)]
        The training rows.
    class_weight : dict or None
        Class index -> weight; each batch then carries per-row weights.
    n_classes : int
    """

    def __init__(
        self, cfg: TrainConfig, features: FeatureSet, rows: np.ndarray, class_weight: dict | None, n_classes: int
    ):
        self.cfg = cfg
        self.X, self.labels = features.X[rows], features.y[rows]
        self.runs = (
            training_runs(self.X, track_ids=features.track_ids[rows], segment_index=features.segment_index[rows])
            if cfg.random_windows
            else None
        )
        self.onehot = np.eye(n_classes, dtype=np.float32)[self.labels]
        self.per_row = np.array([class_weight[int(c)] for c in self.labels], dtype=np.float32) if class_weight else None
        self.rng = np.random.default_rng(cfg.seed)
        self.fill = frame_mean(self.X, np.arange(len(self.X))) if cfg.spec_mask else None
        self.x = self.y = self.w = None

    def __len__(self) -> int:
        return -(-len(self.labels) // self.cfg.batch_size)

    def batch(self, i: int) -> tuple:
        """Batch ``i`` of the current epoch: ``(x, y)``, or ``(x, y, weights)`` with class weights."""
        part = slice(i * self.cfg.batch_size, (i + 1) * self.cfg.batch_size)
        if self.w is None:
            return self.x[part], self.y[part]
        return self.x[part], self.y[part], self.w[part]

    def new_epoch(self) -> None:
        """Draw the next epoch's examples: order, windows, masks, then mixup."""
        cfg, rng = self.cfg, self.rng
        order = balanced_order(self.labels, rng) if cfg.balanced_sampling else rng.permutation(len(self.labels))
        x = random_windows(self.runs, rng)[order] if self.runs is not None else self.X[order]
        if cfg.spec_mask:
            x = spec_mask(x, rng, fill=self.fill)
        self.x, self.y, self.w = x, self.onehot[order], None if self.per_row is None else self.per_row[order]
        if cfg.mixup:
            self.x, self.y, self.w = mixup(self.x, self.y, alpha=cfg.mixup, rng=rng, weights=self.w)


@functools.cache
def _keras_classes():
    """The Keras subclasses :func:`train` needs, defined once Keras is imported."""
    keras = keras_module()

    class AugmentedEpochs(keras.utils.PyDataset):
        """An :class:`EpochSampler` as a Keras dataset: a new epoch after each one ends."""

        def __init__(self, sampler: EpochSampler):
            super().__init__()
            self.sampler = sampler
            self.on_epoch_end()

        def __len__(self):
            return len(self.sampler)

        def __getitem__(self, i):
            return self.sampler.batch(i)

        def on_epoch_end(self):
            self.sampler.new_epoch()

    class Batches(keras.utils.PyDataset):
        """A :class:`~mgc.training.stream.RowBatches` as a Keras dataset (validation rows, read as needed)."""

        def __init__(self, batches: RowBatches):
            super().__init__()
            self.batches = batches

        def __len__(self):
            return len(self.batches)

        def __getitem__(self, i):
            return self.batches.batch(i)

    class Recorder(keras.callbacks.Callback):
        """Appends each epoch's logs and time to ``history``, reports it, and stops when asked."""

        def __init__(self, history: dict, epochs: int, on_epoch, should_stop):
            super().__init__()
            self.history, self.epochs, self.on_epoch, self.should_stop = history, epochs, on_epoch, should_stop
            self.user_stop, self.t0, self.t_epoch = False, time.perf_counter(), 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.t_epoch = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            seconds = time.perf_counter() - self.t_epoch
            self.history["epoch"].append(epoch + 1)
            self.history["seconds"].append(seconds)
            for k in LOGS:
                self.history[k].append(logs.get(k))
            if self.on_epoch:
                self.on_epoch(EpochReport(epoch + 1, self.epochs, logs, seconds, time.perf_counter() - self.t0))
            if self.should_stop and self.should_stop():
                self.user_stop = True
                self.model.stop_training = True

    return AugmentedEpochs, Batches, Recorder


@functools.cache
def _progress_class():
    """A Keras callback that reports what the fit is doing: the epoch, its batches, validation."""
    keras = keras_module()

    class FitProgress(keras.callbacks.Callback):
        """Calls ``on_progress(batches done, batches, stage)``, every :data:`PROGRESS_SECONDS` within an epoch."""

        def __init__(self, on_progress, epochs: int):
            super().__init__()
            self.on_progress, self.epochs = on_progress, epochs
            self.epoch, self.steps, self.last, self.reported = 0, 0, 0.0, False

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.steps = epoch + 1, int(self.params.get("steps") or 0)
            first = " (the first batch traces the graph)" if epoch == 0 else ""
            self.last, self.reported = time.perf_counter(), False
            self.on_progress(0, self.steps, f"epoch {self.epoch}/{self.epochs}{first}")

        def on_train_batch_end(self, batch, logs=None):
            # with steps_per_execution > 1 (the fast path) Keras calls this once per call of its loop, with
            # the index of that call's last step, which may run past the epoch's end: clamp to the steps
            now = time.perf_counter()
            if not self.reported or now - self.last >= PROGRESS_SECONDS:  # the first call's end: traced
                self.last, self.reported = now, True
                done = batch + 1 if not self.steps else min(batch + 1, self.steps)
                self.on_progress(done, self.steps, f"epoch {self.epoch}/{self.epochs}")

        def on_test_begin(self, logs=None):
            self.on_progress(self.steps, self.steps, f"epoch {self.epoch}/{self.epochs}: validating")

    return FitProgress


# --------------------------------------------------------------------------- #
# One run
# --------------------------------------------------------------------------- #
def _check_split(features: FeatureSet, cfg: TrainConfig, split: Split | None, metrics_from: Run | None) -> Split:
    """The split to train on (made from ``cfg`` when None), checked against the features and ``metrics_from``."""
    if split is None:
        split = make_split(
            cfg.split,
            y=features.y,
            track_ids=features.track_ids,
            test_size=cfg.test_size,
            validation_size=cfg.validation_size,
            seed=cfg.seed,
            evaluate_on=cfg.evaluate_on,
            classes=features.classes,
            official=features.official,
        )
    elif split.name != cfg.split:
        raise ParameterError(f"split={split.name!r} (the rows given) differs from config.split={cfg.split!r}")
    elif max((int(p.max()) for p in (split.train, split.validation, split.test) if len(p)), default=-1) >= len(
        features.y
    ):
        raise ParameterError(f"split rows point past the {len(features.y)} rows of the features")
    if (len(split.test) == 0) != (metrics_from is not None):
        raise ParameterError(
            "metrics_from must be given exactly when the split has no test part (a refit); "
            f"this split has {len(split.test)} test rows"
        )
    if metrics_from is not None:
        if list(metrics_from.classes) != list(features.classes):
            raise ParameterError(
                f"metrics_from={metrics_from.id!r} knows {metrics_from.classes}, "
                f"not the classes of these features {list(features.classes)}"
            )
        if not (metrics_from.path / "trust.json").is_file():
            raise ParameterError(f"metrics_from={metrics_from.id!r} has no trust.json for the refit to carry")
    return split


def _compiled_model(keras, cfg: TrainConfig, X, train_rows: np.ndarray, input_shape, n_classes: int):
    """The network of ``cfg`` (standardisation fitted on the ``train_rows`` of ``X`` when asked), compiled with Adam.

    ``X`` is an array or a row source; the statistics are read in chunks, the same way for both.
    """
    normalize = None
    if cfg.standardize:
        mean, var = moments(X, train_rows)
        if len(input_shape) == 1:
            # embeddings hold near-constant units: a floor keeps them from being scaled up by 1e7 (Keras's epsilon)
            var = np.maximum(var, 1e-3 * float(np.median(var)) + 1e-12)
        normalize = keras.layers.Normalization(axis=-1, mean=mean, variance=var, name="standardize")
    kwargs = {"dropout": cfg.dropout, "normalize": normalize, "input_noise": cfg.input_noise}
    if cfg.model == "cnn":
        kwargs["pool_strides"] = cfg.cnn_pool_strides
    if cfg.model in ("lstm", "cnn"):
        kwargs["fused"] = cfg.fast
    model = build(cfg.model, input_shape, n_classes, **kwargs)
    rate = cfg.learning_rate
    if cfg.lr_schedule == "cosine":
        steps = cfg.epochs * -(-len(train_rows) // cfg.batch_size)
        rate = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=max(1, steps))
    adam = fused_classes()[1] if cfg.fast else keras.optimizers.Adam
    model.compile(
        optimizer=adam(learning_rate=rate),
        loss="categorical_crossentropy",
        metrics=["accuracy", keras.metrics.RootMeanSquaredError(name="rmse")],
        **compile_options(cfg),
    )
    return model


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
    trust_mfcc: FeatureSet | None = None,
    stream: bool | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> Run:
    """Train one model on extracted features and store the run.

    Parameters
    ----------
    features : FeatureSet
        The segment table (:func:`mgc.features.extract_dataset`).
    config : TrainConfig
    on_epoch : callable(EpochReport) or None
        Called after every epoch (progress, live curves).
    should_stop : callable() -> bool or None
        Polled after every epoch; when it returns True the run ends cleanly there
        and is stored with status ``stopped`` (``stopped_by: "request"``). Ctrl-C
        stores the epochs that finished the same way (``stopped_by: "interrupt"``),
        then raises :class:`TrainingInterrupted`.
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
    trust_mfcc : FeatureSet or None
        For a transfer run: the study's MFCCs of the same tracks, so that its trust
        checks also include the MFCC not-music check (see :func:`mgc.runs.fit_trust`).
    stream : bool or None
        Read the segments batch by batch from ``features.X`` (see
        :mod:`mgc.training.stream`) instead of holding the training and validation
        parts in memory. Default: stream exactly when ``features.X`` is not an
        in-memory array (an ``np.memmap``, or an object with ``shape`` and
        ``rows(index)``). A streamed run fits its not-music check on seeded samples:
        at most :data:`TRUST_TRAIN_ROWS` training rows and whole held-out tracks up to
        :data:`TRUST_EVAL_ROWS` rows (the other thresholds use every held-out track).
    on_progress : callable(done, total, stage) or None
        Told what the run is doing: ``(0, 0, stage)`` for the steps around the fit
        (``"building the network"``, ``"evaluating on the test part"``, ...) and, within
        each epoch, ``(batches done, batches, "epoch 3/60")`` a few times a second.

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
    TrainingInterrupted
        Ctrl-C after at least one epoch, once the run is stored (before the first
        epoch ends, the plain ``KeyboardInterrupt`` goes on and nothing is stored).
    """
    cfg = config.resolved()
    needs, has = MODEL_FEATURES[cfg.model], kind_of(features.params)
    if needs != has:
        raise ParameterError(
            f"model={cfg.model!r} learns from {needs} features, and these are {has} features: extract "
            + (
                "the tagger's embeddings (params=EmbeddingParams(), or `mgc extract --features embedding`)"
                if needs == "embedding"
                else "the study's MFCCs (the default parameters)"
            )
        )
    say = on_progress or (lambda done, total, stage: None)
    say(0, 0, "making the split")
    split = _check_split(features, cfg, split, metrics_from)
    say(0, 0, "starting Keras" if "tensorflow" in sys.modules else "loading TensorFlow (once per process)")
    keras = seeded_keras(cfg.seed)
    say(0, 0, "building the network")
    AugmentedEpochs, Batches, Recorder = _keras_classes()
    n_classes = len(features.classes)
    if n_classes < 2:
        raise ParameterError(f"the features hold {n_classes} class; at least 2 are needed to train")
    streamed = not in_memory(features.X) if stream is None else bool(stream)
    X, y = (as_source(features.X) if streamed else features.X), features.y
    y_train, y_val = y[split.train], y[split.validation]
    onehot = np.eye(n_classes, dtype=np.float32)
    model = _compiled_model(keras, cfg, X, split.train, X.shape[1:], n_classes)

    # callbacks: the per-epoch record (progress, stop requests), and early stopping when asked
    history: dict[str, list] = {k: [] for k in ("epoch", *LOGS, "seconds")}
    recorder = Recorder(history, cfg.epochs, on_epoch, should_stop)
    callbacks = [recorder]
    early = None
    if cfg.early_stopping and len(split.validation):
        early = keras.callbacks.EarlyStopping(
            monitor=cfg.monitor, patience=cfg.early_stopping, restore_best_weights=True
        )
        callbacks.append(early)
    if on_progress is not None:
        callbacks.append(_progress_class()(on_progress, cfg.epochs))
    started = dt.datetime.now().isoformat(timespec="seconds")
    interrupted = False
    try:
        weights = _class_weights(y_train, n_classes) if cfg.class_weight else None
        sampled = cfg.random_windows or cfg.mixup or cfg.balanced_sampling or cfg.spec_mask
        if streamed:
            sampler = StreamSampler(
                cfg,
                X,
                y=y,
                track_ids=features.track_ids,
                segment_index=features.segment_index,
                rows=split.train,
                class_weight=weights,
                n_classes=n_classes,
            )
            data = {"x": AugmentedEpochs(sampler)}
            # Keras evaluates arrays given without a batch size (the sampled path) in batches of 32
            val_batch = 32 if sampled else cfg.batch_size
            validation = Batches(RowBatches(X, split.validation, y_val, n_classes=n_classes, batch_size=val_batch))
        else:
            if sampled:
                data = {"x": AugmentedEpochs(EpochSampler(cfg, features, split.train, weights, n_classes))}
            else:
                data = {
                    "x": X[split.train],
                    "y": onehot[y_train],
                    "batch_size": cfg.batch_size,
                    "shuffle": True,
                    "class_weight": weights,
                }
            validation = (X[split.validation], onehot[y_val])
        model.fit(
            **data,
            validation_data=validation if len(split.validation) else None,
            epochs=cfg.epochs,
            verbose=0,
            callbacks=callbacks,
        )
    except KeyboardInterrupt:
        if not history["epoch"]:
            raise
        recorder.user_stop = interrupted = True
    fit_seconds = time.perf_counter() - recorder.t0

    # test metrics: the run's own, or (a refit) those of its train-only twin
    say(0, 0, "evaluating on the test part")
    if metrics_from is None:
        y_test, t_test = y[split.test], features.track_ids[split.test]
        if streamed:  # chunks of whole prediction batches: the same batches, so the same outputs, as in memory
            probs = np.concatenate(
                [model.predict(rows, batch_size=256, verbose=0) for _, rows in _chunks(X, split.test)]
                or [np.zeros((0, n_classes), np.float32)]
            )
        else:
            probs = model.predict(features.X[split.test], batch_size=256, verbose=0)
        metrics = evaluate_predictions(probs, y_test, t_test, features.classes)
        predictions = {
            "track_ids": t_test.astype(str),
            "segment_index": features.segment_index[split.test],
            "y_true": y_test,
            "probs": probs.astype(np.float32),
        }
    else:
        metrics, predictions = metrics_from.metrics, metrics_from.predictions()
    best_epoch = None
    if early is not None and history[cfg.monitor]:
        values = np.array(history[cfg.monitor], dtype=float)
        best_epoch = int(np.nanargmin(values) if cfg.monitor == "val_loss" else np.nanargmax(values)) + 1
    status = "stopped" if recorder.user_stop and len(history["epoch"]) < cfg.epochs else "finished"
    stopped_by = ("interrupt" if interrupted else "request") if status == "stopped" else None
    manifest = _manifest(
        cfg,
        config,
        features,
        split,
        model,
        history=history,
        status=status,
        started=started,
        fit_seconds=fit_seconds,
        best_epoch=best_epoch,
        dataset_note=dataset_note,
        metrics_from=metrics_from,
        tags=tags,
    )
    run_id = run_id or _new_id(cfg, root)
    manifest["id"] = run_id
    manifest["stopped_by"] = stopped_by
    # store an uncompiled copy built from the config: no optimizer state in the file
    # (clone_model compiles its clone like the original, and the Adam moments triple the size),
    # in plain Keras layers (a fused LSTM is stored as the Keras LSTM it computes)
    say(0, 0, "storing the run")
    export = keras.Model.from_config(plain_config(model.get_config()))
    export.set_weights(model.get_weights())
    save_run(
        run_id, manifest=manifest, history=history, metrics=metrics, predictions=predictions, model=export, root=root
    )
    run = load_run(run_id, root=root)
    if not np.any(features.track_ids == ""):  # the checks need held-out tracks; JSON features have none
        say(0, 0, "fitting the trust checks")
        bounds = {"max_train_rows": TRUST_TRAIN_ROWS, "max_eval_rows": TRUST_EVAL_ROWS} if streamed else {}
        fit_trust(run, features, twin=metrics_from, mfcc=trust_mfcc, seed=cfg.seed, **bounds)
    if interrupted:
        raise TrainingInterrupted(run)
    return run


def _chunks(source, rows: np.ndarray):
    from .stream import read

    return read(source, rows, chunk_rows=PREDICT_CHUNK)


def _manifest(
    cfg: TrainConfig,
    config: TrainConfig,
    features: FeatureSet,
    split: Split,
    model,
    *,
    history: dict,
    status: str,
    started: str,
    fit_seconds: float,
    best_epoch: int | None,
    dataset_note: str,
    metrics_from: Run | None,
    tags: tuple[str, ...],
) -> dict:
    """What a run's ``manifest.json`` says: data, split, parameters, versions, times and status."""
    parts = {
        part: np.unique(features.track_ids[getattr(split, part)]).astype(str).tolist()
        for part in ("train", "validation", "test")
    }
    test_tracks = tracks_per_class(features.y, features.track_ids, split.test, features.classes)
    if metrics_from is not None:  # a refit shows its twin's scores: count the twin's test part
        test_tracks = metrics_from.manifest["split"].get("test_tracks_per_class", test_tracks)
    return {
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
        "input_shape": list(features.X.shape[1:]),
        "n_params": int(model.count_params()),
        "dataset": {
            "source": features.source,
            "fingerprint": features.fingerprint,
            "classes": list(features.classes),
            "n_tracks": int(features.n_tracks),
            "n_segments": int(features.X.shape[0]),
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
        "metrics_from": None
        if metrics_from is None
        else {
            "run": metrics_from.id,
            "split": metrics_from.manifest["split"].get("label", metrics_from.manifest["split"]["name"]),
            "note": "trained on train + valid, so it has no test part of its own: its scores are those of this "
            "train-only twin, on the twin's test part",
        },
        "tags": list(tags),
        "execution": execution(cfg),
        "deviation": CNN_DEVIATION if cfg.model == "cnn" and cfg.cnn_pool_strides != 3 else "",
        "versions": _versions(),
    }
