"""Small widgets every page uses: the header, progress bars bound to ``on_progress``, summaries."""

from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

from mgc.config import AUDIO_EXTENSIONS

from .data import data_source

#: What the file uploaders accept: every audio file ending the library reads.
UPLOAD_TYPES = [ext.lstrip(".") for ext in AUDIO_EXTENSIONS]


def page_header(title: str) -> None:
    """Page config, the title and the data-source line: the first call of every page."""
    st.set_page_config(page_title=f"{title} · GTZAN genre lab", page_icon=":material/graphic_eq:", layout="wide")
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
