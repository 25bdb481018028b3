"""The transfer model measured: what it wins on unseen artists, and what the tagger costs (markdown tables).

    python bench/transfer.py [--accuracy] [--speed] [--repeats 5]

``--accuracy`` (default on): the shipped fault-filtered runs tested on valid (artists the
models never heard), read from their stored predictions: track accuracy, balanced accuracy
and recall per genre of the transfer run against the best of the study's three networks,
and a paired comparison by track (tracks only one of them gets right, with an exact
two-sided sign test). The valid part also chose between the two recipes here, so these
numbers are a little optimistic; the fault-filtered test part, held out of this project,
is the real check.

``--speed``: on this machine, warm, repeats interleaved (median, min, max, CPU seconds, the
load average before and after): the time to embed one 30-s GTZAN clip (decode and mel
patches, then the network: the Keras model as a ``tf.function`` against the matrix-product
forward pass the project runs, :mod:`mgc.features.musicnn_gemm`), and the Classify latency of
one 30-s clip with the three networks, the transfer model and all four.

``--profile``: where the time goes, stage by stage: decode and resampling, the mel patches,
each front-end convolution of the Keras model (and its batch norm and frequency max), and
each stage of the matrix-product path, with GFLOP per CPU-second.

``--floor``: this CPU's float32 matrix-product rate (numpy's BLAS) and the backbone's FLOPs
per 30-s clip, the floor of any direct evaluation.
"""

from __future__ import annotations

import argparse
import os
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


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def _interleaved(rows: dict, repeats: int) -> dict:
    """Wall and CPU seconds of each callable, one warm call each first, then the candidates in turn per repeat.

    Interleaving makes the load of a shared machine hit every candidate alike.
    """
    for fn in rows.values():
        fn()
    times = {k: ([], []) for k in rows}
    for _ in range(repeats):
        for k, fn in rows.items():
            t, c = time.perf_counter(), time.process_time()
            fn()
            times[k][0].append(time.perf_counter() - t)
            times[k][1].append(time.process_time() - c)
    return times


def _table(title: str, rows: dict, repeats: int, *, gflop: dict | None = None) -> None:
    print(f"\n## {title}, {repeats} warm repeats interleaved, seconds\n")
    print(f"Before: {_load()}.\n")
    times = _interleaved(rows, repeats)
    extra = " | GFLOP | GFLOP per CPU-second |" if gflop else " |"
    print("| step | median | min | max | CPU s (median)" + extra)
    print("| --- | ---: | ---: | ---: | ---:" + (" | ---: | ---: |" if gflop else " |"))
    for k, (wall, cpu) in times.items():
        line = (
            f"| {k} | {statistics.median(wall):.3f} | {min(wall):.3f} | {max(wall):.3f} | "
            f"{statistics.median(cpu):.3f} |"
        )
        if gflop:
            g = gflop.get(k)
            line += f" {g:.1f} | {g / statistics.median(cpu):.0f} |" if g else " | |"
        print(line)
    print(f"\nAfter: {_load()}. CPU s counts both cores' work: at most about twice the wall time on an idle machine.")


def _clip() -> Path:
    clip = SHARED / "gtzan-mini" / "genres" / "rock" / "rock.00000.flac"
    if not clip.is_file():
        clip = next((SHARED / "gtzan-mini" / "genres" / "rock").iterdir())
    return clip


def _flops(patches: int) -> dict:
    """Multiply-adds x 2 of the backbone's layers, in GFLOP, for ``patches`` patches (187 frames x 96 bands)."""
    t, f = 187, 96
    conv = {
        "timbral 7x38": t * (f - 38 + 1) * 204 * 7 * 38,
        "timbral 7x67": t * (f - 67 + 1) * 204 * 7 * 67,
        "temporal 128/64/32": t * f * 51 * (128 + 64 + 32),
        "mid-end": t * 64 * 7 * (561 + 64 + 64),
        "back-end": 1506 * 200 + 200 * 50,
    }
    return {k: 2 * v * patches / 1e9 for k, v in conv.items()}


def _gemm_flops(patches: int) -> dict:
    """GFLOP of the matrix-product path's stages (:mod:`mgc.features.musicnn_gemm`), for ``patches`` patches."""
    from mgc.features.musicnn_gemm import TEMPORAL_BLOCK as B

    rows, bins = 187 * patches, 49
    timbral = 2 * (rows + 6 * patches) * 96 * 2 * bins  # the DFT over bands
    timbral += 2 * 2 * 2 * bins * rows * 14 * 204  # two convolutions, real and imaginary parts, per bin
    timbral += 2 * (59 + 30) * 2 * bins * rows * 204  # back to the bands where each kernel fits
    blocks = -(-187 // B)
    temporal = sum(2 * blocks * patches * 96 * (B + k - 1) * B * 51 for k in (128, 64, 32))
    return {
        "matrix products: both timbral (DFT over bands), 1 thread": timbral / 1e9,
        "matrix products: three temporal (banded), 1 thread": temporal / 1e9,
        "matrix products: mid-end, 1 thread": _flops(patches)["mid-end"],
        "matrix products: whole model": (timbral + temporal) / 1e9 + _flops(patches)["mid-end"],
    }


def floor(repeats: int) -> None:
    """This CPU's single-precision matrix-product rate (numpy's BLAS), and what it makes of the backbone's FLOPs."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = {}
    sizes = {"2048 x 2048 x 2048": (2048, 2048, 2048), "1870 x 266 x 204 (timbral im2col shape)": (1870, 266, 204)}
    gflop = {}
    for name, (m, k, n) in sizes.items():
        a, b = rng.random((m, k), np.float32), rng.random((k, n), np.float32)
        rows[name] = lambda a=a, b=b: a @ b
        gflop[name] = 2 * m * k * n / 1e9
    _table("Matrix products (numpy, float32)", rows, repeats, gflop=gflop)
    total = sum(_flops(10).values())
    print(
        f"\nThe backbone on the 10 patches of a 30-s clip: {total:.1f} GFLOP as written (direct convolutions: "
        + ", ".join(f"{k} {v:.1f}" for k, v in _flops(10).items())
        + "). At the rate above per CPU-second, on both cores, that is the floor of a direct evaluation. "
        f"The matrix-product path computes the same function in {_gemm_flops(10)['matrix products: whole model']:.1f}"
        " GFLOP (the timbral convolutions through a DFT over the bands)."
    )


def profile(repeats: int) -> None:
    """Where the time goes: each front-end convolution of the Keras model, and each stage of the matrix-product path."""
    import numpy as np
    import tensorflow as tf

    from mgc import audio
    from mgc.features.embed import EMBEDDING_PARAMS as P
    from mgc.features.embed import mel_patches
    from mgc.features.musicnn import load_backbone
    from mgc.features.musicnn_gemm import MusicnnGemm, _blas_limit

    clip = _clip()
    model = load_backbone()
    gemm = MusicnnGemm(model)
    y = audio.load(clip, sr=P.sr)
    segs = y[: 10 * P.samples_per_segment].reshape(10, -1)
    mel = mel_patches(segs)
    layer = model.get_layer
    x = layer("input_bn")(tf.reshape(tf.constant(mel), (10, 187, 96, 1)))
    padded = layer("timbral_pad")(x)
    fl = _flops(10)
    rows, gflop = {}, {}
    rows["decode + resample to 16 kHz"] = lambda: audio.load(clip, sr=P.sr)
    rows["10 mel patches"] = lambda: mel_patches(segs)
    for name, inp, key in (
        ("timbral_74", padded, "timbral 7x38"),
        ("timbral_77", padded, "timbral 7x67"),
        ("temporal_128", x, None),
        ("temporal_64", x, None),
        ("temporal_32", x, None),
    ):
        lay = layer(name)
        conv = tf.function(lambda i, lay=lay: lay(i))
        rest = tf.function(lambda h, n=name: layer(f"{n}_squeeze")(layer(f"{n}_pool")(layer(f"{n}_bn")(h))))
        h = conv(inp)
        rows[f"Keras: {name} conv + ReLU"] = lambda c=conv, i=inp: c(i).numpy()
        rows[f"Keras: {name} batch norm + frequency max"] = lambda r=rest, h=h: r(h).numpy()
        frames = int(name.split("_")[1]) if name.startswith("temporal") else 0
        gflop[f"Keras: {name} conv + ReLU"] = fl[key] if key else 2 * 10 * 187 * 96 * 51 * frames / 1e9
    keras_fn = tf.function(lambda m: model(m, training=False))
    rows["Keras: whole model (tf.function)"] = lambda: [o.numpy() for o in keras_fn(mel)]
    xn = mel * gemm.input_bn[0][0] + gemm.input_bn[1][0]
    front = np.concatenate([*gemm._timbral(xn), *gemm._temporal(xn)], axis=-1)

    def one_blas_thread(fn):
        # a stage alone, as a call runs it: one thread, one BLAS thread (the whole pass splits over the cores)
        def run():
            with _blas_limit():
                return fn()

        return run

    rows["matrix products: both timbral (DFT over bands), 1 thread"] = one_blas_thread(lambda: gemm._timbral(xn))
    rows["matrix products: three temporal (banded), 1 thread"] = one_blas_thread(lambda: gemm._temporal(xn))
    rows["matrix products: mid-end, 1 thread"] = one_blas_thread(lambda: gemm._midend(front))
    rows["matrix products: whole model"] = lambda: gemm(mel)
    gflop["Keras: whole model (tf.function)"] = sum(fl.values())
    gflop.update(_gemm_flops(10))
    _table(f"Where the time goes: one 30-s clip ({clip.name}, 10 patches)", rows, repeats, gflop=gflop)


def speed(repeats: int) -> None:
    import numpy as np
    import tensorflow as tf

    from mgc import audio
    from mgc.features.embed import EMBEDDING_PARAMS as P
    from mgc.features.embed import backbone_function, embedding_segments, mel_patches
    from mgc.features.musicnn import load_backbone

    clip = _clip()
    model = load_backbone()
    y = audio.load(clip, sr=P.sr)
    segs = y[: 10 * P.samples_per_segment].reshape(10, -1)
    mel = mel_patches(segs)
    spec = [tf.TensorSpec([None, P.patch_frames, P.n_mels], tf.float32)]
    plain = tf.function(lambda x: model(x, training=False), input_signature=spec)
    gemm = backbone_function()
    rows = {
        "decode + resample + 10 mel patches": lambda: mel_patches(
            audio.load(clip, sr=P.sr)[: 10 * P.samples_per_segment].reshape(10, -1)
        ),
        "network, Keras model (tf.function)": lambda: [np.asarray(o) for o in plain(mel)],
        "network, matrix products (what the project runs)": lambda: gemm(mel),
        "embedding_segments (decoded clip -> embeddings, as extraction runs it)": lambda: embedding_segments(y),
        "decode + embedding_segments (file -> embeddings)": lambda: embedding_segments(audio.load(clip, sr=P.sr)),
    }
    _table(f"Embedding one 30-s clip ({clip.name})", rows, repeats)
    runs = []
    for rid in RUNS.values():
        try:
            runs.append(load_run(rid))
        except MgcError as e:
            print(f"skipped {rid}: {e}", file=sys.stderr)
    data = clip.read_bytes()
    study = [r for r in runs if r.model_name != "transfer"]
    chosen = {
        "the three networks": study,
        "transfer alone": [r for r in runs if r not in study],
        "all four": runs,
    }
    rows = {name: (lambda c=c: classify(data, c, name=clip.name)) for name, c in chosen.items() if c}
    _table("Classify latency, one 30-s clip (file bytes in, answers out, server side)", rows, repeats)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accuracy", action="store_true")
    p.add_argument("--speed", action="store_true")
    p.add_argument("--profile", action="store_true", help="time each stage of both forward passes")
    p.add_argument("--floor", action="store_true", help="this CPU's matrix-product rate against the backbone's FLOPs")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    if args.accuracy or not (args.speed or args.profile or args.floor):
        accuracy()
    if args.floor:
        floor(args.repeats)
    if args.profile:
        profile(args.repeats)
    if args.speed:
        speed(args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
