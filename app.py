"""GTZAN genre lab: the dashboard's entry point. Home page and navigation only."""

import streamlit as st

from mgc import ui

st.set_page_config(page_title="GTZAN genre lab", page_icon=":material/graphic_eq:", layout="wide")


def home() -> None:
    st.title("GTZAN genre lab")
    st.markdown(
        "Reproduce a published deep-learning study of music genre classification on GTZAN "
        "(13 MFCCs over 3-s segments; an MLP, a CNN and an RNN-LSTM), and go past it: see how audio "
        "becomes features, train under the study's leaky split and under honest ones, compare with the "
        "paper's Table 2, and hear what a model makes of your own songs."
    )
    ui.caption_source()
    root = ui.dataset_root()
    left, right = st.columns(2)
    with left:
        st.subheader("Dataset")
        try:
            summary = ui.dataset_summary(str(root))
        except ui.MgcError as e:
            st.error(str(e))
        else:
            st.dataframe(summary["table"], hide_index=True, width="stretch")
            st.markdown(summary["text"])
    with right:
        st.subheader("Runs")
        runs, problems = ui.runs_overview()
        if runs.empty:
            st.info("No runs yet: train one on the Train page.")
        else:
            st.dataframe(runs, hide_index=True, width="stretch")
        for p in problems:
            st.warning(f"Damaged run skipped: {p}")
    st.subheader("Pages")
    cols = st.columns(4)
    cols[0].page_link("pages/explore.py", label="Explore audio and features", icon=":material/equalizer:")
    cols[1].page_link("pages/train.py", label="Train the models", icon=":material/model_training:")
    cols[2].page_link("pages/results.py", label="Results vs the paper", icon=":material/leaderboard:")
    cols[3].page_link("pages/classify.py", label="Classify your clip", icon=":material/music_note:")


navigation = st.navigation(
    [
        st.Page(home, title="Home", icon=":material/home:", default=True),
        st.Page("pages/explore.py", title="Explore", icon=":material/equalizer:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/results.py", title="Results", icon=":material/leaderboard:"),
        st.Page("pages/classify.py", title="Classify", icon=":material/music_note:"),
    ]
)
navigation.run()
