"""Browser tests: the real server (``streamlit run app.py``) driven in Debian's Chromium with Playwright.

The server reads the tiny dataset and the session's tiny MLP/CNN/LSTM runs (conftest). Each test
saves a screenshot to ``artifacts/screenshots/`` (git-ignored); the viewport is tall because
Streamlit scrolls inside its own container, so a full-page screenshot would show no more.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package (requirements-dev.txt)")
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect, sync_playwright

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no system Chromium (apt-get install chromium); browsers are never downloaded"
    ),
]

PROJECT = Path(__file__).resolve().parents[1]
SHOTS = PROJECT / "artifacts" / "screenshots"
SHARED_SONG = PROJECT.parent / "shared" / "data" / "gtzan-mini" / "extra" / "blues.00099.mp3"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 2400}
START_TIMEOUT = 120  # s: server start to /_stcore/health ok (a loaded 2-core machine)
RENDER_MS = 120_000  # a page's first render (TensorFlow import, model loading)
CLASSIFY_MS = 240_000  # cold classification: TensorFlow import + three models + decoding
CLASSES = {"clicks", "noise", "tones"}  # the tiny runs' classes
ERROR = "[data-testid=stAlertContentError]"
EXCEPTION = "[data-testid=stException]"
CHART = "[data-testid=stPlotlyChart]"
IMAGE = "[data-testid=stImage]"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except OSError:
        return False


def start_server(data_dir: Path, artifacts: Path, log_path: Path, *, timeout: float = START_TIMEOUT):
    """Start ``streamlit run app.py`` on a free port; return (process, url) once /_stcore/health answers ok."""
    port = _free_port()
    env = {**os.environ, "MGC_DATA_DIR": str(data_dir), "MGC_ARTIFACTS": str(artifacts), "TF_CPP_MIN_LOG_LEVEL": "3"}
    log = open(log_path, "wb")  # closed by stop_server
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=PROJECT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    proc.log = log  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while not _healthy(url):  # readiness poll with a bounded deadline
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_server(proc)
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"streamlit server not healthy on {url} (exit code {proc.returncode}):\n{tail}")
        time.sleep(0.2)
    return proc, url


def stop_server(proc: subprocess.Popen, timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    proc.log.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def server(tiny_runs_artifacts, tiny_dataset, tmp_path_factory):
    """The app's URL, served from the project root on the tiny dataset and the tiny runs."""
    log_path = tmp_path_factory.mktemp("server") / "streamlit.log"
    try:
        proc, url = start_server(tiny_dataset, tiny_runs_artifacts, log_path)
    except RuntimeError as e:
        pytest.fail(str(e))
    yield url
    stop_server(proc)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser context (one Streamlit session) per test; a screenshot is saved at the end."""
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    yield pg
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        pg.screenshot(path=str(SHOTS / f"browser-{request.node.name}.png"))
    finally:
        context.close()


def _open(page, url: str, title: str):
    page.goto(url)
    page.locator("h1", has_text=title).wait_for(timeout=RENDER_MS)


def _no_exception(page) -> None:
    expect(page.locator(EXCEPTION)).to_have_count(0)


def _grid_text(frame, *expected: str) -> list[str]:
    """Cell texts of an ``st.dataframe`` (a canvas grid whose cells are mirrored in an accessible table),
    once the cells holding ``expected`` are there (the grid fills its cells after the element appears)."""
    cells = frame.locator("[role=gridcell]")
    for text in expected:
        cells.filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*$")).first.wait_for(
            state="attached", timeout=RENDER_MS
        )
    return cells.all_inner_texts()


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    """A real 30-s clip: the GTZAN extra MP3 when the shared data is there, else a synthesized WAV."""
    if SHARED_SONG.is_file():
        return SHARED_SONG
    sr = 22050
    t = np.arange(30 * sr) / sr
    rng = np.random.default_rng(7)
    y = 0.3 * np.sin(2 * np.pi * 196 * t) * (1 + np.sin(2 * np.pi * 2 * t)) / 2 + 0.05 * rng.standard_normal(len(t))
    path = tmp_path_factory.mktemp("song") / "synth-song.wav"
    sf.write(path, y.astype(np.float32), sr, subtype="PCM_16")
    return path


# --------------------------------------------------------------------------- #
# tests
# --------------------------------------------------------------------------- #
def test_home_shows_the_title_and_the_runs(server, page):
    _open(page, server, "GTZAN genre lab")
    per_class, runs = page.locator("[data-testid=stDataFrame]").nth(0), page.locator("[data-testid=stDataFrame]").nth(1)
    runs.wait_for(timeout=RENDER_MS)
    assert {"clicks", "noise", "tones"} <= set(_grid_text(per_class, "clicks"))
    cells = _grid_text(runs, "tiny-mlp")
    assert {"tiny-mlp", "tiny-cnn", "tiny-lstm"} <= set(cells), cells
    # the runs table fits the page: no column hidden past its right edge, no cell cut short
    box, main = runs.bounding_box(), page.locator("[data-testid=stMain]").bounding_box()
    assert box["x"] + box["width"] <= main["x"] + main["width"], (box, main)
    headers = runs.locator("[role=columnheader]").all_inner_texts()
    assert [h.strip() for h in headers][-1] == "epochs", headers
    expect(page.locator("[data-testid=stMetricValue]").first).to_be_visible()
    for label in ("Explore audio and features", "Train the models", "Results vs the paper", "Classify your clip"):
        expect(page.get_by_role("link", name=label)).to_be_visible()
    expect(page.locator(CHART)).to_have_count(0)  # no plotly bundle on the page every visit starts on
    _no_exception(page)


def test_the_tab_icon_is_served_by_the_app(server, page):
    """The icon used to be a Material symbol, which the browser fetched from a font CDN (dead offline)."""
    _open(page, server, "GTZAN genre lab")
    page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(timeout=RENDER_MS)
    icons = page.evaluate("() => [...document.querySelectorAll('link[rel*=icon]')].map(l => l.href)")
    assert icons and all(href.startswith(server) for href in icons), icons
    assert page.request.get(icons[0]).headers["content-type"] == "image/png"


def test_classify_a_real_clip(server, page, song):
    _open(page, f"{server}/classify", "Classify a clip")
    page.set_input_files("[data-testid=stFileUploaderDropzoneInput]", str(song))
    page.locator("[data-testid=stMetric]").first.wait_for(timeout=CLASSIFY_MS)
    expect(page.locator("[data-testid=stMetric]")).to_have_count(3)  # one per model: MLP, CNN, LSTM
    predicted = page.locator("[data-testid=stMetricValue]").all_inner_texts()
    assert len(predicted) == 3 and set(predicted) <= CLASSES, predicted
    labels = [label.strip() for label in page.locator("[data-testid=stMetricLabel]").all_inner_texts()]
    # each model by its short run label (network · protocol · recipe), as its chip in the picker reads
    assert [label.split(" · ")[0] for label in labels] == ["MLP", "CNN", "RNN-LSTM"], labels
    assert all(label.removesuffix(" · not sure").endswith("track · improved · 3 classes") for label in labels), labels
    unsure = [label for label in labels if label.endswith(" · not sure")]
    # one verdict: "Not sure." with why (always when a model is unsure), or "Nothing looked off"
    not_sure, fine = page.get_by_text("Not sure."), page.get_by_text("Nothing looked off")
    assert not_sure.count() + fine.count() == 1
    if unsure:
        expect(not_sure).to_be_visible()
    # the clip's facts, then the probability chart and the timelines (one row per model, one figure)
    expect(page.get_by_text(f"{song.name}: 30.0 s analysed")).to_be_visible()
    expect(page.locator(CHART)).to_have_count(2)
    expect(page.locator(".js-plotly-plot")).to_have_count(2)
    _no_exception(page)
    expect(page.locator(ERROR)).to_have_count(0)


def test_classify_plays_an_au_upload_as_wav(server, page, tmp_path):
    """Browsers cannot play AU (GTZAN's own container): the player held the upload and stayed dead."""
    sr = 22050
    t = np.arange(8 * sr) / sr
    clip = tmp_path / "tones.au"
    sf.write(
        clip,
        (0.3 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2).astype(np.float32),
        sr,
        format="AU",
        subtype="PCM_16",
    )
    _open(page, f"{server}/classify", "Classify a clip")
    page.set_input_files("[data-testid=stFileUploaderDropzoneInput]", str(clip))
    page.locator("[data-testid=stMetric]").first.wait_for(timeout=CLASSIFY_MS)
    player = page.locator("audio[data-testid=stAudio]")
    player.wait_for(timeout=RENDER_MS)
    state = player.evaluate(
        """a => new Promise(done => {
            const report = () => done({duration: a.duration, error: a.error && a.error.code, src: a.src});
            if (a.readyState >= 1 || a.error) report();
            else { a.addEventListener('loadedmetadata', report); a.addEventListener('error', report); }
        })"""
    )
    assert state["error"] is None and abs(state["duration"] - 8.0) < 0.05, state
    assert page.request.get(state["src"]).headers["content-type"].startswith("audio/wav")
    _no_exception(page)


def test_classify_a_file_that_is_not_audio(server, page, tmp_path):
    fake = tmp_path / "not-a-song.wav"
    fake.write_bytes(b"This is a text file with a .wav name, not audio.\n" * 20)
    _open(page, f"{server}/classify", "Classify a clip")
    page.set_input_files("[data-testid=stFileUploaderDropzoneInput]", str(fake))
    error = page.locator(ERROR)
    error.wait_for(timeout=CLASSIFY_MS)
    text = error.inner_text()
    assert "not-a-song.wav" in text and "not a readable audio file" in text, text
    assert "Traceback" not in text
    _no_exception(page)
    expect(page.locator("[data-testid=stMetric]")).to_have_count(0)


def test_classify_refuses_a_decompression_bomb_with_a_clear_error(server, page, tmp_path):
    """Issue 12, defect 1: a 6-kB FLAC claiming 700 s of 384 kHz x 8 channels crashed the page (7 GB)."""
    import crafted

    bomb = crafted.flac_bomb(tmp_path)
    _open(page, f"{server}/classify", "Classify a clip")
    page.set_input_files("[data-testid=stFileUploaderDropzoneInput]", str(bomb))
    error = page.locator(ERROR)
    error.wait_for(timeout=CLASSIFY_MS)
    text = error.inner_text()
    assert "bomb.flac" in text and "over the decode budget" in text and "1,843,200,000 samples" in text, text
    _no_exception(page)
    expect(page.locator("[data-testid=stMetric]")).to_have_count(0)


EXPLORE_SECTIONS = (
    "1. Waveform",
    "2. FFT spectrum of the whole clip",
    "3. STFT spectrogram",
    "4. Log-spectrogram (dB)",
    "5. Mel filterbank",
    "6. Mel spectrogram (dB)",
    "7. MFCCs",
    "8. What a pretrained tagger hears: the taggram",
)
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"


def _section(page, label: str):
    return page.locator("[data-testid=stExpander]", has=page.locator("summary", has_text=label))


def test_explore_draws_the_open_sections_and_a_section_when_opened(server, page):
    _open(page, f"{server}/explore", "Explore: from sound to MFCCs")
    page.locator(IDLE).wait_for(timeout=RENDER_MS)
    pictures = page.locator(f"{IMAGE}:visible")
    expect(pictures).to_have_count(2, timeout=RENDER_MS)  # the waveform and the MFCCs start open, as images
    expect(page.locator(CHART)).to_have_count(0)  # no plotly figure: a new tab does not load plotly's bundle
    for label in EXPLORE_SECTIONS:
        expect(page.locator("[data-testid=stExpander] summary", has_text=label)).to_be_visible()
    expect(_section(page, "1. Waveform").locator(IMAGE)).to_be_visible()
    expect(_section(page, "7. MFCCs").locator(IMAGE)).to_contain_text("n_mfcc=13")  # the caption: its parameters
    expect(page.get_by_text("tones/tones.00000.wav").or_(page.get_by_text("clicks/clicks.00000.wav"))).to_be_visible()
    # the images arrived and are drawn at the page's width, not scaled up
    sizes = pictures.locator("img").evaluate_all("els => els.map(e => [e.complete, e.naturalWidth, e.clientWidth])")
    for complete, natural, shown in sizes:
        assert complete and natural == 1000 and 600 < shown <= natural, sizes

    page.locator("[data-testid=stExpander] summary", has_text="4. Log-spectrogram (dB)").click()
    expect(_section(page, "4. Log-spectrogram").locator(IMAGE)).to_be_visible(timeout=RENDER_MS)
    expect(pictures).to_have_count(3)

    # the interactive switch: the same open sections as plotly figures
    page.locator("[data-testid=stCheckbox]", has_text="Interactive figures").locator("label").click()
    charts = page.locator(f"{CHART}:visible")
    expect(charts).to_have_count(3, timeout=RENDER_MS)
    expect(page.locator(IMAGE)).to_have_count(0)
    expect(_section(page, "4. Log-spectrogram").locator(".gtitle")).to_contain_text("Log-spectrogram")

    page.get_by_role("tab", name="Dataset overview").click()
    expect(page.locator("[data-testid=stMetric]").first).to_be_visible(timeout=RENDER_MS)
    expect(charts).to_have_count(2)  # the overview's two charts; the clip tab is not drawn
    _no_exception(page)
    expect(page.locator(ERROR)).to_have_count(0)


def test_explore_taggram_below_the_mfccs(server, page):
    _open(page, f"{server}/explore", "Explore: from sound to MFCCs")
    page.locator(IDLE).wait_for(timeout=RENDER_MS)
    expect(page.locator(f"{IMAGE}:visible")).to_have_count(2, timeout=RENDER_MS)
    page.locator("[data-testid=stExpander] summary", has_text="8. What a pretrained tagger hears").click()
    tagger = _section(page, "8. What a pretrained tagger hears")
    chart = tagger.locator(CHART)
    chart.wait_for(timeout=CLASSIFY_MS)  # the first run imports TensorFlow and builds the tagger
    expect(chart.locator(".gtitle")).to_contain_text("Taggram")
    expect(chart.locator(".hm image")).to_have_count(1)
    expect(tagger.get_by_text("Top tags of the clip")).to_be_visible()
    expect(tagger.locator("[data-testid=stCaptionContainer]")).to_contain_text("Million Song Dataset")
    mfcc = _section(page, "7. MFCCs").locator(IMAGE).bounding_box()
    assert chart.bounding_box()["y"] > mfcc["y"] + mfcc["height"] - 1  # below the MFCCs
    chart.scroll_into_view_if_needed()
    _no_exception(page)
    expect(page.locator(ERROR)).to_have_count(0)


def test_results_shows_table2_and_curves(server, page):
    _open(page, f"{server}/results", "Results")
    # the run choice: facet pills, each value in full, inside the page at its width
    pills = page.locator("[data-testid=stButtonGroup] button")
    pills.first.wait_for(timeout=RENDER_MS)
    main = page.locator("[data-testid=stMain]").bounding_box()
    texts = [t.strip() for t in pills.all_inner_texts()]
    assert {"MLP", "CNN", "RNN-LSTM", "track"} <= set(texts), texts
    for box in pills.evaluate_all("els => els.map(e => e.getBoundingClientRect().toJSON())"):
        assert box["right"] <= main["x"] + main["width"], box
    # one section at a time: Table 2 first, without a figure
    table = page.locator("[data-testid=stDataFrame]").first
    cells = _grid_text(table, "MLP")
    assert {"MLP", "CNN", "RNN-LSTM"} <= set(cells), cells
    expect(page.get_by_text("CNN deviation from the study's text")).to_be_visible()
    page.locator(IDLE).wait_for(timeout=RENDER_MS)
    expect(page.locator(CHART)).to_have_count(0)
    charts = page.locator(CHART)
    for label, heading, count in (
        ("Leakage ladder", "How honest is the test?", 1),
        ("Figures 6 and 7", "Figures 6 and 7: learning curves", 2),
        ("One run in detail", "Misclassified tracks", 1),
    ):
        page.locator("[data-testid=stButtonGroup] button", has_text=label).click()
        page.get_by_role("heading", name=heading).wait_for(timeout=RENDER_MS)
        page.locator(IDLE).wait_for(timeout=RENDER_MS)
        # a chart shows a skeleton until plotly's bundle has loaded: seconds, the first time in a tab on a busy machine
        expect(charts).to_have_count(count, timeout=RENDER_MS)
        charts.nth(count - 1).locator(".main-svg").first.wait_for(timeout=RENDER_MS)
        expect(page.get_by_text("Table 2, side by side")).to_have_count(0)
        if label == "Figures 6 and 7":  # a train and a validation trace per run in each figure
            traces = page.locator(".js-plotly-plot").evaluate_all("els => els.map(e => (e.data || []).length)")
            assert traces == [6, 6], traces
    _no_exception(page)
    expect(page.locator(ERROR)).to_have_count(0)


def test_home_then_classify_right_away_on_a_fresh_server(tiny_runs_artifacts, tiny_dataset, page, tmp_path):
    """A visitor who clicks on as soon as the home title shows, on a server that just started.

    Regression: the home script was still importing pandas (lazily, in the dashboard helpers) while the Classify
    session built plotly's template at ``import mgc.plots``; plotly reads ``sys.modules["pandas"]``
    without the import lock and failed on the half-imported module (AttributeError, every time).
    Fixed by importing pandas at the top of mgc/plots.py.
    """
    try:
        proc, url = start_server(tiny_dataset, tiny_runs_artifacts, tmp_path / "streamlit.log")
    except RuntimeError as e:
        pytest.fail(str(e))
    try:
        _open(page, url, "GTZAN genre lab")
        page.goto(f"{url}/classify")
        page.locator(f"h1, {EXCEPTION}").first.wait_for(timeout=RENDER_MS)
        _no_exception(page)
        expect(page.locator("h1", has_text="Classify a clip")).to_be_visible()
    finally:
        stop_server(proc)


def test_train_live_curves_survive_a_reload_and_stop_keeps_a_run(tiny_runs_artifacts, tiny_dataset, page, tmp_path):
    """Extract, start training, see the live curves, reload the page (a new session), stop: a 'stopped' run.

    Meanwhile another visitor (a second browser context, the Train page without the job's URL
    token) is told only that the server is busy: no progress, no Stop button (issue 12, defect 11).
    """
    import json

    artifacts = tmp_path / "artifacts"
    shutil.copytree(tiny_runs_artifacts, artifacts)
    before = {p.name for p in (artifacts / "runs").iterdir()}
    proc, url = start_server(tiny_dataset, artifacts, tmp_path / "streamlit.log")
    try:
        _open(page, f"{url}/train", "Train")
        page.get_by_role("button", name="Extract features").click()
        page.get_by_text(re.compile(r"segments of 130x13 from \d+ tracks")).wait_for(timeout=RENDER_MS)
        page.get_by_label(re.compile(r"^Epochs")).fill("500")
        page.get_by_role("button", name="Start training").click()
        page.get_by_text("Live training curves").first.wait_for(timeout=RENDER_MS)
        page.reload()  # a new session: the job lives in the server, the key to it in the page's URL
        page.get_by_text("Live training curves").first.wait_for(timeout=RENDER_MS)
        visitor = page.context.browser.new_context(viewport=VIEWPORT).new_page()
        try:
            _open(visitor, f"{url}/train", "Train")
            visitor.get_by_text("Another session is training on this server").wait_for(timeout=RENDER_MS)
            expect(visitor.get_by_role("button", name="Stop")).to_have_count(0)
            expect(visitor.get_by_text("Live training curves")).to_have_count(0)
        finally:
            visitor.context.close()
        page.get_by_role("button", name="Stop").click()
        page.get_by_text(re.compile(r"Job \w+: stopped")).wait_for(timeout=RENDER_MS)
        _no_exception(page)
    finally:
        stop_server(proc)
    new = [p for p in (artifacts / "runs").iterdir() if p.name not in before and not p.name.startswith(".")]
    assert len(new) == 1, new  # the first model stopped after its current epoch; the others never began
    manifest = json.loads((new[0] / "manifest.json").read_text())
    assert manifest["status"] == "stopped" and 1 <= manifest["epochs_run"] < 500


def test_train_says_what_it_does_keeps_its_choices_and_ends_with_the_test_scores(
    tiny_runs_artifacts, tiny_dataset, page, tmp_path
):
    """A real 2-epoch job of the three networks: what each model does before its first epoch ends (never
    "epoch 0/N"), the choices kept across a visit to Results, whole-epoch ticks, and the test scores at the end."""
    artifacts = tmp_path / "artifacts"
    shutil.copytree(tiny_runs_artifacts, artifacts)
    proc, url = start_server(tiny_dataset, artifacts, tmp_path / "streamlit.log")
    try:
        _open(page, f"{url}/train", "Train")
        page.get_by_role("button", name="Extract features").click()
        page.get_by_text(re.compile(r"segments of 130x13 from \d+ tracks")).wait_for(timeout=RENDER_MS)
        for label, value in ((re.compile(r"^Epochs"), "2"), ("Seed", "5")):
            page.get_by_label(label).fill(value)
            page.get_by_label(label).press("Enter")
            expect(page.get_by_label(label)).to_have_value(value)
            # typing into the next field while the page reruns for this one can lose the typing: let it end
            expect(page.locator("[data-testid=stStatusWidget]")).to_have_count(0, timeout=RENDER_MS)
        page.get_by_role("button", name="Start training").click()
        # before any curve: each model's line says what it is doing, with a time left
        page.get_by_text(re.compile(r"MLP · (preparing|making|starting|loading|building|epoch 1/2)")).first.wait_for(
            timeout=RENDER_MS
        )
        expect(page.get_by_text(re.compile(r"epoch 0/"))).to_have_count(0)
        expect(page.locator("[data-testid=stMetricLabel]", has_text="Time left")).to_have_count(1)
        # a visit to Results and back keeps the choices
        page.get_by_role("link", name="Results").first.click()
        page.locator("h1", has_text="Results").wait_for(timeout=RENDER_MS)
        page.get_by_role("link", name="Train").first.click()
        page.locator("h1", has_text="Train").wait_for(timeout=RENDER_MS)
        expect(page.get_by_label("Seed")).to_have_value("5")
        expect(page.get_by_label(re.compile(r"^Epochs"))).to_have_value("2")
        # the end: the test scores of the three runs, under their protocol, and the way to Results
        page.get_by_text("Test scores of this job").wait_for(timeout=3 * CLASSIFY_MS)
        page.get_by_text(re.compile(r"Job \w+: finished")).wait_for(timeout=RENDER_MS)
        cells = _grid_text(page, "RNN-LSTM")
        assert {"MLP", "CNN", "RNN-LSTM"} <= set(cells) and cells.count("track") == 3, cells
        expect(page.get_by_role("link", name=re.compile("Results page"))).to_be_visible()
        # the curves: one panel per model, whole-epoch ticks, the legend names the two line styles
        chart = page.locator(CHART).filter(has_text="Live training curves")
        expect(chart.locator(".gtitle")).to_have_text("Live training curves")
        ticks = chart.locator(".xaxislayer-above text").all_text_contents()  # every panel's epoch ticks (SVG)
        assert ticks and all(re.fullmatch(r"\d+", t) for t in ticks), ticks
        assert chart.locator(".legendtext").all_text_contents() == ["train", "validation"]
        assert chart.locator(".annotation-text").all_text_contents() == ["MLP", "CNN", "RNN-LSTM"]
        chart.scroll_into_view_if_needed()
        _no_exception(page)
    finally:
        stop_server(proc)


def test_train_keeps_what_was_typed_fast_into_its_number_inputs(tiny_runs_artifacts, tiny_dataset, page, tmp_path):
    """Typing into the Train page's number inputs one after the other without waiting for the reruns
    each commit starts, then clicking another page's link at once: every value typed is kept.

    Reproduced before the fix (dashboard/form_state.py): the last field's commit (its blur, on the
    click) and the page switch reach the server back to back; Streamlit may run the Train page again
    instead of the other, while the browser has dropped its widget values and draws the widgets with
    the values their elements carry: Epochs empty, Batch size 1, Seed 0, no models, no classes, which
    the next change then sent back. Streamlit dropping the switch itself is not ours to fix: the test
    clicks the link again when it did, as a user would. On the real GTZAN subset when it is there (its
    Train page takes longer to run, which is what opens the window: on the tiny dataset the race was not
    seen), else on the tiny dataset.
    """
    data = SHARED_SONG.parents[1] / "genres"
    proc, server = start_server(data.parent if data.is_dir() else tiny_dataset, tiny_runs_artifacts, tmp_path / "log")
    try:
        _race_numbers(page, server)
    finally:
        stop_server(proc)


def _race_numbers(page, server: str) -> None:
    _open(page, f"{server}/train", "Train")
    fields = [(re.compile(r"^Epochs"), "Epochs"), (re.compile(r"^Batch size"), "Batch size"), ("Seed", "Seed")]
    models = page.locator("[data-testid=stMultiSelect]").filter(has_text="Models")
    networks = ("MLP", "CNN", "RNN-LSTM")  # chosen by default

    def check(round_: int, values) -> None:
        for (label, name), value in zip(fields, values, strict=True):
            expect(page.get_by_label(label), f"round {round_}: {name}").to_have_value(value)
        for title in networks:
            expect(models, f"round {round_}: models").to_contain_text(title)

    check(0, ("", "32", "0"))

    for round_, values in enumerate((("7", "64", "11"), ("9", "48", "3")), start=1):
        for (label, _), value in zip(fields, values, strict=True):  # as fast as the keyboard goes
            page.get_by_label(label).click()
            page.keyboard.press("ControlOrMeta+a")
            page.keyboard.type(value)
        page.get_by_role("link", name="Results").first.click()  # commits the last field, and switches page
        page.locator("h1", has_text=re.compile("^(Results|Train)$")).first.wait_for(timeout=RENDER_MS)
        expect(page.locator("[data-testid=stStatusWidget]")).to_have_count(0, timeout=RENDER_MS)
        if page.locator("h1", has_text="Train").count():  # Streamlit ran Train again: its values must show
            check(round_, values)
            page.get_by_role("link", name="Results").first.click()
        for attempt in range(3):  # a switch Streamlit dropped again (seen under CI's load): click once more
            try:
                page.locator("h1", has_text="Results").wait_for(timeout=RENDER_MS // 4)
                break
            except PlaywrightTimeoutError:
                if attempt == 2:
                    raise
                page.get_by_role("link", name="Results").first.click()
        page.get_by_role("link", name="Train").first.click()
        page.locator("h1", has_text="Train").wait_for(timeout=RENDER_MS)
        expect(page.locator("[data-testid=stStatusWidget]")).to_have_count(0, timeout=RENDER_MS)
        check(round_, values)
    _no_exception(page)
