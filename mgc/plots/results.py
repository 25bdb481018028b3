"""Plotly figure factories: data in, ``go.Figure`` out (no Streamlit).

Every figure of the dashboard comes from here, so that they share one look: the
``"mgc"`` template (registered with plotly on import), titles, axis titles with
units, and one colour per class across all pages (:func:`class_colors`).

Sections
--------
- Shared style and class colours: :data:`TEMPLATE`, :func:`apply_style`,
  :func:`class_colors`.
- Explore page: one factory per representation of :mod:`mgc.represent`, and the
  dataset overview.

Add a new group of figures (training curves, confusion matrix, ...) as a new
headed section at the end of the file, built with :func:`apply_style` and
:func:`class_colors`.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Iterable, Mapping

import numpy as np
import pandas  # noqa: F401 - imported before plotly: plotly peeks at sys.modules["pandas"] without the import
#                lock, and a half-imported pandas (another session's thread) breaks its template set-up
import plotly.graph_objects as go
import plotly.io as pio

from .config import MODEL_TITLES

if TYPE_CHECKING:
    import pandas as pd

    from .represent import MFCC, MelFilterbank, Spectrogram, Spectrum, Waveform


# =========================================================================== #
# Shared style and class colours
# =========================================================================== #

#: Name of the plotly template every figure uses.
TEMPLATE = "mgc"
#: Default figure height, in pixels (fits a laptop screen with room for text).
HEIGHT = 380

def _template() -> go.layout.Template:
    """``plotly_white`` with larger type, left-aligned titles and the genre colours as colorway."""
    template = go.layout.Template(pio.templates["plotly_white"])
    template.layout.update(
        font=dict(family="'Source Sans Pro', 'Source Sans 3', Arial, sans-serif", size=14, color="#262730"),
        title=dict(font=dict(size=17), x=0.0, xanchor="left", xref="paper"),
        margin=dict(l=70, r=30, t=60, b=55),
        height=HEIGHT,
        hovermode="closest",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
        colorway=["#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
                  "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#5A5A5A"],
    )
    return template


pio.templates[TEMPLATE] = _template()

#: Fixed colour of each GTZAN genre, used on every page.
GENRE_COLORS = {
    "blues": "#4E79A7",      # blue
    "classical": "#B07AA1",  # purple
    "country": "#9C755F",    # brown
    "disco": "#FF9DA7",      # pink
    "hiphop": "#F28E2B",     # orange
    "jazz": "#EDC948",       # yellow
    "metal": "#5A5A5A",      # dark grey
    "pop": "#76B7B2",        # teal
    "reggae": "#59A14F",     # green
    "rock": "#E15759",       # red
}

#: Colours for class names that are not GTZAN genres (none of them a genre's colour).
EXTRA_COLORS = (
    "#1B9E77", "#D95F02", "#7570B3", "#E7298A", "#66A61E", "#E6AB02",
    "#A6761D", "#1F78B4", "#B2DF8A", "#FB9A99", "#CAB2D6", "#6A3D9A",
    "#B15928", "#17BECF", "#BCBD22", "#8C564B",
)


def _genre_key(name: str) -> str:
    """``'Hip-Hop'`` -> ``'hiphop'``: class folders spell genres in several ways."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def class_colors(classes: Iterable[str]) -> dict[str, str]:
    """One fixed colour per class, the same on every page and for any order of ``classes``.

    The ten GTZAN genres get fixed colours (:data:`GENRE_COLORS`, matched
    ignoring case and punctuation, so ``"Hip-Hop"`` is ``hiphop``); any other
    name gets a colour of :data:`EXTRA_COLORS` chosen by a hash of the name, so
    it does not depend on which other classes are present.

    Parameters
    ----------
    classes : iterable of str
        Class names.

    Returns
    -------
    dict of str to str
        Class name -> ``"#RRGGBB"``.
    """
    out = {}
    for name in classes:
        key = _genre_key(name)
        if key in GENRE_COLORS:
            out[name] = GENRE_COLORS[key]
        else:
            digest = hashlib.sha1(str(name).encode("utf-8")).digest()
            out[name] = EXTRA_COLORS[int.from_bytes(digest[:4], "big") % len(EXTRA_COLORS)]
    return out


def apply_style(
    fig: go.Figure,
    *,
    title: str,
    x_title: str | None = None,
    y_title: str | None = None,
    subtitle: str | None = None,
    height: int | None = None,
) -> go.Figure:
    """Give a figure the house template, a title and axis titles (with units).

    Parameters
    ----------
    fig : go.Figure
    title : str
        Figure title.
    x_title, y_title : str or None
        Axis titles, with the unit in parentheses: ``"Time (s)"``.
    subtitle : str or None
        A smaller second line under the title.
    height : int or None
        Height in pixels; :data:`HEIGHT` by default.

    Returns
    -------
    go.Figure
        The same figure, for chaining.
    """
    fig.update_layout(template=TEMPLATE, title_text=title, height=height or HEIGHT)
    if subtitle:
        fig.update_layout(title_subtitle=dict(text=subtitle, font=dict(size=12, color="#666")), margin=dict(t=80))
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)
    if y_title is not None:
        fig.update_yaxes(title_text=y_title)
    return fig


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
    max_x: int = 800,
    max_y: int = 300,
    how: str = "max",
    **kwargs,
) -> go.Heatmap:
    values, x = _pool(values, x, axis=1, max_size=max_x, how=how)
    values, y = _pool(values, y, axis=0, max_size=max_y, how=how)
    return go.Heatmap(
        z=values.astype(np.float32), x=x.astype(np.float32), y=np.asarray(y, dtype=np.float32),
        colorscale=colorscale, colorbar=dict(title=dict(text=colorbar_title, side="right"), thickness=14),
        hovertemplate=hover + "<extra></extra>", **kwargs,
    )


# =========================================================================== #
# Explore page: the representations of mgc.represent
# =========================================================================== #

def _truncation_note(obj) -> str | None:
    return f"first {obj.duration:.0f} s analysed" if getattr(obj, "truncated", False) else None


def waveform(wave: "Waveform", *, title: str = "Waveform and the study's 10 segments") -> go.Figure:
    """The waveform envelope with the study's segments shaded and numbered.

    Parameters
    ----------
    wave : mgc.represent.Waveform
    title : str

    Returns
    -------
    go.Figure
    """
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=wave.times, y=wave.y_max, mode="lines", line=dict(width=0.8, color="#4E79A7"),
                             name="max", showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=wave.times, y=wave.y_min, mode="lines", line=dict(width=0.8, color="#4E79A7"),
                             fill="tonexty", fillcolor="rgba(78,121,167,0.55)", name="amplitude",
                             showlegend=False, hovertemplate="%{x:.2f} s<extra></extra>"))
    for i, ((start, end), full) in enumerate(zip(wave.segments, wave.segment_full)):
        fill = ("rgba(0,0,0,0.05)" if i % 2 == 0 else "rgba(0,0,0,0)") if full else "rgba(225,87,89,0.12)"
        fig.add_vrect(x0=start, x1=end, fillcolor=fill, line_width=0, layer="below")
        fig.add_vline(x=start, line=dict(color="#888", width=1, dash="dot"))
        label = str(i + 1) if full else f"{i + 1} (short: dropped)"
        fig.add_annotation(x=(start + end) / 2, y=1.0, yref="paper", yanchor="bottom", text=label,
                           showarrow=False, font=dict(size=12, color="#555" if full else "#E15759"))
    if len(wave.segments):
        fig.add_vline(x=wave.segments[-1][1], line=dict(color="#888", width=1, dash="dot"))
    fig.update_xaxes(range=[0, max(wave.duration, 1e-3)])
    return apply_style(fig, title=title, x_title="Time (s)", y_title="Amplitude", subtitle=_truncation_note(wave))


def power_spectrum(spec: "Spectrum", *, db: bool = True, title: str = "FFT: power spectrum of the whole clip") -> go.Figure:
    """The FFT of the whole clip over frequency.

    Parameters
    ----------
    spec : mgc.represent.Spectrum
    db : bool
        Power in dB relative to the peak (True) or linear magnitude (False, as in
        the study's tutorial figure).
    title : str

    Returns
    -------
    go.Figure
    """
    y = spec.power_db if db else spec.magnitude
    y_title = "Power (dB re. peak)" if db else "Magnitude |FFT|"
    fig = go.Figure(go.Scatter(
        x=spec.frequencies, y=y, mode="lines", line=dict(width=1, color="#4E79A7"),
        hovertemplate="%{x:.1f} Hz<br>%{y:.1f}<extra></extra>",
    ))
    fig.update_xaxes(range=[0, spec.sr / 2])
    notes = [f"bin spacing {spec.resolution:.3g} Hz", _truncation_note(spec)]
    return apply_style(fig, title=title, x_title="Frequency (Hz)", y_title=y_title,
                       subtitle=", ".join(n for n in notes if n))


def spectrogram(spec: "Spectrogram", *, title: str | None = None) -> go.Figure:
    """A spectrogram: linear |STFT|, STFT in dB, or mel spectrogram in dB.

    Mel spectrograms are drawn with one equal row per band (the mel scale), with
    the band centres in Hz as tick labels.

    Parameters
    ----------
    spec : mgc.represent.Spectrogram
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
        trace = _heatmap(spec.S, x=spec.times, y=bands, colorscale=colorscale, colorbar_title=colorbar,
                         hover="%{x:.2f} s<br>band %{y:.0f}<br>%{z:.1f} dB", max_y=len(bands))
        fig = go.Figure(trace)
        ticks = np.unique(np.linspace(0, len(bands) - 1, 8).round().astype(int))
        fig.update_yaxes(tickvals=ticks, ticktext=[f"{spec.frequencies[t]:,.0f}" for t in ticks])
        y_title = "Mel band centre (Hz)"
    else:
        unit = "dB" if spec.db else ""
        trace = _heatmap(spec.S, x=spec.times, y=spec.frequencies, colorscale=colorscale, colorbar_title=colorbar,
                         hover="%{x:.2f} s<br>%{y:.0f} Hz<br>%{z:.2f} " + unit)
        fig = go.Figure(trace)
        y_title = "Frequency (Hz)"
    notes = [params, _truncation_note(spec)]
    return apply_style(fig, title=title or kind, x_title="Time (s)", y_title=y_title,
                       subtitle=", ".join(n for n in notes if n))


def mel_filterbank(bank: "MelFilterbank", *, unit_peak: bool = True,
                   title: str | None = None) -> go.Figure:
    """The triangular mel filters over frequency (the study's Figure 1).

    Parameters
    ----------
    bank : mgc.represent.MelFilterbank
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
            xs.extend(bank.frequencies[lo:hi + 1].tolist() + [None])
            ys.extend(weights[m, lo:hi + 1].tolist() + [None])
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(width=1.2, color=colors[parity]),
                                 showlegend=False, hovertemplate="%{x:.0f} Hz<br>weight %{y:.3f}<extra></extra>"))
    fig.update_xaxes(range=[0, bank.sr / 2])
    subtitle = f"{bank.n_mels} filters, n_fft={bank.n_fft}, sr={bank.sr} Hz" + (
        "; each scaled to peak 1" if unit_peak and bank.norm else "")
    return apply_style(fig, title=title or "Mel filterbank: triangular filters", x_title="Frequency (Hz)",
                       y_title="Weight" + (" (peak = 1)" if unit_peak else ""), subtitle=subtitle)


def mfcc(m: "MFCC", *, segments: np.ndarray | None = None, title: str | None = None) -> go.Figure:
    """MFCC heatmap, coefficients over time (the study's Figure 2).

    Parameters
    ----------
    m : mgc.represent.MFCC
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
    trace = _heatmap(m.M, x=m.times, y=m.coefficients, colorscale="RdBu_r", colorbar_title="value",
                     hover="%{x:.2f} s<br>MFCC %{y:.0f}<br>%{z:.1f}", max_y=len(m.coefficients),
                     how="mean", zmid=0, zmin=-span, zmax=span)
    fig = go.Figure(trace)
    for start, _ in (segments if segments is not None else []):
        if start > 0:
            fig.add_vline(x=start, line=dict(color="#222", width=1, dash="dot"))
    fig.update_yaxes(dtick=1 if len(m.coefficients) <= 20 else None)
    notes = [f"n_mfcc={len(m.coefficients)}, n_mels={m.n_mels}, n_fft={m.n_fft}, hop_length={m.hop_length}",
             "colours span 99% of coefficients 1+ (coefficient 0 saturates)" if len(m.M) > 1 else None,
             _truncation_note(m)]
    return apply_style(fig, title=title or "MFCCs", x_title="Time (s)", y_title="Coefficient",
                       subtitle=", ".join(n for n in notes if n))


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
    fig = go.Figure(go.Bar(x=names, y=[counts[n] for n in names], marker_color=[colors[n] for n in names],
                           text=[counts[n] for n in names], textposition="outside", cliponaxis=False,
                           hovertemplate="%{x}: %{y}<extra></extra>"))
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
        fig.add_trace(go.Box(x=rows["label"], y=rows["duration"], name=label, marker_color=colors[label],
                             boxpoints="all", jitter=0.4, pointpos=0, customdata=rows["track_id"],
                             hovertemplate="%{customdata}: %{y:.2f} s<extra></extra>", showlegend=False))
    return apply_style(fig, title=title, x_title="Class", y_title="Duration (s)")


# =========================================================================== #
# Training, results and classification
# =========================================================================== #

#: One colour per model, on every page (classes have theirs from class_colors).
MODEL_COLORS = {"mlp": "#1F77B4", "cnn": "#D62728", "lstm": "#2CA02C"}
_METRIC_TITLES = {"accuracy": "Accuracy", "loss": "Cross-entropy loss", "rmse": "RMSE (one-hot vs softmax)"}


def live_curves(histories: Mapping[str, list[dict]]) -> go.Figure:
    """Accuracy and loss per epoch while training: one colour per model, train solid, validation dashed.

    Parameters
    ----------
    histories : mapping
        Model name -> list of per-epoch dicts with ``epoch``, ``accuracy``, ``loss``,
        ``val_accuracy``, ``val_loss``.
    """
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Accuracy", "Cross-entropy loss"), horizontal_spacing=0.1)
    for model, hist in histories.items():
        epochs = [h["epoch"] for h in hist]
        color = MODEL_COLORS.get(model)
        for col, metric in ((1, "accuracy"), (2, "loss")):
            for prefix, dash, part in (("", "solid", "train"), ("val_", "dash", "validation")):
                values = [h.get(prefix + metric) for h in hist]
                if all(v is None for v in values):
                    continue
                fig.add_trace(go.Scatter(x=epochs, y=values, mode="lines+markers", marker=dict(size=4),
                                         line=dict(color=color, dash=dash),
                                         name=f"{MODEL_TITLES.get(model, model)} {part}", legendgroup=model,
                                         showlegend=col == 1), row=1, col=col)
    fig.update_xaxes(title_text="Epoch")
    fig.update_yaxes(title_text="Accuracy (fraction)", row=1, col=1)
    fig.update_yaxes(title_text="Loss (nats)", row=1, col=2)
    return apply_style(fig, title="Live training curves (solid: train, dashed: validation)", height=420)


def study_curves(runs: list, metric: str) -> go.Figure:
    """The study's Figures 6 (accuracy) and 7 (error) rebuilt: ``metric`` per epoch, train and validation.

    Parameters
    ----------
    runs : list of mgc.runs.Run
    metric : {'accuracy', 'loss', 'rmse'}
    """
    fig = go.Figure()
    for r in runs:
        h = r.history
        color = MODEL_COLORS.get(r.model_name)
        tag = f"{MODEL_TITLES.get(r.model_name, r.model_name)} · {r.manifest['split']['name']} · {r.recipe_label}"
        dash_base = "solid" if r.manifest["split"]["name"] == "segment" else "dot"
        mode = "lines+markers" if len(h["epoch"]) < 20 else "lines"  # a short run shows its points
        fig.add_trace(go.Scatter(x=h["epoch"], y=h[metric], mode=mode, name=f"{tag} · train",
                                 line=dict(color=color, dash=dash_base, width=2), marker=dict(size=5)))
        if any(v is not None for v in h.get("val_" + metric, [])):
            fig.add_trace(go.Scatter(x=h["epoch"], y=h["val_" + metric], mode=mode, name=f"{tag} · validation",
                                     line=dict(color=color, dash="dash" if dash_base == "solid" else "dashdot",
                                               width=1.5), opacity=0.8))
    unit = {"accuracy": "Accuracy (fraction)", "loss": "Cross-entropy loss (nats)", "rmse": "RMSE"}[metric]
    number = "Figure 6" if metric == "accuracy" else "Figure 7"
    fig = apply_style(fig, title=f"{number}: {_METRIC_TITLES[metric].lower()} per epoch", x_title="Epoch",
                      y_title=unit, height=460)
    fig.update_layout(legend=dict(orientation="v", x=1.02, xanchor="left", y=1, yanchor="top", font=dict(size=11)))
    if metric == "loss":
        # the study's raw-MFCC MLP starts near 50 nats: a log axis keeps the later epochs readable
        ticks = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]
        fig.update_yaxes(type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
    return fig


def confusion_matrix(run, *, level: str = "segments") -> go.Figure:
    """A run's test confusion matrix (rows true, columns predicted), of segments or of tracks."""
    key = "confusion" if level == "segments" else "track_confusion"
    matrix = np.asarray(run.metrics.get(key) or [[0]], dtype=float)
    classes = run.classes
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    text = [[f"{int(matrix[i, j])}<br>{share[i, j]:.0%}" for j in range(len(classes))] for i in range(len(classes))]
    fig = go.Figure(go.Heatmap(z=share, x=classes, y=classes, text=text, texttemplate="%{text}",
                               colorscale="Blues", zmin=0, zmax=1, colorbar=dict(title="Row share")))
    fig.update_yaxes(autorange="reversed")
    n = int(matrix.sum())
    return apply_style(fig, title=f"Confusion matrix ({n} test {level})", x_title="Predicted class",
                       y_title="True class", height=max(360, 60 * len(classes) + 160))


def class_probabilities(answers: list) -> go.Figure:
    """Clip-level class probabilities per model, side by side (one bar group per class)."""
    fig = go.Figure()
    for a in answers:
        title = MODEL_TITLES.get(a.model, a.model)
        fig.add_trace(go.Bar(x=a.classes, y=a.probs, name=title, marker_color=MODEL_COLORS.get(a.model),
                             hovertemplate="%{x}: %{y:.1%}<extra>" + title + "</extra>"))
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    return apply_style(fig, title="Probability per class (mean over the clip's 3-s windows)", x_title="Class",
                       y_title="Probability")


def window_timelines(starts: np.ndarray, answers: list) -> go.Figure:
    """Each model's class probabilities per 3-s window across the clip, stacked to 100%, one row per model."""
    from plotly.subplots import make_subplots

    titles = [f"{MODEL_TITLES.get(a.model, a.model)}: {a.predicted} ({a.confidence:.0%} over the clip)" for a in answers]
    fig = make_subplots(rows=len(answers), cols=1, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.12)
    shown: set[str] = set()
    for row, a in enumerate(answers, start=1):
        colors = class_colors(a.classes)
        for i, c in enumerate(a.classes):
            fig.add_trace(go.Bar(x=np.asarray(starts) + 1.5, y=a.window_probs[:, i], name=c, width=2.9,
                                 marker_color=colors[c], legendgroup=c, showlegend=c not in shown,
                                 hovertemplate=f"{c}: %{{y:.0%}} at %{{x:.1f}} s<extra></extra>"), row=row, col=1)
            shown.add(c)
        fig.update_yaxes(range=[0, 1], tickformat=".0%", title_text="Probability", row=row, col=1)
    fig.update_layout(barmode="stack", bargap=0.02)
    fig.update_xaxes(title_text="Time (s)", row=len(answers), col=1)
    return apply_style(fig, title="Prediction per 3-s window", height=140 + 190 * len(answers))


def recipe_comparison(rows: list[dict]) -> go.Figure:
    """Track accuracy of each fold (dots) and over all tested tracks (bars), per model and recipe.

    Parameters
    ----------
    rows : list of dict
        Results of :func:`mgc.crossval.cross_validate`.
    """
    from .crossval import variant_order

    variants = sorted({r["variant"] for r in rows}, key=variant_order)
    models = [m for m in ("mlp", "cnn", "lstm") if any(r["model"] == m for r in rows)]
    models += sorted({r["model"] for r in rows} - set(models))
    colours = ("#7F7F7F", "#D62728", "#1F77B4", "#2CA02C", "#9467BD", "#FF7F0E", "#8C564B", "#E377C2", "#17BECF")
    palette = {v: colours[i % len(colours)] for i, v in enumerate(variants)}
    fig = go.Figure()
    for v in variants:
        xs, pooled, fx, fy, ftext = [], [], [], [], []
        for m in models:
            mine = [r for r in rows if r["model"] == m and r["variant"] == v]
            if not mine:
                continue
            tracks = [t for r in mine for t in r["tracks"]]
            xs.append(MODEL_TITLES.get(m, m))
            pooled.append(float(np.mean([t["true"] == t["predicted"] for t in tracks])))
            for r in mine:
                fx.append(MODEL_TITLES.get(m, m))
                fy.append(r["track_accuracy"])
                ftext.append(f"fold {r['fold']}")
        fig.add_trace(go.Bar(x=xs, y=pooled, name=v, marker_color=palette[v], opacity=0.55,
                             offsetgroup=v, legendgroup=v,
                             hovertemplate="%{x}, " + v + ": %{y:.1%} of all tested tracks<extra></extra>"))
        fig.add_trace(go.Scatter(x=fx, y=fy, name=f"{v}: per fold", mode="markers", offsetgroup=v, legendgroup=v,
                                 showlegend=False,
                                 marker=dict(color=palette[v], size=9, line=dict(color="white", width=1)), text=ftext,
                                 hovertemplate="%{x}, " + v + ", %{text}: %{y:.1%}<extra></extra>"))
    # one legend entry per variant (its bar and its fold dots toggle together), below the plot
    fig.update_layout(barmode="group", scattermode="group",
                      legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0))
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    n_folds = max((r.get("n_folds", 0) for r in rows), default=0)
    return apply_style(fig, title="Track accuracy by recipe: grouped cross-validation over tracks",
                       subtitle=f"{n_folds} folds; every track tested once; bars pool all tested tracks, dots are single folds",
                       height=480,
                       x_title="Model", y_title="Track accuracy")


# =========================================================================== #
# Results page: the leakage ladder
# =========================================================================== #

#: Colours of the three protocols, from leaky (light) to honest (dark).
PROTOCOL_COLORS = {"segment": "#C6DBEF", "track": "#6BAED6", "fault-filtered": "#08519C"}


def leakage_ladder(table: "pd.DataFrame") -> go.Figure:
    """Track accuracy of each network and recipe under the three protocols (bars), balanced accuracy (diamonds).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`mgc.report.leakage_ladder`.
    """
    fig = go.Figure()
    x_of = lambda df: [f"{m} · {r}" for m, r in zip(df["model"], df["recipe"])]  # noqa: E731
    for name, color in PROTOCOL_COLORS.items():
        part = table[table["protocol"].str.startswith(name)]
        if part.empty:
            continue
        label = part["protocol"].iloc[0]
        fig.add_trace(go.Bar(x=x_of(part), y=part["track accuracy"], name=f"{label}: track accuracy",
                             marker_color=color, offsetgroup=name, legendgroup=name,
                             text=[f"{v:.2f}" for v in part["track accuracy"]], textposition="outside",
                             hovertemplate="%{x}<br>track accuracy %{y:.3f}<extra>" + label + "</extra>"))
        fig.add_trace(go.Scatter(x=x_of(part), y=part["balanced accuracy"], mode="markers", name=f"{label}: balanced",
                                 marker=dict(symbol="diamond", size=10, color="#F28E2B", line=dict(color=color, width=2)),
                                 offsetgroup=name, legendgroup=name, showlegend=name == "fault-filtered",
                                 hovertemplate="%{x}<br>balanced accuracy %{y:.3f}<extra>" + label + "</extra>"))
    fig.update_layout(barmode="group", scattermode="group")
    fig.update_yaxes(range=[0, 1.08], tickformat=".0%")
    fig = apply_style(fig, title="The leakage ladder: the same network, three ways to test it",
                      x_title="Network · recipe", y_title="Test accuracy (tracks)", height=440)
    fig.update_layout(legend=dict(orientation="h", y=-0.25, yanchor="top", x=0, xanchor="left"))
    return fig
