#!/usr/bin/env python
"""Benchmark of the dashboard as a user sees it: the real server, driven in Debian's Chromium.

    .venv/bin/python bench/app.py            # from the project root

Measures, once each, and prints a markdown table:

* start-up: server process start -> ``/_stcore/health`` ok -> home page title visible in the browser
  (target: home < 3 s from process start);
* Classify page, upload of a 30-s clip -> the three models' predictions shown (MLP, CNN, LSTM runs):
  cold (first upload after server start: TensorFlow import and model loading included) and warm
  (models already loaded; target < 0.5 s), twice: a second clip replacing the first on the same page,
  and a third clip on a freshly opened Classify page. Every clip is a different file, so no cached
  result is reused. "Page complete" adds the probability chart and the three timelines.
  The waits poll the page on every animation frame: Playwright's default polling backs off to 0.5 s
  and overstated these times by up to that much.

Runs: the shipped reference runs ``artifacts/runs/gtzan10-*`` when the three models are there
(one per model, linked into a temporary artifacts folder so no other run interferes), else three
1-epoch runs trained here on a small synthetic demo dataset. Clips: ``../shared/data/gtzan-mini``
(``extra/blues.00099.mp3`` cold, ``genres/blues/blues.00000.au`` warm) when present, else two
synthesized 30-s WAVs. Nothing is written to the checkout; the temporary folder is removed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from mgc.config import MODEL_NAMES as MODELS

PROJECT = Path(__file__).resolve().parents[1]

SHARED = PROJECT.parent / "shared" / "data" / "gtzan-mini"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TARGET_HOME = 3.0
TARGET_WARM = 0.5
TIMEOUT_MS = 300_000


def shipped_runs() -> dict[str, Path]:
    """One shipped reference run per model (the Classify default, the refit, preferred), or {}."""
    runs = PROJECT / "artifacts" / "runs"
    preference = ("ff-improved-refit", "ff-improved", "ff-study", "segment-study")
    out = {}
    for model in MODELS:
        for p in preference:
            d = runs / f"gtzan10-{p}-{model}"
            if (d / "model.keras").is_file() and (d / "manifest.json").is_file():
                out[model] = d
                break
    return out if len(out) == len(MODELS) else {}


def tiny_runs(work: Path) -> tuple[dict[str, Path], Path]:
    """Three 1-epoch runs on a synthetic demo dataset (3 styles x 4 clips); returns (runs, data dir)."""
    from mgc.dataset.demo import DEMO_STYLES, write_demo_dataset
    from mgc.features import extract_dataset
    from mgc.training import TrainConfig, train

    data = work / "data"
    write_demo_dataset(data, clips_per_style=4, styles=list(DEMO_STYLES)[:3])
    fs = extract_dataset(data, cache_dir=work / "artifacts" / "cache")
    out = {}
    for model in MODELS:
        run = train(
            fs,
            TrainConfig(model=model, split="track", epochs=1, batch_size=64),
            root=work / "artifacts" / "runs",
            run_id=f"bench-tiny-{model}",
        )
        out[model] = run.path
    return out, data


def clips(work: Path) -> tuple[Path, Path, Path]:
    """Three different 30-s clips: (cold, warm on the same page, warm on a fresh page)."""
    found = (
        SHARED / "extra" / "blues.00099.mp3",
        SHARED / "genres" / "blues" / "blues.00000.au",
        SHARED / "genres" / "disco" / "disco.00000.au",
    )
    if all(p.is_file() for p in found):
        return found
    import numpy as np
    import soundfile as sf

    from mgc.dataset.demo import DEMO_STYLES, synthesize_clip

    out = []
    for i, style in enumerate(list(DEMO_STYLES)[:3]):
        y = synthesize_clip(style, rng=np.random.default_rng(100 + i))
        path = work / f"bench-clip-{i}.wav"
        sf.write(path, np.asarray(y, np.float32), 22050, subtype="PCM_16")
        out.append(path)
    return out[0], out[1], out[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except OSError:
        return False


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "uptime unavailable"


def upload_and_wait(page, clip: Path) -> tuple[float, float, list[str]]:
    """Seconds from upload to the predictions of ``clip`` shown, to the page complete; and the predictions."""
    t0 = time.perf_counter()
    page.set_input_files("[data-testid=stFileUploaderDropzoneInput]", str(clip))
    # the caption naming this clip is written just before the metrics, in the same script run;
    # checked on every animation frame (Playwright's default polling backs off to 0.5 s)
    page.wait_for_function(
        """([name, n]) => [...document.querySelectorAll('[data-testid=stCaptionContainer]')]
                .some(e => e.innerText.includes(name + ':'))
            && document.querySelectorAll('[data-testid=stMetric]').length >= n""",
        arg=[clip.name, len(MODELS)],
        polling="raf",
        timeout=TIMEOUT_MS,
    )
    shown = time.perf_counter() - t0
    page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(timeout=TIMEOUT_MS)
    page.locator("[data-testid=stPlotlyChart]").nth(1).wait_for(timeout=TIMEOUT_MS)  # probabilities + timelines
    complete = time.perf_counter() - t0
    if page.locator("[data-testid=stException], [data-testid=stAlertContentError]").count():
        raise RuntimeError(f"the page shows an error for {clip.name}")
    return shown, complete, page.locator("[data-testid=stMetricValue]").all_inner_texts()


def open_classify(page, url: str) -> None:
    page.goto(f"{url}/classify")
    page.locator("h1", has_text="Classify a clip").wait_for(timeout=TIMEOUT_MS)
    page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(timeout=TIMEOUT_MS)


def measure(data_dir: Path, artifacts: Path, cold: Path, warm: Path, fresh: Path, log: Path) -> dict:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    res = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "MGC_DATA_DIR": str(data_dir),
            "MGC_ARTIFACTS": str(artifacts),
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }
        with open(log, "wb") as out:
            t0 = time.perf_counter()
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
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = t0 + 120
                while not healthy(url):
                    if proc.poll() is not None or time.perf_counter() > deadline:
                        raise RuntimeError(f"server not healthy; log:\n{log.read_text(errors='replace')[-2000:]}")
                    time.sleep(0.05)
                res["health"] = time.perf_counter() - t0
                page.goto(url)
                page.locator("h1", has_text="GTZAN genre lab").wait_for(timeout=TIMEOUT_MS)
                res["home"] = time.perf_counter() - t0
                # a user reads the home page before leaving it: let its script finish (runs table, chart)
                page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(timeout=TIMEOUT_MS)
                res["home_done"] = time.perf_counter() - t0

                open_classify(page, url)
                res["cold"] = upload_and_wait(page, cold)
                res["warm"] = upload_and_wait(page, warm)
                open_classify(page, url)
                res["fresh"] = upload_and_wait(page, fresh)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=15)
        browser.close()
    return res


def verdict(value: float, target: float | None) -> str:
    if target is None:
        return ""
    return "met" if value < target else "**missed**"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (server log, runs)")
    args = ap.parse_args()
    load_before = uptime()
    work = Path(tempfile.mkdtemp(prefix="mgc-bench-app-"))
    try:
        artifacts = work / "artifacts"
        runs = shipped_runs()
        if runs:
            (artifacts / "runs").mkdir(parents=True)
            for d in runs.values():
                (artifacts / "runs" / d.name).symlink_to(d, target_is_directory=True)
            data_dir = SHARED if SHARED.is_dir() else PROJECT / "artifacts" / "demo"
            origin = "shipped reference runs"
        else:
            runs, data_dir = tiny_runs(work)
            origin = "1-epoch runs trained here on a synthetic demo dataset (no complete shipped set)"
        cold, warm, fresh = clips(work)
        res = measure(data_dir, artifacts, cold, warm, fresh, work / "streamlit.log")
        load_after = uptime()
    except BaseException:
        print(f"(temporary folder kept for inspection: {work})", file=sys.stderr)
        raise
    else:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    (cold_shown, cold_done, cold_pred), (warm_shown, warm_done, warm_pred) = res["cold"], res["warm"]
    fresh_shown, fresh_done, fresh_pred = res["fresh"]
    rows = [
        ("server process start -> /_stcore/health ok", res["health"], None),
        ("health ok -> home title visible in the browser", res["home"] - res["health"], None),
        ("**home**: process start -> home title visible", res["home"], TARGET_HOME),
        ("home: process start -> home script finished (runs table, chart)", res["home_done"], None),
        (f"classify cold: upload {cold.name} -> 3 predictions shown", cold_shown, None),
        ("classify cold: upload -> page complete (2 charts)", cold_done, None),
        (
            f"**classify warm**, same page: upload {warm.name} (replacing the first clip) -> 3 predictions shown",
            warm_shown,
            TARGET_WARM,
        ),
        ("classify warm, same page: upload -> page complete (2 charts)", warm_done, None),
        (f"**classify warm**, fresh page: upload {fresh.name} -> 3 predictions shown", fresh_shown, TARGET_WARM),
        ("classify warm, fresh page: upload -> page complete (2 charts)", fresh_done, None),
    ]
    print(f"Dashboard benchmark ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs)\n")
    print("| measurement | seconds | target | |")
    print("|---|---:|---:|---|")
    for name, value, target in rows:
        print(f"| {name} | {value:.2f} | {'< %.1f s' % target if target else ''} | {verdict(value, target)} |")
    print()
    print(f"- runs: {origin}: {', '.join(p.name for p in runs.values())}")
    print(f"- predictions: cold {cold_pred}, warm {warm_pred}, fresh page {fresh_pred}")
    print(f"- load before: `{load_before}`")
    print(f"- load after:  `{load_after}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
