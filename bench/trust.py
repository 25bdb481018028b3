"""How often the Classify page says "not sure", on music, speech, noise and tones (prints markdown tables).

    python bench/trust.py [--runs gtzan10-ff-improved-mlp,gtzan10-ff-improved-cnn,gtzan10-ff-improved-lstm]

Uses the shipped train-only fault-filtered runs by default (their thresholds were fitted on the
fault-filtered valid part) and the real audio beside the project (``../shared/data``): GTZAN's
valid part (artists the models never heard) and train part, librosa's speech, music and animal
recordings, and synthetic noise, tones and a sweep made here. Table 1 counts each flag per group of
clips (a clip counts once per kind, whichever model raised it); table 2 asks whether the flags
mean something: on the valid part, how often each model is right when it raises no flag and when
it does. The thresholds were fitted on that same valid part, so table 2 is optimistic; the
fault-filtered test part, held out of this project, is the real check.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from mgc.analysis import classify
from mgc.dataset import fault_filtered_lists, find_tracks
from mgc.errors import MgcError
from mgc.runs import load_run
from mgc.runs.trust import KINDS

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SR = 22050
SPEECH = ("198-209-0000", "3436-172162-0000", "5703-47212-0000")
ANIMALS = ("humpback", "robin")


def _wav(y: np.ndarray) -> bytes:
    y = np.asarray(y, dtype=np.float64)
    peak = np.max(np.abs(y))
    y = (0.5 * y / peak if peak > 0 else y).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, y, SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def synthetic() -> list[tuple[str, bytes]]:
    """Noise, tones and a sweep, 30 s each, made here (seeded)."""
    rng = np.random.default_rng(0)
    t = np.arange(SR * 30) / SR
    return [
        ("white noise", _wav(rng.standard_normal(len(t)))),
        ("brown noise", _wav(np.cumsum(rng.standard_normal(len(t))))),
        ("tone 440 Hz", _wav(np.sin(2 * np.pi * 440 * t))),
        ("chord C-E-G", _wav(sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)))),
        ("sweep 100 Hz up", _wav(np.sin(2 * np.pi * (100 + 100 * t) * t))),
    ]


def groups() -> dict[str, list[tuple[str, object]]]:
    ds = find_tracks(SHARED / "gtzan-mini")
    lists = fault_filtered_lists()
    ogg = sorted((SHARED / "librosa").glob("*.ogg"))
    return {
        "GTZAN valid part (unseen artists)": [
            (t.path.name, t.path) for t in ds.tracks if t.track_id in lists["validation"]
        ],
        "GTZAN train part": [(t.path.name, t.path) for t in ds.tracks if t.track_id in lists["train"]],
        "librosa speech": [(p.name, p) for p in ogg if p.stem in SPEECH],
        "librosa music": [(p.name, p) for p in ogg if p.stem not in SPEECH and not any(a in p.stem for a in ANIMALS)],
        "librosa animals (whale, bird)": [(p.name, p) for p in ogg if any(a in p.stem for a in ANIMALS)],
        "synthetic noise, tones, sweep": synthetic(),
        "digital silence (30 s)": [("silence", _wav(np.zeros(SR * 30)))],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", default="gtzan10-ff-improved-mlp,gtzan10-ff-improved-cnn,gtzan10-ff-improved-lstm")
    args = p.parse_args()
    if not (SHARED / "gtzan-mini").is_dir():
        print(f"needs the real audio in {SHARED}", file=sys.stderr)
        return 2
    runs = [load_run(r) for r in args.runs.split(",")]
    print(f"Runs: {', '.join(r.id for r in runs)}; thresholds fitted on: {runs[0].manifest['split'].get('label')}\n")
    print("| clips | n | " + " | ".join(KINDS) + " | any flag | refused (error) |")
    print("| :--- | ---: | " + " | ".join("---:" for _ in KINDS) + " | ---: | ---: |")
    for name, items in groups().items():
        counts, flagged, refused, n = dict.fromkeys(KINDS, 0), 0, 0, 0
        for label, source in items:
            try:
                res = classify(source, runs, name=label)
            except MgcError:
                refused += 1
                continue
            n += 1
            kinds = {f["kind"] for f in res.flags}
            for k in KINDS:
                counts[k] += k in kinds
            flagged += bool(kinds)
        print(
            f"| {name} | {n} | " + " | ".join(str(counts[k]) for k in KINDS) + f" | {flagged} | {refused} |", flush=True
        )

    print("\n| valid part, one model at a time | tracks | no flag | right among them | flagged | right among them |")
    print("| :--- | ---: | ---: | ---: | ---: | ---: |")
    ds = find_tracks(SHARED / "gtzan-mini")
    valid = [t for t in ds.tracks if t.track_id in fault_filtered_lists()["validation"]]
    for run in runs:
        tally = {False: [0, 0], True: [0, 0]}
        for t in valid:
            res = classify(t.path, [run], name=t.path.name)
            tally[bool(res.flags)][0] += 1
            tally[bool(res.flags)][1] += res.answers[0].predicted == t.label
        (n0, r0), (n1, r1) = tally[False], tally[True]
        print(
            f"| {run.id} | {len(valid)} | {n0} | {r0} ({r0 / max(n0, 1):.0%}) | {n1} | {r1} ({r1 / max(n1, 1):.0%}) |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
