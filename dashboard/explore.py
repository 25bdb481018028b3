"""The Explore page's sections and figures, cached once per clip and parameter set.

A clip is known by :func:`clip_key`, a digest of its samples, so a dataset track,
an upload and a recording are cached alike. Each figure is made once per clip and
per parameter it depends on (the MFCCs by ``n_fft``, ``hop_length``, ``n_mels``
and ``n_mfcc``; the waveform by none), so moving one slider redraws only the
figures that slider changes.

Figures are kept with ``st.cache_resource``: the page hands them to
``st.plotly_chart`` and never changes them, and ``st.cache_data`` would unpickle
and re-validate every figure on every rerun (about 60 ms each). The taggram, a
network run of seconds, is kept once per clip in a store of the server's own, so
that its first run can show a progress bar.

Every figure but the taggram comes in two kinds (``interactive``): a plotly figure
(hover, zoom) or an image drawn on the server (:mod:`mgc.plots.images`), which spares
a new tab evaluating plotly's bundle; :func:`show` draws either.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np
import streamlit as st

from mgc import plots
from mgc.audio import represent
from mgc.plots import images
from mgc.plots.explore import PLOT_WIDTH

from .widgets import progress_bar

#: Figures kept per step (clips x parameter sets), across sessions.
MAX_FIGURES = 48
#: Taggrams kept, across sessions (one per clip).
MAX_TAGGRAMS = 32
#: Points of the waveform envelope and the spectrum: two per pixel of the plot area is all a screen shows.
LINE_POINTS = 2 * PLOT_WIDTH


def clip_key(y, sr: int) -> str:
    """A short digest of a clip's samples and rate: the cache key of its figures."""
    digest = hashlib.blake2b(np.ascontiguousarray(y).data, digest_size=12)
    digest.update(str(sr).encode())
    return digest.hexdigest()


@st.cache_data(show_spinner="Decoding audio...", max_entries=8)
def decoded_bytes(data: bytes, name: str, max_duration: float):
    """:func:`mgc.audio.usable` of an upload or a recording (the one readability rule, as Classify applies it),
    cached on its bytes (reruns do not decode it again)."""
    from mgc.audio import usable

    return usable(data, name=name, max_duration=max_duration)


@st.cache_data(show_spinner=False, max_entries=8)
def wav_bytes(key: str, _y, sr: int) -> bytes:
    """The clip as 16-bit WAV for ``st.audio``, encoded once per clip (not on every rerun)."""
    from .data import to_wav

    return to_wav(_y, sr)


@contextmanager
def section(label: str, *, key: str, expanded: bool = False):
    """An expander whose content runs only while it is open; yields whether it is open.

    Opening or closing it reruns the page, so a closed section costs nothing.
    """
    box = st.expander(label, expanded=expanded, key=f"explore_{key}", on_change="rerun")
    with box:
        yield bool(box.open)


def show(figure) -> None:
    """Draw a figure of this module: a plotly figure, or an :class:`mgc.plots.images.Picture` at the page's width
    with its parameters as the caption."""
    if isinstance(figure, images.Picture):
        st.image(figure.png, caption=figure.caption or None, width="stretch")
    else:
        st.plotly_chart(figure, theme=None)


@st.cache_resource(max_entries=MAX_FIGURES, show_spinner=False)
def waveform_figure(key: str, _y, sr: int, interactive: bool = True):
    """:func:`mgc.plots.waveform` of the clip (``interactive``), else :func:`mgc.plots.images.waveform`."""
    wave = represent.waveform(_y, sr=sr, max_points=LINE_POINTS)
    return plots.waveform(wave) if interactive else images.waveform(wave)


@st.cache_resource(max_entries=MAX_FIGURES, show_spinner=False)
def spectrum_figure(key: str, _y, sr: int, db: bool, interactive: bool = True):
    """:func:`mgc.plots.power_spectrum` (or its image) of the clip, in dB or linear magnitude."""
    spec = represent.power_spectrum(_y, sr=sr, max_points=LINE_POINTS)
    return plots.power_spectrum(spec, db=db) if interactive else images.power_spectrum(spec, db=db)


@st.cache_resource(max_entries=MAX_FIGURES, show_spinner=False)
def stft_figure(key: str, _y, sr: int, n_fft: int, hop_length: int, db: bool, interactive: bool = True):
    """:func:`mgc.plots.spectrogram` (or its image) of the clip's STFT, linear (``db=False``) or in dB."""
    compute = represent.log_spectrogram if db else represent.stft
    spec = compute(_y, sr=sr, n_fft=n_fft, hop_length=hop_length)
    return plots.spectrogram(spec) if interactive else images.spectrogram(spec)


@st.cache_resource(max_entries=MAX_FIGURES, show_spinner=False)
def filterbank_figure(sr: int, n_fft: int, n_mels: int, interactive: bool = True):
    """:func:`mgc.plots.mel_filterbank` or its image (no clip: the filters depend on the parameters only)."""
    bank = represent.mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels)
    return plots.mel_filterbank(bank) if interactive else images.mel_filterbank(bank)


@st.cache_resource(max_entries=MAX_FIGURES, show_spinner=False)
def mel_figure(key: str, _y, sr: int, n_fft: int, hop_length: int, n_mels: int, interactive: bool = True):
    """:func:`mgc.plots.spectrogram` (or its image) of the clip's mel spectrogram in dB."""
    spec = represent.mel_spectrogram(_y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
    return plots.spectrogram(spec) if interactive else images.spectrogram(spec)


@st.cache_resource(max_entries=MAX_FIGURES, show_spinner=False)
def mfcc_figure(key: str, _y, sr: int, n_fft: int, hop_length: int, n_mels: int, n_mfcc: int, interactive: bool = True):
    """:func:`mgc.plots.mfcc` (or its image) of the clip, with the study's segments marked."""
    segments, _ = represent.segment_bounds(min(len(_y), int(represent.MAX_DURATION * sr)), sr=sr)
    m = represent.mfcc(_y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, n_mfcc=n_mfcc)
    return plots.mfcc(m, segments=segments) if interactive else images.mfcc(m, segments=segments)


@st.cache_resource(show_spinner=False)
def _taggrams() -> tuple[OrderedDict, threading.Lock]:
    """The taggrams made on this server, newest last (at most :data:`MAX_TAGGRAMS`), and their lock."""
    return OrderedDict(), threading.Lock()


def taggram(key: str, y, sr: int):
    """:func:`mgc.features.taggram` of the clip, once per clip on this server, with a progress bar while it runs.

    Kept in a store of this server's own rather than ``st.cache_data``: a cached
    function may not draw into the page (its progress bar), and the taggram is
    worth one.
    """
    from mgc.features import taggram as compute

    store, lock = _taggrams()
    with lock:
        if key in store:
            store.move_to_end(key)
            return store[key]
    text = "Running the musicnn tagger over the clip's windows (the first run also loads TensorFlow and the model):"
    with progress_bar(text) as update:
        result = compute(y, sr=sr, on_progress=update)
    with lock:
        store[key] = result
        while len(store) > MAX_TAGGRAMS:
            store.popitem(last=False)
    return result
