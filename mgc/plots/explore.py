"""Figures of the Explore page: one per representation of :mod:`mgc.audio.represent`, the tagger's taggram
(:mod:`mgc.features.tagger`) and the dataset overview."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import numpy as np
import plotly.graph_objects as go

from .style import HEIGHT, apply_style, class_colors

if TYPE_CHECKING:
    import pandas as pd

    from ..audio.represent import MFCC, MelFilterbank, Spectrogram, Spectrum, Waveform
    from ..features.tagger import Taggram


#: Plot area of a full-width figure on a 1440-px wide screen, in pixels (the page's column less the margins
#: and the colour bar): heatmaps hold at most one cell per pixel.
PLOT_WIDTH, PLOT_HEIGHT = 800, 250


def _pool(values: np.ndarray, axis_values: np.ndarray, *, axis: int, max_size: int, how: str):
    """Shrink ``values`` along ``axis`` to at most ``max_size`` by blocks (max or mean).

    Keeps plotly payloads small; the axis gets each block's mean position.
    """
    n = values.shape[axis]
    step = int(np.ceil(n / max_size))
    if step <= 1:
        return values, axis_values
    n_blocks = n // step
    keep = n_blocks * step
    v = np.moveaxis(values, axis, 0)[:keep]
    v = v.reshape(n_blocks, step, *v.shape[1:])
    v = v.max(axis=1) if how == "max" else v.mean(axis=1)
    a = np.asarray(axis_values, dtype=float)[:keep].reshape(n_blocks, step).mean(axis=1)
    return np.moveaxis(v, 0, axis), a


def _heatmap(
    values: np.ndarray,
    *,
    x: np.ndarray,
    y: np.ndarray,
    colorscale: str,
    colorbar_title: str,
    hover: str,
    max_x: int = PLOT_WIDTH,
    max_y: int = PLOT_HEIGHT,
    how: str = "max",
    **kwargs,
) -> go.Heatmap:
    values, x = _pool(values, x, axis=1, max_size=max_x, how=how)
    values, y = _pool(values, y, axis=0, max_size=max_y, how=how)
    if "zmin" not in kwargs and values.size:
        # the colour range from numpy here, so the browser does not scan every cell for it
        kwargs.update(zmin=float(np.nanmin(values)), zmax=float(np.nanmax(values)))
    return go.Heatmap(
        z=values.astype(np.float32),
        x=x.astype(np.float32),
        y=np.asarray(y, dtype=np.float32),
        colorscale=colorscale,
        colorbar=dict(title=dict(text=colorbar_title, side="right"), thickness=14),
        hovertemplate=hover + "<extra></extra>",
        **kwargs,
    )


def _truncation_note(obj) -> str | None:
    return f"first {obj.duration:.0f} s analysed" if getattr(obj, "truncated", False) else None


def waveform(wave: "Waveform", *, title: str = "Waveform and the study's 10 segments") -> go.Figure:
    """The waveform envelope with the study's segments shaded and numbered.

    Parameters
    ----------
    wave : mgc.audio.represent.Waveform
    title : str

    Returns
    -------
    go.Figure
    """
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=wave.times,
            y=wave.y_max,
            mode="lines",
            line=dict(width=0.8, color="#4E79A7"),
            name="max",
            showlegend=False,
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=wave.times,
            y=wave.y_min,
            mode="lines",
            line=dict(width=0.8, color="#4E79A7"),
            fill="tonexty",
            fillcolor="rgba(78,121,167,0.55)",
            name="amplitude",
            showlegend=False,
            hovertemplate="%{x:.2f} s<extra></extra>",
        )
    )
    shapes, labels = [], []
    line = dict(color="#888", width=1, dash="dot")
    for i, ((start, end), full) in enumerate(zip(wave.segments, wave.segment_full, strict=True)):
        fill = ("rgba(0,0,0,0.05)" if i % 2 == 0 else "rgba(0,0,0,0)") if full else "rgba(225,87,89,0.12)"
        band = dict(xref="x", yref="paper", y0=0, y1=1)
        shapes.append(dict(type="rect", x0=start, x1=end, fillcolor=fill, line_width=0, layer="below", **band))
        shapes.append(dict(type="line", x0=start, x1=start, line=line, **band))
        labels.append(
            dict(
                x=(start + end) / 2,
                y=1.0,
                yref="paper",
                yanchor="bottom",
                text=str(i + 1) if full else f"{i + 1} (short: dropped)",
                showarrow=False,
                font=dict(size=12, color="#555" if full else "#E15759"),
            )
        )
    if len(wave.segments):
        end = wave.segments[-1][1]
        shapes.append(dict(type="line", xref="x", yref="paper", x0=end, x1=end, y0=0, y1=1, line=line))
    fig.update_layout(shapes=shapes, annotations=labels)
    fig.update_xaxes(range=[0, max(wave.duration, 1e-3)])
    return apply_style(fig, title=title, x_title="Time (s)", y_title="Amplitude", subtitle=_truncation_note(wave))


def power_spectrum(spec: Spectrum, *, db: bool = True, title: str | None = None) -> go.Figure:
    """The FFT of the whole clip over frequency.

    Parameters
    ----------
    spec : mgc.audio.represent.Spectrum
    db : bool
        Power in dB relative to the peak (True) or linear magnitude (False, as in
        the study's tutorial figure).
    title : str or None
        Defaults to a title naming what is drawn (power or magnitude).

    Returns
    -------
    go.Figure
    """
    y = spec.power_db if db else spec.magnitude
    y_title = "Power (dB re. peak)" if db else "Magnitude |FFT|"
    title = title or ("FFT: power spectrum of the whole clip" if db else "FFT: magnitude spectrum of the whole clip")
    fig = go.Figure(
        go.Scatter(
            x=spec.frequencies,
            y=y,
            mode="lines",
            line=dict(width=1, color="#4E79A7"),
            hovertemplate="%{x:.1f} Hz<br>%{y:.1f}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, spec.sr / 2])
    notes = [f"bin spacing {spec.resolution:.3g} Hz", _truncation_note(spec)]
    return apply_style(
        fig, title=title, x_title="Frequency (Hz)", y_title=y_title, subtitle=", ".join(n for n in notes if n)
    )


def spectrogram(spec: "Spectrogram", *, title: str | None = None) -> go.Figure:
    """A spectrogram: linear |STFT|, STFT in dB, or mel spectrogram in dB.

    Mel spectrograms are drawn with one equal row per band (the mel scale), with
    the band centres in Hz as tick labels.

    Parameters
    ----------
    spec : mgc.audio.represent.Spectrogram
    title : str or None
        Defaults to a title naming the kind and the parameters.

    Returns
    -------
    go.Figure
    """
    params = f"n_fft={spec.n_fft}, hop_length={spec.hop_length}"
    if spec.mel:
        kind, colorbar = f"Mel spectrogram ({len(spec.frequencies)} bands)", "dB"
    elif spec.db:
        kind, colorbar = "Log-spectrogram (STFT in dB)", "dB"
    else:
        kind, colorbar = "Spectrogram (|STFT|, linear)", "|STFT|"
    colorscale = "Magma" if spec.db else "Viridis"
    if spec.mel:
        bands = np.arange(len(spec.frequencies))
        trace = _heatmap(
            spec.S,
            x=spec.times,
            y=bands,
            colorscale=colorscale,
            colorbar_title=colorbar,
            hover="%{x:.2f} s<br>band %{y:.0f}<br>%{z:.1f} dB",
            max_y=len(bands),
        )
        fig = go.Figure(trace)
        ticks = np.unique(np.linspace(0, len(bands) - 1, 8).round().astype(int))
        fig.update_yaxes(tickvals=ticks, ticktext=[f"{spec.frequencies[t]:,.0f}" for t in ticks])
        y_title = "Mel band centre (Hz)"
    else:
        unit = "dB" if spec.db else ""
        trace = _heatmap(
            spec.S,
            x=spec.times,
            y=spec.frequencies,
            colorscale=colorscale,
            colorbar_title=colorbar,
            hover="%{x:.2f} s<br>%{y:.0f} Hz<br>%{z:.2f} " + unit,
        )
        fig = go.Figure(trace)
        y_title = "Frequency (Hz)"
    notes = [params, _truncation_note(spec)]
    return apply_style(
        fig, title=title or kind, x_title="Time (s)", y_title=y_title, subtitle=", ".join(n for n in notes if n)
    )


def mel_filterbank(bank: "MelFilterbank", *, unit_peak: bool = True, title: str | None = None) -> go.Figure:
    """The triangular mel filters over frequency (the study's Figure 1).

    Parameters
    ----------
    bank : mgc.audio.represent.MelFilterbank
    unit_peak : bool
        Draw every triangle with a peak of 1, so that the narrow low filters and
        the wide high ones are equally visible (librosa's ``'slaney'`` filters have
        unit area instead, so their peaks fall with frequency).
    title : str or None

    Returns
    -------
    go.Figure
    """
    weights = bank.weights
    if unit_peak:
        weights = weights / np.maximum(weights.max(axis=1, keepdims=True), 1e-12)
    fig = go.Figure()
    colors = ("#4E79A7", "#F28E2B")
    for parity in (0, 1):
        xs, ys = [], []
        for m in range(parity, bank.n_mels, 2):
            nz = np.flatnonzero(weights[m] > 0)
            lo, hi = max(nz[0] - 1, 0), min(nz[-1] + 1, len(bank.frequencies) - 1)
            xs.extend(bank.frequencies[lo : hi + 1].tolist() + [None])
            ys.extend(weights[m, lo : hi + 1].tolist() + [None])
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line=dict(width=1.2, color=colors[parity]),
                showlegend=False,
                hovertemplate="%{x:.0f} Hz<br>weight %{y:.3f}<extra></extra>",
            )
        )
    fig.update_xaxes(range=[0, bank.sr / 2])
    subtitle = f"{bank.n_mels} filters, n_fft={bank.n_fft}, sr={bank.sr} Hz" + (
        "; each scaled to peak 1" if unit_peak and bank.norm else ""
    )
    return apply_style(
        fig,
        title=title or "Mel filterbank: triangular filters",
        x_title="Frequency (Hz)",
        y_title="Weight" + (" (peak = 1)" if unit_peak else ""),
        subtitle=subtitle,
    )


def mfcc(m: "MFCC", *, segments: np.ndarray | None = None, title: str | None = None) -> go.Figure:
    """MFCC heatmap, coefficients over time (the study's Figure 2).

    Parameters
    ----------
    m : mgc.audio.represent.MFCC
    segments : np.ndarray [shape=(k, 2)] or None
        Segment (start, end) times in seconds to mark with dotted lines
        (``Waveform.segments``): each segment is one example for the networks.
    title : str or None

    Returns
    -------
    go.Figure
    """
    # coefficient 0 (the overall level) is far larger than the rest: the colours span the others
    rest = m.M[1:] if len(m.M) > 1 else m.M
    span = float(np.percentile(np.abs(rest), 99)) if rest.size else 1.0
    span = span if span > 0 else 1.0
    trace = _heatmap(
        m.M,
        x=m.times,
        y=m.coefficients,
        colorscale="RdBu_r",
        colorbar_title="value",
        hover="%{x:.2f} s<br>MFCC %{y:.0f}<br>%{z:.1f}",
        max_y=len(m.coefficients),
        how="mean",
        zmid=0,
        zmin=-span,
        zmax=span,
    )
    fig = go.Figure(trace)
    starts = [float(start) for start, _ in (segments if segments is not None else []) if start > 0]
    line = dict(color="#222", width=1, dash="dot")
    fig.update_layout(
        shapes=[dict(type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1, line=line) for x in starts]
    )
    fig.update_yaxes(dtick=1 if len(m.coefficients) <= 20 else None)
    notes = [
        f"n_mfcc={len(m.coefficients)}, n_mels={m.n_mels}, n_fft={m.n_fft}, hop_length={m.hop_length}",
        "colours span 99% of coefficients 1+ (coefficient 0 saturates)" if len(m.M) > 1 else None,
        _truncation_note(m),
    ]
    return apply_style(
        fig,
        title=title or "MFCCs",
        x_title="Time (s)",
        y_title="Coefficient",
        subtitle=", ".join(n for n in notes if n),
    )


def taggram(tg: "Taggram", *, n_tags: int | None = 20, title: str | None = None) -> go.Figure:
    """The tagger's tag probabilities over time, most probable tags on top.

    Parameters
    ----------
    tg : mgc.features.Taggram
    n_tags : int > 0 or None
        Rows drawn: the tags with the highest mean probability over the clip;
        None draws all 50.
    title : str or None

    Returns
    -------
    go.Figure
        A heatmap, one row per tag and one column per window (drawn at the
        window's centre), its time axis spanning the clip as the MFCCs' does.
    """
    n = len(tg.tags) if n_tags is None else max(1, min(int(n_tags), len(tg.tags)))
    order = np.argsort(-tg.probabilities.mean(axis=0), kind="stable")[:n]
    z = tg.probabilities[:, order].T.astype(np.float32)
    top = float(z.max()) if z.size else 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=tg.times.astype(np.float32),
            y=[tg.tags[i] for i in order],
            colorscale="Viridis",
            zmin=0.0,
            zmax=max(top, 0.05),
            colorbar=dict(title=dict(text="probability", side="right"), thickness=14),
            hovertemplate="window centred at %{x:.1f} s<br>%{y}: %{z:.2f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=12), type="category")
    fig.update_xaxes(range=[0, max(tg.duration, 1e-3)])
    which = "all 50 tags" if n == len(tg.tags) else f"the {n} of {len(tg.tags)} tags most probable over the clip"
    subtitle = (
        f"{len(tg.times)} windows of {tg.window:.0f} s every {tg.hop:.2g} s; {which}; "
        f"colours up to the clip's highest probability ({top:.2f})"
    )
    return apply_style(
        fig,
        title=title or "Taggram: musicnn's Million Song Dataset tags over time",
        x_title="Time (s)",
        y_title="Tag",
        subtitle=subtitle,
        height=max(HEIGHT, 130 + 17 * n),
    )


def class_counts(counts: Mapping[str, int], *, title: str = "Tracks per class", y_title: str = "Tracks") -> go.Figure:
    """A bar per class, in the class's colour (:func:`class_colors`).

    Parameters
    ----------
    counts : mapping of str to int
        Class -> count, drawn in the mapping's order.
    title, y_title : str

    Returns
    -------
    go.Figure
    """
    names = list(counts)
    colors = class_colors(names)
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[counts[n] for n in names],
            marker_color=[colors[n] for n in names],
            text=[counts[n] for n in names],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{y}<extra></extra>",
        )
    )
    return apply_style(fig, title=title, x_title="Class", y_title=y_title)


def durations_by_class(table: "pd.DataFrame", *, title: str = "Track durations") -> go.Figure:
    """Each track's duration as a point, one column per class, in the class colours.

    Parameters
    ----------
    table : pandas.DataFrame
        With columns ``label``, ``duration`` (seconds) and ``track_id``
        (``DatasetSurvey.table``); rows without a duration are skipped.
    title : str

    Returns
    -------
    go.Figure
    """
    ok = table.dropna(subset=["duration"])
    labels = list(dict.fromkeys(table["label"]))
    colors = class_colors(labels)
    fig = go.Figure()
    for label in labels:
        rows = ok[ok["label"] == label]
        fig.add_trace(
            go.Box(
                x=rows["label"],
                y=rows["duration"],
                name=label,
                marker_color=colors[label],
                boxpoints="all",
                jitter=0.4,
                pointpos=0,
                customdata=rows["track_id"],
                hovertemplate="%{customdata}: %{y:.2f} s<extra></extra>",
                showlegend=False,
            )
        )
    return apply_style(fig, title=title, x_title="Class", y_title="Duration (s)")
