"""Tables of the results page (mgc.report) and the import cost of the home page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mgc.config import PAPER_TABLE2
from mgc.report import leakage_gaps, misclassified, table2
from mgc.runs import Run

ROOT = Path(__file__).resolve().parents[1]


def fake_run(run_id, model, split, recipe="study", seg=0.8, trk=0.9, loss=0.5, tracks=None):
    manifest = {"model": model, "recipe": recipe, "status": "finished", "split": {"name": split},
                "dataset": {"classes": ["a", "b", "c"]}, "epochs_run": 3}
    metrics = {"segment_accuracy": seg, "track_accuracy_mean": trk, "loss": loss, "rmse": 0.3, "n_tracks": 4,
               "per_class": [], "tracks": tracks or []}
    return Run(id=run_id, path=Path("."), manifest=manifest, history={}, metrics=metrics)


def test_table2_puts_the_paper_beside_each_run_and_names_the_error():
    df = table2([fake_run("r1", "cnn", "segment", seg=0.9, loss=0.4)])
    row = df.iloc[0]
    assert row["paper accuracy"] == PAPER_TABLE2["cnn"]["accuracy"]
    assert row["paper error (= cross-entropy)"] == PAPER_TABLE2["cnn"]["error"]
    assert row["Δ accuracy"] == pytest.approx(0.9 - 0.7443)
    assert row["Δ loss"] == pytest.approx(0.4 - 0.88)
    assert row["chance"] == pytest.approx(1 / 3, abs=1e-3)


def test_leakage_gap_pairs_the_same_model_and_recipe_only():
    runs = [fake_run("s", "mlp", "segment", seg=0.9, trk=0.95), fake_run("t", "mlp", "track", seg=0.7, trk=0.8),
            fake_run("t2", "cnn", "track", seg=0.7)]
    gaps = leakage_gaps(runs)
    assert len(gaps) == 1
    assert gaps.iloc[0]["gap (segment acc)"] == pytest.approx(0.2)
    assert gaps.iloc[0]["gap (track acc)"] == pytest.approx(0.15)
    assert leakage_gaps([runs[2]]) is None


def test_misclassified_lists_wrong_tracks_with_known_paths():
    tracks = [{"track_id": "a.1", "true": 0, "vote": 0, "mean": 0, "confidence": 0.9, "segments": 3},
              {"track_id": "b.1", "true": 1, "vote": 2, "mean": 2, "confidence": 0.6, "segments": 3}]
    df = misclassified(fake_run("r", "lstm", "track", tracks=tracks), {"b.1": "/x/b.1.wav"})
    assert df["track"].tolist() == ["b.1"]
    assert df.iloc[0]["true"] == "b" and df.iloc[0]["predicted"] == "c" and df.iloc[0]["path"] == "/x/b.1.wav"


def test_the_home_page_modules_do_not_import_tensorflow():
    code = ("import sys, mgc.ui, mgc.runs, mgc.report, mgc.plots, mgc.train, mgc.jobs, mgc.classify; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_the_data_folder_comes_from_the_server_never_from_visitors(monkeypatch, tmp_path):
    from mgc import ui

    monkeypatch.setattr(sys, "argv", ["app.py", "--data", str(tmp_path)])
    assert ui.data_source().path == tmp_path and ui.data_source().origin == "argument"
    monkeypatch.setattr(sys, "argv", ["app.py"])
    monkeypatch.setenv("MGC_DATA_DIR", str(tmp_path / "env"))
    assert ui.data_source().origin == "environment"
    monkeypatch.delenv("MGC_DATA_DIR")
    assert ui.data_source().is_demo
