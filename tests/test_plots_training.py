"""Tests of mgc.plots.training: the Train page's live curves."""

from __future__ import annotations

import math

import pytest

from mgc.plots import MODEL_COLORS, epoch_step, live_curves


def _history(losses, accs=None):
    accs = accs or [0.3 + 0.1 * i for i in range(len(losses))]
    return [
        {"epoch": i + 1, "loss": v, "val_loss": v * 1.1, "accuracy": a, "val_accuracy": a - 0.05}
        for i, (v, a) in enumerate(zip(losses, accs, strict=True))
    ]


@pytest.mark.parametrize(("epochs", "step"), [(1, 1), (3, 1), (8, 1), (9, 2), (16, 2), (17, 5), (60, 10), (100, 20)])
def test_epoch_ticks_are_whole_epochs_and_few(epochs, step):
    assert epoch_step(epochs) == step
    assert math.ceil(epochs / step) <= 8


def test_one_panel_pair_per_model_in_the_studys_order_with_a_shared_log_loss_axis():
    # the study's raw-MFCC MLP starts near 50 nats, the others near 1-2: per-model panels on a log axis
    fig = live_curves({"lstm": _history([2.0, 1.6]), "mlp": _history([52.0, 20.0, 9.0])}, epochs={"mlp": 3, "lstm": 3})
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["MLP", "RNN-LSTM"]
    traces = [t for t in fig.data if t.x != (None,)]
    # MLP in column 1 (x, x3 axes), LSTM in column 2; accuracy top row, loss bottom row
    axes = {(t.xaxis, t.yaxis) for t in traces}
    assert axes == {("x", "y"), ("x3", "y3"), ("x2", "y2"), ("x4", "y4")}
    for t in traces:
        model = "mlp" if t.xaxis in ("x", "x3") else "lstm"
        assert t.line.color == MODEL_COLORS[model]
        assert t.line.dash == ("solid" if t.name == "train" else "dash")
    lay = fig.layout
    assert lay.yaxis3.type == "log" and lay.yaxis4.type == "log" and lay.yaxis.type != "log"
    # the loss axis spans what was seen, from under the smallest to over the largest loss
    low, high = (10**v for v in lay.yaxis3.range)
    assert low < 1.6 < 2.0 < 57.2 < high < 100  # 57.2: the MLP's first validation loss
    assert all(low <= t <= high for t in lay.yaxis3.tickvals)
    # whole-epoch ticks over the epochs asked for
    assert lay.xaxis.tickmode == "linear" and lay.xaxis.dtick == 1 and list(lay.xaxis.range) == [0.5, 3.5]


def test_the_legend_names_the_line_styles_below_the_panels():
    fig = live_curves({"mlp": _history([1.0]), "cnn": _history([2.0])})
    shown = [t for t in fig.data if t.showlegend]
    assert [(t.name, t.line.dash) for t in shown] == [("train", "solid"), ("validation", "dash")]
    # below the plotting area: it cannot cover the panels' titles
    assert fig.layout.legend.y < 0 and fig.layout.legend.yanchor == "top"


def test_a_model_still_in_its_first_epoch_gets_its_empty_panels():
    fig = live_curves({"mlp": _history([1.2, 1.0]), "cnn": []}, epochs={"mlp": 2, "cnn": 60})
    assert [a.text for a in fig.layout.annotations] == ["MLP", "CNN"]
    assert fig.layout.xaxis.range == (0.5, 60.5) and fig.layout.xaxis.dtick == 10


def test_a_loss_near_zero_does_not_crowd_the_log_axis():
    # a tiny easy dataset: the MLP's validation loss falls to 0.001 while its training loss starts at 20
    hist = [{"epoch": 1, "loss": 20.0, "val_loss": 0.001}, {"epoch": 2, "loss": 8.0, "val_loss": 0.002}]
    fig = live_curves({"mlp": hist, "cnn": _history([1.0, 0.8])})
    low, high = (10**v for v in fig.layout.yaxis3.range)
    assert low < 0.001 and high > 20
    ticks = list(fig.layout.yaxis3.tickvals)
    assert ticks == [0.001, 0.01, 0.1, 1.0, 10.0]  # powers of ten over these 4+ decades, not 1-2-5 steps
    assert list(fig.layout.yaxis3.ticktext) == ["0.001", "0.01", "0.1", "1", "10"]
