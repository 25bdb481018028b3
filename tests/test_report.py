"""Tables of the results page (mgc.analysis.report) and the import cost of the home page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import fake_run
from mgc.analysis.report import leakage_ladder, misclassified, per_class_table, table2
from mgc.config import PAPER_TABLE2
from mgc.errors import ParameterError

ROOT = Path(__file__).resolve().parents[1]
TEN = tuple(f"g{i}" for i in range(10))


def test_table2_puts_the_paper_beside_each_run_and_names_the_error():
    df = table2([fake_run("r1", "cnn", "segment", classes=TEN, seg=0.9, loss=0.4, bal=0.85, track_macro_f1=0.8)])
    row = df.iloc[0]
    assert row["protocol"] == "segment" and "split" not in df.columns
    assert row["paper accuracy"] == PAPER_TABLE2["cnn"]["accuracy"]
    assert row["paper error (= cross-entropy)"] == PAPER_TABLE2["cnn"]["error"]
    assert row["Δ accuracy"] == pytest.approx(0.9 - 0.7443)
    assert row["Δ loss"] == pytest.approx(0.4 - 0.88)
    assert row["chance"] == pytest.approx(0.1)
    assert row["balanced accuracy (tracks)"] == 0.85 and row["macro-F1 (tracks)"] == 0.8


def test_table2_compares_with_the_paper_only_on_its_task_and_protocol():
    df = table2(
        [
            fake_run("r3", "cnn", "track", seg=0.9, loss=0.4),
            fake_run(
                "ff",
                "mlp",
                "fault-filtered",
                classes=TEN,
                label="fault-filtered (tested on valid)",
                metrics_from="twin",
            ),
        ]
    )
    three, ten = df.iloc[0], df.iloc[1]
    assert three["paper accuracy"] == PAPER_TABLE2["cnn"]["accuracy"]  # shown, but not subtracted
    assert pd.isna(three["Δ accuracy"]) and pd.isna(three["Δ loss"])
    assert three["chance"] == pytest.approx(1 / 3, abs=1e-3)
    assert ten["protocol"] == "fault-filtered (tested on valid)"
    assert pd.isna(ten["Δ accuracy"]) and pd.isna(ten["Δ loss"])  # ten genres, but not the paper's segment split
    assert ten["scores from"] == "twin" and three["scores from"] == ""
    assert pd.isna(three["balanced accuracy (tracks)"])  # an old run without it


def test_leakage_ladder_puts_each_network_on_the_three_rungs_with_the_drops():
    runs = [
        fake_run("s", "mlp", "segment", trk=0.95, bal=0.9),
        fake_run("t", "mlp", "track", trk=0.8, bal=0.7),
        fake_run("f", "mlp", "fault-filtered", trk=0.5, bal=0.4, label="fault-filtered (tested on valid)"),
        fake_run("f-refit", "mlp", "fault-filtered", trk=0.5, bal=0.4, metrics_from="f"),  # no test of its own
        fake_run("s2", "mlp", "segment", trk=0.1),  # a second run on a rung: the first one is kept
        fake_run("c-s", "cnn", "segment", trk=0.9, bal=0.8),
        fake_run("c-f", "cnn", "fault-filtered", trk=0.6, bal=0.7),
    ]  # no track rung: no drop (it would mix leaks)
    df = leakage_ladder(runs)
    assert df["run"].tolist() == ["s", "t", "f", "c-s", "c-f"]
    assert df["protocol"].tolist() == [
        "segment",
        "track",
        "fault-filtered (tested on valid)",
        "segment",
        "fault-filtered",
    ]
    drops = df.set_index("run")
    assert pd.isna(drops.loc["s", "drop (track acc)"]) and pd.isna(drops.loc["c-s", "drop (balanced)"])
    assert drops.loc["t", "drop (track acc)"] == pytest.approx(0.15)
    assert drops.loc["t", "drop (balanced)"] == pytest.approx(0.2)
    assert drops.loc["f", "drop (track acc)"] == pytest.approx(0.3)
    assert drops.loc["f", "drop (balanced)"] == pytest.approx(0.3)
    assert pd.isna(drops.loc["c-f", "drop (track acc)"]) and pd.isna(drops.loc["c-f", "drop (balanced)"])
    assert "artist" in drops.loc["f", "why"] and "segments of one song" in drops.loc["t", "why"]
    assert set(df["model"]) == {"MLP", "CNN"}


def test_leakage_ladder_keeps_fault_filtered_on_valid_and_on_test_as_two_rungs():
    runs = [
        fake_run("t", "mlp", "track", trk=0.8, bal=0.7),
        fake_run("on-valid", "mlp", "fault-filtered", trk=0.5, bal=0.4, label="fault-filtered (tested on valid)"),
        fake_run("on-test", "mlp", "fault-filtered", trk=0.6, bal=0.5),
    ]
    df = leakage_ladder(runs).set_index("run")
    assert set(df.index) == {"t", "on-valid", "on-test"}
    assert df.loc["on-valid", "drop (track acc)"] == pytest.approx(0.3)
    assert df.loc["on-test", "drop (track acc)"] == pytest.approx(0.2)


def test_leakage_ladder_keeps_class_lists_apart_and_is_none_without_runs():
    runs = [fake_run("s3", "mlp", "segment", trk=0.9), fake_run("t10", "mlp", "track", classes=TEN, trk=0.5)]
    df = leakage_ladder(runs)
    # the ten-genre task first; different tasks: no drop
    assert df["classes"].tolist() == [10, 3] and df["drop (track acc)"].isna().all()
    assert leakage_ladder([]) is None
    assert leakage_ladder([fake_run("r", "mlp", "fault-filtered", metrics_from="x")]) is None


def _per_class(support):
    return [{"class": c, "precision": 0.5, "recall": 0.25, "f1": 1 / 3, "support": n} for c, n in support.items()]


def test_per_class_table_marks_thin_and_absent_classes():
    counts = {"a": 5, "b": 1, "c": 0, "d": 2}
    run = fake_run(
        "r",
        "mlp",
        "fault-filtered",
        classes=tuple(counts),
        test_tracks=counts,
        track_per_class=_per_class(counts),
        per_class=_per_class({c: 10 * n for c, n in counts.items()}),
    )
    df = per_class_table(run)
    assert df["class"].tolist() == ["a", "b", "c", "d"] and df["support"].tolist() == [5, 1, 0, 2]
    assert df["note"].tolist() == ["", "thin: 1 test track", "absent from the test part", "thin: 2 test tracks"]
    assert df["f1"].tolist() == [0.333] * 4  # rounded for display
    seg = per_class_table(run, level="segments")
    assert seg["support"].tolist() == [50, 10, 0, 20]
    assert seg["note"].tolist() == df["note"].tolist()  # thin by tracks, whatever the level shown


def test_per_class_table_of_old_runs_and_bad_levels():
    old = fake_run("old", per_class=_per_class({"a": 10, "b": 10, "c": 10}))  # no track_per_class, no counts
    with pytest.raises(ParameterError, match="run 'old' has no per-track metrics.*choose segments"):
        per_class_table(old)
    assert per_class_table(old, level="segments")["note"].tolist() == ["", "", ""]
    with pytest.raises(ParameterError, match="level='songs' must be 'tracks' or 'segments'"):
        per_class_table(old, level="songs")


def test_misclassified_lists_wrong_tracks_with_known_paths():
    tracks = [
        {"track_id": "a.1", "true": 0, "vote": 0, "mean": 0, "confidence": 0.9, "segments": 3},
        {"track_id": "b.1", "true": 1, "vote": 2, "mean": 2, "confidence": 0.6, "segments": 3},
    ]
    df = misclassified(fake_run("r", "lstm", "track", tracks=tracks), {"b.1": "/x/b.1.wav"})
    assert df["track"].tolist() == ["b.1"]
    assert df.iloc[0]["true"] == "b" and df.iloc[0]["predicted"] == "c" and df.iloc[0]["path"] == "/x/b.1.wav"


def test_the_home_page_modules_do_not_import_tensorflow():
    code = (
        "import sys, dashboard.data, dashboard.runs, dashboard.training, dashboard.widgets, mgc.audio, "
        "mgc.dataset, mgc.dataset.demo, mgc.features, mgc.models, mgc.runs, mgc.runs.trust, mgc.training, "
        "mgc.training.jobs, mgc.analysis, mgc.analysis.report, mgc.analysis.classify, mgc.plots, mgc.cli; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_the_data_folder_comes_from_the_server_never_from_visitors(monkeypatch, tmp_path):
    from dashboard import data

    monkeypatch.setattr(sys, "argv", ["app.py", "--data", str(tmp_path)])
    assert data.data_source().path == tmp_path and data.data_source().origin == "argument"
    monkeypatch.setattr(sys, "argv", ["app.py"])
    monkeypatch.setenv("MGC_DATA_DIR", str(tmp_path / "env"))
    assert data.data_source().origin == "environment"
    monkeypatch.delenv("MGC_DATA_DIR")
    assert data.data_source().is_demo


def test_a_run_without_track_ids_shows_its_segment_matrix_and_no_ladder_bar():
    from mgc.plots import confusion_matrix
    from mgc.plots import leakage_ladder as ladder_figure

    run = fake_run(
        "json", "mlp", "segment", trk=None, confusion=[[2, 1, 0], [0, 3, 0], [0, 0, 1]], track_confusion=None
    )
    fig = confusion_matrix(run, level="tracks")
    assert "segments (no track ids)" in fig.layout.title.text and "7 test" in fig.layout.title.text
    table = leakage_ladder([run])
    assert table["track accuracy"].isna().all()
    assert len(ladder_figure(table).data) == 0  # nothing to draw, and no error


def test_study_curves_put_each_model_in_its_own_panel_with_one_legend_entry_per_line_kind():
    from mgc.plots import study_curves

    runs = []
    for i, (model, split) in enumerate(
        (("mlp", "segment"), ("cnn", "segment"), ("cnn", "track"), ("transfer", "track"))
    ):
        r = fake_run(f"r{i}", model, split)
        r.history.update(
            epoch=[1, 2, 3],
            accuracy=[0.3, 0.5, 0.6],
            val_accuracy=[0.2, 0.4, None],
            loss=[2, 1, 0.5],
            val_loss=[3, 2, 1],
        )
        runs.append(r)
    fig = study_curves(runs, "accuracy")
    assert [a.text for a in fig.layout.annotations] == ["MLP", "CNN", "Transfer (musicnn)"]
    # two protocols x train/validation: four legend entries, however many models share them
    assert sorted(t.name for t in fig.data if t.showlegend) == [
        "segment · study · train",
        "segment · study · validation",
        "track · study · train",
        "track · study · validation",
    ]
    assert len(fig.data) == 8
    assert {t.line.dash for t in fig.data if t.name.endswith("train")} == {"solid"}
    assert {t.line.dash for t in fig.data if t.name.endswith("validation")} == {"dash"}
    assert fig.layout.yaxis2.matches == "y" and fig.layout.yaxis3.matches == "y"  # one accuracy scale for all panels
    assert study_curves(runs, "loss").layout.yaxis.type == "log"
