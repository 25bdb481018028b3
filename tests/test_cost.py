"""Tests of mgc.training.cost: the cost tables and the time-left estimate of a job, every phase counted.

The estimator is fed synthetic progress (what a job's snapshot would hold at a moment) of jobs whose
true timeline is made here, so the true time left is known at every moment.
"""

from __future__ import annotations

import pytest

from mgc.config import MODEL_NAMES
from mgc.errors import ParameterError
from mgc.training.cost import (
    EPOCH_COST,
    PHASE_COST,
    PHASES,
    TAIL_ROWS,
    TENSORFLOW_COST,
    ModelPace,
    TimeLeft,
    clock,
    machine_speed,
    phase_of,
    table_epoch_seconds,
    time_left,
)


def _ratio(a: str, b: str) -> float:
    return EPOCH_COST[a] / EPOCH_COST[b]


def _tail(model: str, rows: int) -> float:
    """A tail on the reference machine: in proportion to the training rows (held-out parts grow with them)."""
    return PHASE_COST[model]["tail"] * max(0.2, rows / TAIL_ROWS)


def test_the_tables_price_every_model_and_the_networks_cost_what_bench_measured():
    assert set(EPOCH_COST) == set(MODEL_NAMES) == set(PHASE_COST)
    assert all(v > 0 for v in EPOCH_COST.values())
    assert all(set(p) == {"build", "trace", "tail"} and min(p.values()) > 0 for p in PHASE_COST.values())
    assert TENSORFLOW_COST > 0
    # issue 15's measurement (bench/train.py, 7,000 segments, batch 32): MLP < CNN < LSTM
    assert EPOCH_COST["mlp"] < EPOCH_COST["cnn"] < EPOCH_COST["lstm"]
    assert table_epoch_seconds("mlp", 14000) == pytest.approx(2 * table_epoch_seconds("mlp", 7000))


def test_table_refuses_unknown_models_and_negative_rows():
    with pytest.raises(ParameterError, match="model='svm' has no epoch cost; known: mlp"):
        table_epoch_seconds("svm", 10)
    with pytest.raises(ParameterError, match="rows=-1 must be >= 0"):
        table_epoch_seconds("mlp", -1)


def test_phase_of_reads_the_stages_the_fit_reports():
    # the stage strings of mgc.training.train and of the job, in the order a model meets them
    assert phase_of("queued", "preparing the data") == "data"
    assert phase_of("queued", "queued") == "queued"
    assert phase_of("running", "starting") == "build"
    assert phase_of("running", "making the split") == "build"  # the job made it: train() only checks it
    assert phase_of("running", "loading TensorFlow (once per process)") == "load"
    assert phase_of("running", "starting Keras") == "build"
    assert phase_of("running", "building the network") == "build"
    assert phase_of("running", "epoch 1/4 (the first batch traces the graph)") == "epochs"
    assert phase_of("running", "epoch 3/4: validating", 2) == "epochs"
    for stage in ("evaluating on the test part", "storing the run", "fitting the trust checks"):
        assert phase_of("running", stage, 4) == "tail"
    assert phase_of("finished", "stored", 4) == phase_of("stopped", "stopped", 1) == "done"
    assert PHASES.index("load") < PHASES.index("build") < PHASES.index("epochs") < PHASES.index("tail")


# --------------------------------------------------------------------------- #
# Synthetic jobs with a known timeline
# --------------------------------------------------------------------------- #
def _timeline(models, *, rows, epochs, slow, first_loads=True, tail_scale=1.0):
    """The true phases of a job on a machine ``slow`` times slower than the reference: (model, phase, seconds)."""
    out = []
    for i, m in enumerate(models):
        if i == 0 and first_loads:
            out.append((m, "load", TENSORFLOW_COST * slow))
        out.append((m, "build", PHASE_COST[m]["build"] * slow))
        epoch = table_epoch_seconds(m, rows) * slow
        out.append((m, "epoch", PHASE_COST[m]["trace"] * slow + epoch))
        out += [(m, "epoch", epoch)] * (epochs - 1)
        out.append((m, "tail", _tail(m, rows) * slow * tail_scale))
    return out


def _state_at(timeline, models, t, *, rows, epochs):
    """What the job's snapshot would say at ``t`` seconds: one ModelPace per model, and the true time left.

    Within an epoch, the batches report their share once the first batch (the tracing) is done, and the
    pace they imply (as :class:`mgc.training.TrainingJob` does).
    """
    state = {m: {"status": "queued", "phase": "queued", "epoch_seconds": [], "spent": 0.0} for m in models}
    measured = {m: {} for m in models}
    running = {}
    clock = 0.0
    for m, phase, seconds in timeline:
        s = state[m]
        if clock + seconds <= t:  # this phase has ended
            if phase == "epoch":
                s["epoch_seconds"].append(seconds)
            else:
                measured[m][f"{phase}_seconds"] = seconds
            s["status"], s["phase"] = "running", "epochs" if phase == "epoch" else phase
            if phase == "tail":
                s["status"], s["phase"] = "finished", "done"
            clock += seconds
            continue
        s["status"], s["phase"], s["spent"] = "running", "epochs" if phase == "epoch" else phase, t - clock
        if phase == "epoch":
            trace = 0.0
            if not s["epoch_seconds"]:
                trace = PHASE_COST[m]["trace"] * (seconds / (PHASE_COST[m]["trace"] + table_epoch_seconds(m, rows)))
            batches = seconds - trace
            if s["spent"] > trace:
                running = {"epoch_fraction": (s["spent"] - trace) / batches, "running_epoch_seconds": batches}
        break
    paces = []
    for m in models:
        s = state[m]
        extra = running if s["status"] == "running" and s["phase"] == "epochs" else {}
        paces.append(
            ModelPace(
                m,
                epochs,
                rows,
                status=s["status"],
                epoch_seconds=list(s["epoch_seconds"]),
                phase=s["phase"],
                phase_spent=s["spent"],
                **extra,
                **measured[m],
            )
        )
    true_left = sum(sec for _, _, sec in timeline) - t
    return paces, true_left


MODELS = ["mlp", "cnn", "lstm"]


@pytest.mark.parametrize("slow", [0.6, 1.0, 2.0])
def test_the_true_time_left_lies_in_the_range_from_the_first_second(slow):
    # a 3-model job on a machine from faster to 2x slower than the reference: at every moment the
    # truth is inside the range the page shows, however little has been measured
    timeline = _timeline(MODELS, rows=1500, epochs=4, slow=slow)
    length = sum(s for _, _, s in timeline)
    for share in (0.0, 0.01, 0.05, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95):
        paces, true_left = _state_at(timeline, MODELS, share * length, rows=1500, epochs=4)
        _, total = time_left(paces, tensorflow_loaded=share * length >= TENSORFLOW_COST * slow)
        assert total.low <= true_left <= total.high, (share, total, true_left)
        assert total.low <= total.seconds <= total.high


def test_an_estimate_that_ignores_the_start_up_and_the_phases_outside_epochs_is_far_too_low():
    # the case: at the first second of a 3-model job, the epochs alone are a fraction of the truth
    timeline = _timeline(MODELS, rows=600, epochs=3, slow=1.0)
    paces, true_left = _state_at(timeline, MODELS, 1.0, rows=600, epochs=3)
    epochs_only = sum(3 * table_epoch_seconds(m, 600) for m in MODELS)
    assert epochs_only < 0.5 * true_left  # what counting the epochs only said
    _, total = time_left(paces, tensorflow_loaded=False)
    assert total.seconds == pytest.approx(true_left, rel=0.05)
    # loading TensorFlow is counted once, and only when the process has not loaded it
    _, loaded = time_left(paces, tensorflow_loaded=True)
    assert total.seconds - loaded.seconds == pytest.approx(TENSORFLOW_COST - 1.0)


def test_once_the_first_models_phases_are_measured_the_estimate_follows_this_machine():
    # a machine 2x slower than the reference, whose trust checks cost 3x the table: once the MLP has ended,
    # the estimate is within 15 % of the truth (the table alone, unscaled, would say less than half)
    timeline = _timeline(MODELS, rows=1500, epochs=4, slow=2.0, tail_scale=1.5)
    mlp_end = sum(s for m, _, s in timeline if m == "mlp")
    paces, true_left = _state_at(timeline, MODELS, mlp_end + 0.01, rows=1500, epochs=4)
    _, total = time_left(paces, tensorflow_loaded=True)
    assert total.seconds == pytest.approx(true_left, rel=0.15)
    assert total.basis == "table" and total.low <= true_left <= total.high
    unscaled = sum(PHASE_COST[m]["build"] + PHASE_COST[m]["trace"] + _tail(m, 1500) for m in MODELS[1:])
    unscaled += sum(4 * table_epoch_seconds(m, 1500) for m in MODELS[1:])
    assert unscaled < 0.5 * true_left


def test_the_range_narrows_as_phases_end():
    timeline = _timeline(MODELS, rows=1500, epochs=4, slow=1.3)
    length = sum(s for _, _, s in timeline)
    widths = []
    for share in (0.0, 0.4, 0.9):
        paces, _ = _state_at(timeline, MODELS, share * length, rows=1500, epochs=4)
        _, total = time_left(paces, tensorflow_loaded=share > 0)
        widths.append(total.high / max(total.low, 1e-9))
    assert widths[0] >= 4  # nothing measured: the reference machine's table may be far off
    assert widths[0] > 2 * max(widths[1:]) and min(widths) > 1.0  # the machine's speed measured: narrower
    # the page says a range first and an "about" at the end
    paces, _ = _state_at(timeline, MODELS, 0.0, rows=1500, epochs=4)
    assert "-" in time_left(paces, tensorflow_loaded=False)[1].words()
    paces, _ = _state_at(timeline, MODELS, 0.97 * length, rows=1500, epochs=4)
    assert time_left(paces)[1].words().startswith("about ")


# --------------------------------------------------------------------------- #
# Single rules
# --------------------------------------------------------------------------- #
def test_a_queued_model_is_priced_by_its_own_cost_not_the_running_models_epoch():
    # with the MLP running at 1 s per epoch, the queued LSTM was once priced at 1 s per epoch too
    mlp = ModelPace("mlp", 4, 2000, status="running", epoch_seconds=[3.0, 1.0], phase="epochs")
    lstm = ModelPace("lstm", 10, 2000)
    per_model, total = time_left([mlp, lstm])
    speed = 1.0 / table_epoch_seconds("mlp", 2000)
    epochs = 10 * 1.0 * _ratio("lstm", "mlp")
    assert per_model[1].seconds > epochs > 3 * 10 * 1.0  # far more than ten MLP epochs, and more than its epochs
    outside = (PHASE_COST["lstm"]["build"] + PHASE_COST["lstm"]["trace"] + _tail("lstm", 2000)) * speed
    assert per_model[1].seconds == pytest.approx(epochs + outside)
    assert per_model[1].basis == "table" and per_model[0].basis == "own epochs" and total.basis == "table"


def test_a_first_epoch_that_traced_the_graph_does_not_set_the_speed_when_its_batches_tell_the_pace():
    mlp = ModelPace("mlp", 3, 1500, status="running", epoch_seconds=[10.0], running_epoch_seconds=0.6)
    lstm = ModelPace("lstm", 3, 1500)
    assert machine_speed([mlp, lstm]) == pytest.approx(0.6 / table_epoch_seconds("mlp", 1500))
    alone = ModelPace("mlp", 3, 1500, status="running", epoch_seconds=[10.0])
    assert machine_speed([alone, lstm]) == pytest.approx(10.0 / table_epoch_seconds("mlp", 1500))
    done = ModelPace("mlp", 2, 1500, status="finished", epoch_seconds=[10.0, 0.6])
    traced = ModelPace("cnn", 3, 1500, status="running", epoch_seconds=[30.0])
    assert machine_speed([done, traced, lstm]) == pytest.approx(0.6 / table_epoch_seconds("mlp", 1500))


def test_before_any_epoch_the_import_of_tensorflow_sets_the_speed():
    # TensorFlow loaded in 3x its table time: the machine is slow, and so will the rest be
    m = ModelPace("mlp", 2, 1000, status="running", phase="build", load_seconds=3 * TENSORFLOW_COST)
    assert machine_speed([m]) == pytest.approx(3.0)
    # a build too short to tell (it once set the speed to 0 and priced the whole job at 0 s)
    brief = ModelPace("mlp", 2, 1000, status="running", phase="load", build_seconds=0.0, phase_spent=3.0)
    assert machine_speed([brief]) is None
    t = time_left([brief, ModelPace("lstm", 4, 1000)], tensorflow_loaded=False)[0][0]
    assert t.seconds > TENSORFLOW_COST - 3.0 + 2 * table_epoch_seconds("mlp", 1000)
    fast = ModelPace("mlp", 2, 1000, status="running", phase="epochs", epoch_seconds=[0.0, 0.0])
    assert machine_speed([fast]) > 0


def test_the_tails_measured_price_the_tails_to_come():
    tail = _tail("mlp", 1000)
    ended = ModelPace("mlp", 1, 1000, status="finished", epoch_seconds=[2.0], tail_seconds=5 * tail)
    queued = ModelPace("cnn", 1, 1000)
    base = ModelPace("mlp", 1, 1000, status="finished", epoch_seconds=[2.0], tail_seconds=tail)
    slow_tail = time_left([ended, queued])[0][1].seconds
    plain = time_left([base, queued])[0][1].seconds
    assert slow_tail - plain == pytest.approx(4 * _tail("cnn", 1000))


def test_a_phase_past_its_price_says_at_least():
    long_build = ModelPace("lstm", 2, 1000, status="running", phase="tail", epoch_seconds=[5.0, 1.0], phase_spent=1e4)
    (t,), total = time_left([long_build])
    assert t.overrun and total.overrun and t.low == 0.0 < t.seconds < t.high
    assert t.words() == "a little more (later than priced)"
    # a model still queued behind it: its time is the floor
    queued = ModelPace("mlp", 20, 10000)
    _, both = time_left([long_build, queued])
    assert both.overrun and both.low > 5 and both.words() == f"at least {clock(both.low)}"
    on_time = ModelPace("lstm", 2, 1000, status="running", phase="tail", epoch_seconds=[5.0, 1.0], phase_spent=0.0)
    assert not time_left([on_time])[1].overrun


def test_the_running_epoch_counts_its_batches():
    own = ModelPace("transfer", 5, 7000, status="running", phase="epochs", epoch_seconds=[6.0, 4.0, 4.0])
    quarter = ModelPace(
        "transfer", 5, 7000, status="running", phase="epochs", epoch_seconds=[6.0, 4.0, 4.0], epoch_fraction=0.25
    )
    assert time_left([own])[0][0].seconds - time_left([quarter])[0][0].seconds == pytest.approx(0.25 * 4.0)
    odd = ModelPace("mlp", 2, 7000, status="running", phase="epochs", epoch_seconds=[1.0], epoch_fraction=3.0)
    full = ModelPace("mlp", 2, 7000, status="running", phase="epochs", epoch_seconds=[1.0], epoch_fraction=1.0)
    assert time_left([odd])[0][0].seconds == time_left([full])[0][0].seconds  # a bad fraction is clipped


def test_early_stopping_lowers_the_low_end_only():
    plain = ModelPace("cnn", 20, 1000, status="running", phase="epochs", epoch_seconds=[4.0, 2.0])
    early = ModelPace(
        "cnn", 20, 1000, status="running", phase="epochs", epoch_seconds=[4.0, 2.0], early_stopping=True, min_epochs=4
    )
    (p,), _ = time_left([plain])
    (e,), total = time_left([early])
    assert e.seconds == pytest.approx(p.seconds) and e.high == pytest.approx(p.high)
    assert e.low < p.low and e.at_most and total.at_most
    # it may stop after its 4th epoch: 2 more epochs at 2 s, then its tail
    assert e.low < 2 * 2.0 + _tail("cnn", 1000) * 2.0 / table_epoch_seconds("cnn", 1000)


def test_a_job_with_nothing_left_is_done():
    per_model, total = time_left([ModelPace("mlp", 2, 100, status="finished", epoch_seconds=[1.0, 1.0])])
    assert total.seconds == 0.0 and total.basis == "done" and per_model[0].basis == "done"
    assert TimeLeft(0.0, "done").words() == "0:00"
