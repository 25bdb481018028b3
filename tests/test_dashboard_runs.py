"""The dashboard's run listing (kept until a run changes), the Classify player's audio, and the tab icon."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

PROJECT = Path(__file__).resolve().parents[1]
SHIPPED = PROJECT / "artifacts" / "runs"
needs_runs = pytest.mark.skipif(
    not (SHIPPED / "gtzan10-ff-study-cnn").is_dir(), reason="the shipped reference runs are missing"
)


@needs_runs
def test_the_listing_is_kept_until_a_run_is_written_changed_or_deleted(tmp_path, monkeypatch):
    from dashboard.runs import stored_runs

    monkeypatch.setenv("MGC_ARTIFACTS", str(tmp_path))
    runs = tmp_path / "runs"
    shutil.copytree(SHIPPED / "gtzan10-ff-study-cnn", runs / "gtzan10-ff-study-cnn")
    first, problems = stored_runs()
    assert [r.id for r in first] == ["gtzan10-ff-study-cnn"] and not problems
    assert stored_runs()[0] is first  # nothing changed: not read again

    shutil.copytree(SHIPPED / "gtzan10-ff-study-mlp", runs / "gtzan10-ff-study-mlp")  # a new run
    assert sorted(r.id for r in stored_runs()[0]) == ["gtzan10-ff-study-cnn", "gtzan10-ff-study-mlp"]

    manifest = runs / "gtzan10-ff-study-mlp" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["status"] = "stopped"
    manifest.write_text(json.dumps(data, indent=2))  # rewritten in place
    assert {r.id: r.manifest["status"] for r in stored_runs()[0]}["gtzan10-ff-study-mlp"] == "stopped"

    (runs / "gtzan10-ff-study-cnn" / "metrics.json").unlink()  # damaged: reported, not listed
    listed, problems = stored_runs()
    assert [r.id for r in listed] == ["gtzan10-ff-study-mlp"] and "metrics.json" in problems[0]

    shutil.rmtree(runs / "gtzan10-ff-study-mlp")
    assert [r.id for r in stored_runs()[0]] == []


def _au(seconds: float, sr: int = 22050, channels: int = 2) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * 440 * t)
    buf = io.BytesIO()
    sf.write(buf, np.stack([y] * channels, axis=1), sr, format="AU", subtype="PCM_16")
    return buf.getvalue()


def test_an_au_upload_plays_as_wav_of_what_the_models_hear():
    from dashboard.runs import playable

    wav, seconds = playable(_au(12.0, sr=44100), "song.au")
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"  # a container every browser plays; AU is not
    info = sf.info(io.BytesIO(wav))
    assert info.samplerate == 22050 and info.channels == 1 and abs(info.duration - 12.0) < 0.01
    assert abs(seconds - 12.0) < 0.01


def test_the_player_is_bounded(monkeypatch):
    import dashboard.runs as loaded

    monkeypatch.setattr(loaded, "PLAYER_SECONDS", 5.0)
    loaded.playable.clear()
    wav, seconds = loaded.playable(_au(9.0, channels=1), "long.au")
    assert seconds == pytest.approx(5.0, abs=0.01) and sf.info(io.BytesIO(wav)).duration == pytest.approx(5.0, abs=0.01)


def test_the_tab_icon_is_an_image_the_app_serves_itself():
    from PIL import Image

    from dashboard.widgets import app_icon

    png = app_icon()
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (64, 64) and image.mode == "RGBA"
    alpha = np.asarray(image)[..., 3]
    assert 0.1 < (alpha > 0).mean() < 0.9  # bars drawn on a transparent square


def _count_decodes(monkeypatch) -> list:
    """Count the sources soundfile opens for reading (each decode opens its source once)."""
    import importlib

    decoding = importlib.import_module("mgc.audio.decode")  # the module (mgc.audio.decode is also its function)
    opened, real = [], decoding.sf.SoundFile

    def counting(*args, **kwargs):
        mode = kwargs.get("mode", args[1] if len(args) > 1 else "r")
        if mode == "r":
            opened.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(decoding.sf, "SoundFile", counting)
    return opened


@needs_runs
@pytest.mark.parametrize("kind", ["au", "recording"])
def test_an_upload_is_decoded_once_for_the_models_and_the_player(tmp_path, monkeypatch, kind):
    # GTZAN's own AU file (22050 Hz), and a recording as browsers send it (48 kHz stereo WAV)
    import dashboard.runs as loaded
    from dashboard.data import to_wav
    from mgc.analysis import classify
    from mgc.audio import usable
    from mgc.config import SR

    real_au = (
        Path(__file__).resolve().parents[2] / "shared" / "data" / "gtzan-mini" / "genres" / "blues" / "blues.00000.au"
    )
    if kind == "au" and real_au.is_file():
        data, name = real_au.read_bytes(), "blues.00000.au"
    elif kind == "au":
        data, name = _au(30.0, channels=1), "song.au"
    else:
        t = np.arange(int(7.5 * 48000)) / 48000
        y = 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.5 * t))
        buf = io.BytesIO()
        sf.write(buf, np.stack([y, 0.5 * y], axis=1), 48000, format="WAV", subtype="PCM_16")
        data, name = buf.getvalue(), "audio_input.wav"
    runs = ("gtzan10-ff-study-mlp", "gtzan10-ff-improved-refit-transfer")  # two rates: 22050 and 16000 Hz
    monkeypatch.setenv("MGC_ARTIFACTS", str(tmp_path))
    for run in runs:
        shutil.copytree(SHIPPED / run, tmp_path / "runs" / run)
    for cached in (loaded.decoded_upload, loaded.classify_upload, loaded.playable):
        cached.clear()
    with pytest.MonkeyPatch.context() as patch:
        opened = _count_decodes(patch)
        result = loaded.classify_upload(data, name, runs)
        wav, seconds = loaded.playable(data, name)
    assert len(opened) == 1  # once, for both rates of the models and for the player
    # the same answers and the same player audio as decoding the bytes for each of them
    direct = classify(data, loaded.loaded_runs(runs), name=name, max_duration=loaded.CLASSIFY_SECONDS)
    for a, b in zip(result.answers, direct.answers, strict=True):
        np.testing.assert_array_equal(a.probs, b.probs)
    assert result.duration == direct.duration and result.native_sr == direct.native_sr
    assert wav == to_wav(usable(data, sr=SR, max_duration=loaded.PLAYER_SECONDS, name=name).y, SR)
    info = sf.info(io.BytesIO(wav))
    assert info.samplerate == SR and info.channels == 1 and seconds == pytest.approx(result.duration, abs=0.01)
