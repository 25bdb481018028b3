"""What the CLI prints where a user reads it: progress off a terminal, the runs table, train's recipe overrides."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from mgc.cli import main
from mgc.cli.common import ProgressBar

PROJECT = Path(__file__).resolve().parents[1]
SHIPPED = PROJECT / "artifacts" / "runs"


def _lines(bar: ProgressBar, total: int) -> list[str]:
    for done in range(1, total + 1):
        bar(done, total, f"genre/track.{done:05d}.wav")
    return bar.stream.getvalue().splitlines()


def test_progress_off_a_terminal_prints_a_line_per_tenth_and_the_last():
    lines = _lines(ProgressBar("extract", stream=io.StringIO()), 281)  # StringIO is not a terminal
    assert 10 <= len(lines) <= 11, lines
    assert lines[0] == "extract: 1/281 files (0%), genre/track.00001.wav"
    assert lines[-1] == "extract: 281/281 files (100%), genre/track.00281.wav"
    assert "extract: 29/281 files (10%)" in lines[1]


def test_progress_of_a_big_dataset_prints_at_least_every_hundred_files():
    lines = _lines(ProgressBar("embed", stream=io.StringIO()), 3000)
    done = [int(line.split(": ")[1].split("/")[0]) for line in lines]
    assert done[-1] == 3000 and max(b - a for a, b in zip(done, done[1:], strict=False)) <= 100


def test_progress_of_a_tiny_dataset_prints_every_file():
    assert len(_lines(ProgressBar("extract", stream=io.StringIO()), 3)) == 3


@pytest.mark.skipif(not (SHIPPED / "gtzan10-ff-study-cnn").is_dir(), reason="the shipped reference runs are missing")
def test_runs_prints_a_table_with_protocol_classes_epochs_and_scores(capsys, tmp_path):
    runs = tmp_path / "runs"
    for name in ("gtzan10-ff-study-cnn", "gtzan10-ff-improved-refit-mlp"):
        shutil.copytree(SHIPPED / name, runs / name)
    assert main(["runs", "--runs", str(runs)]) == 0
    out = capsys.readouterr().out.splitlines()
    header = out[0].split()
    for column in ("run", "model", "protocol", "recipe", "track", "balanced", "segment", "epochs", "scores"):
        assert column in header, out[0]
    cnn = next(line for line in out if line.startswith("gtzan10-ff-study-cnn "))
    assert "fault-filtered (tested on valid)" in cnn and "GTZAN (10)" in cnn and " 100 " in f"{cnn} "
    assert "0.443" in cnn  # its track accuracy on the valid part (README's ladder)
    refit = next(line for line in out if line.startswith("gtzan10-ff-improved-refit-mlp "))
    assert refit.rstrip().endswith("gtzan10-ff-improved-mlp")  # scores from its twin
    assert any(line.startswith("classes of 2 run(s): blues, classical, country") for line in out)


def test_runs_says_when_there_are_none(capsys, tmp_path):
    assert main(["runs", "--runs", str(tmp_path)]) == 0
    assert "no runs in" in capsys.readouterr().out


def test_train_takes_the_train_pages_recipe_overrides():
    import argparse

    from mgc.cli.runs import add_commands, recipe_overrides

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    args = parser.parse_args(
        ["train", "--data", "x", "--no-standardize", "--random-windows", "--early-stopping", "5", "--mixup", "0"]
    )
    assert recipe_overrides(args) == {"standardize": False, "random_windows": True, "early_stopping": 5, "mixup": 0.0}
    assert recipe_overrides(parser.parse_args(["train", "--data", "x"])) == {}  # nothing given: the recipe's


def test_train_overrides_reach_the_run_config(monkeypatch):
    """The flags become TrainConfig fields, which mark the run's recipe as overridden."""
    import argparse

    from mgc.cli.runs import add_commands, recipe_overrides
    from mgc.training import TrainConfig

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    args = parser.parse_args(["train", "--data", "x", "--recipe", "improved", "--no-class-weight", "--mixup", "0.2"])
    config = TrainConfig(model="cnn", recipe="improved", **recipe_overrides(args))
    assert config.overrides() == {"class_weight": False, "mixup": 0.2}
    assert config.resolved().class_weight is False and config.resolved().standardize is True


def _run_app(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """run-app.sh in a copy of the checkout's layout whose setup step and streamlit only print what they got."""
    import subprocess

    shutil.copy(PROJECT / "run-app.sh", tmp_path / "run-app.sh")
    (tmp_path / "scripts").mkdir(exist_ok=True)
    (tmp_path / "scripts" / "setup-env.sh").write_text("exit 0\n")
    (tmp_path / ".venv" / "bin").mkdir(parents=True, exist_ok=True)
    fake = tmp_path / ".venv" / "bin" / "streamlit"
    fake.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    done = subprocess.run(["bash", str(tmp_path / "run-app.sh"), *args], capture_output=True, text=True, timeout=30)
    return done.returncode, done.stdout, done.stderr


def test_run_app_passes_every_other_argument_to_streamlit(tmp_path):
    code, out, _ = _run_app(tmp_path, "--server.port", "8502", "--data", "/data/gtzan", "--share-jobs")
    assert code == 0
    assert out.splitlines() == ["run", "app.py", "--server.port", "8502", "--", "--data", "/data/gtzan", "--share-jobs"]
    code, out, _ = _run_app(tmp_path)
    assert code == 0 and out.splitlines() == ["run", "app.py"]
    code, _, err = _run_app(tmp_path, "--data")
    assert code == 2 and "--data needs a folder" in err
