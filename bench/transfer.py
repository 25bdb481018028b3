"""The transfer model measured: what it wins on unseen artists, and what the tagger costs (markdown tables).

    python bench/transfer.py [--accuracy] [--speed] [--repeats 5]

``--accuracy`` (default on): the shipped fault-filtered runs tested on valid (artists the
models never heard), read from their stored predictions: track accuracy, balanced accuracy
and recall per genre of the transfer run against the best of the study's three networks,
and a paired comparison by track (tracks only one of them gets right, with an exact
two-sided sign test). The valid part also chose between the two recipes here, so these
numbers are a little optimistic; the fault-filtered test part, held out of this project,
is the real check.

``--speed``: on this machine, warm, several repeats (median, min, max): the time to embed
one 30-s GTZAN clip (decode + mel patches, then the network: Keras ``predict_on_batch``, a
``tf.function``, and the same with XLA), and the Classify latency of one 30-s clip with
the three networks and the transfer model.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from mgc.analysis import classify
from mgc.analysis.baseline import paired_tracks
from mgc.config import STUDY_MODELS, model_title
from mgc.errors import MgcError
from mgc.runs import load_run

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
RUNS = {m: f"gtzan10-ff-improved-{m}" for m in (*STUDY_MODELS, "transfer")}
STUDY_RUNS = {m: f"gtzan10-ff-study-{m}" for m in (*STUDY_MODELS, "transfer")}


def accuracy() -> None:
    runs = {}
    for m, rid in {**RUNS, **{f"{m} (study)": r for m, r in STUDY_RUNS.items()}}.items():
        try:
            runs[m] = load_run(rid)
        except MgcError as e:
            print(f"skipped {rid}: {e}", file=sys.stderr)
    if "transfer" not in runs:
        print("no transfer run: make it with tools/make_reference_runs.py --models transfer")
        return
    transfer = runs["transfer"]
    classes = transfer.classes
    print(f"## Unseen artists: {transfer.manifest['split']['label']} ({transfer.metrics['n_tracks']} tracks)\n")
    print("| run | track accuracy | balanced accuracy | " + " | ".join(classes) + " |")
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in classes) + " |")
    for name, run in runs.items():
        recall = {r["class"]: r["recall"] for r in run.metrics.get("track_per_class", []) if r.get("support", 1)}
        print(
            f"| {model_title(name.split(' ')[0])}{' ' + name.split(' ', 1)[1] if ' ' in name else ''} (`{run.id}`) "
            f"| {run.metrics['track_accuracy_mean']:.3f} | {run.metrics['track_balanced_accuracy']:.3f} | "
            + " | ".join(f"{recall[c]:.2f}" if c in recall else "–" for c in classes)
            + " |"
        )
    networks = {m: r for m, r in runs.items() if not m.startswith("transfer")}
    best = max(networks, key=lambda m: networks[m].metrics["track_balanced_accuracy"])
    pair = paired_tracks(transfer.metrics["tracks"], networks[best].metrics["tracks"])
    bal = transfer.metrics["track_balanced_accuracy"] - networks[best].metrics["track_balanced_accuracy"]
    print(
        f"\nPaired by track against the best network on balanced accuracy ({best}, `{networks[best].id}`), "
        f"{pair['n']} tracks: transfer {pair['accuracy_a']:.3f} vs {pair['accuracy_b']:.3f} track accuracy "
        f"({100 * (pair['accuracy_a'] - pair['accuracy_b']):+.1f} points; balanced {100 * bal:+.1f} points); "
        f"right only by transfer {pair['only_a']}, only by {best} {pair['only_b']}; "
        f"sign test p = {pair['p_value']:.2g}."
    )


def _timed(fn, repeats: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _row(name: str, times: list[float]) -> str:
    return f"| {name} | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f} |"


def speed(repeats: int) -> None:
    import tensorflow as tf

    from mgc import audio
    from mgc.features.embed import EMBEDDING_PARAMS as P
    from mgc.features.embed import embedding_segments, mel_patches
    from mgc.features.musicnn import load_backbone

    clip = SHARED / "gtzan-mini" / "genres" / "rock" / "rock.00010.flac"
    if not clip.is_file():
        clip = next((SHARED / "gtzan-mini" / "genres" / "rock").iterdir())
    model = load_backbone()
    y = audio.load(clip, sr=P.sr)
    segs = y[: 10 * P.samples_per_segment].reshape(10, -1)
    mel = mel_patches(segs)
    spec = [tf.TensorSpec([None, P.patch_frames, P.n_mels], tf.float32)]
    plain = tf.function(lambda x: model(x, training=False), input_signature=spec)
    xla = tf.function(lambda x: model(x, training=False), input_signature=spec, jit_compile=True)
    rows = {
        "decode + 10 mel patches": lambda: mel_patches(
            audio.load(clip, sr=P.sr)[: 10 * P.samples_per_segment].reshape(10, -1)
        ),
        "network, Keras predict_on_batch (10 patches)": lambda: model.predict_on_batch(mel),
        "network, tf.function": lambda: plain(mel),
        "network, tf.function + XLA": lambda: xla(mel),
        "embedding_segments (whole clip, as extraction runs it)": lambda: embedding_segments(y),
    }
    print(f"\n## Embedding one 30-s clip ({clip.name}), {repeats} warm repeats, seconds\n")
    print("| step | median | min | max |\n| --- | ---: | ---: | ---: |")
    # interleave the candidates, so load on this shared machine hits them alike
    times = {k: [] for k in rows}
    for fn in rows.values():
        fn()
    for _ in range(repeats):
        for k, fn in rows.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    for k in rows:
        print(_row(k, times[k]))
    runs = []
    for rid in RUNS.values():
        try:
            runs.append(load_run(rid))
        except MgcError as e:
            print(f"skipped {rid}: {e}", file=sys.stderr)
    data = clip.read_bytes()
    print(f"\n## Classify latency, one 30-s clip, warm, {repeats} repeats, seconds\n")
    print("| models | median | min | max |\n| --- | ---: | ---: | ---: |")
    study = [r for r in runs if r.model_name != "transfer"]
    for name, chosen in (
        ("the three networks", study),
        ("transfer alone", [r for r in runs if r not in study]),
        ("all four", runs),
    ):
        if chosen:
            print(_row(name, _timed(lambda c=chosen: classify(data, c, name=clip.name), repeats)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accuracy", action="store_true")
    p.add_argument("--speed", action="store_true")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    if args.accuracy or not args.speed:
        accuracy()
    if args.speed:
        speed(args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
