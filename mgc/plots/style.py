"""The figures' shared look: the ``"mgc"`` plotly template, titles with units, one colour per class and model.

The template is registered with plotly when this module is imported (by
:mod:`mgc.plots`). Every figure factory ends with :func:`apply_style` and takes
class colours from :func:`class_colors`, so a genre has the same colour on every page.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable

import pandas  # noqa: F401 - imported before plotly: plotly peeks at sys.modules["pandas"] without the import

#                lock, and a half-imported pandas (another session's thread) breaks its template set-up
import plotly.graph_objects as go
import plotly.io as pio

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
        colorway=[
            "#4E79A7",
            "#F28E2B",
            "#E15759",
            "#76B7B2",
            "#59A14F",
            "#EDC948",
            "#B07AA1",
            "#FF9DA7",
            "#9C755F",
            "#5A5A5A",
        ],
    )
    return template


pio.templates[TEMPLATE] = _template()

#: Fixed colour of each GTZAN genre, used on every page.
GENRE_COLORS = {
    "blues": "#4E79A7",  # blue
    "classical": "#B07AA1",  # purple
    "country": "#9C755F",  # brown
    "disco": "#FF9DA7",  # pink
    "hiphop": "#F28E2B",  # orange
    "jazz": "#EDC948",  # yellow
    "metal": "#5A5A5A",  # dark grey
    "pop": "#76B7B2",  # teal
    "reggae": "#59A14F",  # green
    "rock": "#E15759",  # red
}

#: Colours for class names that are not GTZAN genres (none of them a genre's colour).
EXTRA_COLORS = (
    "#1B9E77",
    "#D95F02",
    "#7570B3",
    "#E7298A",
    "#66A61E",
    "#E6AB02",
    "#A6761D",
    "#1F78B4",
    "#B2DF8A",
    "#FB9A99",
    "#CAB2D6",
    "#6A3D9A",
    "#B15928",
    "#17BECF",
    "#BCBD22",
    "#8C564B",
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


#: One colour per model, on every page (classes have theirs from class_colors).
MODEL_COLORS = {"mlp": "#1F77B4", "cnn": "#D62728", "lstm": "#2CA02C", "transfer": "#9467BD"}
