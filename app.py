"""GTZAN genre lab: the dashboard's entry point and home page.

Pages live in ``pages/`` and are found by Streamlit's pages-folder discovery (the one
navigation system used); the sidebar menu with readable titles comes from
:func:`mgc.ui.page_header`, which every page calls first.
"""

import streamlit as st

from mgc import ui
from mgc.errors import MgcError

ui.page_header("GTZAN genre lab")


def home() -> None:
    st.markdown(
        "Reproduce a published deep-learning study of music genre classification on GTZAN "
        "(13 MFCCs over 3-s segments; an MLP, a CNN and an RNN-LSTM), and go past it: see how audio "
        "becomes features, train under the study's leaky split and under honest ones, see how much each leak "
        "was worth on artists the models never heard, compare with the paper's Table 2, and hear what a model "
        "makes of your own songs, with a warning when it should not be trusted."
    )
    root = ui.dataset_root()
    try:
        summary = ui.dataset_summary(str(root))
    except MgcError as e:
        st.error(str(e))
        summary = None
    runs, problems = ui.runs_overview()
    c1, c2, c3, c4 = st.columns(4)
    if summary:
        c1.metric("Tracks", summary["tracks"])
        c2.metric("Classes", summary["classes"])
        c3.metric("Unreadable files", "-" if summary["failed"] is None else summary["failed"],
                  help="Known once features are extracted (Train page)")
    c4.metric("Stored runs", len(runs))
    left, right = st.columns([2, 3])
    with left:
        st.subheader("Dataset")
        if summary:
            st.plotly_chart(ui.class_count_figure(summary["counts"]), width="stretch")
            st.caption(summary["text"])
    with right:
        st.subheader("Runs")
        if runs.empty:
            st.info("No runs yet: train one on the Train page.")
        else:
            st.dataframe(runs, hide_index=True, width="stretch", height=min(400, 36 * (len(runs) + 1) + 2))
        for p in problems:
            st.warning(f"Damaged run skipped: {p}")
    st.subheader("Pages")
    cols = st.columns(4)
    cols[0].page_link("pages/explore.py", label="Explore audio and features", icon=":material/equalizer:")
    cols[1].page_link("pages/train.py", label="Train the models", icon=":material/model_training:")
    cols[2].page_link("pages/results.py", label="Results vs the paper", icon=":material/leaderboard:")
    cols[3].page_link("pages/classify.py", label="Classify your clip", icon=":material/music_note:")


home()
