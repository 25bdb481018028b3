"""Training jobs that run in a background thread and outlive the page that started them.

A :class:`TrainingJob` trains one or more models one after the other on a
:class:`~mgc.features.FeatureSet`, records every epoch as it ends, and can be asked
to stop (it ends after the current epoch and stores a ``stopped`` run). Its state
is read with :meth:`TrainingJob.snapshot`, a consistent copy, so a user interface
can poll it from another thread. Nothing here knows about Streamlit.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field

from ..config import MODEL_FEATURES
from ..errors import MgcError, ParameterError
from ..features import FeatureSet
from .cost import ModelPace, phase_of, time_left
from .fit import EpochReport, _check_split, train
from .recipes import TrainConfig


@dataclass
class ModelProgress:
    """Progress of one model of a job."""

    model: str
    epochs: int
    history: list[dict] = field(default_factory=list)  # one dict of logs (+ seconds) per epoch
    run_id: str | None = None
    status: str = "queued"  # queued, running, finished, stopped, skipped (never begun), failed
    rows: int = 0  # training segments per epoch (0 until the job has made its split)
    stage: str = ""  # what the model is doing now, in words ("building the network", "epoch 2/60", ...)
    batches: tuple[int, int] = (0, 0)  # batches done and batches of the running epoch
    early_stopping: bool = False
    scores: dict | None = None  # the stored run's test scores (:func:`run_scores`)
    # clock (time.monotonic) of: the network's build (after TensorFlow loaded: once per process, not a
    # cost of every model) and train() returning, the running epoch's start (None between epochs), and
    # (time, batches done) of its first and latest batch reports
    began: float | None = None
    ended: float | None = None
    epoch_began: float | None = None
    first_batch: tuple[float, int] | None = None
    last_batch: tuple[float, int] | None = None
    batch_pace: float | None = None  # seconds per epoch implied by the latest epoch's batches after its first
    min_epochs: int | None = None  # with early stopping: patience + 1, the fewest epochs it runs
    # the phase it is in (mgc.training.cost.phase_of) since when, and the measured seconds of those that ended
    phase: str = "queued"
    phase_began: float | None = None
    load_seconds: float | None = None
    build_seconds: float | None = None
    tail_seconds: float | None = None

    def enter(self, phase: str, now: float) -> None:
        """Note that the model entered ``phase`` at ``now``; the phase it leaves is timed."""
        if phase == self.phase:
            return
        if self.phase_began is not None:
            spent = now - self.phase_began  # a phase may be entered twice (building: before and after the import)
            if self.phase == "load":
                self.load_seconds = (self.load_seconds or 0.0) + spent
            elif self.phase == "build":
                self.build_seconds = (self.build_seconds or 0.0) + spent
            elif self.phase == "tail":
                self.tail_seconds = (self.tail_seconds or 0.0) + spent
        self.phase, self.phase_began = phase, now


class TrainingJob:
    """Train ``configs`` on ``features`` in a daemon thread.

    Parameters
    ----------
    features : FeatureSet or dict
        The features to train on; a dict ``{"mfcc": ..., "embedding": ...}`` when
        the configs mix the study's networks and the transfer model (each trains on
        its kind, :data:`mgc.config.MODEL_FEATURES`).
    configs : list of TrainConfig
    root : path or None
        Runs folder.
    dataset_note : str
        Stored in every run's manifest.
    owner : str or None
        Who started the job (a dashboard session); only they see and stop it unless the
        board is shared.
    """

    def __init__(
        self,
        features: FeatureSet | dict,
        configs: list[TrainConfig],
        *,
        root=None,
        dataset_note: str = "",
        owner: str | None = None,
    ):
        if not configs:
            raise ParameterError("configs is empty: choose at least one model to train")
        if isinstance(features, dict):
            missing = sorted({MODEL_FEATURES[c.model] for c in configs} - set(features))
            if missing:
                raise ParameterError(f"features: no {', '.join(missing)} features given for the models asked")
        self.id = uuid.uuid4().hex[:8]
        self.owner = owner
        self.features, self.configs, self.root, self.note = features, list(configs), root, dataset_note
        self.models = [
            ModelProgress(
                c.model,
                c.resolved().epochs,
                early_stopping=bool(c.resolved().early_stopping),
                min_epochs=int(c.resolved().early_stopping) + 1 if c.resolved().early_stopping else None,
            )
            for c in self.configs
        ]
        # until the splits are made, each model's training rows are guessed: 60 % of its features' rows
        self._rows_guess = [max(1, int(0.6 * len(self._features_of(c).y))) for c in self.configs]
        self.status = "created"  # created, running, finished, stopped, failed
        self.error = ""
        self.started = self.ended = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._main, name=f"mgc-train-{self.id}", daemon=True)

    # --- control -------------------------------------------------------------------
    def start(self) -> "TrainingJob":
        """Start the thread (once)."""
        with self._lock:
            if self.status != "created":
                raise ParameterError(f"job {self.id} was started already")
            self.status, self.started = "running", time.time()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the job to end after the current epoch; models not begun are skipped."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end."""
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self.status == "running"

    # --- the thread --------------------------------------------------------------------
    def _features_of(self, cfg: TrainConfig) -> FeatureSet:
        return self.features[MODEL_FEATURES[cfg.model]] if isinstance(self.features, dict) else self.features

    def _main(self) -> None:
        try:
            # every model's split first: its training rows price its epochs, and a bad one fails before any fit
            with self._lock:
                for p in self.models:
                    p.stage = "preparing the data"
                    p.enter("data", time.monotonic())
            splits = [_check_split(self._features_of(cfg), cfg.resolved(), None, None) for cfg in self.configs]
            with self._lock:
                for p, split in zip(self.models, splits, strict=True):
                    p.rows, p.stage = len(split.train), "queued"
                    p.enter("queued", time.monotonic())
            for cfg, prog, split in zip(self.configs, self.models, splits, strict=True):
                if self._stop.is_set():
                    with self._lock:
                        prog.status = "skipped"
                    continue
                with self._lock:
                    prog.status, prog.stage = "running", "starting"
                    prog.enter("build", time.monotonic())

                def on_epoch(e: EpochReport, prog=prog) -> None:
                    with self._lock:
                        prog.history.append({**e.logs, "epoch": e.epoch, "seconds": e.seconds})
                        prog.batches, prog.epoch_began = (0, prog.batches[1]), None

                def on_progress(done: int, total: int, stage: str, prog=prog) -> None:
                    now = time.monotonic()
                    with self._lock:
                        prog.stage, prog.batches = stage, (done, total)
                        prog.enter(phase_of("running", stage, len(prog.history)), now)
                        if stage == "building the network":
                            prog.began = now
                        elif stage.startswith("epoch") and done == 0:
                            prog.epoch_began, prog.first_batch, prog.last_batch = now, None, None
                        elif stage.startswith("epoch") and done < total:
                            prog.last_batch = (now, done)
                            prog.first_batch = prog.first_batch or (now, done)
                            (t0, d0), (t1, d1) = prog.first_batch, prog.last_batch
                            if d1 - d0 >= 2:
                                prog.batch_pace = (t1 - t0) / (d1 - d0) * total

                run = train(
                    self._features_of(cfg),
                    cfg,
                    on_epoch=on_epoch,
                    should_stop=self._stop.is_set,
                    root=self.root,
                    dataset_note=self.note,
                    split=split,
                    on_progress=on_progress,
                    **self._trust_kwargs(cfg),
                )
                with self._lock:
                    prog.run_id, prog.status, prog.stage = run.id, run.manifest["status"], "stored"
                    prog.ended = time.monotonic()
                    prog.enter("done", prog.ended)
                    prog.batches, prog.scores = (0, 0), run_scores(run)
            final = "stopped" if self._stop.is_set() else "finished"
        except MgcError as e:
            final, self.error = "failed", str(e)
        except Exception as e:  # a background thread must report, not vanish
            final = "failed"
            self.error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"
        with self._lock:
            for p in self.models:
                if p.status in ("queued", "running"):
                    p.status = "failed" if final == "failed" else ("skipped" if p.status == "queued" else "stopped")
                    p.stage, p.batches = p.status, (0, 0)
            self.status, self.ended = final, time.time()

    def _trust_kwargs(self, cfg: TrainConfig) -> dict:
        # a transfer run's trust checks also listen to the MFCCs, when the job has them
        if cfg.model == "transfer" and isinstance(self.features, dict) and "mfcc" in self.features:
            return {"trust_mfcc": self.features["mfcc"]}
        return {}

    # --- reading -----------------------------------------------------------------------
    def snapshot(self) -> dict:
        """A consistent copy of the job's state, with elapsed time and an estimate of what is left.

        Each model's entry holds its ``history``, ``stage`` (what it is doing, in words),
        ``batches`` (done, of the running epoch), ``rows`` (training segments), ``scores``
        (:func:`run_scores`, once stored), ``phase`` (:func:`mgc.training.cost.phase_of`),
        ``phase_seconds`` (the measured seconds of its ``load``, ``build`` and ``tail`` phases that
        ended) and, while the job runs, ``eta_seconds`` with its ``eta_low``/``eta_high`` range,
        ``eta_basis`` and ``eta_text`` (:func:`mgc.training.cost.time_left`, every phase counted:
        loading TensorFlow, building, tracing, the epochs, evaluating, storing and the trust checks).
        The job's ``eta_*`` are their sums; ``eta_at_most`` says early stopping may end a model
        sooner, ``eta_overrun`` that a phase has run past its price (``eta_low`` is then a floor).
        Until the splits are made, the models' rows are guessed and the range is the widest.
        """
        clock_now = time.monotonic()
        with self._lock:
            paces = [_pace_of(p, clock_now) for p in self.models]
            models = [
                {
                    "model": p.model,
                    "epochs": p.epochs,
                    "history": [dict(h) for h in p.history],
                    "run_id": p.run_id,
                    "status": p.status,
                    "rows": p.rows,
                    "stage": p.stage,
                    "batches": p.batches,
                    "early_stopping": p.early_stopping,
                    "scores": None if p.scores is None else dict(p.scores),
                }
                for p in self.models
            ]
            status, error, started, ended = self.status, self.error, self.started, self.ended
        now = ended or time.time()
        eta, basis, at_most = None, "", False
        estimate = None
        if status == "running":
            # TensorFlow counts as loaded once its import has ended (a model still loading it pays the rest)
            loading = any(pace["phase"] == "load" for pace in paces)
            per_model, estimate = time_left(
                [
                    ModelPace(
                        m["model"],
                        m["epochs"],
                        m["rows"] or guess,
                        status=m["status"],
                        epoch_seconds=[h["seconds"] for h in m["history"]],
                        epoch_fraction=m["batches"][0] / m["batches"][1] if m["batches"][1] else 0.0,
                        early_stopping=m["early_stopping"],
                        **pace,
                    )
                    for m, pace, guess in zip(models, paces, self._rows_guess, strict=True)
                ],
                tensorflow_loaded="tensorflow" in sys.modules and not loading,
            )
            if not all(m["rows"] for m in models if m["status"] in ("queued", "running")):
                # the rows are guessed until the splits are made: the widest range
                per_model = [_widen(t) for t in per_model]
                estimate = _widen(estimate)
            for m, t in zip(models, per_model, strict=True):
                m["eta_seconds"], m["eta_basis"], m["eta_at_most"] = t.seconds, t.basis, t.at_most
                m["eta_low"], m["eta_high"], m["eta_text"] = t.low, t.high, t.words()
            eta, basis, at_most = estimate.seconds, estimate.basis, estimate.at_most
        for m, pace in zip(models, paces, strict=True):
            m["phase"] = pace["phase"]
            m["phase_seconds"] = {
                k: pace[f"{k}_seconds"] for k in ("load", "build", "tail") if pace[f"{k}_seconds"] is not None
            }
        for m in models:
            for key, empty in (("eta_seconds", None), ("eta_basis", ""), ("eta_at_most", False)):
                m.setdefault(key, empty)
            for key in ("eta_low", "eta_high", "eta_text"):
                m.setdefault(key, None)
        done_epochs = sum(len(m["history"]) for m in models)
        running_share = sum(
            m["batches"][0] / m["batches"][1] for m in models if m["batches"][1] and m["status"] == "running"
        )
        return {
            "id": self.id,
            "status": status,
            "error": error,
            "models": models,
            "elapsed_seconds": (now - started) if started else 0.0,
            "eta_seconds": eta,
            "eta_basis": basis,
            "eta_at_most": at_most,
            "eta_low": None if estimate is None else estimate.low,
            "eta_high": None if estimate is None else estimate.high,
            "eta_overrun": False if estimate is None else estimate.overrun,
            "eta_text": None if estimate is None else estimate.words(),
            "epochs_done": done_epochs,
            "epochs_progress": done_epochs + min(running_share, 1.0),
            "epochs_total": sum(m["epochs"] for m in models),
        }


def _pace_of(p: ModelProgress, now: float) -> dict:
    """What the clock says of one model: the pace of its running epoch, its phase and the time spent in it."""
    if p.phase == "epochs":
        spent = now - p.epoch_began if p.epoch_began is not None else 0.0
    else:
        spent = now - p.phase_began if p.phase_began is not None else 0.0
    return {
        "running_epoch_seconds": p.batch_pace,
        "min_epochs": p.min_epochs,
        "phase": p.phase,
        "phase_spent": max(0.0, spent),
        "load_seconds": p.load_seconds,
        "build_seconds": p.build_seconds,
        "tail_seconds": p.tail_seconds,
    }


def _widen(t):
    """An estimate whose training rows were guessed: the range of the reference machine's at least."""
    from dataclasses import replace

    from .cost import SPREAD

    low, high = SPREAD["reference"]
    return replace(t, low=min(t.low, t.seconds * low), high=max(t.high, t.seconds * high))


def run_scores(run) -> dict:
    """A stored run's test scores as the Train page shows them when a job ends.

    Parameters
    ----------
    run : mgc.runs.Run

    Returns
    -------
    dict
        ``protocol`` (the split as tables name it, e.g. ``"fault-filtered (tested on valid)"``),
        ``segment_accuracy``, ``track_accuracy``, ``balanced_accuracy`` (over tracks; over
        segments when the run has no track ids), ``loss`` (cross-entropy, nats) and ``test_tracks``.
    """
    m = run.metrics
    balanced = m.get("track_balanced_accuracy")
    return {
        "protocol": run.protocol,
        "segment_accuracy": m.get("segment_accuracy"),
        "track_accuracy": m.get("track_accuracy_mean"),
        "balanced_accuracy": balanced if balanced is not None else m.get("balanced_accuracy"),
        "loss": m.get("loss"),
        "test_tracks": m.get("n_tracks"),
    }


class JobBoard:
    """The jobs of one process; at most one runs at a time (the CPU is shared).

    Each job has an owner (a dashboard session). Who asks is told about their own jobs
    only: another owner's job is neither returned nor named, unless the board was made
    with ``shared=True`` (the server's owner allows it).

    Parameters
    ----------
    shared : bool
        Every owner sees, and may stop, every job.
    """

    def __init__(self, *, shared: bool = False):
        self.shared = shared
        self._jobs: dict[str, TrainingJob] = {}
        self._lock = threading.Lock()

    def start(
        self, features: FeatureSet, configs: list[TrainConfig], *, owner: str | None = None, **kwargs
    ) -> TrainingJob:
        """Create and start a job for ``owner``, unless one is running (anyone's: the CPU is shared)."""
        with self._lock:
            busy = [j for j in self._jobs.values() if j.running]
            if busy:
                if self.visible(busy[0], owner):
                    raise ParameterError(f"a training job ({busy[0].id}) is running; stop it or wait for it to finish")
                raise ParameterError(
                    "another session's training job is running (this server trains one job at a time); "
                    "wait for it to finish"
                )
            job = TrainingJob(features, configs, owner=owner, **kwargs)
            self._jobs[job.id] = job
            return job.start()

    def visible(self, job: TrainingJob, owner: str | None) -> bool:
        """Whether ``owner`` may see and stop ``job``: their own, or any on a shared board."""
        return self.shared or job.owner == owner

    def get(self, job_id: str | None, *, owner: str | None = None) -> TrainingJob | None:
        """The job ``job_id`` if ``owner`` may see it, else None."""
        job = self._jobs.get(job_id) if job_id else None
        return job if job is not None and self.visible(job, owner) else None

    def latest(self, *, owner: str | None = None) -> TrainingJob | None:
        """The newest job ``owner`` may see, or None."""
        return next((j for j in reversed(self._jobs.values()) if self.visible(j, owner)), None)

    def busy(self) -> bool:
        """Whether any job runs (someone else's included; nothing else is said about it)."""
        return any(j.running for j in self._jobs.values())
