"""Which runs the pages offer by default (mgc.runs), and how a run names itself."""

from __future__ import annotations

import random

from conftest import fake_run
from mgc.runs import DEFAULT_MIN_OVER_CHANCE, default_classify_runs, default_result_runs

TEN = tuple(f"g{i}" for i in range(10))
FF = "fault-filtered (tested on valid)"


def test_a_run_names_its_protocol_recipe_classes_and_score():
    r = fake_run("gtzan10-ff-mlp", "mlp", "fault-filtered", classes=TEN, label=FF, trk=0.62, bal=0.48)
    assert r.protocol == FF and r.score == 0.62
    assert r.score_text == "track acc 0.62, balanced 0.48"
    assert r.label == f"MLP · {FF} · study · 10 classes · track acc 0.62, balanced 0.48 · gtzan10-ff-mlp"
    stopped = fake_run("x", "cnn", "segment", trk=None, seg=0.55, status="stopped")
    assert stopped.protocol == "segment" and stopped.score is None
    assert stopped.label == "CNN · segment · study · 3 classes · segment acc 0.55 · stopped · x"
    refit = fake_run(
        "y",
        "lstm",
        "fault-filtered",
        label="fault-filtered (refit on train + valid)",
        trk=0.7,
        metrics_from="gtzan10-ff-lstm",
    )
    assert refit.score_text == "track acc 0.70 (its twin's: gtzan10-ff-lstm)"


def test_a_run_at_chance_is_never_a_default():
    assert DEFAULT_MIN_OVER_CHANCE == 1.5
    poor = fake_run("ff-poor", "mlp", "fault-filtered", classes=TEN, label=FF, trk=0.10)
    assert default_classify_runs([poor]) == []  # the only MLP, on the best protocol: still not offered
    leaky = fake_run("seg", "mlp", "segment", classes=TEN, trk=0.16)
    assert default_classify_runs([poor, leaky]) == ["seg"]  # 0.16 >= 1.5 x chance (0.15)
    assert default_classify_runs([fake_run("seg-low", "mlp", "segment", classes=TEN, trk=0.14)]) == []


def test_an_honest_protocol_beats_a_leaky_one_whatever_the_scores():
    runs = [
        fake_run("mlp-seg", "mlp", "segment", classes=TEN, trk=0.95),
        fake_run("mlp-track", "mlp", "track", classes=TEN, trk=0.80),
        fake_run("mlp-ff", "mlp", "fault-filtered", classes=TEN, label=FF, trk=0.40),
        fake_run("cnn-seg", "cnn", "segment", classes=TEN, trk=0.99),
        fake_run("cnn-track", "cnn", "track", classes=TEN, trk=0.30),
        fake_run("lstm-seg", "lstm", "segment", classes=TEN, trk=0.90),
    ]
    assert default_classify_runs(runs) == ["mlp-ff", "cnn-track", "lstm-seg"]  # mlp, cnn, lstm order


def test_within_a_protocol_the_better_score_wins_and_a_refit_wins_a_tie():
    runs = [
        fake_run("ff-a", "cnn", "fault-filtered", classes=TEN, label=FF, trk=0.55),
        fake_run("ff-b", "cnn", "fault-filtered", classes=TEN, label=FF, trk=0.60),
        fake_run(
            "ff-b-refit",
            "cnn",
            "fault-filtered",
            classes=TEN,
            trk=0.60,
            metrics_from="ff-b",
            label="fault-filtered (refit on train + valid)",
        ),
    ]
    assert default_classify_runs(runs) == ["ff-b-refit"]
    assert default_classify_runs(runs[:2]) == ["ff-b"]
    # a refit does not beat a better score
    better = fake_run("ff-c", "cnn", "fault-filtered", classes=TEN, label=FF, trk=0.61)
    assert default_classify_runs(runs + [better]) == ["ff-c"]


def test_defaults_never_depend_on_names_order_or_unfinished_runs():
    runs = [
        fake_run("zzz-newest", "mlp", "track", trk=0.70),
        fake_run("aaa-best-reference", "mlp", "track", trk=0.72),
        fake_run("gtzan-mini3-track-improved-mlp", "mlp", "track", trk=0.71),
        fake_run("stopped-high", "mlp", "fault-filtered", trk=0.99, status="stopped"),
        fake_run("segment-only-score", "lstm", "segment", trk=None, seg=0.9),
    ]
    expected = ["aaa-best-reference", "segment-only-score"]
    assert default_classify_runs(runs) == expected
    rng = random.Random(0)
    for _ in range(5):
        rng.shuffle(runs)
        assert default_classify_runs(runs) == expected


def test_result_defaults_are_the_reference_runs_else_the_newest_three():
    runs = [fake_run(f"r{i}") for i in range(5)]  # list_runs gives the newest first
    assert default_result_runs(runs) == ["r0", "r1", "r2"]
    tagged = runs + [fake_run("ref-b", tags=("reference",)), fake_run("ref-a", tags=("reference", "x"))]
    assert default_result_runs(tagged) == ["ref-a", "ref-b"]
    assert default_result_runs([]) == []


def test_the_defaults_the_pages_offer():
    """The Classify and Results pages call these functions directly (their AppTests check the choices shown)."""
    runs = [
        fake_run("a", "mlp", "track", trk=0.7),
        fake_run("b", "mlp", "segment", trk=0.9),
        fake_run("ref", "cnn", "segment", tags=("reference",)),
    ]
    assert default_classify_runs(runs) == ["a", "ref"]
    assert default_result_runs(runs) == ["ref"]


def test_balanced_accuracy_ranks_before_plain_track_accuracy_where_runs_have_it():
    # on unequal classes the run that gets the big genres right but no small one scores high on plain accuracy
    big_only = fake_run("ff-big-only", "mlp", "fault-filtered", classes=TEN, label=FF, trk=0.49, bal=0.26)
    fairer = fake_run("ff-fairer", "mlp", "fault-filtered", classes=TEN, label=FF, trk=0.48, bal=0.27)
    assert default_classify_runs([big_only, fairer]) == ["ff-fairer"]
    older = [fake_run("old-a", "mlp", "track", trk=0.7), fake_run("old-b", "mlp", "track", trk=0.6)]
    assert default_classify_runs(older) == ["old-a"]  # runs without balanced accuracy: plain track accuracy decides


def test_a_run_made_before_balanced_accuracy_is_ranked_by_its_track_confusion():
    # 2 classes x 5 tracks: the old run gets all of class 0 and none of class 1 (track acc 0.5, balanced 0.5)
    old = fake_run(
        "old",
        "mlp",
        "fault-filtered",
        classes=("a", "b"),
        label=FF,
        trk=0.9,
        bal=None,
        track_confusion=[[5, 0], [5, 0]],
    )
    new = fake_run("new", "mlp", "fault-filtered", classes=("a", "b"), label=FF, trk=0.8, bal=0.8)
    assert default_classify_runs([old, new]) == ["new"]


def test_short_labels_fit_a_chip_and_are_distinct():
    from mgc.config import GTZAN_GENRES
    from mgc.runs import short_labels

    runs = [
        fake_run("ff-mlp", "mlp", "fault-filtered", classes=GTZAN_GENRES, label=FF),
        fake_run(
            "ff-mlp-refit",
            "mlp",
            "fault-filtered",
            classes=GTZAN_GENRES,
            label="fault-filtered (refit on train + valid)",
        ),
        fake_run(
            "ff-test-cnn", "cnn", "fault-filtered", classes=GTZAN_GENRES, label="fault-filtered", recipe="improved"
        ),
        fake_run("seg-transfer", "transfer", "segment", classes=GTZAN_GENRES),
        fake_run("tiny-a", "lstm", "track"),
        fake_run("tiny-b", "lstm", "track", status="stopped"),
        fake_run("tiny-c", "lstm", "track"),
    ]
    names = short_labels(runs)
    assert names["ff-mlp"] == "MLP · ff valid · study"
    assert names["ff-mlp-refit"] == "MLP · ff refit · study"
    assert names["ff-test-cnn"] == "CNN · ff test · improved"
    assert names["seg-transfer"] == "Transfer · segment · study"
    assert names["tiny-b"] == "RNN-LSTM · track · study · 3 classes · stopped"
    # two runs that would read alike get their ids
    assert names["tiny-a"] == "RNN-LSTM · track · study · 3 classes · tiny-a"
    assert names["tiny-c"] == "RNN-LSTM · track · study · 3 classes · tiny-c"
    assert len(set(names.values())) == len(runs)
    assert max(len(names[r.id]) for r in runs[:4]) <= 30  # GTZAN's runs: a chip holds them whole


def test_a_run_says_whether_it_heard_gtzan_or_the_synthetic_demo():
    from mgc.config import GTZAN_GENRES
    from mgc.dataset.demo import DEMO_STYLES

    assert fake_run("a", classes=GTZAN_GENRES[:3]).trained_on == "GTZAN"
    assert fake_run("b", classes=DEMO_STYLES).trained_on == "synthetic demo"
    assert fake_run("c", classes=("speech", "music")).trained_on == "other"


def test_the_runs_table_names_the_data_and_marks_unfinished_runs():
    from mgc.analysis import runs_table
    from mgc.config import GTZAN_GENRES
    from mgc.dataset.demo import DEMO_STYLES

    table = runs_table(
        [
            fake_run("g", classes=GTZAN_GENRES, bal=0.5),
            fake_run("d", classes=DEMO_STYLES[:3], status="stopped"),
        ]
    )
    assert table["trained on"].tolist() == ["GTZAN (10)", "synthetic demo (3)"]
    assert table["epochs"].tolist()[0] == "3" and table["epochs"].tolist()[1].endswith(", stopped")
