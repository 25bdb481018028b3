"""Stage 8, plots: plotly figure factories, data in, ``go.Figure`` out (no Streamlit).

Every figure of the dashboard comes from here, so they share one look
(:mod:`mgc.plots.style`: the ``"mgc"`` template, titles with units, one colour per
class and per model).

- :mod:`mgc.plots.explore`: the Explore page's representations, the taggram and the dataset overview.
- :mod:`mgc.plots.images`: the waveform and the heatmaps of Explore drawn as PNG images (numpy and Pillow),
  the page's default view: no plotly bundle for a new tab to load, no hover or zoom.
- :mod:`mgc.plots.training`: the live curves of a training job (the Train page).
- :mod:`mgc.plots.results`: the study's Figures 6-7, confusion matrices,
  classification answers, recipe comparisons and the leakage ladder.

A new figure goes into the file of the page family that shows it, built with
:func:`apply_style` and :func:`class_colors`, and is exported here.
"""

from .explore import (
    class_counts,
    durations_by_class,
    mel_filterbank,
    mfcc,
    power_spectrum,
    spectrogram,
    taggram,
    waveform,
)
from .results import (
    PROTOCOL_COLORS,
    class_probabilities,
    confusion_matrix,
    leakage_ladder,
    recipe_comparison,
    study_curves,
    window_timelines,
)
from .style import EXTRA_COLORS, GENRE_COLORS, HEIGHT, MODEL_COLORS, TEMPLATE, apply_style, class_colors
from .training import epoch_step, live_curves

__all__ = [
    "EXTRA_COLORS",
    "GENRE_COLORS",
    "HEIGHT",
    "MODEL_COLORS",
    "PROTOCOL_COLORS",
    "TEMPLATE",
    "apply_style",
    "class_colors",
    "class_counts",
    "class_probabilities",
    "confusion_matrix",
    "durations_by_class",
    "epoch_step",
    "leakage_ladder",
    "live_curves",
    "mel_filterbank",
    "mfcc",
    "power_spectrum",
    "recipe_comparison",
    "spectrogram",
    "study_curves",
    "taggram",
    "waveform",
    "window_timelines",
]
