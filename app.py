"""GTZAN genre lab: the dashboard's entry point (``streamlit run app.py``). It only routes.

One ``st.Page`` per file of ``pages/``; Streamlit draws the sidebar menu from them.
The URL paths are the pages' file names (the home page is ``/``).
"""

import streamlit as st

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/explore.py", title="Explore", icon=":material/equalizer:", url_path="explore"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("pages/results.py", title="Results", icon=":material/leaderboard:", url_path="results"),
    st.Page("pages/classify.py", title="Classify", icon=":material/music_note:", url_path="classify"),
]

st.navigation(PAGES).run()
