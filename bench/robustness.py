"""Benchmark: the robustness catalogue's crafted inputs, each timed and measured in a fresh process.

    python bench/robustness.py [--real-bomb]

For every crafted input of ``tests/crafted.py`` (built in a temporary folder, small on
disk) and each path that meets it (Classify's decode of up to 600 s, a dataset
extraction of one file, the readability check of ``mgc info``), it runs the call in a
new interpreter under a 3 GiB address-space limit and prints a markdown table: the
input, its size on disk, the path, the wall time, the peak resident memory of the
whole process and beyond its imports, and the outcome (the error's first words, or
what was decoded). ``--real-bomb`` adds the 700-s, 384 kHz, 8-channel FLAC of the
issue itself (about 40 s to write).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AS_LIMIT = 3 * 2**30


def _crafted():
    """The test suite's builders of crafted inputs (``tests/crafted.py``), loaded from their file."""
    spec = importlib.util.spec_from_file_location("crafted", ROOT / "tests" / "crafted.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: What each path does with a file ``p`` (sets ``outcome``).
PATHS = {
    "classify": "d = audio.usable(p, max_duration=600.0, min_duration=3.0)\n"
    "outcome = f'decoded {d.duration:.0f} s of {d.source_duration:.0f} s'",
    "extract": "X, _ = extract_file(p)\noutcome = f'{len(X)} segments'",
    "info": "h = check_track(p)\noutcome = f'usable, {h.duration:.0f} s'",
}
SETUP = "from mgc import audio\nfrom mgc.dataset import check_track\nfrom mgc.features import extract_file"


def measure(path: Path, code: str) -> dict:
    """Run ``code`` on ``path`` in a fresh interpreter; time, peak memory and outcome."""
    script = (
        "import json, resource, time\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({AS_LIMIT}, {AS_LIMIT}))\n"
        f"{SETUP}\n"
        f"p = {str(path)!r}\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "t0 = time.perf_counter()\n"
        "try:\n" + textwrap.indent(code, "    ") + "\n"
        "except BaseException as e:\n"
        "    outcome = f'{type(e).__name__}: {e}'\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps({'outcome': outcome, 'seconds': time.perf_counter() - t0, 'peak': peak, 'base': base}))\n"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        return {"outcome": f"process died (exit {r.returncode}): {r.stderr.strip()[-120:]}", "seconds": float("nan")}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-bomb", action="store_true", help="also the real 700-s bomb FLAC (~40 s to write)")
    args = parser.parse_args()
    crafted = _crafted()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = {
            "FLAC header: 700 s x 384 kHz x 8 ch (defect 1)": crafted.flac_bomb(folder),
            "FLAC header: 2**35 frames (defect 2)": crafted.flac_huge_length(folder),
            "60-min FLAC (defect 2)": crafted.long_flac(folder),
            "WAV header: 1 Hz (defects 2, 8)": crafted.wav_with_rate(folder, 1),
            "WAV header: 2 GHz (defect 8)": crafted.wav_with_rate(folder, 2_000_000_000),
            "WAV header: 4000 channels": crafted.many_channels_wav(folder),
            "MP3 with only an ID3 tag (defect 9)": crafted.id3_only_mp3(folder),
            "WAV cut after 1 s of 30 (defect 10)": crafted.truncated_wav(folder),
            "WAV with a NaN sample (defect 10)": crafted.nan_wav(folder),
            "30 s of silence (defect 10)": crafted.silent_wav(folder),
        }
        if args.real_bomb:
            inputs["real 700-s 384 kHz 8-ch FLAC (defect 1)"] = crafted.flac_real_bomb(folder)
        print("| input | size | path | time | peak MB (beyond imports) | outcome |")
        print("| --- | ---: | --- | ---: | ---: | --- |")
        for name, path in inputs.items():
            size = path.stat().st_size
            for where, code in PATHS.items():
                r = measure(path, code)
                peak = f"{r['peak']:.0f} ({r['peak'] - r['base']:.0f})" if "peak" in r else "-"
                outcome = r["outcome"].replace("|", "/")
                outcome = outcome if len(outcome) <= 110 else outcome[:107] + "..."
                print(
                    f"| {name} | {size / 1024:,.0f} kB | {where} | {r['seconds']:.2f} s | {peak} | {outcome} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
