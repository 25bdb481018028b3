"""Reference outputs of the ORIGINAL musicnn MSD_musicnn model (PyPI ``musicnn==0.1.0``, ISC).

This script is NOT part of the project's code and is never run by its tests: it needs
the package's TF-1 graph code, which only runs with legacy Keras (tf-keras). It is run
once, in a separate virtual environment outside any repository, to write the fixtures
that a Keras 3 re-implementation is checked against:

    tests/fixtures/musicnn/reference.npz     inputs/outputs (float32, no pickle)
    tests/fixtures/musicnn/variables.txt     checkpoint variable names + shapes
    tests/fixtures/musicnn/layer_shapes.txt  shapes of the graph's intermediate tensors

Build the environment and rerun (from the project root)::

    python3 -m venv /work/refenv
    /work/refenv/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 librosa==0.11.0 soundfile numpy
    /work/refenv/bin/pip install --no-deps musicnn==0.1.0   # its metadata pins numpy<1.17
    TF_USE_LEGACY_KERAS=1 /work/refenv/bin/python tools/musicnn_reference.py \
        [--audio-dir ../shared/data/librosa] [--out tests/fixtures/musicnn]

What it does
------------
It builds the package's own graph once (``musicnn.models.define_model(x, False,
'MSD_musicnn', 50)`` inside ``tf.name_scope('model')`` exactly like
``musicnn.extractor.extractor``; ``is_training`` is the Python constant False, so every
batch-normalisation uses its moving statistics and both dropouts are the identity),
restores ``<site-packages>/musicnn/MSD_musicnn/`` BY PREFIX (trailing slash: the
checkpoint files are named ``.index`` / ``.data-00000-of-00001``; the folder's
``checkpoint`` file names the author's own path), and feeds it patches of 187 frames.

Front-end, matched to ``musicnn/extractor.py::batch_data`` (lines 41-48 of the 0.1.0
wheel)::

    audio, sr = librosa.load(audio_file, sr=config.SR)                # 16 kHz, mono, soxr_hq
    audio_rep = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=config.FFT_HOP,
                                               n_fft=config.FFT_SIZE, n_mels=config.N_MELS).T
    audio_rep = audio_rep.astype(np.float16)                          # <- NOT mirrored
    audio_rep = np.log10(10000 * audio_rep + 1)

i.e. librosa's defaults for everything else: periodic Hann window, win_length = n_fft
= 512, hop 256, ``center=True`` with librosa 0.11's default ``pad_mode='constant'``
(zero padding; NB librosa < 0.10, as in 2019, defaulted to 'reflect'), power 2.0 (power
spectrogram), Slaney mel filterbank (``htk=False``, ``norm='slaney'``, fmin 0, fmax
sr/2), float32 throughout. The only deliberate difference is that the float16 cast
(line 47) is skipped: ``10000 * S`` overflows float16 above S ~ 6.55 and gives inf.
Patches: non-overlapping, patch k = frames [187k, 187k + 187), as many whole patches as
fit, which is what ``batch_data(..., n_frames=187, overlap=187)`` does (extractor's
default ``input_length=3``: ``librosa.time_to_frames(3, sr=16000, n_fft=512,
hop_length=256) + 1 == 187``; ``input_overlap=False`` -> hop of n_frames).
"""

from __future__ import annotations

import argparse
import os
import re
import time
import warnings
from pathlib import Path

import numpy as np

SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
N_FRAMES = 187
MODEL = "MSD_musicnn"
RECORDINGS = {
    "vibeace": "Kevin_MacLeod_-_Vibe_Ace.ogg",
    "brahms": "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg",
}
RECORDING_SECONDS = 15.0


def synthetic_clip(sr: int = SR, seconds: float = 9.0) -> np.ndarray:
    """Deterministic 9-s test clip at 16 kHz, float32 (numpy only: PCG64 + basic float ops).

    Three harmonic tones (5 partials, amplitude 1/k) in turn with an attack/decay
    envelope, a click track (a short decaying noise burst every 0.5 s) and low white
    noise; computed in float64, peak-normalised to 0.5, cast to float32.
    """
    rng = np.random.default_rng(0)
    n = int(round(sr * seconds))
    t = np.arange(n, dtype=np.float64) / sr
    y = np.zeros(n, dtype=np.float64)
    # tones: (f0 Hz, start s, duration s)
    for f0, start, dur in ((220.0, 0.0, 3.0), (330.0, 3.0, 3.0), (440.0, 6.0, 3.0)):
        local = t - start
        on = (local >= 0.0) & (local < dur)
        env = np.where(on, np.minimum(local / 0.05, 1.0) * np.exp(-local / 1.5), 0.0)
        tone = np.zeros(n, dtype=np.float64)
        for k in range(1, 6):
            tone += np.sin(2.0 * np.pi * f0 * k * t) / k
        y += 0.3 * env * tone
    # click track: 20-ms exponentially decaying noise bursts every 0.5 s
    burst_len = int(0.02 * sr)
    burst_env = np.exp(-np.arange(burst_len, dtype=np.float64) / (0.004 * sr))
    for start in range(0, n - burst_len + 1, int(0.5 * sr)):
        y[start : start + burst_len] += 0.5 * burst_env * rng.standard_normal(burst_len)
    # low noise
    y += 0.003 * rng.standard_normal(n)
    y = 0.5 * y / np.max(np.abs(y))
    return y.astype(np.float32)


def log_mel(audio: np.ndarray) -> np.ndarray:
    """(frames, 96) float32 log-compressed mel power: extractor.py lines 42-48 minus the float16 cast."""
    import librosa

    s = librosa.feature.melspectrogram(y=audio, sr=SR, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS).T
    s = s.astype(np.float32, copy=False)
    return np.log10(np.float32(10000) * s + np.float32(1)).astype(np.float32)


def patches(mel: np.ndarray) -> np.ndarray:
    """Non-overlapping (n, 187, 96) patches, patch k = frames [187k, 187k+187)."""
    n = mel.shape[0] // N_FRAMES
    return np.ascontiguousarray(mel[: n * N_FRAMES].reshape(n, N_FRAMES, N_MELS), dtype=np.float32)


def build_graph():
    """The package's own MSD_musicnn graph, restored from the wheel's checkpoint (by prefix).

    Sets TF_USE_LEGACY_KERAS=1 here, not at import, so that importing this module for
    ``synthetic_clip`` / ``log_mel`` / ``patches`` leaves the importer's Keras alone.
    """
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=r"`tf\.layers\.", category=UserWarning)
    import tensorflow as tf
    from musicnn import configuration as config
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, config.N_MELS])
        y, timbral, temporal, cnn1, cnn2, cnn3, mean_pool, max_pool, penultimate = models.define_model(
            x, False, MODEL, len(config.MSD_LABELS)
        )
        normalized_y = tf.nn.sigmoid(y)
    sess = tf.compat.v1.Session()
    prefix = str(Path(models.__file__).resolve().parent / MODEL) + "/"
    tf.compat.v1.train.Saver().restore(sess, prefix)
    outputs = {
        "taggram": normalized_y,
        "logits": y,
        "mean_pool": mean_pool,
        "max_pool": max_pool,
        "penultimate": penultimate,
        "timbral": timbral,
        "temporal": temporal,
        "cnn1": cnn1,
        "cnn2": cnn2,
        "cnn3": cnn3,
    }
    return tf, sess, x, outputs, prefix, list(config.MSD_LABELS)


def write_variables(tf, prefix: str, path: Path) -> None:
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    names = sorted(k for k in shapes if not k.endswith(("/Adam", "/Adam_1")))
    with open(path, "w") as f:
        f.write(f"# musicnn==0.1.0 {MODEL} checkpoint, read by prefix <site-packages>/musicnn/{MODEL}/\n")
        f.write(
            f"# {len(shapes)} variables in the checkpoint; {len(names)} listed (Adam slots '/Adam', "
            "'/Adam_1' excluded;\n# beta1_power / beta2_power are Adam's scalar step accumulators, "
            "not model weights)\n"
        )
        f.write("# conv kernels are [time, freq, in, out] (HWIO); dense kernels [in, out]\n")
        f.write("# batch-normalisation: epsilon 0.001 (tf.compat.v1.layers default), center+scale\n")
        f.write("# name\tshape\tdtype\n")
        for k in names:
            f.write(f"{k}\t{list(shapes[k])}\t{dtypes[k].name}\n")


# intermediate tensors whose shapes are recorded (graph op name suffix -> description)
def write_layer_shapes(tf, sess, x, outputs, path: Path, example: np.ndarray) -> None:
    graph = tf.compat.v1.get_default_graph()
    wanted_types = {
        "ExpandDims",
        "FusedBatchNormV3",
        "FusedBatchNorm",
        "Pad",
        "Conv2D",
        "BiasAdd",
        "Relu",
        "MaxPool",
        "Squeeze",
        "ConcatV2",
        "Transpose",
        "AddV2",
        "Add",
        "Max",
        "Mean",
        "Reshape",
        "MatMul",
        "Sigmoid",
        "Identity",
    }
    tensors = []
    for op in graph.get_operations():
        if op.type not in wanted_types or not op.name.startswith("model/"):
            continue
        if op.type == "Identity" and not re.search(r"dropout(_\d+)?/Identity$", op.name):
            continue
        for t in op.outputs[:1]:
            tensors.append(t)
    values = sess.run([tf.shape(t) for t in tensors], feed_dict={x: example[:1]})
    with open(path, "w") as f:
        f.write(
            "# musicnn==0.1.0 MSD_musicnn graph built by musicnn.models.define_model(x, False, 'MSD_musicnn', 50)\n"
        )
        f.write("# under tf.name_scope('model'); input x: [batch, 187, 96] (frames, mel bands).\n")
        f.write("# Shapes with batch = 1 (run-time tf.shape); static shape in brackets.\n\n")
        f.write("## named outputs (what models.build_musicnn returns)\n")
        for key, t in outputs.items():
            shp = sess.run(tf.shape(t), feed_dict={x: example[:1]})
            f.write(f"{key:12s} {t.name:52s} {[int(d) for d in shp]}  static {t.shape.as_list()}\n")
        f.write("\n## every conv / batch-norm / pool / concat / pad / transpose / add / dense op, graph order\n")
        for t, v in zip(tensors, values, strict=True):
            note = "   (variance + epsilon, per feature)" if t.name.endswith("batchnorm/add:0") else ""
            f.write(f"{t.op.type:17s} {t.name:58s} {[int(d) for d in v]}{note}\n")


def run(sess, x, outputs, batch: np.ndarray) -> dict[str, np.ndarray]:
    keys = ["taggram", "logits", "mean_pool", "max_pool", "penultimate"]
    vals = sess.run([outputs[k] for k in keys], feed_dict={x: batch})
    return {k: np.asarray(v, dtype=np.float32) for k, v in zip(keys, vals, strict=True)}


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--audio-dir", type=Path, default=root.parent / "shared" / "data" / "librosa")
    ap.add_argument("--out", type=Path, default=root / "tests" / "fixtures" / "musicnn")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    tf, sess, x, outputs, prefix, tags = build_graph()
    t_build = time.perf_counter() - t0
    write_variables(tf, prefix, args.out / "variables.txt")
    print(f"graph built + restored in {t_build:.1f} s; wrote variables.txt")

    import librosa

    t = time.perf_counter()
    run(sess, x, outputs, np.zeros((1, N_FRAMES, N_MELS), np.float32))  # warm-up (graph optimisation)
    log_mel(np.zeros(SR, np.float32))  # warm-up (librosa's first call)
    t_warm = time.perf_counter() - t

    arrays: dict[str, np.ndarray] = {"tags": np.array(tags, dtype=np.str_)}
    timings = {}

    # a. synthetic: store input patches and outputs
    t = time.perf_counter()
    audio = synthetic_clip()
    mel = log_mel(audio)
    batch = patches(mel)
    t_front = time.perf_counter() - t
    out = run(sess, x, outputs, batch)
    timings["synthetic"] = (t_front, time.perf_counter() - t - t_front)
    arrays["synthetic/mel"] = batch
    for k, v in out.items():
        arrays[f"synthetic/{k}"] = v
    arrays["synthetic/audio_head"] = audio[:256].copy()
    arrays["synthetic/audio_stats"] = np.array(
        [audio.size, audio.astype(np.float64).sum(), (audio.astype(np.float64) ** 2).sum(), np.abs(audio).max()],
        dtype=np.float32,
    )
    write_layer_shapes(tf, sess, x, outputs, args.out / "layer_shapes.txt", batch)

    # b. recordings: outputs + first patch's per-band mean
    for name, fname in RECORDINGS.items():
        t = time.perf_counter()
        y, _ = librosa.load(args.audio_dir / fname, sr=SR, mono=True)
        y = y[: int(RECORDING_SECONDS * SR)]
        mel = log_mel(y)
        batch = patches(mel)
        t_front = time.perf_counter() - t
        out = run(sess, x, outputs, batch)
        timings[name] = (t_front, time.perf_counter() - t - t_front)
        for k, v in out.items():
            arrays[f"{name}/{k}"] = v
        arrays[f"{name}/mel_patch0_band_mean"] = batch[0].mean(axis=0).astype(np.float32)
        with np.errstate(over="ignore"):
            f16 = np.log10(10000 * mel_power_f16(y) + 1)
        print(
            f"{name}: {y.size} samples, {mel.shape[0]} frames, {batch.shape[0]} patches; "
            f"float16 path would give {int(np.isinf(f16).sum())} inf of {f16.size}"
        )

    for k, v in arrays.items():
        if v.dtype.kind == "f":
            assert v.dtype == np.float32 and np.all(np.isfinite(v)), k
    np.savez_compressed(args.out / "reference.npz", **arrays)
    sess.close()
    chk = np.load(args.out / "reference.npz", allow_pickle=False)
    for k in chk.files:
        print(f"  {k:32s} {chk[k].dtype} {chk[k].shape}")
    print(
        f"timings (s): build+restore {t_build:.2f}, warm-up {t_warm:.2f}; (load+front-end, inference):",
        {k: (round(a, 3), round(b, 3)) for k, (a, b) in timings.items()},
    )
    print(f"reference.npz: {(args.out / 'reference.npz').stat().st_size} bytes")


def mel_power_f16(y: np.ndarray) -> np.ndarray:
    """Only for the report: the package's own float16 cast (extractor.py line 47)."""
    import librosa

    s = librosa.feature.melspectrogram(y=y, sr=SR, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS).T
    return s.astype(np.float16)


if __name__ == "__main__":
    main()
