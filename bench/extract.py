"""Benchmark: dataset feature extraction, the library against the study's straightforward loop.

    python bench/extract.py [--data DIR] [--classes a,b,c] [--workers N]

On the same real clips and in one run, it times
  1. the study's loop: ``librosa.load`` then one ``librosa.feature.mfcc`` call per 3-s
     segment, one process;
  2. ``mgc.features.extract_dataset`` with an empty (cold) cache in a fresh folder;
  3. the same call again (warm cache: nothing changed);
and checks that the two feature tables agree (same tracks, segments, max |difference|).
It prints a markdown table. Default data: ../shared/data/gtzan-mini, else a demo dataset.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mgc.dataset import find_tracks
from mgc.features import STUDY_PARAMS, extract_dataset


def study_loop(tracks) -> dict[str, np.ndarray]:
    """The study's code path: load, then one MFCC call per segment; keep 130-frame segments."""
    import librosa

    p = STUDY_PARAMS
    out = {}
    for t in tracks:
        try:
            y, sr = librosa.load(t.path, sr=p.sr)
        except Exception:  # the study's loop has no error handling; a bad file is just skipped here
            continue
        segs = []
        for d in range(p.n_segments):
            start = p.samples_per_segment * d
            m = librosa.feature.mfcc(
                y=y[start : start + p.samples_per_segment],
                sr=sr,
                n_mfcc=p.n_mfcc,
                n_fft=p.n_fft,
                hop_length=p.hop_length,
            ).T
            if len(m) == p.frames_per_segment:
                segs.append(m)
        out[t.track_id] = np.stack(segs)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "gtzan-mini"
    ap.add_argument("--data", default=str(default) if default.is_dir() else None)
    ap.add_argument("--classes", default=None, help="comma-separated classes (default: all)")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mgc-bench-"))
    if args.data is None:
        from mgc.dataset.demo import write_demo_dataset

        write_demo_dataset(tmp / "demo", clips_per_style=20)
        args.data = str(tmp / "demo")
    ds = find_tracks(args.data)
    classes = args.classes.split(",") if args.classes else list(ds.classes)
    tracks = [t for t in ds.tracks if t.label in classes]

    import librosa  # import and first-call costs are paid before timing either side

    librosa.feature.mfcc(y=np.zeros(STUDY_PARAMS.samples_per_segment, np.float32), sr=22050, n_mfcc=13)

    t0 = time.perf_counter()
    ref = study_loop(tracks)
    t_loop = time.perf_counter() - t0

    t0 = time.perf_counter()
    fs = extract_dataset(ds, classes=classes, cache_dir=tmp / "cache", workers=args.workers)
    t_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm = extract_dataset(ds, classes=classes, cache_dir=tmp / "cache", workers=args.workers)
    t_warm = time.perf_counter() - t0

    worst, n_compared = 0.0, 0
    for tid in np.unique(fs.track_ids):
        ours = fs.X[fs.track_ids == tid]
        assert ours.shape == ref[tid].shape, (tid, ours.shape, ref[tid].shape)
        worst = max(worst, float(np.abs(ours - ref[tid]).max()))
        n_compared += len(ours)
    assert set(ref) == set(np.unique(fs.track_ids)), "the two sides kept different tracks"
    assert np.array_equal(warm.X, fs.X), "the warm cache gave other features"

    n = len(tracks)
    load = os.getloadavg()[0]
    print(
        f"\nFeature extraction, {n} files ({len(fs.skipped)} unreadable) of {args.data}, "
        f"{os.cpu_count()} cores, load average {load:.1f} at the end\n"
    )
    print("| method | seconds | tracks/s | speed-up vs study loop |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| study loop (librosa.load + mfcc per segment, 1 process) | {t_loop:.2f} | {n / t_loop:.1f} | 1.00x |")
    print(f"| mgc extract_dataset, cold cache | {t_cold:.2f} | {n / t_cold:.1f} | {t_loop / t_cold:.2f}x |")
    print(f"| mgc extract_dataset, warm cache | {t_warm:.3f} | {n / t_warm:.0f} | {t_loop / t_warm:.0f}x |")
    print(f"\nsegments compared: {n_compared}; max |mgc - study loop| = {worst:.2e} (float32 rounding)")
    print("targets: cold >= 3x the study loop; warm re-run of the whole dataset < 1 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
