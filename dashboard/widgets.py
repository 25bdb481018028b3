"""Small widgets every page uses: the header, progress bars bound to ``on_progress``, summaries."""

from __future__ import annotations

import functools
from contextlib import contextmanager

import streamlit as st

from mgc.config import AUDIO_EXTENSIONS

from .data import data_source

#: What the file uploaders accept: every audio file ending the library reads.
UPLOAD_TYPES = [ext.lstrip(".") for ext in AUDIO_EXTENSIONS]


@functools.lru_cache(maxsize=1)
def app_icon():
    """The tab icon as PNG bytes, drawn here: five bars of a level meter in the theme's red on a transparent
    64 x 64 square.

    A ``:material/...:`` page icon made the browser fetch the tab icon from a font CDN, which is
    unreachable offline; an image is served by the app itself. Drawn with PIL alone: it is on the path
    from server start to the first title, where numpy's import cost 0.15 CPU-s.
    """
    import io

    from PIL import Image, ImageDraw

    icon = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    for i, height in enumerate((22, 40, 56, 34, 46)):
        left = 4 + 12 * i
        draw.rectangle((left, 60 - height, left + 7, 59), fill=(0xD6, 0x27, 0x28, 255))  # corners inclusive
    buf = io.BytesIO()
    icon.save(buf, format="PNG")
    return buf.getvalue()


def page_header(title: str) -> None:
    """Page config, the title and the data-source line: the first call of every page."""
    st.set_page_config(page_title=f"{title} · GTZAN genre lab", page_icon=app_icon(), layout="wide")
    st.title(title)
    caption_source()


def caption_source() -> None:
    """One line under a page title saying where the data comes from."""
    st.caption(f"Dataset: {data_source().describe()}")


def fail(error: Exception) -> None:
    """Show a library error to the user and stop the script (no traceback)."""
    st.error(str(error))
    st.stop()


@contextmanager
def progress_bar(text: str):
    """A ``st.progress`` bound to the library's ``on_progress(done, total, message)``, emptied afterwards."""
    bar = st.progress(0.0, text=text)

    def update(done: int, total: int, message: str) -> None:
        bar.progress(done / total if total else 1.0, text=f"{text} {done}/{total}")

    try:
        yield update
    finally:
        bar.empty()


def pick_source(upload, recording) -> tuple[object, str] | None:
    """The clip to classify, ``(file, name)``, or None: never a silent choice when there are both.

    With both an upload and a recording, a radio asks which one (the upload first);
    with one of them, a caption says which is classified.
    """
    sources = {
        kind: (clip, name)
        for kind, clip, name in (
            ("upload", upload, getattr(upload, "name", "upload")),
            ("recording", recording, "microphone recording"),
        )
        if clip is not None
    }
    if not sources:
        return None
    if len(sources) == 1:
        kind = next(iter(sources))
    else:
        kind = st.radio(
            "Classify",
            list(sources),
            format_func=lambda k: f"the upload ({sources[k][1]})" if k == "upload" else "the recording",
            horizontal=True,
            help="There is both an upload and a recording: this one is classified",
        )
    st.caption(f"Classifying the {kind}: {sources[kind][1]}")
    return sources[kind]


def classes_text(classes) -> str:
    """A class list for a picker: ``'10 classes: blues, classical, ...'``, saying when they are the synthetic demo's."""
    from mgc.config import GTZAN_GENRES
    from mgc.dataset.demo import DEMO_STYLES

    if set(classes) == set(GTZAN_GENRES):
        return f"GTZAN's {len(classes)} genres"
    demo = " (synthetic demo, not GTZAN)" if set(classes) <= set(DEMO_STYLES) else ""
    return f"{len(classes)} classes{demo}: {', '.join(classes)}"


def runs_legend(runs, names: dict[str, str]) -> None:
    """Under a run picker with short chips: each chosen run's chip, scores and id, one line each."""
    st.caption(
        "  \n".join(f"**{names[r.id]}**: {r.protocol}, {r.score_text} · `{r.id}`" for r in runs),
    )


#: The facets of the Results page's run choice: (title, the run's value, help).
FACETS = (
    ("Networks", "network", "The study's MLP, CNN and RNN-LSTM; Transfer: a head on musicnn's embeddings (beyond it)"),
    (
        "Protocols",
        "protocol",
        "segment: the study's split (leaky); track: whole songs held out (artist-leaky); ff: fault-filtered, "
        "artist-conditional (honest); valid: tested on its valid list; refit: refit on train + valid, scored by "
        "its train-only twin",
    ),
    ("Recipes", "recipe", "study: the study's training as is; improved: see the recipes below (*: overridden)"),
    ("Classes", "classes", "The class list a run was trained on"),
    ("Source", "source", "reference: the runs that ship (real GTZAN audio); trained here: your own runs"),
)


def _facet(run, what: str) -> str:
    from mgc.config import model_title

    if what == "network":
        return model_title(run.model_name).split(" (")[0]
    if what == "protocol":
        return run.protocol_short
    if what == "recipe":
        return run.recipe_label
    if what == "classes":
        return classes_text(run.classes).split(":")[0]  # "GTZAN's 10 genres", "5 classes (synthetic demo...)"
    return "reference" if "reference" in run.manifest.get("tags", []) else "trained here"


def choose_runs(runs, *, default: list[str], key: str) -> list[str]:
    """A run choice that stays readable with many runs: a row of facets, then an optional narrower pick.

    The facets (network, protocol, recipe, and class list and source where the runs differ in
    them) are pills, every value shown in full and chosen with one click; the runs chosen are
    those whose every facet is on. ``Only these runs`` narrows them to single runs, by short,
    distinct labels (:func:`mgc.runs.short_labels`) that fit their chips. The defaults are the
    facets of ``default``. Returns run ids, in the order of ``runs``.
    """
    from mgc.runs import short_labels

    order = {
        "network": ["MLP", "CNN", "RNN-LSTM", "Transfer"],
        "protocol": ["segment", "track", "ff test", "ff valid"],
        "recipe": ["study", "improved"],
    }
    facets = []
    for title, what, help_ in FACETS:
        values = {_facet(r, what) for r in runs}
        if len(values) < 2 and what in ("classes", "source"):
            continue
        rank = order.get(what, [])
        options = sorted(values, key=lambda v: (rank.index(v) if v in rank else len(rank), v))
        facets.append((title, what, help_, options))
    chosen_default = [r for r in runs if r.id in default] or runs
    cols = st.columns([4, 5, 3, 3, 3][: len(facets)])
    picked = {}
    for col, (title, what, help_, options) in zip(cols, facets, strict=True):
        on = sorted({_facet(r, what) for r in chosen_default}, key=options.index)
        picked[what] = set(
            col.pills(title, options, selection_mode="multi", default=on, key=f"{key}-{what}", help=help_) or []
        )
    matching = [r for r in runs if all(_facet(r, what) in picked[what] for _, what, _, _ in facets)]
    names = short_labels(runs)
    narrow = st.multiselect(
        f"Only these runs ({len(matching)} match; empty: all of them)",
        [r.id for r in matching],
        format_func=names.get,
        placeholder="Type to search: network, protocol, recipe",
    )
    return narrow or [r.id for r in matching]


def show_feature_summary(fs) -> None:
    """Segments and tracks per class, cache use, and the skipped files with reasons."""
    import pandas as pd

    stats = fs.cache_stats
    st.success(
        f"{len(fs.X):,} segments of {fs.X.shape[1]}x{fs.X.shape[2]} from {fs.n_tracks} tracks, "
        f"{len(fs.classes)} classes ({stats.get('cached', 0)} files from the cache, "
        f"{stats.get('extracted', 0)} extracted)."
    )
    if stats.get("cache_problem"):
        st.warning(f"Feature cache: {stats['cache_problem']}")
    c1, c2 = st.columns([2, 3])
    c1.dataframe(pd.DataFrame([{"class": c, **v} for c, v in fs.counts().items()]), hide_index=True)
    if fs.skipped:
        c2.warning(f"{len(fs.skipped)} file(s) could not be used and were skipped:")
        c2.dataframe(pd.DataFrame(fs.skipped_table()), hide_index=True)
