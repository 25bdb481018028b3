"""Figures of a training job as it runs: the live curves of the Train page."""

from __future__ import annotations

import math
from typing import Mapping

import plotly.graph_objects as go

from ..config import MODEL_NAMES, model_title
from .style import MODEL_COLORS, apply_style


def epoch_step(epochs: int, *, ticks: int = 8) -> int:
    """Whole epochs between ticks (1, 2, 5, 10, 20, ...): the smallest giving at most ``ticks`` ticks."""
    epochs = max(1, int(epochs))
    magnitude = 1
    while True:
        for m in (1, 2, 5):
            if -(-epochs // (m * magnitude)) <= ticks:
                return m * magnitude
        magnitude *= 10


def _log_ticks(low: float, high: float) -> list[float]:
    """Ticks of a log axis from ``low`` to ``high``: 1-2-5 steps over up to 2.5 decades, powers of ten beyond."""
    multiples = (1, 2, 5) if math.log10(high / low) <= 2.5 else (1,)
    ticks = [
        float(f"{m * 10.0**e:.6g}")
        for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
        for m in multiples
    ]
    return [t for t in ticks if low <= t <= high] or [low, high]


def live_curves(histories: Mapping[str, list[dict]], *, epochs: Mapping[str, int] | None = None) -> go.Figure:
    """Accuracy (top row) and loss (bottom row, log axis) per epoch, one column of small panels per model.

    As in the study's Figures 6 and 7, each model has its own panels, so a loss of 50 nats
    of one model does not flatten the others; the epoch axis is shared and ticked in whole
    epochs. Train is a solid line, validation a dashed one, in the model's colour; the
    legend (the two line styles) sits below the panels.

    Parameters
    ----------
    histories : mapping
        Model name -> list of per-epoch dicts with ``epoch``, ``accuracy``, ``loss``,
        ``val_accuracy``, ``val_loss`` (a model with no epoch yet may map to ``[]``).
    epochs : mapping or None
        Model name -> epochs asked for: the epoch axis then spans the whole run, so the
        curves grow towards its end.

    Returns
    -------
    go.Figure
    """
    from plotly.subplots import make_subplots

    models = [m for m in MODEL_NAMES if m in histories] + [m for m in histories if m not in MODEL_NAMES]
    cols = max(1, len(models))
    fig = make_subplots(
        rows=2,
        cols=cols,
        shared_xaxes=True,
        shared_yaxes=True,
        subplot_titles=[model_title(m) for m in models],
        horizontal_spacing=0.025 if cols > 2 else 0.05,
        vertical_spacing=0.08,
    )
    last, losses = 1, []
    for col, model in enumerate(models, start=1):
        hist = histories[model]
        xs = [h["epoch"] for h in hist]
        last = max([last, *xs, (epochs or {}).get(model, 0)])
        color = MODEL_COLORS.get(model, "#555")
        for row, metric in ((1, "accuracy"), (2, "loss")):
            for prefix, dash, part in (("", "solid", "train"), ("val_", "dash", "validation")):
                values = [h.get(prefix + metric) for h in hist]
                if hist and all(v is None for v in values):
                    continue
                if metric == "loss":
                    losses += [v for v in values if v is not None and v > 0]
                fig.add_trace(
                    go.Scatter(
                        x=xs,
                        y=values,
                        mode="lines+markers",
                        marker=dict(size=5),
                        line=dict(color=color, dash=dash, width=2 if part == "train" else 1.6),
                        name=part,
                        legendgroup=part,
                        showlegend=False,
                        hovertemplate=f"{model_title(model)} · {part}<br>epoch %{{x}}: %{{y:.3f}}<extra></extra>",
                    ),
                    row=row,
                    col=col,
                )
    # the legend: the two line styles, in grey (the colour is the model, named above its panels)
    for dash, part in (("solid", "train"), ("dash", "validation")):
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                line=dict(color="#555", dash=dash, width=2),
                name=part,
                legendgroup=part,
                showlegend=True,
            ),
            row=1,
            col=1,
        )
    step = epoch_step(last)
    fig.update_xaxes(tickmode="linear", tick0=step if step > 1 else 1, dtick=step, range=[0.5, last + 0.5])
    fig.update_xaxes(title_text="Epoch", row=2)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1)
    # a log axis spanning the losses seen (plotly would otherwise widen it to the fixed ticks)
    low, high = (min(losses) / 1.3, max(losses) * 1.3) if losses else (0.5, 5.0)
    span = [math.log10(low), math.log10(high)]
    ticks = _log_ticks(low, high)
    fig.update_yaxes(type="log", range=span, tickvals=ticks, ticktext=[f"{t:g}" for t in ticks], row=2)
    fig.update_yaxes(title_text="Accuracy", row=1, col=1)
    fig.update_yaxes(title_text="Cross-entropy (nats, log)", row=2, col=1)
    fig = apply_style(fig, title="Live training curves", height=560)
    fig.update_layout(
        legend=dict(orientation="h", x=0, xanchor="left", y=-0.12, yanchor="top", font=dict(size=12)),
        margin=dict(t=80, b=90),
    )
    return fig
