"""An offline demo dataset of procedurally synthesized music, in GTZAN's folder layout.

This is **not GTZAN** and holds no recorded music. It exists so that a user without
the GTZAN download, and the test-suite, can run the whole pipeline (features,
training, evaluation, classification, the dashboard) offline and in seconds.

:func:`write_demo_dataset` writes ``root/genres/<style>/<style>.000NN.wav`` (16-bit
PCM, mono, 22050 Hz, 30 s by default), the layout :mod:`mgc.dataset` expects from
GTZAN, so class names come from folder names as usual. The styles
(:data:`DEMO_STYLES`) are deliberately named so that they cannot be mistaken for
GTZAN's genres.

Every clip is built from a few layers (pads, plucks, power chords, square-wave
leads, a drum machine, bass lines) on a random key, tempo, timbre, loudness and
noise floor. To keep the task from being trivial, styles share layers (quiet drums,
bass and pads turn up in several of them) and each clip is cut into sections in
which layers come and go, so some 3-s segments hold little of their style's
signature sound. Models trained on these clips reach different, imperfect
accuracies rather than 100 %, which is what a demo of the comparison needs; the
numbers say nothing about GTZAN.

Generation is deterministic: each clip is seeded from ``(seed, style index, clip
index)``, so the same arguments give byte-identical files.
"""

from __future__ import annotations

import collections
import functools
import itertools
import math
import numbers
import os
import pathlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import soundfile as sf
from scipy import signal

from ..config import SR, TRACK_DURATION
from ..errors import DatasetError, ParameterError, check_positive_int
from ..fileio import atomic_write

__all__ = ["DEMO_STYLES", "synthesize_clip", "write_demo_dataset"]

#: The demo dataset's styles, in the order that fixes each style's seed.
DEMO_STYLES = (
    "ambient-drone",
    "plucked-arpeggio",
    "drum-machine",
    "distorted-power-chords",
    "chiptune",
)

_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
#: Chord progressions as 0-based scale degrees, one chord per step.
_PROGRESSIONS = (
    (0, 4, 5, 3),
    (0, 5, 3, 4),
    (5, 3, 0, 4),
    (0, 3, 4, 3),
    (0, 0, 3, 4),
    (0, 6, 5, 6),
    (0, 3, 0, 4),
    (0, 2, 3, 4),
)


# --------------------------------------------------------------------------- validation


def _check_duration(duration):
    if (
        isinstance(duration, bool)
        or not isinstance(duration, numbers.Real)
        or not math.isfinite(duration)
        or duration <= 0
    ):
        raise ParameterError(f"duration={duration!r} must be a finite number of seconds > 0")
    return float(duration)


def _check_style(style):
    if style not in DEMO_STYLES:
        raise ParameterError(f"style={style!r} is not a demo style; accepted: {', '.join(DEMO_STYLES)}")
    return style


def _n_samples(duration, sr):
    n = int(round(duration * sr))
    if n < 1:
        raise ParameterError(f"duration={duration!r} at sr={sr} gives {n} samples; at least 1 is needed")
    return n


# --------------------------------------------------------------------------- building blocks

_F = np.float32
_TABLE_SIZE = 4096
_NOISE_LEN = 2**17
_CTRL = 64  # control-rate hop for slow modulations, in samples
_MAX_WORKERS = 4  # threads rendering clips in write_demo_dataset


def _mtof(midi):
    """MIDI note number(s) to frequency in Hz."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69.0) / 12.0)


def _chord(root, scale, degree, n_notes=3):
    """MIDI notes of the diatonic chord on ``degree`` (stacked thirds)."""
    idx = degree + 2 * np.arange(n_notes)
    return root + scale[idx % 7] + 12 * (idx // 7)


@functools.lru_cache(maxsize=None)
def _table(name):
    """One cycle of a waveform, ``_TABLE_SIZE`` float32 samples, peak 1."""
    ph = np.arange(_TABLE_SIZE) / _TABLE_SIZE

    def additive(amps):
        h = np.arange(1, len(amps) + 1)
        return np.sin(2 * np.pi * np.outer(ph, h)) @ np.asarray(amps, dtype=float)

    if name == "sine":
        y = np.sin(2 * np.pi * ph)
    elif name == "triangle":
        y = additive([(-1) ** ((h - 1) // 2) / h**2 if h % 2 else 0.0 for h in range(1, 32)])
    elif name == "saw":
        y = additive([1.0 / h for h in range(1, 48)])
    elif name == "square":
        y = additive([1.0 / h if h % 2 else 0.0 for h in range(1, 48)])
    elif name.startswith("pulse"):  # naive chip pulses: pulse12, pulse25, pulse50
        y = np.where(ph < int(name[5:]) / 100.0, 1.0, -1.0)
        y -= y.mean()
    elif name == "pluck-bright":
        y = additive([h**-0.9 * (1.0 + 0.3 * np.cos(h)) for h in range(1, 16)])
    elif name == "pluck-dull":
        y = additive([1.0, 0.35, 0.12])
    else:  # pragma: no cover - internal names only
        raise KeyError(name)
    return (y / np.max(np.abs(y))).astype(_F)


def _osc(phase, name):
    """Look ``phase`` (cycles, float32) up in a waveform table."""
    idx = (phase * _F(_TABLE_SIZE)).astype(np.int32)
    idx &= _TABLE_SIZE - 1
    return _table(name).take(idx)


@functools.lru_cache(maxsize=4)
def _noise_bank(sr):
    """Fixed, unit-RMS noise loops (white, pink-ish, brown, hiss, wind) at ``sr``.

    Made once per rate from a fixed seed; clips take randomly shifted loops of them,
    which keeps generation fast and deterministic.
    """
    g = np.random.default_rng(20240611)
    white = g.standard_normal(_NOISE_LEN)
    brown = signal.lfilter([1.0], [1.0, -0.995], white)
    # Pink-ish: one-pole low-passes at spread corners, summed.
    poles = ((0.99, 3.0), (0.9, 1.0), (0.5, 0.5))
    pink = sum(signal.lfilter([1.0 - a], [1.0, -a], white) * w for a, w in poles)
    hiss = _filter(white, "high", min(4000.0, 0.4 * sr), sr)
    wind = _filter(white, "low", min(900.0, 0.4 * sr), sr, order=4)
    wind = _filter(wind, "high", min(150.0, 0.2 * sr), sr)
    bank = {"white": white, "pink": pink + 0.3 * white, "brown": brown, "hiss": hiss, "wind": wind}
    return {k: ((v - v.mean()) / (v.std() + 1e-12)).astype(_F) for k, v in bank.items()}


def _noise(rng, kind, n, sr):
    """``n`` samples of a noise loop, shifted and signed at random."""
    loop = _noise_bank(sr)[kind]
    start = int(rng.integers(_NOISE_LEN))
    sign = _F(1.0 if rng.random() < 0.5 else -1.0)
    return np.resize(np.roll(loop, -start), n) * sign


def _filter(x, btype, cutoff, sr, order=2):
    """A Butterworth low- or high-pass, with the cutoff kept below Nyquist."""
    if len(x) == 0:
        return np.asarray(x, dtype=_F)
    cutoff = min(float(cutoff), 0.45 * sr)
    sos = signal.butter(order, cutoff, btype=btype, fs=sr, output="sos")
    return signal.sosfilt(sos, x).astype(_F)


def _normalize(x, level):
    """Scale ``x`` to a peak of ``level`` (a silent ``x`` stays silent)."""
    peak = max(float(x.max()), -float(x.min())) if len(x) else 0.0
    return x * _F(level / peak) if peak > 1e-30 else x


def _slow(values_fn, n, sr):
    """Evaluate a slow modulation ``values_fn(t)`` at the control rate, held to ``n`` samples."""
    t = np.arange(0, n + _CTRL, _CTRL) / sr
    return np.repeat(values_fn(t).astype(_F), _CTRL)[:n]


def _line(onsets, n, sr, *values):
    """A monophonic line: time since onset and per-note values, held until the next onset.

    Parameters
    ----------
    onsets : np.ndarray [shape=(m,)]
        Note starts in samples, increasing.
    *values : np.ndarray [shape=(m,)]
        Per-note values (frequency, velocity, length, ...).

    Returns
    -------
    tso : np.ndarray [shape=(n,), dtype=float32]
        Seconds since the current note's onset.
    held : list of np.ndarray [shape=(n,), dtype=float32]
        Each value held over its note; zero before the first onset.
    """
    onsets = np.asarray(onsets, dtype=np.int64)
    keep = (onsets >= 0) & (onsets < n)
    keep &= np.diff(onsets, prepend=-1) > 0  # drop repeated onsets
    onsets = onsets[keep]
    if len(onsets) == 0:
        return np.zeros(n, _F), [np.zeros(n, _F) for _ in values]
    head = int(onsets[0])
    lengths = np.diff(np.append(onsets, n))
    tso = np.zeros(n, _F)
    if n <= 2**24:  # float32 counts samples exactly up to 2**24, and is faster
        tso[head:] = np.arange(head, n, dtype=_F)
        tso[head:] -= np.repeat(onsets.astype(_F), lengths)
    else:
        tso[head:] = np.arange(head, n) - np.repeat(onsets, lengths)
    tso *= _F(1.0 / sr)
    held = []
    for v in values:
        h = np.zeros(n, _F)
        h[head:] = np.repeat(np.asarray(v, dtype=_F)[keep], lengths)
        held.append(h)
    return tso, held


def _decay(tso, tau, attack=0.003):
    """exp(-t/tau) with a short linear attack."""
    env = np.exp(tso * _F(-1.0 / tau))
    env *= np.minimum(tso * _F(1.0 / attack), _F(1.0))
    return env


def _place(out, template, times, vels, sr):
    """Add ``template`` into ``out`` at ``times`` (s) scaled by ``vels`` (one slice per hit)."""
    n = len(out)
    for t, v in zip(times, vels, strict=True):
        i = int(t * sr)
        if 0 <= i < n:
            m = min(len(template), n - i)
            out[i : i + m] += _F(v) * template[:m]


class _Song:
    """The random musical frame every layer of one clip shares."""

    def __init__(self, rng, n, sr, bpm_range):
        self.rng = rng
        self.n = n
        self.sr = sr
        self.bpm = float(rng.uniform(*bpm_range))
        self.beat = 60.0 / self.bpm
        self.step = self.beat / 4.0  # one 16th note, in seconds
        self.bar = 4.0 * self.beat
        self.duration = n / sr
        self.n_bars = int(math.ceil(self.duration / self.bar)) + 1
        self.root = int(rng.integers(36, 48))  # a bass-register tonic, C2..B2
        self.scale = _MINOR if rng.random() < 0.55 else _MAJOR
        prog = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
        self.chord_len = int(rng.choice([1, 1, 2])) * self.bar
        n_chords = int(math.ceil(self.duration / self.chord_len)) + 1
        self.degrees = np.array([prog[i % len(prog)] for i in range(n_chords)])
        # Seven stacked thirds per chord: columns 0..2 are the triad, 3.. extend it.
        self.chords = np.array([_chord(self.root, self.scale, int(d), 7) for d in self.degrees])
        self.swing = float(rng.uniform(0.0, 0.12)) if rng.random() < 0.4 else 0.0
        self.sections = self._make_sections()

    def _make_sections(self):
        # Section starts (s) on bar lines: 2..4 sections over the clip.
        n_sec = int(self.rng.integers(2, 5))
        bars = int(self.duration / self.bar)
        if bars < n_sec:
            return np.array([0.0])
        cuts = np.sort(self.rng.choice(np.arange(1, bars), size=n_sec - 1, replace=False))
        return np.concatenate([[0.0], cuts * self.bar])

    def chord_index(self, times):
        return np.minimum((np.asarray(times) // self.chord_len).astype(int), len(self.degrees) - 1)

    def grid(self, pattern):
        """Times (s) of a 16-step pattern repeated every bar, with swing."""
        steps = (np.arange(self.n_bars)[:, None] * 16 + np.asarray(pattern)[None, :]).ravel()
        steps = np.sort(steps)
        times = steps * self.step + (steps % 2) * self.swing * self.step
        return times[times < self.duration]

    def gain(self, p_on, *, low=0.0, ramp=0.08):
        """Per-sample gain that switches a layer on (~1) or to ``low`` per section."""
        on = self.rng.random(len(self.sections)) < p_on
        if not on.any():
            on[int(self.rng.integers(len(on)))] = True
        vals = (np.where(on, 1.0, low) * self.rng.uniform(0.7, 1.0, size=len(on))).astype(_F)
        starts = np.minimum((self.sections * self.sr).astype(np.int64), self.n)
        g = np.repeat(vals, np.diff(np.append(starts, self.n)))
        half = max(int(ramp * self.sr / 2), 1)
        for s, a, b in zip(starts[1:], vals[:-1], vals[1:], strict=True):
            lo, hi = max(s - half, 0), min(s + half, self.n)
            g[lo:hi] = np.linspace(a, b, hi - lo, dtype=_F)
        return g


# --------------------------------------------------------------------------- instruments


def _drum_kit(song, *, chip=False):
    """Templates for kick, snare and hat; ``chip`` gives 8-bit noise-channel drums."""
    rng, sr = song.rng, song.sr
    t = np.arange(int(0.4 * sr)) / sr
    f0, f1 = rng.uniform(110, 200), rng.uniform(40, 62)
    kick_f = f1 + (f0 - f1) * np.exp(-t / rng.uniform(0.015, 0.05))
    kick = np.sin(2 * np.pi * np.cumsum(kick_f) / sr) * np.exp(-t / rng.uniform(0.08, 0.25))
    click = int(0.002 * sr)
    kick[:click] += rng.uniform(0.1, 0.5) * rng.standard_normal(click)

    ts = t[: int(0.25 * sr)]
    noise = rng.standard_normal(len(ts))
    if chip:
        hold = int(rng.integers(2, 9))
        noise = np.repeat(np.sign(noise[::hold]), hold)[: len(ts)]
        kick = np.sign(kick) * np.abs(kick) ** 0.5 * np.exp(-t / 0.08)
    snare_noise = _filter(noise, "high", rng.uniform(600, 1500), sr)
    snare_noise *= np.exp(-ts / rng.uniform(0.04, 0.12))
    snare_tone = np.sin(2 * np.pi * rng.uniform(160, 260) * ts) * np.exp(-ts / 0.04)
    snare = snare_noise + rng.uniform(0.2, 0.7) * snare_tone

    th = t[: int(0.2 * sr)]
    hat_noise = noise[: len(th)] if chip else rng.standard_normal(len(th))
    hat = _filter(hat_noise, "high", rng.uniform(5000, 9000), sr)
    hat *= np.exp(-th / rng.uniform(0.01, 0.045))
    return kick.astype(_F), snare.astype(_F), hat.astype(_F)


def _drums(song, *, level, chip=False, sparse=False):
    """A drum-machine pattern (kick, snare, hats, ghost notes); parts switch by section."""
    rng, n, sr = song.rng, song.n, song.sr
    kick, snare, hat = _drum_kit(song, chip=chip)
    kick_patterns = ([0, 4, 8, 12], [0, 8, 10], [0, 7, 10], [0, 6, 8], [0, 3, 8, 11], [0, 10])
    kp = [0] if sparse else kick_patterns[int(rng.integers(len(kick_patterns)))]
    sp = [4, 12] if rng.random() < 0.8 else [8]
    hp = list(range(0, 16, 2)) if rng.random() < 0.55 else list(range(16))
    parts = [(kick, kp, 1.0, 0.9), (hat, hp, rng.uniform(0.15, 0.4), 0.7)]
    if not sparse or rng.random() < 0.3:
        parts.append((snare, sp, rng.uniform(0.4, 0.8), 0.8))
    out = np.zeros(n, _F)
    for template, pattern, part_level, p_on in parts:
        times = song.grid(pattern)
        accents = np.where(np.round(times / song.step) % 4 == 0, 1.0, rng.uniform(0.5, 0.9))
        vels = part_level * accents * rng.uniform(0.8, 1.0, size=len(times))
        layer = np.zeros(n, _F)
        _place(layer, template, times, vels, sr)
        out += layer * song.gain(p_on)
    if not sparse and rng.random() < 0.5:  # ghost snares
        times = song.grid(rng.choice(16, size=3, replace=False))
        _place(out, snare, times, rng.uniform(0.05, 0.2, size=len(times)), sr)
    return _normalize(out, level)


def _bass(song, *, level, shape=None, pattern=None):
    """A bass line on the chord roots."""
    rng, n, sr = song.rng, song.n, song.sr
    shape = shape or str(rng.choice(["sine", "triangle", "saw", "square"]))
    if pattern is None:
        choices = ([0], [0, 8], [0, 6, 8, 14], [0, 4, 8, 12], [0, 3, 6, 10, 12])
        pattern = choices[int(rng.integers(len(choices)))]
    times = song.grid(pattern)
    notes = song.chords[song.chord_index(times), 0].astype(float)
    notes += rng.choice([0, 0, 0, 12], size=len(times))
    tso, (freq,) = _line((times * sr).astype(np.int64), n, sr, _mtof(notes))
    x = _osc(freq * tso, shape) * _decay(tso, rng.uniform(0.15, 0.8), attack=0.005)
    return _normalize(x, level)


def _pad(song, *, level, shapes=("sine", "triangle")):
    """Sustained chords with slow vibrato, a chorus on the top voice, swells per chord."""
    rng, n, sr = song.rng, song.n, song.sr
    n_voices = int(rng.integers(3, 5))
    change = np.arange(len(song.degrees)) * song.chord_len
    fade = min(rng.uniform(0.3, 2.0), song.chord_len / 2)
    octave = 12 * int(rng.integers(1, 3))
    onsets = (change * sr).astype(np.int64)
    chords = song.chords[:, :n_voices] + octave
    tso, freqs = _line(onsets, n, sr, *_mtof(chords.T))
    rate, depth, phi = rng.uniform(0.1, 5.0), rng.uniform(0.001, 0.006), rng.uniform(0, 2 * np.pi)
    vib = _slow(lambda t: np.sin(2 * np.pi * rate * t + phi) * depth / (2 * np.pi * rate), n, sr)
    vib += tso  # time warped by the vibrato: phase = freq * (t + vib) is FM vibrato
    out = np.zeros(n, _F)
    for freq in freqs:
        shape = shapes[int(rng.integers(len(shapes)))]
        out += _osc(freq * vib, shape) * _F(rng.uniform(0.4, 1.0))
    # One detuned copy of the top voice gives the slow beating of a chorus.
    detuned = freqs[-1] * vib * _F(1.0 + rng.uniform(0.001, 0.005))
    out += _osc(detuned, shapes[0]) * _F(rng.uniform(0.3, 0.8))
    env = np.minimum(tso * _F(1.0 / fade), _F(1.0))  # fade in ...
    env *= np.clip((_F(song.chord_len) - tso) * _F(1.0 / fade), 0.0, 1.0)  # ... and out, per chord
    lfo_rate, lfo_phi = rng.uniform(0.02, 0.15), rng.uniform(0, 2 * np.pi)
    env *= _slow(lambda t: 0.6 + 0.4 * np.sin(2 * np.pi * lfo_rate * t + lfo_phi), n, sr)
    return _normalize(out * env, level)


def _plucks(song, *, level, step_choices=(2, 4), sparse=False):
    """Decaying plucks arpeggiating the chords (two alternating voices, so notes ring)."""
    rng, n, sr = song.rng, song.n, song.sr
    step = int(rng.choice(step_choices))  # in 16ths
    times = np.arange(0.0, song.duration, step * song.step)
    if sparse:
        times = times[rng.random(len(times)) < 0.3]
    if len(times) == 0:
        return np.zeros(n, _F)
    span = int(rng.integers(3, 8))
    mode = int(rng.integers(4))  # up, down, up-down, random
    k = np.arange(len(times))
    if mode == 0:
        pos = k % span
    elif mode == 1:
        pos = (span - 1) - k % span
    elif mode == 2:
        pos = np.abs((k % (2 * span - 2)) - (span - 1))
    else:
        pos = rng.integers(0, span, size=len(times))
    octave = 12 * int(rng.integers(1, 3))
    notes = song.chords[song.chord_index(times), pos] + octave
    vels = rng.uniform(0.6, 1.0, size=len(times))
    decay = rng.uniform(0.25, 1.2)
    bright_decay = decay / rng.uniform(3.0, 10.0)  # high harmonics die first
    out = np.zeros(n, _F)
    for voice in (0, 1):
        sel = slice(voice, None, 2)
        onsets = (times[sel] * sr).astype(np.int64)
        tso, (freq, vel) = _line(onsets, n, sr, _mtof(notes[sel]), vels[sel])
        phase = freq * tso
        body = _osc(phase, "pluck-dull") * _decay(tso, decay, attack=0.002)
        body += _osc(phase, "pluck-bright") * _decay(tso, bright_decay, attack=0.002)
        out += body * vel
    return _normalize(out, level)


def _power_chords(song, *, level):
    """Sawtooth power chords (root, fifth, octave) through a clipper and a cabinet low-pass."""
    rng, n, sr = song.rng, song.n, song.sr
    chug = rng.random() < 0.6
    step = 2 if chug else int(rng.choice([8, 16]))
    times = np.arange(0.0, song.duration, step * song.step)
    roots = song.chords[song.chord_index(times), 0] + 12 * int(rng.integers(0, 2))
    vels = rng.uniform(0.8, 1.0, len(times))
    tso, (freq, vel) = _line((times * sr).astype(np.int64), n, sr, _mtof(roots), vels)
    phase = freq * tso
    out = np.zeros(n, _F)
    for ratio in (1.0, 2 ** (7 / 12) * 1.002, 2.0 * 0.997):
        out += _osc(phase * _F(ratio), "saw")
    env = _decay(tso, rng.uniform(0.06, 0.15) if chug else rng.uniform(0.8, 3.0)) * vel
    drive = song.gain(0.8, low=0.05) * _F(rng.uniform(1.0, 5.0))  # clean sections now and then
    out *= env * drive
    out /= 1.0 + np.abs(out)  # a soft clipper
    out = _filter(out, "low", rng.uniform(2500, 5500), sr, order=2)
    return _normalize(out, level)


def _chip_lead(song, *, level):
    """A pulse-wave melody walking the scale, with a pulse width picked per clip."""
    rng, n, sr = song.rng, song.n, song.sr
    step = int(rng.choice([1, 2, 2, 4]))
    times = np.arange(0.0, song.duration, step * song.step)
    keep = rng.random(len(times)) < rng.uniform(0.6, 0.95)
    keep[0] = True
    times = times[keep]
    walk = np.cumsum(rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3], size=len(times)))
    degree = np.abs((walk % 28) - 14)  # fold the walk into two octaves
    notes = song.root + 24 + song.scale[degree % 7] + 12 * (degree // 7)
    tso, (freq,) = _line((times * sr).astype(np.int64), n, sr, _mtof(notes))
    gate = tso < _F(step * song.step * rng.uniform(0.5, 0.95))
    x = _osc(freq * tso, str(rng.choice(["pulse12", "pulse25", "pulse50"]))) * gate
    return _normalize(x, level)


def _chip_arp(song, *, level):
    """A fast chip arpeggio: chord tones cycled every 1-3 frames of 1/60 s."""
    rng, n, sr = song.rng, song.n, song.sr
    times = np.arange(0.0, song.duration, int(rng.integers(1, 4)) / 60.0)
    k = np.arange(len(times)) % 3
    notes = song.chords[song.chord_index(times), k] + 12
    tso, (freq,) = _line((times * sr).astype(np.int64), n, sr, _mtof(notes))
    x = _osc(freq * tso, str(rng.choice(["pulse12", "pulse25", "pulse50"])))
    return _normalize(x, level) * song.gain(0.7)


def _noise_floor(rng, x, sr):
    """Coloured background noise, sometimes mains hum, at a random SNR."""
    n = len(x)
    kind = str(rng.choice(["pink", "pink", "pink", "white", "brown", "hiss"]))
    noise = _noise(rng, kind, n, sr)
    if rng.random() < 0.25:
        mains = float(rng.choice([50.0, 60.0]))
        hum = _osc((np.arange(n) * (mains / sr) % 1.0).astype(_F), "square")
        noise += _F(rng.uniform(0.3, 1.5)) * hum
    snr_db = rng.uniform(25.0, 45.0)
    rms = math.sqrt(float(np.dot(x, x)) / max(n, 1)) + 1e-9
    return x + noise * _F(rms * 10 ** (-snr_db / 20.0))


# --------------------------------------------------------------------------- styles


# Each style = one signature layer, loud most of the time, plus quieter layers that
# several styles share (drums, bass, pads), so that some segments are ambiguous.


def _ambient_drone(song):
    rng = song.rng
    x = _pad(song, level=1.0) * song.gain(0.9, low=0.3)
    if rng.random() < 0.4:
        x += _pad(song, level=0.5, shapes=("sine",))
    if rng.random() < 0.6:  # a wind-like noise wash
        wash = _noise(rng, "wind", song.n, song.sr)
        rate, phi = rng.uniform(0.03, 0.2), rng.uniform(0, 2 * np.pi)
        wash *= _slow(lambda t: 0.5 + 0.5 * np.sin(2 * np.pi * rate * t + phi), song.n, song.sr)
        x += _normalize(wash, rng.uniform(0.1, 0.3))
    if rng.random() < 0.3:
        x += _plucks(song, level=rng.uniform(0.1, 0.3), step_choices=(4, 8), sparse=True)
    if rng.random() < 0.25:
        x += _drums(song, level=rng.uniform(0.1, 0.3), sparse=True) * song.gain(0.5)
    return x


def _plucked_arpeggio(song):
    rng = song.rng
    x = _plucks(song, level=1.0) * song.gain(0.9, low=0.15)
    if rng.random() < 0.5:
        x += _bass(song, level=rng.uniform(0.2, 0.5), shape=str(rng.choice(["sine", "triangle"])))
    if rng.random() < 0.3:
        x += _pad(song, level=rng.uniform(0.1, 0.25)) * song.gain(0.6)
    if rng.random() < 0.35:
        x += _drums(song, level=rng.uniform(0.15, 0.4)) * song.gain(0.6)
    return x


def _drum_machine(song):
    rng = song.rng
    x = _drums(song, level=1.0) * song.gain(0.9, low=0.2)
    if rng.random() < 0.85:
        pattern = [0, 3, 6, 10] if rng.random() < 0.3 else None
        x += _bass(song, level=rng.uniform(0.3, 0.7), pattern=pattern)
    if rng.random() < 0.25:
        x += _pad(song, level=rng.uniform(0.1, 0.3), shapes=("saw", "triangle")) * song.gain(0.5)
    if rng.random() < 0.2:
        x += _plucks(song, level=rng.uniform(0.1, 0.3), sparse=True) * song.gain(0.5)
    return x


def _distorted_power_chords(song):
    rng = song.rng
    x = _power_chords(song, level=1.0) * song.gain(0.9, low=0.15)
    if rng.random() < 0.9:
        x += _drums(song, level=rng.uniform(0.4, 0.8)) * song.gain(0.85)
    if rng.random() < 0.7:
        eighths = list(range(0, 16, 2))
        x += _bass(song, level=rng.uniform(0.2, 0.5), shape="saw", pattern=eighths)
    return x


def _chiptune(song):
    rng = song.rng
    x = _chip_lead(song, level=1.0) * song.gain(0.85, low=0.1)
    if rng.random() < 0.8:
        x += _chip_arp(song, level=rng.uniform(0.2, 0.5))
    if rng.random() < 0.8:
        eighths = list(range(0, 16, 2))
        x += _bass(song, level=rng.uniform(0.2, 0.5), shape="triangle", pattern=eighths)
    if rng.random() < 0.7:
        x += _drums(song, level=rng.uniform(0.2, 0.5), chip=rng.random() < 0.7) * song.gain(0.7)
    return x


_STYLE_SPECS = {
    "ambient-drone": (_ambient_drone, (50.0, 90.0)),
    "plucked-arpeggio": (_plucked_arpeggio, (70.0, 140.0)),
    "drum-machine": (_drum_machine, (80.0, 140.0)),
    "distorted-power-chords": (_distorted_power_chords, (90.0, 180.0)),
    "chiptune": (_chiptune, (100.0, 180.0)),
}


# --------------------------------------------------------------------------- public API


def synthesize_clip(style, *, rng, duration=float(TRACK_DURATION), sr=SR):
    """Synthesize one clip of a demo style.

    Parameters
    ----------
    style : str
        One of :data:`DEMO_STYLES`.
    rng : np.random.Generator
        Source of every random choice (key, tempo, timbre, sections, loudness, noise).
        The same generator state gives the same clip.
    duration : float > 0
        Length in seconds; the clip has ``round(duration * sr)`` samples.
    sr : int > 0
        Sample rate in Hz.

    Returns
    -------
    y : np.ndarray [shape=(round(duration * sr),), dtype=float32]
        Mono audio, peak-normalized to a random level in [0.3, 0.9], finite.

    Raises
    ------
    ParameterError
        If ``style`` is unknown, ``rng`` is not a ``np.random.Generator``, or
        ``duration`` or ``sr`` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> y = synthesize_clip("chiptune", rng=np.random.default_rng(0), duration=3.0)
    >>> y.shape, y.dtype
    ((66150,), dtype('float32'))
    """
    _check_style(style)
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(f"rng={rng!r} must be a numpy.random.Generator (e.g. numpy.random.default_rng(0))")
    duration = _check_duration(duration)
    sr = check_positive_int("sr", sr)
    n = _n_samples(duration, sr)

    render, bpm_range = _STYLE_SPECS[style]
    song = _Song(rng, n, sr, bpm_range)
    x = np.asarray(render(song), dtype=_F)

    # Clip-wide colour: sometimes a tone control and an echo, then the noise floor.
    if rng.random() < 0.3:
        x = _filter(x, "low", rng.uniform(4000.0, 10000.0), sr)
    if rng.random() < 0.3:
        d = int(rng.uniform(0.08, 0.4) * sr)
        g = _F(rng.uniform(0.15, 0.45))
        echo = np.zeros(n, _F)
        for k in (1, 2):  # two taps of a feedback-free delay
            if 0 < k * d < n:
                echo[k * d :] += g**k * x[: n - k * d]
        x = x + echo
    x = _noise_floor(rng, x, sr)

    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    x = _normalize(x, rng.uniform(0.3, 0.9))
    return np.clip(x, -1.0, 1.0).astype(_F)


def write_demo_dataset(
    root,
    *,
    clips_per_style=10,
    seed=0,
    duration=float(TRACK_DURATION),
    sr=SR,
    styles=None,
    on_progress: Callable[[int, int, str], None] | None = None,
):
    """Write the synthetic demo dataset in GTZAN's folder layout.

    Writes ``root/genres/<style>/<style>.000NN.wav`` for ``NN`` in
    ``0 .. clips_per_style - 1``: 16-bit PCM, mono, ``sr`` Hz, ``duration`` seconds.
    Existing files of the same names are overwritten (each file appears whole or
    not at all); other files are left alone.
    Clip ``i`` of style ``s`` is seeded from ``(seed, DEMO_STYLES.index(s), i)``, so
    files are byte-identical across runs and do not depend on which other styles
    are written.

    Parameters
    ----------
    root : str or os.PathLike
        Folder to write into (created if missing).
    clips_per_style : int > 0
        Number of clips per style.
    seed : int >= 0
        Seed of the whole dataset.
    duration : float > 0
        Length of each clip in seconds (GTZAN: 30).
    sr : int > 0
        Sample rate in Hz (GTZAN: 22050).
    styles : iterable of str, optional
        Subset of :data:`DEMO_STYLES` to write; all of them if None. A single
        string is taken as one style.
    on_progress : callable (done, total, message) -> None, optional
        Called after each clip is written.

    Returns
    -------
    genres : pathlib.Path
        ``root/genres``, the folder to hand to :mod:`mgc.dataset`.

    Raises
    ------
    ParameterError
        If an argument is out of range or of the wrong kind, or a style is unknown.
    DatasetError
        If the folders or files cannot be created under ``root``.

    Examples
    --------
    >>> genres = write_demo_dataset("demo_data", clips_per_style=2)  # doctest: +SKIP
    >>> sorted(p.name for p in genres.iterdir())  # doctest: +SKIP
    ['ambient-drone', 'chiptune', 'distorted-power-chords', 'drum-machine', 'plucked-arpeggio']
    """
    clips_per_style = check_positive_int("clips_per_style", clips_per_style)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be a non-negative integer")
    duration = _check_duration(duration)
    sr = check_positive_int("sr", sr)
    _n_samples(duration, sr)
    if on_progress is not None and not callable(on_progress):
        raise ParameterError(f"on_progress={on_progress!r} must be callable or None")
    if styles is None:
        styles = DEMO_STYLES
    elif isinstance(styles, str):
        styles = (styles,)
    elif not isinstance(styles, Iterable):
        raise ParameterError(f"styles={styles!r} must be an iterable of style names or None")
    styles = tuple(styles)
    not_str = [s for s in styles if not isinstance(s, str)]
    if not_str:
        raise ParameterError(f"styles={list(styles)!r} must hold style names (str), not {not_str!r}")
    styles = tuple(dict.fromkeys(styles))  # drop repeats, keep order
    if not styles:
        raise ParameterError(f"styles=() must name at least one style; accepted: {', '.join(DEMO_STYLES)}")
    unknown = [s for s in styles if s not in DEMO_STYLES]
    if unknown:
        raise ParameterError(
            f"styles={list(styles)!r} holds unknown style(s) {unknown!r}; accepted: {', '.join(DEMO_STYLES)}"
        )
    if not isinstance(root, (str, os.PathLike)):
        raise ParameterError(f"root={root!r} must be a path (str or os.PathLike)")

    genres = pathlib.Path(root) / "genres"
    for style in styles:
        try:
            (genres / style).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DatasetError(f"cannot create {str(genres / style)!r} under root={str(root)!r}: {e}") from e

    jobs = [(style, i) for style in styles for i in range(clips_per_style)]
    total = len(jobs)

    def render(job):
        style, i = job
        rng = np.random.default_rng([seed, DEMO_STYLES.index(style), i])
        return synthesize_clip(style, rng=rng, duration=duration, sr=sr)

    # numpy releases the GIL in its array loops, so a couple of threads render clips
    # side by side; files are written, and progress reported, in order, here.
    workers = max(1, min(_MAX_WORKERS, os.cpu_count() or 1, total))
    todo = iter(jobs)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        first = itertools.islice(todo, 2 * workers)
        pending = collections.deque((job, pool.submit(render, job)) for job in first)
        done = 0
        while pending:
            (style, i), future = pending.popleft()
            y = future.result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(render, nxt)))
            path = genres / style / f"{style}.{i:05d}.wav"
            try:  # never a half-written .wav, and a temporary name no other writer uses
                atomic_write(path, lambda f, y=y: sf.write(f, y, sr, subtype="PCM_16", format="WAV"))
            except (OSError, sf.SoundFileError) as e:
                raise DatasetError(f"cannot write {str(path)!r}: {e}") from e
            done += 1
            if on_progress is not None:
                on_progress(done, total, f"wrote {style}/{path.name}")
    return genres
