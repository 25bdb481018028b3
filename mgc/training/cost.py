"""What an epoch of each model costs, and the time a training job has left.

:data:`EPOCH_COST` is the one table of relative epoch costs (update it here when training gets
faster); :func:`time_left` turns it, and the epochs a job has measured so far, into a per-model
estimate. Until a model has finished an epoch of its own, its epochs are priced from the table,
scaled by the speed of this machine as seen so far (a measured model's epochs against its own
table entry) and by the model's number of training rows; afterwards its own epochs decide.
Plain Python: nothing here imports Keras.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..errors import ParameterError

#: Seconds per epoch per training segment, at batch 32, of each model on the reference machine.
#: Measured by ``bench/train.py`` (the study's three networks: 7,000 segments of 130 x 13, batch 32,
#: compiled as :func:`mgc.training.train` compiles them) on the project's 2-core CPU: MLP 2.7 s,
#: CNN 8.1 s, RNN-LSTM 15.5 s per epoch (issue 15). The transfer head (1506-wide embeddings, one
#: 256-unit hidden layer) was timed the same way, interleaved with the MLP: 0.54 x the MLP's epoch
#: (medians of 9 epochs each, 4.0 s against 7.5 s on a machine loaded 8-12), so 1.45 s here. Only the
#: ratios between models matter to :func:`time_left` (it rescales them to the machine it runs on),
#: so after training gets faster, replace the four numbers by a new run of ``bench/train.py``.
EPOCH_COST = {
    "mlp": 2.7 / 7000,
    "cnn": 8.1 / 7000,
    "lstm": 15.5 / 7000,
    "transfer": 1.45 / 7000,
}

#: Batch size the table was measured at.
COST_BATCH_SIZE = 32


def table_epoch_seconds(model: str, rows: int) -> float:
    """Seconds of one epoch of ``model`` over ``rows`` training segments on the reference machine.

    Parameters
    ----------
    model : str
        A key of :data:`EPOCH_COST`.
    rows : int
        Training segments per epoch.

    Returns
    -------
    float
    """
    if model not in EPOCH_COST:
        raise ParameterError(f"model={model!r} has no epoch cost; known: {', '.join(EPOCH_COST)}")
    if rows < 0:
        raise ParameterError(f"rows={rows} must be >= 0 (training segments per epoch)")
    return EPOCH_COST[model] * rows


@dataclass(frozen=True)
class ModelPace:
    """What :func:`time_left` needs to know about one model of a job.

    Attributes
    ----------
    model : str
        A key of :data:`EPOCH_COST`.
    epochs : int
        Epochs asked for.
    rows : int
        Training segments per epoch.
    status : str
        ``queued`` or ``running`` still cost time; anything else (finished, stopped, skipped,
        failed) costs none.
    epoch_seconds : sequence of float
        Seconds of each epoch that has finished.
    epoch_fraction : float
        Share of the running epoch's batches done (0 when unknown).
    early_stopping : bool
        Whether early stopping may end the model before ``epochs``.
    running_epoch_seconds : float or None
        The length of an epoch as the batches of the model's latest epoch after its first imply
        (the first batch traces the graph): its pace before a second epoch has ended.
    overhead_seconds : float or None
        For a model that ended: its time outside its epochs (making the split, building,
        evaluating, fitting the trust checks, storing).
    overhead_spent : float
        For the running model: its time outside its epochs so far.
    """

    model: str
    epochs: int
    rows: int
    status: str = "queued"
    epoch_seconds: Sequence[float] = ()
    epoch_fraction: float = 0.0
    early_stopping: bool = False
    running_epoch_seconds: float | None = None
    overhead_seconds: float | None = None
    overhead_spent: float = 0.0


@dataclass(frozen=True)
class TimeLeft:
    """The estimate for one model (or a whole job).

    Attributes
    ----------
    seconds : float
        Seconds of training left (0 for a model that ended).
    basis : str
        ``"own epochs"`` (this model's finished epochs), ``"table"`` (:data:`EPOCH_COST` scaled by
        the speed measured on another model of the job), ``"table, reference machine"`` (nothing
        measured yet: the table as measured on the reference machine) or ``"done"``.
    at_most : bool
        Early stopping may end it sooner: the estimate is an upper bound.
    """

    seconds: float
    basis: str
    at_most: bool = False


def _pace(m: ModelPace) -> tuple[float | None, bool]:
    """A model's own seconds per epoch, and whether it is free of the first epoch's tracing.

    Epochs after the first; else the running first epoch's batches after its first; else the
    first epoch itself (which carries Keras's tracing, so it overstates the pace).
    """
    if len(m.epoch_seconds) > 1:
        return sum(m.epoch_seconds[1:]) / (len(m.epoch_seconds) - 1), True
    if m.running_epoch_seconds:
        return float(m.running_epoch_seconds), True
    if m.epoch_seconds:
        return float(m.epoch_seconds[0]), False
    return None, False


def machine_speed(models: Sequence[ModelPace]) -> float | None:
    """How much slower (> 1) or faster (< 1) than the reference machine this one trains, or None.

    Taken from the latest model with a pace of its own free of tracing (else the latest with any):
    its seconds per epoch over its :data:`EPOCH_COST` entry. Other batch sizes than the table's are
    absorbed here too, as all models of a job share one batch size.
    """
    paces = [(m, *_pace(m)) for m in models if m.rows > 0]
    for clean in (True, False):
        for m, pace, steady in reversed(paces):
            if pace is not None and steady == clean:
                return pace / table_epoch_seconds(m.model, m.rows)
    return None


def time_left(models: Sequence[ModelPace]) -> tuple[list[TimeLeft], TimeLeft]:
    """Estimate the training time each model of a job has left, and the job's total.

    A model that has a pace of its own (its epochs after the first, or the batches of its
    running first epoch after the first batch, which traces the graph) is priced by it. A
    model that has not is priced by :data:`EPOCH_COST`, scaled by :func:`machine_speed` (1
    while nothing is measured) and by its training rows. The running epoch counts for the
    share of its batches not yet done. The time outside the epochs (building, evaluating,
    storing) is counted once a model of the job has ended: the mean of theirs for each model
    still queued, and what is left of it for the running one.

    Parameters
    ----------
    models : sequence of ModelPace
        In the order they train.

    Returns
    -------
    per_model : list of TimeLeft
    total : TimeLeft
        Sum of ``per_model``; its basis is the least measured of those still to run
        (``"done"`` when none is), and it is an upper bound when any of them is.
    """
    speed = machine_speed(models)
    overheads = [m.overhead_seconds for m in models if m.overhead_seconds is not None]
    overhead = sum(overheads) / len(overheads) if overheads else 0.0
    out = []
    for m in models:
        if m.status not in ("queued", "running"):
            out.append(TimeLeft(0.0, "done"))
            continue
        per_epoch, _ = _pace(m)
        basis = "own epochs"
        if per_epoch is None:
            per_epoch = table_epoch_seconds(m.model, m.rows) * (speed or 1.0)
            basis = "table" if speed is not None else "table, reference machine"
        running = m.status == "running"
        fraction = min(max(m.epoch_fraction, 0.0), 1.0) if running else 0.0
        epochs_left = max(0.0, m.epochs - len(m.epoch_seconds) - fraction)
        rest = max(0.0, overhead - m.overhead_spent) if running else overhead
        out.append(TimeLeft(per_epoch * epochs_left + rest, basis, m.early_stopping))
    pending = [t for t in out if t.basis != "done"]
    order = ("table, reference machine", "table", "own epochs")
    basis = next((b for b in order if any(t.basis == b for t in pending)), "done")
    total = TimeLeft(sum(t.seconds for t in out), basis, any(t.at_most for t in pending))
    return out, total
