"""Explore's figures drawn on the server as PNG images (numpy and Pillow only), for a page without plotly.

A new browser tab that shows a plotly figure first evaluates plotly's 4.7 MB bundle, several
CPU-seconds on a small machine; an image costs the browser almost nothing. These pictures keep
what a reader needs from the plotly versions in :mod:`mgc.plots.explore`: titled axes with units,
ticks, a labelled colour bar, the same colour scales (plotly's, with a dark floor for dB) and the
study's segments, at one data column per pixel at most. They have no hover and no zoom.

Each function returns a :class:`Picture`: the PNG and a caption (the parameters and notes that the
plotly figure puts in its subtitle).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import ParameterError

if TYPE_CHECKING:
    from ..audio.represent import MFCC, MelFilterbank, Spectrogram, Spectrum, Waveform

#: Image size in pixels; shown at the page's width (about 1,000 px at 1440 x 900), so one image pixel is about
#: one screen pixel.
WIDTH, HEIGHT = 1000, 340
#: Margins around the plot area: left (tick labels, axis title), right (colour bar), top (title), bottom.
LEFT, RIGHT, TOP, BOTTOM = 78, 110, 44, 50
INK, GRID, MUTED = (38, 39, 48), (225, 225, 230), (110, 110, 120)


@dataclass(frozen=True)
class Picture:
    """A figure drawn as an image.

    Attributes
    ----------
    png : bytes
        The PNG file.
    title : str
        What the figure shows (also drawn in the image).
    caption : str
        The parameters and notes (as the plotly figure's subtitle).
    """

    png: bytes
    title: str
    caption: str


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=8)
def colormap(name: str) -> np.ndarray:
    """A 256-entry RGB lookup table of one of plotly's colour scales (``"Magma"``, ``"Viridis"``, ``"RdBu_r"``).

    Parameters
    ----------
    name : str
        A plotly colour scale name; ``_r`` reverses it.

    Returns
    -------
    np.ndarray [shape=(256, 3), dtype=uint8]
    """
    import plotly.colors as pc

    base, reverse = (name[:-2], True) if name.endswith("_r") else (name, False)
    try:
        scale = pc.get_colorscale(base)
    except Exception as e:  # plotly raises PlotlyError, a bare Exception subclass, for an unknown name
        raise ParameterError(f"colormap name={name!r} is not a plotly colour scale (e.g. 'Magma', 'RdBu_r')") from e
    stops = np.array([s for s, _ in scale], dtype=float)
    rgb = []
    for _, color in scale:
        if color.startswith("#"):
            rgb.append(pc.hex_to_rgb(color))
        else:
            rgb.append(pc.unlabel_rgb(color))
    rgb = np.array(rgb, dtype=float)
    t = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(t, stops, rgb[:, c]) for c in range(3)], axis=1)
    lut = lut[::-1] if reverse else lut
    return np.clip(np.round(lut), 0, 255).astype(np.uint8)


def nice_ticks(lo: float, hi: float, *, n: int = 7) -> np.ndarray:
    """Round tick values (1, 2 or 5 times a power of ten apart) inside ``[lo, hi]``, about ``n`` of them."""
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return np.array([lo]) if np.isfinite(lo) else np.array([])
    raw = (hi - lo) / max(n - 1, 1)
    power = 10 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = np.ceil(lo / step - 1e-9) * step
    ticks = np.arange(first, hi + step * 1e-6, step)
    return np.round(ticks, 10) + 0.0  # + 0.0: no '-0' label


def _label(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}"


class _Frame:
    """The plot area of one image, data ranges to pixels, and the text around it."""

    def __init__(self, *, x_range, y_range, colorbar: bool):
        self.image = Image.new("RGB", (WIDTH, HEIGHT), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.x0, self.y0 = LEFT, TOP
        self.x1 = WIDTH - (RIGHT if colorbar else 24)
        self.y1 = HEIGHT - BOTTOM
        self.x_range, self.y_range = (float(x_range[0]), float(x_range[1])), (float(y_range[0]), float(y_range[1]))

    @property
    def size(self) -> tuple[int, int]:
        return self.x1 - self.x0, self.y1 - self.y0

    def px(self, x) -> np.ndarray:
        lo, hi = self.x_range
        return self.x0 + (np.asarray(x, dtype=float) - lo) / max(hi - lo, 1e-12) * (self.x1 - self.x0)

    def py(self, y) -> np.ndarray:
        lo, hi = self.y_range
        return self.y1 - (np.asarray(y, dtype=float) - lo) / max(hi - lo, 1e-12) * (self.y1 - self.y0)

    def text(self, xy, text: str, *, size: int = 13, anchor: str = "la", fill=INK) -> None:
        self.draw.text(xy, text, font=_font(size), anchor=anchor, fill=fill)

    def vertical_text(self, center, text: str, *, size: int = 14) -> None:
        font = _font(size)
        box = self.draw.textbbox((0, 0), text, font=font)
        label = Image.new("RGB", (box[2] - box[0] + 4, box[3] - box[1] + 6), "white")
        ImageDraw.Draw(label).text((2 - box[0], 2 - box[1]), text, font=font, fill=INK)
        label = label.rotate(90, expand=True)
        self.image.paste(label, (int(center[0] - label.width / 2), int(center[1] - label.height / 2)))

    def axes(self, *, title: str, x_title: str, y_title: str, x_ticks=None, y_ticks=None, y_labels=None) -> None:
        """Frame, ticks with labels, axis titles and the figure's title."""
        d = self.draw
        d.rectangle([self.x0, self.y0, self.x1, self.y1], outline=MUTED)
        xt = nice_ticks(*self.x_range) if x_ticks is None else np.asarray(x_ticks, dtype=float)
        for v in xt:
            x = float(self.px(v))
            d.line([x, self.y1, x, self.y1 + 5], fill=MUTED)
            self.text((x, self.y1 + 7), _label(v), anchor="ma")
        yt = nice_ticks(*self.y_range) if y_ticks is None else np.asarray(y_ticks, dtype=float)
        labels = [_label(v) for v in yt] if y_labels is None else list(y_labels)
        for v, text in zip(yt, labels, strict=True):
            y = float(self.py(v))
            d.line([self.x0 - 5, y, self.x0, y], fill=MUTED)
            self.text((self.x0 - 8, y), text, anchor="rm")
        self.text(((self.x0 + self.x1) / 2, HEIGHT - 6), x_title, size=14, anchor="md")
        self.vertical_text((14, (self.y0 + self.y1) / 2), y_title)
        self.text((self.x0, 8), title, size=17, anchor="la")

    def colorbar(self, lut: np.ndarray, zmin: float, zmax: float, title: str) -> None:
        """A vertical colour bar right of the plot area, its ticks in data units and its title on top."""
        left, width = self.x1 + 16, 14
        height = self.y1 - self.y0
        ramp = lut[np.linspace(255, 0, height).round().astype(int)]
        bar = np.repeat(ramp[:, None, :], width, axis=1)
        self.image.paste(Image.fromarray(bar, "RGB"), (left, self.y0))
        self.draw.rectangle([left, self.y0, left + width, self.y1], outline=MUTED)
        for v in nice_ticks(zmin, zmax, n=6):
            y = self.y1 - (v - zmin) / max(zmax - zmin, 1e-12) * height
            self.draw.line([left + width, y, left + width + 4, y], fill=MUTED)
            self.text((left + width + 6, y), _label(v), anchor="lm")
        self.text((left, self.y0 - 6), title, size=13, anchor="ld")

    def png(self) -> bytes:
        out = io.BytesIO()
        self.image.save(out, format="PNG", optimize=False, compress_level=3)
        return out.getvalue()


def _columns(values: np.ndarray, width: int, how: str) -> np.ndarray:
    """``values`` (rows x columns) pooled to at most ``width`` columns by blocks (max or mean); NaNs ignored."""
    n = values.shape[1]
    if n <= width:
        return values
    edges = np.linspace(0, n, width + 1).round().astype(int)
    reduce = np.maximum if how == "max" else np.add
    pooled = reduce.reduceat(np.nan_to_num(values, nan=-np.inf if how == "max" else 0.0), edges[:-1], axis=1)
    return pooled if how == "max" else pooled / np.diff(edges)


def _heat(
    frame: _Frame, values: np.ndarray, *, colorscale: str, zmin: float, zmax: float, how: str = "max"
) -> np.ndarray:
    """Paint ``values`` (rows bottom to top, columns left to right) over the plot area; return the LUT used."""
    width, height = frame.size
    v = _columns(np.asarray(values, dtype=float), width, how)
    lut = colormap(colorscale)
    span = zmax - zmin if zmax > zmin else 1.0
    index = np.clip((v - zmin) / span * 255, 0, 255)
    index = np.where(np.isfinite(index), index, 0).round().astype(np.uint8)
    rgb = lut[index[::-1]]  # image row 0 is the top: the highest row of values
    picture = Image.fromarray(rgb, "RGB").resize((width, height), Image.Resampling.NEAREST)
    frame.image.paste(picture, (frame.x0, frame.y0))
    return lut


def _segment_lines(frame: _Frame, starts, *, color=(34, 34, 34)) -> None:
    for s in starts:
        x = float(frame.px(s))
        for y in range(frame.y0, frame.y1, 6):
            frame.draw.line([x, y, x, min(y + 2, frame.y1)], fill=color)


def _truncation_note(obj) -> str | None:
    return f"first {obj.duration:.0f} s analysed" if getattr(obj, "truncated", False) else None


def waveform(wave: "Waveform", *, title: str = "Waveform and the study's 10 segments") -> Picture:
    """The waveform envelope (min and max per pixel column) with the study's segments shaded and numbered.

    Parameters
    ----------
    wave : mgc.audio.represent.Waveform
    title : str

    Returns
    -------
    Picture
    """
    peak = float(max(np.max(np.abs(wave.y_max), initial=0.0), np.max(np.abs(wave.y_min), initial=0.0)))
    peak = peak if peak > 0 else 1.0
    duration = max(float(wave.duration), 1e-3)
    frame = _Frame(x_range=(0.0, duration), y_range=(-1.05 * peak, 1.05 * peak), colorbar=False)
    d = frame.draw
    for i, ((start, end), full) in enumerate(zip(wave.segments, wave.segment_full, strict=True)):
        x0, x1 = float(frame.px(start)), float(frame.px(end))
        if full and i % 2 == 0:
            d.rectangle([x0, frame.y0, x1, frame.y1], fill=(242, 242, 242))
        elif not full:
            d.rectangle([x0, frame.y0, x1, frame.y1], fill=(250, 226, 226))
        color = MUTED if full else (225, 87, 89)
        frame.text(
            ((x0 + x1) / 2, frame.y0 - 2), str(i + 1) if full else f"{i + 1} (short: dropped)", anchor="md", fill=color
        )
    _segment_lines(
        frame,
        [s for s, _ in wave.segments] + ([wave.segments[-1][1]] if len(wave.segments) else []),
        color=(136, 136, 136),
    )
    zero = float(frame.py(0.0))
    d.line([frame.x0, zero, frame.x1, zero], fill=GRID)
    width, _ = frame.size
    times = np.asarray(wave.times, dtype=float)
    if times.size:
        column = np.clip(((times / duration) * width).astype(int), 0, width - 1)
        top = np.full(width, np.nan)
        bottom = np.full(width, np.nan)
        np.fmax.at(top, column, np.asarray(wave.y_max, dtype=float))
        np.fmin.at(bottom, column, np.asarray(wave.y_min, dtype=float))
        ys_top, ys_bottom = frame.py(top), frame.py(bottom)
        for c in np.flatnonzero(np.isfinite(top)):
            x = frame.x0 + c
            d.line([x, ys_top[c], x, max(ys_bottom[c], ys_top[c] + 1)], fill=(78, 121, 167))
    frame.axes(title=title, x_title="Time (s)", y_title="Amplitude")
    return Picture(frame.png(), title, _truncation_note(wave) or "")


def spectrogram(spec: "Spectrogram", *, title: str | None = None) -> Picture:
    """A spectrogram (linear |STFT|, STFT in dB, or mel spectrogram in dB) as :func:`mgc.plots.spectrogram` draws it.

    Parameters
    ----------
    spec : mgc.audio.represent.Spectrogram
    title : str or None

    Returns
    -------
    Picture
        Mel spectrograms get one equal row per band, labelled with band centres in Hz.
    """
    if spec.mel:
        kind, unit = f"Mel spectrogram ({len(spec.frequencies)} bands)", "dB"
    elif spec.db:
        kind, unit = "Log-spectrogram (STFT in dB)", "dB"
    else:
        kind, unit = "Spectrogram (|STFT|, linear)", "|STFT|"
    S = np.asarray(spec.S, dtype=float)
    finite = S[np.isfinite(S)]
    zmin, zmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    times = np.asarray(spec.times, dtype=float)
    end = float(times[-1]) if times.size else 1.0
    n = len(spec.frequencies)
    if spec.mel:
        frame = _Frame(x_range=(0.0, max(end, 1e-3)), y_range=(-0.5, n - 0.5), colorbar=True)
        ticks = np.unique(np.linspace(0, n - 1, 8).round().astype(int))
        labels = [f"{spec.frequencies[t]:,.0f}" for t in ticks]
        y_title = "Mel band centre (Hz)"
    else:
        top = float(spec.frequencies[-1]) if n else 1.0
        frame = _Frame(x_range=(0.0, max(end, 1e-3)), y_range=(0.0, top), colorbar=True)
        ticks, labels, y_title = None, None, "Frequency (Hz)"
    lut = _heat(frame, S, colorscale="Magma" if spec.db else "Viridis", zmin=zmin, zmax=zmax)
    frame.axes(title=title or kind, x_title="Time (s)", y_title=y_title, y_ticks=ticks, y_labels=labels)
    frame.colorbar(lut, zmin, zmax, unit)
    notes = [f"n_fft={spec.n_fft}, hop_length={spec.hop_length}", _truncation_note(spec)]
    return Picture(frame.png(), title or kind, ", ".join(x for x in notes if x))


def mfcc(m: "MFCC", *, segments: np.ndarray | None = None, title: str | None = None) -> Picture:
    """MFCCs over time (the study's Figure 2) as :func:`mgc.plots.mfcc` draws them: a diverging scale centred
    on 0 spanning 99 % of coefficients 1 and up, the segments' starts dotted.

    Parameters
    ----------
    m : mgc.audio.represent.MFCC
    segments : np.ndarray [shape=(k, 2)] or None
        Segment (start, end) times in seconds.
    title : str or None

    Returns
    -------
    Picture
    """
    M = np.asarray(m.M, dtype=float)
    rest = M[1:] if len(M) > 1 else M
    span = float(np.percentile(np.abs(rest), 99)) if rest.size else 1.0
    span = span if span > 0 else 1.0
    times = np.asarray(m.times, dtype=float)
    end = max(float(times[-1]) if times.size else 1.0, 1e-3)
    n = len(m.coefficients)
    frame = _Frame(x_range=(0.0, end), y_range=(-0.5, n - 0.5), colorbar=True)
    lut = _heat(frame, M, colorscale="RdBu_r", zmin=-span, zmax=span, how="mean")
    starts = [float(s) for s, _ in (segments if segments is not None else []) if s > 0]
    _segment_lines(frame, starts)
    ticks = np.arange(n) if n <= 20 else nice_ticks(0, n - 1)
    frame.axes(title=title or "MFCCs", x_title="Time (s)", y_title="Coefficient", y_ticks=ticks)
    frame.colorbar(lut, -span, span, "value")
    notes = [
        f"n_mfcc={n}, n_mels={m.n_mels}, n_fft={m.n_fft}, hop_length={m.hop_length}",
        "colours span 99% of coefficients 1+ (coefficient 0 saturates)" if len(M) > 1 else None,
        _truncation_note(m),
    ]
    return Picture(frame.png(), title or "MFCCs", ", ".join(x for x in notes if x))


def _polyline(frame: _Frame, x, y, *, color, width: int = 1) -> None:
    """A line through finite points, pooled to the min and max per pixel column when there are more points."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    px, py = frame.px(x[ok]), np.clip(frame.py(y[ok]), frame.y0, frame.y1)
    if px.size > 2 * frame.size[0]:  # more points than pixels: a vertical stroke per column keeps every peak
        column = np.clip((px - frame.x0).astype(int), 0, frame.size[0] - 1)
        top = np.full(frame.size[0], np.inf)
        bottom = np.full(frame.size[0], -np.inf)
        np.minimum.at(top, column, py)
        np.maximum.at(bottom, column, py)
        keep = np.isfinite(top)
        cols = frame.x0 + np.flatnonzero(keep)
        for c, t, b in zip(cols, top[keep], bottom[keep], strict=True):
            frame.draw.line([c, t, c, b], fill=color, width=width)
        points = list(zip(cols.tolist(), ((top[keep] + bottom[keep]) / 2).tolist(), strict=True))
    else:
        points = list(zip(px.tolist(), py.tolist(), strict=True))
    if len(points) > 1:
        frame.draw.line(points, fill=color, width=width)


def power_spectrum(spec: "Spectrum", *, db: bool = True, title: str | None = None) -> Picture:
    """The FFT of the whole clip over frequency, as :func:`mgc.plots.power_spectrum` draws it.

    Parameters
    ----------
    spec : mgc.audio.represent.Spectrum
    db : bool
        Power in dB relative to the peak (True) or linear magnitude (False).
    title : str or None

    Returns
    -------
    Picture
    """
    y = np.asarray(spec.power_db if db else spec.magnitude, dtype=float)
    y_title = "Power (dB re. peak)" if db else "Magnitude |FFT|"
    title = title or ("FFT: power spectrum of the whole clip" if db else "FFT: magnitude spectrum of the whole clip")
    finite = y[np.isfinite(y)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    pad = 0.04 * (hi - lo if hi > lo else 1.0)
    frame = _Frame(x_range=(0.0, spec.sr / 2), y_range=(lo - pad, hi + pad), colorbar=False)
    _polyline(frame, spec.frequencies, y, color=(78, 121, 167))
    frame.axes(title=title, x_title="Frequency (Hz)", y_title=y_title)
    notes = [f"bin spacing {spec.resolution:.3g} Hz", _truncation_note(spec)]
    return Picture(frame.png(), title, ", ".join(n for n in notes if n))


def mel_filterbank(bank: "MelFilterbank", *, title: str | None = None) -> Picture:
    """The triangular mel filters over frequency (the study's Figure 1), each scaled to a peak of 1, as
    :func:`mgc.plots.mel_filterbank` draws them (alternate filters in two colours).

    Parameters
    ----------
    bank : mgc.audio.represent.MelFilterbank
    title : str or None

    Returns
    -------
    Picture
    """
    weights = np.asarray(bank.weights, dtype=float)
    weights = weights / np.maximum(weights.max(axis=1, keepdims=True), 1e-12)
    frame = _Frame(x_range=(0.0, bank.sr / 2), y_range=(0.0, 1.05), colorbar=False)
    colors = ((78, 121, 167), (242, 142, 43))
    for m in range(bank.n_mels):
        nz = np.flatnonzero(weights[m] > 0)
        if not nz.size:
            continue
        lo, hi = max(nz[0] - 1, 0), min(nz[-1] + 1, len(bank.frequencies) - 1)
        _polyline(frame, bank.frequencies[lo : hi + 1], weights[m, lo : hi + 1], color=colors[m % 2])
    title = title or "Mel filterbank: triangular filters"
    frame.axes(title=title, x_title="Frequency (Hz)", y_title="Weight (peak = 1)")
    caption = f"{bank.n_mels} filters, n_fft={bank.n_fft}, sr={bank.sr} Hz" + (
        "; each scaled to peak 1" if bank.norm else ""
    )
    return Picture(frame.png(), title, caption)
