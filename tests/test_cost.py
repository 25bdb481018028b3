"""Tests of mgc.training.cost: the per-model epoch-cost table and the time-left estimate of a job."""

from __future__ import annotations

import pytest

from mgc.config import MODEL_NAMES
from mgc.errors import ParameterError
from mgc.training.cost import EPOCH_COST, ModelPace, machine_speed, table_epoch_seconds, time_left


def _ratio(a: str, b: str) -> float:
    return EPOCH_COST[a] / EPOCH_COST[b]


def test_the_table_prices_every_model_and_the_networks_cost_what_bench_measured():
    assert set(EPOCH_COST) == set(MODEL_NAMES)
    assert all(v > 0 for v in EPOCH_COST.values())
    # issue 15's measurement (bench/train.py, 7,000 segments, batch 32): MLP 2.7 s < CNN 8.1 s < LSTM 15.5 s
    assert EPOCH_COST["mlp"] < EPOCH_COST["cnn"] < EPOCH_COST["lstm"]
    assert table_epoch_seconds("lstm", 7000) == pytest.approx(15.5, rel=0.05)
    assert table_epoch_seconds("mlp", 14000) == pytest.approx(2 * table_epoch_seconds("mlp", 7000))


def test_table_refuses_unknown_models_and_negative_rows():
    with pytest.raises(ParameterError, match="model='svm' has no epoch cost; known: mlp"):
        table_epoch_seconds("svm", 10)
    with pytest.raises(ParameterError, match="rows=-1 must be >= 0"):
        table_epoch_seconds("mlp", -1)


def test_nothing_measured_prices_every_model_from_the_table_of_the_reference_machine():
    models = [ModelPace("mlp", 2, 7000, status="running"), ModelPace("lstm", 3, 7000)]
    per_model, total = time_left(models)
    assert [t.basis for t in per_model] == ["table, reference machine"] * 2
    assert per_model[0].seconds == pytest.approx(2 * table_epoch_seconds("mlp", 7000))
    assert per_model[1].seconds == pytest.approx(3 * table_epoch_seconds("lstm", 7000))
    assert total.seconds == pytest.approx(per_model[0].seconds + per_model[1].seconds)
    assert total.basis == "table, reference machine" and not total.at_most


def test_a_queued_model_is_priced_by_its_own_cost_not_the_running_models_epoch():
    # the defect: with the MLP running at 1 s per epoch, the queued LSTM was priced at 1 s per epoch too
    mlp = ModelPace("mlp", 4, 2000, status="running", epoch_seconds=[3.0, 1.0])  # first epoch: tracing
    lstm = ModelPace("lstm", 10, 2000)
    per_model, total = time_left([mlp, lstm])
    assert per_model[0].seconds == pytest.approx(2 * 1.0) and per_model[0].basis == "own epochs"
    assert per_model[1].seconds == pytest.approx(10 * 1.0 * _ratio("lstm", "mlp"))
    assert per_model[1].basis == "table"
    assert per_model[1].seconds > 3 * 10 * 1.0  # far more than ten MLP epochs
    assert total.basis == "table"


def test_machine_speed_scales_the_table_and_rows_scale_the_epoch():
    # this machine runs the MLP 2x slower than the reference; the CNN trains on half the rows
    slow = 2 * table_epoch_seconds("mlp", 4000)
    models = [
        ModelPace("mlp", 1, 4000, status="finished", epoch_seconds=[slow]),
        ModelPace("cnn", 3, 2000, status="running"),
    ]
    assert machine_speed(models) == pytest.approx(2.0)
    per_model, _ = time_left(models)
    assert per_model[0].seconds == 0.0 and per_model[0].basis == "done"
    assert per_model[1].seconds == pytest.approx(3 * 2.0 * table_epoch_seconds("cnn", 2000))


def test_the_latest_measured_model_sets_the_speed():
    cnn = table_epoch_seconds("cnn", 1000)
    models = [
        ModelPace("mlp", 2, 1000, status="finished", epoch_seconds=[9.0, 9.0]),  # measured on a busy machine
        ModelPace("cnn", 3, 1000, status="running", epoch_seconds=[5 * cnn, cnn]),
        ModelPace("lstm", 2, 1000),
    ]
    assert machine_speed(models) == pytest.approx(1.0)
    per_model, _ = time_left(models)
    assert per_model[2].seconds == pytest.approx(2 * table_epoch_seconds("lstm", 1000))


def test_a_first_epoch_that_traced_the_graph_does_not_set_the_speed_when_its_batches_tell_the_pace():
    # the other defect: a first MLP epoch of 10 s (most of it tracing) against 0.6 s after it
    # priced the queued LSTM at 17x the table
    mlp = ModelPace("mlp", 3, 1500, status="running", epoch_seconds=[10.0], running_epoch_seconds=0.6)
    lstm = ModelPace("lstm", 3, 1500)
    assert machine_speed([mlp, lstm]) == pytest.approx(0.6 / table_epoch_seconds("mlp", 1500))
    per_model, _ = time_left([mlp, lstm])
    assert per_model[0].seconds == pytest.approx(2 * 0.6)
    assert per_model[1].seconds == pytest.approx(3 * 0.6 * _ratio("lstm", "mlp"))
    # without the batches' pace, the traced epoch is all there is (an overstatement, never an understatement)
    alone = ModelPace("mlp", 3, 1500, status="running", epoch_seconds=[10.0])
    assert machine_speed([alone, lstm]) == pytest.approx(10.0 / table_epoch_seconds("mlp", 1500))
    # a clean pace of an earlier model beats a traced epoch of a later one
    done = ModelPace("mlp", 2, 1500, status="finished", epoch_seconds=[10.0, 0.6])
    traced = ModelPace("cnn", 3, 1500, status="running", epoch_seconds=[30.0])
    assert machine_speed([done, traced, lstm]) == pytest.approx(0.6 / table_epoch_seconds("mlp", 1500))


def test_time_outside_the_epochs_counts_once_a_model_has_ended():
    ended = ModelPace("mlp", 2, 1000, status="finished", epoch_seconds=[3.0, 1.0], overhead_seconds=8.0)
    running = ModelPace("cnn", 2, 1000, status="running", epoch_seconds=[4.0, 2.0], overhead_spent=3.0)
    queued = ModelPace("lstm", 2, 1000)
    per_model, total = time_left([ended, running, queued])
    assert per_model[1].seconds == pytest.approx(0 * 2.0 + (8.0 - 3.0))  # its epochs are done: 5 s of the 8 left
    lstm = 2 * 2.0 * _ratio("lstm", "cnn") + 8.0
    assert per_model[2].seconds == pytest.approx(lstm)
    assert total.seconds == pytest.approx(5.0 + lstm)
    # spent more than the others did: nothing (not less than nothing) is left of it
    late = ModelPace("cnn", 2, 1000, status="running", epoch_seconds=[4.0, 2.0], overhead_spent=20.0)
    assert time_left([ended, late])[0][1].seconds == 0.0


def test_a_models_own_epochs_win_over_the_table_and_the_running_epoch_counts_its_batches():
    # the table says the transfer head is cheap; this one is measured at 4 s per epoch
    own = ModelPace("transfer", 5, 7000, status="running", epoch_seconds=[6.0, 4.0, 4.0], epoch_fraction=0.25)
    per_model, _ = time_left([own])
    assert per_model[0].basis == "own epochs"
    assert per_model[0].seconds == pytest.approx((5 - 3 - 0.25) * 4.0)
    # a queued model's fraction is ignored (it has no running epoch), a bad fraction is clipped
    queued = ModelPace("mlp", 2, 7000, epoch_fraction=0.5)
    odd = ModelPace("mlp", 2, 7000, status="running", epoch_fraction=3.0)
    (q,), _ = time_left([queued])
    (o,), _ = time_left([odd])
    assert q.seconds == pytest.approx(2 * table_epoch_seconds("mlp", 7000))
    assert o.seconds == pytest.approx(1 * table_epoch_seconds("mlp", 7000))


def test_early_stopping_makes_the_estimate_an_upper_bound_only_while_that_model_runs():
    models = [
        ModelPace("mlp", 3, 1000, status="stopped", epoch_seconds=[1.0], early_stopping=True),
        ModelPace("cnn", 3, 1000, status="running", epoch_seconds=[2.0]),
    ]
    per_model, total = time_left(models)
    assert not total.at_most and not per_model[1].at_most
    models.append(ModelPace("lstm", 3, 1000, early_stopping=True))
    per_model, total = time_left(models)
    assert per_model[2].at_most and total.at_most


def test_a_job_with_nothing_left_is_done():
    per_model, total = time_left([ModelPace("mlp", 2, 100, status="finished", epoch_seconds=[1.0, 1.0])])
    assert total.seconds == 0.0 and total.basis == "done" and per_model[0].basis == "done"
