"""Benchmark: the Train page's "time left" against the time that was really left, on a real job.

Runs one real training job through the code the Train page runs (:class:`mgc.training.TrainingJob`,
the same :class:`~mgc.training.TrainConfig` that ``dashboard.training.start_training`` makes) on real
GTZAN clips, in a fresh process (so TensorFlow is imported by the job, as on a server whose first
page is Train). It polls the job's snapshot as the panel does and prints two markdown tables:

* at several moments of the run (shares of its length): what the page shows (the estimate and its
  range) against the true time left, measured once the job has ended;
* each model's phases as they happened (loading TensorFlow, building, the first epoch, the later
  epochs, evaluating + storing + fitting the trust checks), in seconds: the numbers behind
  ``mgc.training.cost.PHASE_COST`` and ``EPOCH_COST`` (see their comments for how to update them).

The load average is printed before and after: on a shared machine, compare CPU seconds.

Usage::

    python bench/eta.py                                   # classical, jazz, rock; mlp, cnn, lstm; 4 epochs
    python bench/eta.py --epochs 10 --models mlp,lstm --data ../shared/data/gtzan-mini
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from mgc.training.cost import phase_of  # noqa: E402  (after the path; imports no TensorFlow)

DATA = PROJECT.parent / "shared" / "data" / "gtzan-mini"


def _load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def _clock(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(round(s))
    return f"{s // 60}:{s % 60:02d}"


def run_job(args) -> tuple[list[dict], float, list, float]:
    """Train and poll; returns the polled samples, the job's length, the models' phases and CPU seconds."""
    from mgc.dataset import find_tracks, suggested_split
    from mgc.features import STUDY_PARAMS, extract_dataset
    from mgc.training import TrainConfig, TrainingJob

    classes = args.classes.split(",")
    fs = extract_dataset(args.data, params=STUDY_PARAMS, classes=classes)
    ds = find_tracks(args.data)
    split = args.split or suggested_split((t.track_id for t in ds.tracks), official=ds.official)
    configs = [
        TrainConfig(model=m, recipe=args.recipe, split=split, epochs=args.epochs, batch_size=32, seed=0)
        for m in args.models.split(",")
    ]
    assert "tensorflow" not in sys.modules, "the job must import TensorFlow itself"
    with tempfile.TemporaryDirectory() as root:
        cpu0, t0 = time.process_time(), time.monotonic()
        job = TrainingJob(fs, configs, root=root, dataset_note="bench/eta.py").start()
        samples, phases, last = [], [[] for _ in configs], [None] * len(configs)
        while job.running:
            now = time.monotonic() - t0
            snap = job.snapshot()
            for i, m in enumerate(snap["models"]):
                ph = phase_of(m["status"], m["stage"], len(m["history"]))
                if ph != last[i]:
                    phases[i].append((ph, now))
                    last[i] = ph
            samples.append(
                {
                    "t": now,
                    "eta": snap["eta_seconds"],
                    "low": snap.get("eta_low"),
                    "high": snap.get("eta_high"),
                    "shown": snap.get("eta_text") or _clock(snap["eta_seconds"]),
                    "stage": next(
                        (f"{m['model']}: {m['stage']}" for m in snap["models"] if m["status"] == "running"),
                        snap["models"][0]["stage"],
                    ),
                }
            )
            time.sleep(args.every)
        job.join()
        total = time.monotonic() - t0
        cpu = time.process_time() - cpu0
        if job.status != "finished":
            raise SystemExit(f"the job ended {job.status}: {job.error}")
        for i in range(len(phases)):
            phases[i].append(("end", None))
        out = [
            (c.model, p, job.models[i].history, job.models[i].rows)
            for i, (c, p) in enumerate(zip(configs, phases, strict=True))
        ]
        return samples, total, out, cpu


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DATA), help="a GTZAN-layout folder (default ../shared/data/gtzan-mini)")
    p.add_argument("--classes", default="classical,jazz,rock")
    p.add_argument("--models", default="mlp,cnn,lstm")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--recipe", default="study")
    p.add_argument("--split", default=None, help="default: the Train page's suggestion")
    p.add_argument("--every", type=float, default=0.25, help="seconds between polls (the page polls every 1 s)")
    p.add_argument("--moments", default="0,2,5,10,20,35,50,65,80,95", help="percent of the job's length")
    args = p.parse_args(argv)

    before = _load()
    samples, total, models, cpu = run_job(args)
    after = _load()
    print(
        f"\nJob: {args.models} x {args.epochs} epochs ({args.recipe} recipe), classes {args.classes}; "
        f"{total:.1f} s wall, {cpu:.1f} CPU-s; load (1/5/15 min) before {before}, after {after}\n"
    )
    print("| moment | elapsed | doing | page shows | estimate (s) | range (s) | true left (s) | estimate / true |")
    print("| ---: | ---: | --- | --- | ---: | --- | ---: | ---: |")
    for pct in (float(x) for x in args.moments.split(",")):
        at = total * pct / 100
        s = min(samples, key=lambda r: abs(r["t"] - at))
        true = total - s["t"]
        rng = f"{s['low']:.0f}-{s['high']:.0f}" if s["low"] is not None else "-"
        ratio = f"{s['eta'] / true:.2f}" if s["eta"] is not None and true > 0 else "-"
        inside = ""
        if s["low"] is not None:
            inside = " (in range)" if s["low"] <= true <= s["high"] else " (outside)"
        eta = "-" if s["eta"] is None else f"{s['eta']:.0f}"
        print(
            f"| {pct:.0f} % | {s['t']:.1f} | {s['stage']} | {s['shown']} | {eta} | {rng}{inside} | "
            f"{true:.0f} | {ratio} |"
        )
    from mgc.training.cost import EPOCH_COST, PHASE_COST, TENSORFLOW_COST, table_epoch_seconds

    print(
        "\n| model | rows | loading TensorFlow | building | first epoch | later epochs (mean) | trace (first - later) "
        "| evaluate + store + trust | later epoch / table |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    measured = {}
    for i, (model, ph, history, rows) in enumerate(models):
        spans: dict[str, float] = {}
        for (name, start), (_, stop) in zip(ph, ph[1:], strict=False):
            stop = stop if stop is not None else (models[i + 1][1][0][1] if i + 1 < len(models) else total)
            spans[name] = spans.get(name, 0.0) + (stop - start)
        secs = [h["seconds"] for h in history]
        later = sum(secs[1:]) / (len(secs) - 1) if len(secs) > 1 else float("nan")
        first = secs[0] if secs else float("nan")
        measured[model] = {**spans, "rows": rows, "later": later, "trace": first - later}

        def cell(name: str, spans=spans) -> str:
            return f"{spans[name]:.1f}" if name in spans else "-"

        print(
            f"| {model} | {rows} | {cell('load')} | {cell('build')} | {first:.1f} | {later:.2f} | {first - later:.1f} "
            f"| {cell('tail')} | {later / table_epoch_seconds(model, rows):.2f} |"
        )
    # this run in the tables' units: the MLP's steady epoch anchors the scale (its EPOCH_COST entry stays)
    anchor = next(iter(measured))
    slow = measured[anchor]["later"] / table_epoch_seconds(anchor, measured[anchor]["rows"])
    print(
        f"\nThis run on the reference scale (everything / {slow:.2f}, the {anchor}'s steady epoch over its table "
        "entry), next to the tables now:\n"
    )
    print("| | TENSORFLOW_COST | EPOCH_COST x 7000 (s per epoch of 7000 rows) | build | trace | tail |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    load = next((m["load"] for m in measured.values() if "load" in m), None)
    for model, m in measured.items():
        tf = f"{load / slow:.1f} (table {TENSORFLOW_COST})" if model == anchor and load is not None else ""
        epoch = m["later"] / slow / m["rows"] * 7000
        cost = PHASE_COST[model]
        print(
            f"| {model} | {tf} | {epoch:.2f} (table {EPOCH_COST[model] * 7000:.2f}) "
            f"| {m.get('build', 0) / slow:.1f} (table {cost['build']}) "
            f"| {m['trace'] / slow:.1f} (table {cost['trace']}) "
            f"| {m.get('tail', 0) / slow:.1f} (table {cost['tail']}) |"
        )
    print(
        "\nPhases are read from the job's stage by polling every "
        f"{args.every} s, so each is +/- {args.every} s; the epochs' seconds are the job's own record."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
