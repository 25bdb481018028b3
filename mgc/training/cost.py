"""What each phase of a training job costs, and the time the job has left.

A job runs, per model: loading TensorFlow (once per process), building and compiling the network,
the first epoch (which traces the graph, and the validation's graph at its end), the other epochs,
and at the end evaluating on the test part, storing the run and fitting its trust checks.
:data:`EPOCH_COST` (seconds per epoch per training row) and :data:`PHASE_COST` (seconds of the
phases outside the epochs) price them on the reference machine; update both from ``bench/eta.py``
and ``bench/train.py`` when training gets faster. :func:`time_left` turns the tables, and what the
job has measured so far, into a per-model estimate with a range: until this machine's speed is
measured the tables are scaled by nothing and the range is wide; each phase that ends narrows it
(its time replaces the table's for the models still to come, scaled by the table's ratios).
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
#: Session 8 (the CNN's C++ kernels, the LSTM in two parts): the fast path's epochs on the quiet machine
#: (``bench/train.py --segments 2000 --epochs 2 --rounds 3``), MLP 0.52, CNN 1.14, RNN-LSTM 2.64 s, kept at
#: the MLP's reference 2.7 s: CNN 2.7 x 1.14 / 0.52 = 5.9 s, RNN-LSTM 2.7 x 2.64 / 0.52 = 13.7 s.
EPOCH_COST = {
    "mlp": 2.7 / 7000,
    "cnn": 5.9 / 7000,
    "lstm": 13.7 / 7000,
    "transfer": 1.45 / 7000,
}

#: Batch size the table was measured at.
COST_BATCH_SIZE = 32

#: Seconds of importing TensorFlow and Keras (once per process; nothing when another page loaded them).
#: Measured by ``bench/eta.py`` (see :data:`PHASE_COST`): 12.5 and 14.0 s at load 3-9, i.e. 5.1 and 5.9 s
#: on the reference scale.
TENSORFLOW_COST = 5.5

#: Seconds of each model's phases outside its steady epochs, on the reference machine: ``build``
#: (building and compiling), ``trace`` (what the first epoch takes beyond a later one: tracing the
#: training and validation graphs) and ``tail`` (evaluating on the test part, storing the run and
#: fitting its trust checks). Measured by ``bench/eta.py`` (classical, jazz and rock of the GTZAN
#: subset, fault-filtered split, 1070 training rows, study recipe, batch 32), in three runs at load 3-10,
#: brought to the reference scale by the MLP's steady epoch over its :data:`EPOCH_COST` entry (the
#: last table bench/eta.py prints): trace MLP 2.5 / 4.9 / 3.6, CNN 7.9 / 4.3 / 6.4, RNN-LSTM 8.0 / 0.4 /
#: 6.0 s; tail 1.4 / 1.3 / 0.9, 1.6 / 0.9 / 1.2, 1.5 / 1.5 / 3.3 s; build 0.1-0.4 s (three runs).
#: The transfer head's were not measured (its
#: trust checks also run the MFCC check): priced like the MLP's, its tail doubled. To update: run
#: ``python bench/eta.py`` on the reference machine and copy its last table here.
PHASE_COST = {
    "mlp": {"build": 0.3, "trace": 3.5, "tail": 1.5},
    "cnn": {"build": 0.4, "trace": 6.0, "tail": 1.5},
    "lstm": {"build": 0.3, "trace": 4.0, "tail": 2.5},
    "transfer": {"build": 0.3, "trace": 3.5, "tail": 3.0},
}

#: Training rows of the job ``PHASE_COST``'s tails were measured on: a tail (evaluating the test part,
#: fitting the trust checks on the held-out part) is priced in proportion to a model's training rows
#: (held-out parts grow with them), never under a fifth of the table's (storing, tracing the predictions).
TAIL_ROWS = 1070


def _tail_cost(model: str, rows: int) -> float:
    """A model's tail on the reference machine, for ``rows`` training rows."""
    return PHASE_COST[model]["tail"] * max(0.2, rows / TAIL_ROWS)


#: How far the truth may lie from an estimate, as (low, high) factors of it, by what the estimate rests
#: on: a model's own measured epochs; the tables scaled by the speed measured here; the tables alone
#: (nothing measured yet: another machine, another load; on the shared 2-core machine at load 5-10,
#: ``bench/eta.py`` saw the truth at 2.7-3x the tables' estimate before an epoch had ended).
SPREAD = {"own": (0.85, 1.2), "table": (0.7, 1.5), "reference": (0.5, 3.5)}


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


#: The fastest this machine is taken to be against the reference (a measured 0 s must not price all at 0).
MIN_SPEED = 0.05

#: The phases of a model in a job, in order, as :func:`phase_of` names them.
PHASES = ("queued", "data", "load", "build", "epochs", "tail", "done")


def phase_of(status: str, stage: str, epochs_done: int = 0) -> str:
    """The phase a model of a job is in, from its status and the stage its fit reported.

    Parameters
    ----------
    status : str
        The model's status in the job (``queued``, ``running``, ``finished``, ...).
    stage : str
        The stage :func:`mgc.training.train` last reported (``"building the network"``, ...).
    epochs_done : int
        Epochs it has finished.

    Returns
    -------
    str
        One of :data:`PHASES`.
    """
    if status not in ("queued", "running"):
        return "done"
    if status == "queued":
        return "data" if stage == "preparing the data" else "queued"
    if stage == "preparing the data":
        return "data"
    if stage.startswith("loading TensorFlow"):
        return "load"
    if stage.startswith("epoch"):
        return "epochs"
    if stage in ("evaluating on the test part", "storing the run", "fitting the trust checks", "stored"):
        return "tail"
    if epochs_done:
        return "tail"
    return "build"  # "starting", "making the split" (checked, made already), "starting Keras", "building the network"


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
    min_epochs : int or None
        With early stopping, the fewest epochs it can run (its patience + 1): the range's low end.
    running_epoch_seconds : float or None
        The length of an epoch as the batches of the model's latest epoch after its first imply
        (the first batch traces the graph): its pace before a second epoch has ended.
    phase : str
        One of :data:`PHASES` (:func:`phase_of`); empty: ``queued`` or ``done`` by ``status``.
    phase_spent : float
        Seconds spent in the current phase (in ``epochs``: in the running epoch).
    load_seconds, build_seconds, tail_seconds : float or None
        Measured seconds of those phases, once they ended (``load_seconds``: importing TensorFlow).
    """

    model: str
    epochs: int
    rows: int
    status: str = "queued"
    epoch_seconds: Sequence[float] = ()
    epoch_fraction: float = 0.0
    early_stopping: bool = False
    min_epochs: int | None = None
    running_epoch_seconds: float | None = None
    phase: str = ""
    phase_spent: float = 0.0
    load_seconds: float | None = None
    build_seconds: float | None = None
    tail_seconds: float | None = None


@dataclass(frozen=True)
class TimeLeft:
    """The estimate for one model (or a whole job).

    Attributes
    ----------
    seconds : float
        Seconds left, the central estimate (0 for a model that ended).
    basis : str
        What its epochs are priced by: ``"own epochs"`` (this model's finished epochs or running
        batches), ``"table"`` (the tables scaled by the speed measured on this machine), ``"table,
        reference machine"`` (nothing measured yet) or ``"done"``.
    at_most : bool
        Early stopping may end it sooner.
    low, high : float
        The range the time left is expected in (``low <= seconds <= high``).
    overrun : bool
        A phase has run longer than priced: how much longer is unknown, ``low`` is what is left
        after it, at least (the running phase counts as a tenth of its price more, in ``seconds``).
    """

    seconds: float
    basis: str
    at_most: bool = False
    low: float = 0.0
    high: float = 0.0
    overrun: bool = False

    def words(self) -> str:
        """The estimate as a page says it: ``'about 4:05'``, ``'3:10-6:40'`` or ``'at least 0:40'``.

        A range while it is wide (over 10 s and over a third of the estimate); a floor once a phase
        has run past its price.
        """
        if self.basis == "done":
            return "0:00"
        if self.overrun:
            return f"at least {clock(self.low)}" if self.low >= 5 else "a little more (later than priced)"
        if self.high - self.low <= max(10.0, 0.35 * self.seconds):
            return f"about {clock(self.seconds)}"
        return f"{clock(self.low)}-{clock(self.high)}"


def clock(seconds: float | None) -> str:
    """A duration as a clock: ``'4:05'``, ``'1:02:03'`` past an hour, ``'-'`` when unknown."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


def _pace(m: ModelPace) -> tuple[float | None, bool]:
    """A model's own seconds per epoch, and whether it is free of the first epoch's tracing.

    Epochs after the first; else the running epoch's batches after its first; else the
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
    absorbed here too, as all models of a job share one batch size. Before any epoch, the import of
    TensorFlow, once it ended, against :data:`TENSORFLOW_COST` (building is too short to tell).
    Never under :data:`MIN_SPEED`.
    """
    paces = [(m, *_pace(m)) for m in models if m.rows > 0]
    for clean in (True, False):
        for m, pace, steady in reversed(paces):
            if pace is not None and steady == clean:
                return max(MIN_SPEED, pace / table_epoch_seconds(m.model, m.rows))
    loads = [m.load_seconds for m in models if m.load_seconds is not None]
    return max(MIN_SPEED, loads[-1] / TENSORFLOW_COST) if loads else None


def _measured_tail(models: Sequence[ModelPace]) -> float | None:
    """The tails measured so far over the table's, or None: the factor for the tails still to come."""
    done = [m for m in models if m.tail_seconds is not None]
    if not done:
        return None
    return sum(m.tail_seconds for m in done) / sum(_tail_cost(m.model, m.rows) for m in done)


def _rest(parts: list, cost: float, spread: tuple[float, float], spent: float | None) -> bool:
    """Add a phase priced ``cost`` to ``parts``; ``spent`` seconds in it when it runs. Whether it overran."""
    if spent is None:
        parts.append((cost, spread))
        return False
    left = cost - spent
    if left < 0:  # longer than priced: how much longer is unknown; a tenth of it more, say
        parts.append((0.1 * cost, (0.0, 10 * spread[1])))
        return True
    parts.append((left, spread))
    return False


def time_left(models: Sequence[ModelPace], *, tensorflow_loaded: bool = True) -> tuple[list[TimeLeft], TimeLeft]:
    """Estimate the time each model of a job has left, every phase counted, and the job's total.

    Each model still to run costs: loading TensorFlow (the first model, when the process has not
    loaded it), building, its epochs (the first one with its tracing) and its tail (evaluating,
    storing, the trust checks). Its epochs are priced by its own pace once it has one (its epochs
    after the first, or the batches of its running epoch after the first), else by
    :data:`EPOCH_COST` scaled by :func:`machine_speed` (1 while nothing is measured) and its
    training rows; the other phases by :data:`TENSORFLOW_COST` and :data:`PHASE_COST` on the same
    scale, the tails by those measured once a model has ended. The running phase counts for what
    is left of it; one that has run past its price leaves nothing of it in the central estimate
    and marks the estimate ``overrun`` (an "at least").

    Parameters
    ----------
    models : sequence of ModelPace
        In the order they train.
    tensorflow_loaded : bool
        Whether the process has TensorFlow already (no model will pay for loading it).

    Returns
    -------
    per_model : list of TimeLeft
    total : TimeLeft
        Sum of ``per_model`` (central, low and high); its basis is the least measured of those
        still to run (``"done"`` when none is).
    """
    speed = machine_speed(models)
    scale = speed if speed is not None else 1.0
    # the import of TensorFlow is a weak sign of the training's speed: the narrower range needs an epoch's pace
    paced = any(_pace(m)[0] is not None for m in models if m.rows > 0)
    tail_factor = _measured_tail(models)
    # the first model still to run loads TensorFlow, if the process has not (and it has not passed that phase)
    pending = (i for i, m in enumerate(models) if m.status in ("queued", "running"))
    loader = None if tensorflow_loaded else next(pending, None)
    out = []
    for i, m in enumerate(models):
        phase = m.phase or ("queued" if m.status in ("queued", "running") else "done")
        if m.status not in ("queued", "running") or phase == "done":
            out.append(TimeLeft(0.0, "done"))
            continue
        table_spread = SPREAD["table" if paced else "reference"]
        parts: list[tuple[float, tuple[float, float]]] = []  # (central seconds, spread)
        overrun = False

        def rest(cost: float, name: str, spread, m=m, phase=phase, parts=parts) -> None:
            nonlocal overrun
            overrun = _rest(parts, cost, spread, m.phase_spent if phase == name else None) or overrun

        order = PHASES.index(phase)
        if i == loader and order <= PHASES.index("load"):
            rest(TENSORFLOW_COST * scale, "load", table_spread)
        if order <= PHASES.index("build"):
            rest(PHASE_COST[m.model]["build"] * scale, "build", table_spread)
        if order <= PHASES.index("epochs") and len(m.epoch_seconds) < m.epochs:
            per_epoch, _ = _pace(m)
            basis = "own epochs"
            spread = SPREAD["own"]
            if per_epoch is None:
                per_epoch = table_epoch_seconds(m.model, m.rows) * scale
                basis = "table" if speed is not None else "table, reference machine"
                spread = table_spread
            done = len(m.epoch_seconds)
            fraction = min(max(m.epoch_fraction, 0.0), 1.0) if phase == "epochs" else 0.0
            trace = PHASE_COST[m.model]["trace"] * scale
            if done == 0:  # the first epoch: its tracing, then its batches
                first = trace + per_epoch
                if phase == "epochs":
                    first = max(first - m.phase_spent, per_epoch * (1 - fraction))
                parts.append((first, spread))
                later = max(0, m.epochs - 1)
            else:
                # what is left of the running epoch: by its clock against its whole epochs (validation
                # included, which the batches do not count; and the fast path reports one call in 16
                # steps), else by its batches
                left = per_epoch * max(0.0, 1 - fraction)
                if phase == "epochs" and m.phase_spent > 0:
                    left = max(per_epoch - m.phase_spent, 0.05 * per_epoch)
                parts.append((left, spread))
                later = max(0, m.epochs - done - 1)
            floor = later
            if m.early_stopping:
                floor = max(0, min(later, (m.min_epochs or 1) - done - 1))  # after the running epoch
            parts.append((per_epoch * later, (spread[0] * (floor / later if later else 1.0), spread[1])))
        else:
            basis = "own epochs"
        tail = _tail_cost(m.model, m.rows) * (tail_factor if tail_factor is not None else scale)
        rest(tail, "tail", SPREAD["table"] if tail_factor is not None else table_spread)
        seconds = sum(c for c, _ in parts)
        low = sum(c * s[0] for c, s in parts)
        high = sum(c * s[1] for c, s in parts)
        out.append(TimeLeft(seconds, basis, m.early_stopping, low, high, overrun))
    pending = [t for t in out if t.basis != "done"]
    order = ("table, reference machine", "table", "own epochs")
    basis = next((b for b in order if any(t.basis == b for t in pending)), "done")
    total = TimeLeft(
        sum(t.seconds for t in out),
        basis,
        any(t.at_most for t in pending),
        sum(t.low for t in out),
        sum(t.high for t in out),
        any(t.overrun for t in pending),
    )
    return out, total
