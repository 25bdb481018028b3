"""Figures of training, results and classification: curves, confusion matrices, answers, comparisons, the ladder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from ..config import MODEL_NAMES, model_title
from ..training.recipes import variant_order
from .style import MODEL_COLORS, apply_style, class_colors

if TYPE_CHECKING:
    import pandas as pd

_METRIC_TITLES = {"accuracy": "Accuracy", "loss": "Cross-entropy loss", "rmse": "RMSE (one-hot vs softmax)"}


#: Line colours of the (protocol, recipe) pairs in the learning-curve panels, in order of appearance.
_RUN_COLORS = ("#1F77B4", "#D62728", "#2CA02C", "#9467BD", "#FF7F0E", "#8C564B", "#E377C2", "#17BECF", "#7F7F7F")


def study_curves(runs: list, metric: str) -> go.Figure:
    """The study's Figures 6 (accuracy) and 7 (error) rebuilt: ``metric`` per epoch, one small panel per model.

    As in the study's figures, each model has its own panel (shared axes); within a
    panel a colour is one protocol and recipe, train solid and validation dashed.

    Parameters
    ----------
    runs : list of mgc.runs.Run
    metric : {'accuracy', 'loss', 'rmse'}
    """
    from plotly.subplots import make_subplots

    models = [m for m in MODEL_NAMES if any(r.model_name == m for r in runs)]
    models += sorted({r.model_name for r in runs} - set(models))
    tags: dict[str, str] = {}
    for r in runs:
        tags.setdefault(f"{r.protocol} · {r.recipe_label}", _RUN_COLORS[len(tags) % len(_RUN_COLORS)])
    fig = make_subplots(
        rows=1,
        cols=max(1, len(models)),
        shared_yaxes=True,
        shared_xaxes=True,
        subplot_titles=[model_title(m) for m in models],
        horizontal_spacing=0.03,
    )
    shown: set[str] = set()
    for col, model in enumerate(models, start=1):
        for r in (r for r in runs if r.model_name == model):
            h = r.history
            tag = f"{r.protocol} · {r.recipe_label}"
            mode = "lines+markers" if len(h["epoch"]) < 20 else "lines"  # a short run shows its points
            for prefix, dash, part in (("", "solid", "train"), ("val_", "dash", "validation")):
                values = h.get(prefix + metric, [])
                if not any(v is not None for v in values):
                    continue
                fig.add_trace(
                    go.Scatter(
                        x=h["epoch"],
                        y=values,
                        mode=mode,
                        name=f"{tag} · {part}",
                        legendgroup=f"{tag} · {part}",
                        showlegend=f"{tag} · {part}" not in shown,
                        line=dict(color=tags[tag], dash=dash, width=2 if part == "train" else 1.5),
                        marker=dict(size=4),
                        hovertemplate=f"{model_title(model)} · {tag} · {part}<br>epoch %{{x}}: %{{y:.3f}}"
                        f"<br>{r.id}<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
                shown.add(f"{tag} · {part}")
    unit = {"accuracy": "Accuracy (fraction)", "loss": "Cross-entropy loss (nats)", "rmse": "RMSE"}[metric]
    number = "Figure 6" if metric == "accuracy" else "Figure 7"
    fig = apply_style(fig, title=f"{number}: {_METRIC_TITLES[metric].lower()} per epoch", height=440)
    fig.update_xaxes(title_text="Epoch")
    fig.update_yaxes(title_text=unit, row=1, col=1)
    fig.update_layout(legend=dict(orientation="h", x=0, xanchor="left", y=-0.22, yanchor="top", font=dict(size=11)))
    if metric == "loss":
        # the study's raw-MFCC MLP starts near 50 nats: a log axis keeps the later epochs readable
        ticks = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]
        fig.update_yaxes(type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
    return fig


def confusion_matrix(run, *, level: str = "segments") -> go.Figure:
    """A run's test confusion matrix (rows true, columns predicted), of segments or of tracks."""
    key = "confusion" if level == "segments" else "track_confusion"
    if not run.metrics.get(key):  # a run without track ids has no track matrix: show its segments
        key, level = "confusion", "segments (no track ids)"
    classes = run.classes
    matrix = np.asarray(run.metrics.get(key) or np.zeros((len(classes), len(classes))), dtype=float)
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    text = [[f"{int(matrix[i, j])}<br>{share[i, j]:.0%}" for j in range(len(classes))] for i in range(len(classes))]
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=classes,
            y=classes,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar=dict(title="Row share"),
        )
    )
    fig.update_yaxes(autorange="reversed")
    n = int(matrix.sum())
    return apply_style(
        fig,
        title=f"Confusion matrix ({n} test {level})",
        x_title="Predicted class",
        y_title="True class",
        height=max(360, 60 * len(classes) + 160),
    )


def class_probabilities(answers: list) -> go.Figure:
    """Clip-level class probabilities per model, side by side (one bar group per class)."""
    fig = go.Figure()
    for a in answers:
        title = model_title(a.model)
        fig.add_trace(
            go.Bar(
                x=a.classes,
                y=a.probs,
                name=title,
                marker_color=MODEL_COLORS.get(a.model),
                hovertemplate="%{x}: %{y:.1%}<extra>" + title + "</extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    return apply_style(
        fig, title="Probability per class (mean over the clip's 3-s windows)", x_title="Class", y_title="Probability"
    )


def window_timelines(starts: np.ndarray, answers: list) -> go.Figure:
    """Each model's class probabilities per 3-s window across the clip, stacked to 100%, one row per model."""
    from plotly.subplots import make_subplots

    titles = [f"{model_title(a.model)}: {a.predicted} ({a.confidence:.0%} over the clip)" for a in answers]
    fig = make_subplots(rows=len(answers), cols=1, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.12)
    shown: set[str] = set()
    for row, a in enumerate(answers, start=1):
        colors = class_colors(a.classes)
        for i, c in enumerate(a.classes):
            fig.add_trace(
                go.Bar(
                    x=np.asarray(starts if getattr(a, "starts", None) is None else a.starts) + 1.5,
                    y=a.window_probs[:, i],
                    name=c,
                    width=2.9,
                    marker_color=colors[c],
                    legendgroup=c,
                    showlegend=c not in shown,
                    hovertemplate=f"{c}: %{{y:.0%}} at %{{x:.1f}} s<extra></extra>",
                ),
                row=row,
                col=1,
            )
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
        Results of :func:`mgc.training.cross_validate`.
    """
    variants = sorted({r["variant"] for r in rows}, key=variant_order)
    models = [m for m in MODEL_NAMES if any(r["model"] == m for r in rows)]
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
            xs.append(model_title(m))
            pooled.append(float(np.mean([t["true"] == t["predicted"] for t in tracks])))
            for r in mine:
                fx.append(model_title(m))
                fy.append(r["track_accuracy"])
                ftext.append(f"fold {r['fold']}")
        fig.add_trace(
            go.Bar(
                x=xs,
                y=pooled,
                name=v,
                marker_color=palette[v],
                opacity=0.55,
                offsetgroup=v,
                legendgroup=v,
                hovertemplate="%{x}, " + v + ": %{y:.1%} of all tested tracks<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=fx,
                y=fy,
                name=f"{v}: per fold",
                mode="markers",
                offsetgroup=v,
                legendgroup=v,
                showlegend=False,
                marker=dict(color=palette[v], size=9, line=dict(color="white", width=1)),
                text=ftext,
                hovertemplate="%{x}, " + v + ", %{text}: %{y:.1%}<extra></extra>",
            )
        )
    # one legend entry per variant (its bar and its fold dots toggle together), below the plot
    fig.update_layout(
        barmode="group", scattermode="group", legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0)
    )
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    n_folds = max((r.get("n_folds", 0) for r in rows), default=0)
    return apply_style(
        fig,
        title="Track accuracy by recipe: grouped cross-validation over tracks",
        subtitle=f"{n_folds} folds; every track tested once; bars pool all tested tracks, dots are single folds",
        height=480,
        x_title="Model",
        y_title="Track accuracy",
    )


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
        :func:`mgc.analysis.leakage_ladder`.
    """
    fig = go.Figure()

    def x_of(df) -> list[str]:
        return [f"{m} · {r}" for m, r in zip(df["model"], df["recipe"], strict=True)]

    table = table[table["track accuracy"].notna()]  # runs without track ids have no rung to show
    for name, color in PROTOCOL_COLORS.items():
        part = table[table["protocol"].str.startswith(name)]
        if part.empty:
            continue
        label = part["protocol"].iloc[0]
        fig.add_trace(
            go.Bar(
                x=x_of(part),
                y=part["track accuracy"],
                name=f"{label}: track accuracy",
                marker_color=color,
                offsetgroup=name,
                legendgroup=name,
                text=[f"{v:.2f}" for v in part["track accuracy"]],
                textposition="outside",
                hovertemplate="%{x}<br>track accuracy %{y:.3f}<extra>" + label + "</extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x_of(part),
                y=part["balanced accuracy"],
                mode="markers",
                name=f"{label}: balanced",
                marker=dict(symbol="diamond", size=10, color="#F28E2B", line=dict(color=color, width=2)),
                offsetgroup=name,
                legendgroup=name,
                showlegend=name == "fault-filtered",
                hovertemplate="%{x}<br>balanced accuracy %{y:.3f}<extra>" + label + "</extra>",
            )
        )
    fig.update_layout(barmode="group", scattermode="group")
    fig.update_yaxes(range=[0, 1.08], tickformat=".0%")
    fig = apply_style(
        fig,
        title="The leakage ladder: the same network, three ways to test it",
        x_title="Network · recipe",
        y_title="Test accuracy (tracks)",
        height=440,
    )
    fig.update_layout(legend=dict(orientation="h", y=-0.25, yanchor="top", x=0, xanchor="left"))
    return fig
