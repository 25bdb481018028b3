#!/usr/bin/env python
"""Benchmark of the dashboard as a user sees it: the real server, driven in Debian's Chromium.

    .venv/bin/python bench/app.py                                # from the project root
    .venv/bin/python bench/app.py --pages explore --repeat 5     # only the Explore page, 5 sessions

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

* Pages (``--pages pages``): Home, Explore, Results and Classify each fully drawn, ``--repeat`` visits, each in a
  new tab (plotly's bundle and the data grid's code are evaluated again in every new tab); on Results each other
  section opened by its click; then the same pages reached through the sidebar menu in one tab. Next to each time,
  the CPU seconds the browser's and the server's processes spent on it (psutil), the comparable number when
  other jobs share the machine; ``uptime`` before and after.

* Explore page (``--pages explore``; ``--repeat N`` fresh browser sessions, at 1440x900, the first one
  right after the server start and so cold): the first clip drawn (until the last change to any chart, once
  the script has finished, every chart is drawn and nothing changes for a second), another track of the
  same class (timed from the click on it: typing its name into the list is not), an ``n_mfcc`` step, an
  ``n_fft`` step, each section opened in turn (the taggram, a network run, last), then another track and
  an ``n_mfcc`` step with every section open. Targets: first clip < 3 s warm, a parameter change < 1 s.
  Each session takes new tracks, so only the first clip (the page's default) can come from the cache.
  Printed: median and range over the warm sessions, and the cold value.

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
from mgc.config import STUDY_MODELS

PROJECT = Path(__file__).resolve().parents[1]

SHARED = PROJECT.parent / "shared" / "data" / "gtzan-mini"
SHOTS = PROJECT / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TARGET_HOME = 3.0
TARGET_WARM = 0.5
TARGET_EXPLORE_FIRST = 3.0
TARGET_EXPLORE_CHANGE = 1.0
EXPLORE_VIEWPORT = {"width": 1440, "height": 900}
TIMEOUT_MS = 300_000


def shipped_runs() -> dict[str, Path]:
    """Every shipped reference run (``gtzan10-*``, about 20: what a user's Home, Results and Classify list),
    by folder name; {} unless each model has one."""
    runs = PROJECT / "artifacts" / "runs"
    out = {
        d.name: d
        for d in sorted(runs.glob("gtzan10-*"))
        if (d / "model.keras").is_file() and (d / "manifest.json").is_file()
    }
    models = {name.rsplit("-", 1)[-1] for name in out}
    return out if models >= set(MODELS) else {}


def tiny_runs(work: Path) -> tuple[dict[str, Path], Path]:
    """Three 1-epoch runs on a synthetic demo dataset (3 styles x 4 clips); returns (runs, data dir)."""
    from mgc.dataset.demo import DEMO_STYLES, write_demo_dataset
    from mgc.features import extract_dataset
    from mgc.training import TrainConfig, train

    data = work / "data"
    write_demo_dataset(data, clips_per_style=4, styles=list(DEMO_STYLES)[:3])
    fs = extract_dataset(data, cache_dir=work / "artifacts" / "cache")
    out = {}
    for model in STUDY_MODELS:  # the transfer head hears embeddings, not these MFCCs
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
    """Seconds from upload to the predictions of ``clip`` shown (the page's default runs), to the page complete;
    and the predictions."""
    t0 = time.perf_counter()
    page.set_input_files("[data-testid=stFileUploaderDropzoneInput]", str(clip))
    # the caption naming this clip is written just before the metrics, in the same script run;
    # checked on every animation frame (Playwright's default polling backs off to 0.5 s)
    page.wait_for_function(
        """([name, n]) => [...document.querySelectorAll('[data-testid=stCaptionContainer]')]
                .some(e => e.innerText.includes(name + ':'))
            && document.querySelectorAll('[data-testid=stMetric]').length >= n""",
        arg=[clip.name, 1],
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


# --------------------------------------------------------------------------- #
# Explore
# --------------------------------------------------------------------------- #
#: Installed in every Explore page before it loads: the page's clock time of the last change to any chart
#: (a chart added, drawn, resized, a heatmap painted) and of the script's last finish.
WATCH_JS = """window.__mgc = {chart: 0, idle: 0, loaded: new WeakMap()};
// an image's pixels arrive after its element: the time it finished loading counts as a change
document.addEventListener('load', e => {
    if (e.target.tagName === 'IMG') window.__mgc.loaded.set(e.target, performance.now());
}, true);
new MutationObserver(changes => {
    for (const m of changes) {
        const t = m.target;
        const figure = '.js-plotly-plot, [data-testid=stPlotlyChart], [data-testid=stImage]';
        if (t.nodeType === 1 && t.closest && t.closest(figure)) {
            window.__mgc.chart = performance.now();
        } else if (m.attributeName === 'data-test-script-state' && t.getAttribute(m.attributeName) === 'notRunning') {
            window.__mgc.idle = performance.now();
        }
    }
}).observe(document, {subtree: true, childList: true, attributes: true});"""

#: Milliseconds since the page was last drawn, once the script has finished, no element is stale or a skeleton
#: (an element whose code is still loading), every chart
#: holds its drawing (its heatmaps painted), the page shows ``needle`` (in at least ``charts`` charts when
#: given, else anywhere) and nothing has changed for ``quiet`` ms; else false. Quiet matters: Streamlit
#: lays a chart out again once its width is known, and the plotly bundle loads after the first elements.
SETTLED_JS = """([needle, charts, quiet]) => {
    const app = document.querySelector('[data-testid=stApp]');
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    if (document.querySelector('[data-stale=true]')) return false;
    // a lazily loaded element (pills, a chart's bundle) shows a skeleton until its code has arrived
    if (document.querySelector('[data-testid=stSkeleton], [data-testid=stSkeletonElement]')) return false;
    const main = document.querySelector('[data-testid=stMain]');
    // figures: plotly charts and the figures Explore draws on the server as images
    for (const img of main.querySelectorAll('[data-testid=stImage] img')) {
        if (!img.complete || !img.naturalWidth) return false;
        window.__mgc.chart = Math.max(window.__mgc.chart, window.__mgc.loaded.get(img) || 0);
    }
    const all = [...main.querySelectorAll('[data-testid=stPlotlyChart], [data-testid=stImage]')];
    for (const c of all.filter(c => c.dataset.testid === 'stPlotlyChart')) {
        const gd = c.querySelector('.js-plotly-plot');
        if (!gd || !gd._fullLayout || !gd.querySelector('.main-svg')) return false;
        const heatmaps = (gd.data || []).filter(t => t.type === 'heatmap').length;
        if (gd.querySelectorAll('.hm image').length < heatmaps) return false;
    }
    const shown = all.filter(c => c.checkVisibility());
    if (charts === null ? !main.textContent.includes(needle)
                        : shown.filter(c => c.textContent.includes(needle)).length < charts) return false;
    const ago = performance.now() - Math.max(window.__mgc.chart, window.__mgc.idle);
    return ago >= quiet ? ago : false;
}"""
#: A figure on the page: a plotly chart, or one drawn on the server as an image (Explore's default).
FIGURES = "[data-testid=stPlotlyChart], [data-testid=stImage]"
#: Milliseconds without a change before a step counts as drawn (not part of the time measured).
QUIET_MS = 1000


def settle(page, needle: str, charts: int | None = None) -> float:
    """Wait until the page is drawn, shows ``needle`` and stays still; return ``time.perf_counter()`` of
    its last change."""
    ago = page.wait_for_function(SETTLED_JS, arg=[needle, charts, QUIET_MS], polling="raf", timeout=TIMEOUT_MS)
    now = time.perf_counter()
    return now - ago.json_value() / 1000


def timed(action, page, needle: str, charts: int | None = None) -> float:
    """Seconds from the start of ``action`` to the page's last change once it settles on ``needle``."""
    t0 = time.perf_counter()
    action()
    return settle(page, needle, charts) - t0


def explore_tracks(data_dir: Path, n: int) -> list[str]:
    """File names of the Explore page's first class, its default track first (at most ``n``)."""
    from mgc.dataset import find_tracks

    dataset = find_tracks(data_dir)
    first = dataset.classes[0]
    return [t.path.name for t in dataset.tracks if t.label == first][:n]


def track_option(page, name: str):
    """Open the Track list and filter it down to ``name`` (it is virtualised); return the option to click."""
    page.locator("[data-testid=stSelectbox]", has_text="Track").click()
    page.keyboard.type(name)
    option = page.get_by_role("option", name=name, exact=True)
    option.wait_for(timeout=TIMEOUT_MS)
    return option


def step_slider(page, label: str, key: str) -> None:
    page.locator("[data-testid=stSlider]", has_text=label).get_by_role("slider").focus()
    page.keyboard.press(key)


def closed_sections(page) -> list[str]:
    """Labels of the clip's collapsed expanders, in page order (none before sections could be collapsed)."""
    texts = page.locator("[data-testid=stExpander] details:not([open]) summary").all_inner_texts()
    return [[line for line in t.splitlines() if line.strip()][-1].strip() for t in texts]  # without the icon's name


def open_section(page, label: str) -> None:
    page.locator("[data-testid=stExpander] summary", has_text=label).click()


def explore_session(page, url: str, tracks: list[str], values: dict) -> dict:
    """One visitor on Explore; returns seconds per step (lists where a step repeats)."""
    res: dict = {}
    res["first"] = timed(lambda: page.goto(f"{url}/explore"), page, f"{tracks[0]}:")
    option = track_option(page, tracks[1])
    res["track"] = timed(option.click, page, f"{tracks[1]}:")
    res["n_mfcc"] = timed(lambda: step_slider(page, "n_mfcc", "ArrowRight"), page, "n_mfcc=14", 1)
    res["n_fft"] = timed(lambda: step_slider(page, "n_fft", "ArrowLeft"), page, "n_fft=1024", 1)
    res["open"], res["open_names"] = [], []
    sections = [s for s in closed_sections(page) if "tagger" not in s.lower()]
    for label in sections:
        shown = page.locator(f"[data-testid=stMain] :is({FIGURES}):visible").count()
        res["open"].append(timed(lambda label=label: open_section(page, label), page, "", shown + 1))
        res["open_names"].append(label)
    option = track_option(page, tracks[2])
    res["all_track"] = timed(option.click, page, f"{tracks[2]}:")
    tagger = [s for s in closed_sections(page) if "tagger" in s.lower()]
    if tagger:
        res["taggram"] = timed(lambda: open_section(page, tagger[0]), page, "Taggram", 1)
    res["all_n_mfcc"] = timed(lambda: step_slider(page, "n_mfcc", "ArrowRight"), page, "n_mfcc=15", 1)
    if page.locator("[data-testid=stException], [data-testid=stAlertContentError]").count():
        raise RuntimeError("the Explore page shows an error")
    values.setdefault("charts", page.locator(f"[data-testid=stMain] :is({FIGURES}):visible").count())
    return res


def measure_explore(browser, url: str, data_dir: Path, repeat: int) -> list[dict]:
    """``repeat`` fresh sessions on Explore (new browser pages), each with tracks no other session used."""
    tracks = explore_tracks(data_dir, 1 + 2 * repeat)
    if len(tracks) < 1 + 2 * repeat:
        raise RuntimeError(f"Explore needs {1 + 2 * repeat} tracks in the first class; {data_dir} has {len(tracks)}")
    out, values = [], {}
    for i in range(repeat):
        context = browser.new_context(viewport=EXPLORE_VIEWPORT)
        context.add_init_script(WATCH_JS)
        page = context.new_page()
        try:
            mine = [tracks[0], tracks[1 + 2 * i], tracks[2 + 2 * i]]
            out.append(explore_session(page, url, mine, values))
            if i == 0:
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SHOTS / "bench-explore.png"))
        finally:
            context.close()
    return out


#: Pages measured fully drawn, with a heading each one shows (Train: its form, with no job started; its first
#: section's heading, since "Train" alone is also part of other pages' headings).
PAGES = {
    "home": ("", "GTZAN genre lab"),
    "explore": ("explore", "Explore: from sound to MFCCs"),
    "train": ("train", "1 · Features"),
    "results": ("results", "Results"),
    "classify": ("classify", "Classify a clip"),
}
TARGET_PAGE = 3.0


def cpu_snapshot(server_pid: int) -> dict[int, float]:
    """CPU seconds used so far (user + system), by process id: every Chromium process under this one, and the
    server (key ``-server_pid``). Empty without psutil."""
    try:
        import psutil
    except ImportError:
        return {}
    out = {}
    procs = [(c.pid, c) for c in psutil.Process().children(recursive=True)]
    for pid, proc in procs + [(-server_pid, None)]:
        try:
            proc = proc or psutil.Process(server_pid)
            if pid < 0 or "chrom" in proc.name().lower():
                t = proc.cpu_times()
                out[pid] = t.user + t.system
        except psutil.Error:  # a renderer that has just exited
            continue
    return out


def cpu_used(before: dict[int, float], after: dict[int, float], server_pid: int) -> tuple[float, float]:
    """CPU seconds spent between two :func:`cpu_snapshot` by the browser and by the server: what a step costs
    whatever the load, where wall time on a shared machine is mostly queueing. A process that exited in between
    (a closed tab's renderer) is left out, one that started is counted whole."""
    spent = {pid: t - before.get(pid, 0.0) for pid, t in after.items()}
    return sum(v for pid, v in spent.items() if pid != -server_pid), spent.get(-server_pid, 0.0)


def timed_until(action, page, needle: str, server_pid: int) -> tuple[float, float, float]:
    """:func:`timed`, for a step that changes the page without a chart: from the start of ``action`` to the later of
    ``needle`` shown in a heading and the page's last change once it settles; with the CPU seconds of browser and
    server (:func:`cpu_used`). (The page's clock of changes follows charts and the script's end, and a fast script
    run does not always toggle the script state.)"""
    before = cpu_snapshot(server_pid)
    t0 = time.perf_counter()
    action()
    page.wait_for_function(
        """needle => [...document.querySelectorAll('[data-testid=stMain] :is(h1, h2, h3)')]
            .some(e => e.textContent.includes(needle))""",
        arg=needle,
        polling="raf",
        timeout=TIMEOUT_MS,
    )
    shown = time.perf_counter()
    drawn = settle(page, needle)
    return (max(shown, drawn) - t0, *cpu_used(before, cpu_snapshot(server_pid), server_pid))


#: The Results page's sections other than its default one, each timed from the click that opens it until its
#: heading (written by the script run the click starts) is shown and the page is drawn: label -> heading.
RESULTS_SECTIONS = {
    "Leakage ladder": "How honest is the test?",
    "Figures 6 and 7": "Figures 6 and 7: learning curves",
    "One run in detail": "Misclassified tracks",
    "Recipes compared": "Recipes compared, paired by track",
}


def measure_pages(browser, url: str, repeat: int, server_pid: int) -> dict[str, list]:
    """Each page of :data:`PAGES` opened ``repeat`` times, in turn (home, explore, train, results, classify, again),
    each visit a new tab and so a new Streamlit session (as a reload is) in one browser profile at 1440x900, its
    HTTP cache kept as a user's is; seconds from navigation to fully drawn: the script finished, every chart drawn,
    nothing changed for a second (:func:`settle`). The first visit of each page is the cold one (the server's first
    run of that page: imports, first reads). With each time, the CPU seconds the browser and the server spent from
    the navigation to the end of the quiet second (:func:`cpu_used`). On Results, each visit then opens every other
    section in turn (:data:`RESULTS_SECTIONS`), timed from the click."""
    out: dict[str, list] = {name: [] for name in PAGES}
    out.update({f"results: {label}": [] for label in RESULTS_SECTIONS})
    context = browser.new_context(viewport=EXPLORE_VIEWPORT)
    context.add_init_script(WATCH_JS)
    try:
        for i in range(repeat):
            for name, (path, heading) in PAGES.items():
                page = context.new_page()
                try:
                    out[name].append(
                        timed_until(lambda path=path, page=page: page.goto(f"{url}/{path}"), page, heading, server_pid)
                    )
                    if page.locator("[data-testid=stException], [data-testid=stAlertContentError]").count():
                        raise RuntimeError(f"the {name} page shows an error")
                    if i == 0:
                        SHOTS.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(SHOTS / f"bench-page-{name}.png"), full_page=True)
                    if name == "results":
                        for label, section_heading in RESULTS_SECTIONS.items():
                            button = page.locator("[data-testid=stButtonGroup] button", has_text=label)
                            if not button.count():  # no such section on this version of the page
                                continue
                            step = timed_until(button.first.click, page, section_heading, server_pid)
                            out[f"results: {label}"].append(step)
                            if i == 0:
                                slug = label.lower().replace(" ", "-")
                                page.screenshot(path=str(SHOTS / f"bench-page-results-{slug}.png"), full_page=True)
                finally:
                    page.close()
    finally:
        context.close()
    return {k: v for k, v in out.items() if v}


#: The sidebar menu's label of each page of :data:`PAGES`.
MENU = {"home": "Home", "explore": "Explore", "train": "Train", "results": "Results", "classify": "Classify"}


def measure_menu(browser, url: str, repeat: int, server_pid: int) -> dict[str, list]:
    """One tab, the pages reached through the sidebar menu, as a visitor moves around: Home, then Explore, Train,
    Results, Classify and Home again, ``repeat`` rounds; seconds from the click to fully drawn (:func:`settle`), with
    the CPU seconds of browser and server. The tab keeps the code it has loaded (plotly's bundle is evaluated once per
    tab), so this is the cost of a page switch, where :func:`measure_pages` is that of a new tab."""
    out: dict[str, list] = {name: [] for name in PAGES}
    context = browser.new_context(viewport=EXPLORE_VIEWPORT)
    context.add_init_script(WATCH_JS)
    page = context.new_page()
    try:
        timed(lambda: page.goto(url), page, PAGES["home"][1])
        for _ in range(repeat):
            for name in ("explore", "train", "results", "classify", "home"):
                link = page.locator("[data-testid=stSidebarNav] a", has_text=MENU[name]).first
                out[name].append(timed_until(link.click, page, PAGES[name][1], server_pid))
                if page.locator("[data-testid=stException], [data-testid=stAlertContentError]").count():
                    raise RuntimeError(f"the {name} page shows an error")
    finally:
        context.close()
    return out


def page_rows(times: dict[str, list]) -> list[tuple[str, ...]]:
    """Table rows: (page, cold, warm median (range, n), warm CPU seconds of the browser and of the server (medians),
    target and verdict). A Results section other than the default one has no target of its own: it is a click
    on a page already drawn."""
    rows = []
    for name, values in times.items():
        cold, warm = values[0][0], [v[0] for v in values[1:]]
        cpu = [v[1] for v in values[1:]], [v[2] for v in values[1:]]
        section = name.startswith("results: ")
        rows.append(
            (
                f"{name} (click) drawn" if section else f"**{name}** fully drawn",
                f"{cold:.2f}",
                spread(warm),
                f"{median(cpu[0]):.2f} / {median(cpu[1]):.2f}" if warm else "-",
                "" if section else f"< {TARGET_PAGE:.0f} s " + verdict(median(warm), TARGET_PAGE),
            )
        )
    return rows


def spread(values: list[float]) -> str:
    """``median (min-max, n)`` of some seconds."""
    if not values:
        return "-"
    v = sorted(values)
    mid = v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
    return f"{mid:.2f} ({v[0]:.2f}-{v[-1]:.2f}, n={len(v)})"


def median(values: list[float]) -> float:
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def explore_rows(sessions: list[dict]) -> list[tuple[str, str, str, str]]:
    """Table rows: (measurement, cold, warm median (range), verdict)."""
    cold, warm = sessions[0], sessions[1:]
    rows = []
    steps = [
        ("first", "**first clip drawn** (fresh session, the default track)", TARGET_EXPLORE_FIRST),
        ("track", "another track, default sections", None),
        ("n_mfcc", "**n_mfcc** step, default sections", TARGET_EXPLORE_CHANGE),
        ("n_fft", "**n_fft** step, default sections", TARGET_EXPLORE_CHANGE),
        ("open", "open one more section (each)", None),
        ("all_track", "another track, every section open (taggram closed)", None),
        ("taggram", "open the taggram (musicnn run on the clip)", None),
        ("all_n_mfcc", "**n_mfcc** step, every section open", TARGET_EXPLORE_CHANGE),
    ]
    for key, name, target in steps:
        if key not in cold:
            continue

        def flat(s, key=key):
            return s[key] if isinstance(s[key], list) else [s[key]]

        w = [x for s in warm for x in flat(s)]
        c = spread(flat(cold)) if isinstance(cold[key], list) else f"{cold[key]:.2f}"
        v = verdict(median(w), target) if w and target else ""
        rows.append((name, c, spread(w), ("< %.0f s " % target if target else "") + v))
    return rows


def measure(
    data_dir: Path,
    artifacts: Path,
    clips_: tuple[Path, Path, Path] | None,
    log: Path,
    *,
    explore: int = 0,
    pages: int = 0,
) -> dict:
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
                res["home_cpu"] = cpu_snapshot(proc.pid).get(-proc.pid, 0.0)
                # a user reads the home page before leaving it: let its script finish (runs table, chart)
                page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(timeout=TIMEOUT_MS)
                res["home_done"] = time.perf_counter() - t0

                if pages:
                    res["pages"] = measure_pages(browser, url, pages, proc.pid)
                    res["menu"] = measure_menu(browser, url, pages, proc.pid)
                if explore:
                    res["explore"] = measure_explore(browser, url, data_dir, explore)
                if clips_ is not None:
                    cold, warm, fresh = clips_
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
    ap.add_argument(
        "--pages",
        nargs="+",
        choices=("pages", "classify", "explore"),
        default=["pages", "classify", "explore"],
        help="what is measured: pages (Home, Explore, Results and Classify each fully drawn, --repeat visits), "
        "classify (uploads), explore (a session's steps)",
    )
    ap.add_argument(
        "--repeat", type=int, default=5, help="visits of each page, and Explore sessions (the first is cold)"
    )
    args = ap.parse_args()
    if args.repeat < 2:
        ap.error(f"--repeat={args.repeat} must be at least 2 (one cold session, then warm ones)")
    load_before = uptime()
    work = Path(tempfile.mkdtemp(prefix="mgc-bench-app-"))
    classify = "classify" in args.pages
    page_visits = args.repeat if "pages" in args.pages else 0
    try:
        artifacts = work / "artifacts"
        artifacts.mkdir()
        pretrained = PROJECT / "artifacts" / "pretrained"
        if pretrained.is_dir():  # the tagger built once already: not rebuilt by the Explore's taggram
            (artifacts / "pretrained").symlink_to(pretrained, target_is_directory=True)
        runs = shipped_runs() if classify or page_visits else {}
        if runs:
            (artifacts / "runs").mkdir(parents=True)
            for d in runs.values():
                (artifacts / "runs" / d.name).symlink_to(d, target_is_directory=True)
            shipped = PROJECT / "artifacts" / "comparisons"
            if shipped.is_dir():  # the recipe comparisons that ship beside them (Results, "Recipes compared")
                (artifacts / "comparisons").symlink_to(shipped, target_is_directory=True)
            data_dir = SHARED if SHARED.is_dir() else PROJECT / "artifacts" / "demo"
            origin = "shipped reference runs"
        elif classify or page_visits:
            runs, data_dir = tiny_runs(work)
            origin = "1-epoch runs trained here on a synthetic demo dataset (no complete shipped set)"
        else:
            data_dir, origin = SHARED, "none (Classify not measured)"
            if not SHARED.is_dir():
                from mgc.dataset.demo import write_demo_dataset

                data_dir = work / "data"
                write_demo_dataset(data_dir, clips_per_style=1 + 2 * args.repeat)
        found = clips(work) if classify else None
        explore = args.repeat if "explore" in args.pages else 0
        res = measure(data_dir, artifacts, found, work / "streamlit.log", explore=explore, pages=page_visits)
        load_after = uptime()
    except BaseException:
        print(f"(temporary folder kept for inspection: {work})", file=sys.stderr)
        raise
    else:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    rows = [
        ("server process start -> /_stcore/health ok", res["health"], None),
        ("health ok -> home title visible in the browser", res["home"] - res["health"], None),
        ("**home**: process start -> home title visible", res["home"], TARGET_HOME),
        ("home: CPU seconds of the server process until then", res["home_cpu"], None),
        ("home: process start -> home script finished (runs table, chart)", res["home_done"], None),
    ]
    if classify:
        cold, warm, fresh = found
        (cold_shown, cold_done, cold_pred), (warm_shown, warm_done, warm_pred) = res["cold"], res["warm"]
        fresh_shown, fresh_done, fresh_pred = res["fresh"]
        rows += [
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
    if page_visits:
        print(
            f"Pages fully drawn ({page_visits} visits each, pages in turn, each visit a new tab and Streamlit session "
            "at 1440x900, the browser's cache kept; seconds; cold: the first visit after the server start; warm: "
            "median (range, n))\n"
        )
        print("| page | cold | warm | warm CPU s, browser / server | target |")
        print("|---|---:|---:|---:|---|")
        for row in page_rows(res["pages"]):
            print("| " + " | ".join(row) + " |")
        print()
        print(
            f"Pages reached through the sidebar menu in one tab ({page_visits} rounds: Explore, Results, Classify, "
            "Home; seconds from the click to fully drawn; first round: the tab has loaded no page's code but Home's)\n"
        )
        print("| page | first round | later rounds | CPU s, browser / server | target |")
        print("|---|---:|---:|---:|---|")
        for row in page_rows(res["menu"]):
            print("| " + " | ".join(row).replace(" fully drawn", " after a menu click") + " |")
        print()
    if explore:
        sessions = res["explore"]
        print(f"Explore ({len(sessions)} fresh sessions at 1440x900; seconds; warm: median (range, n))\n")
        print("| measurement | cold (1st session) | warm | target |")
        print("|---|---:|---:|---|")
        for name, cold_s, warm_s, target in explore_rows(sessions):
            print(f"| {name} | {cold_s} | {warm_s} | {target} |")
        print()
        opened = ", ".join(sessions[0]["open_names"]) or "none (every section is drawn from the start)"
        print(f"- Explore data: `{data_dir}`; sections opened in turn: {opened}")
    if classify or page_visits:
        print(f"- runs: {origin}: {len(runs)} ({', '.join(p.name for p in runs.values())})")
        print(f"- data: `{data_dir}`")
    if classify:
        print(f"- predictions: cold {cold_pred}, warm {warm_pred}, fresh page {fresh_pred}")
    print(f"- load before: `{load_before}`")
    print(f"- load after:  `{load_after}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
