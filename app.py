"""GTZAN genre lab: the dashboard's entry point (``streamlit run app.py``). It only routes.

One ``st.Page`` per file of ``views/``; Streamlit draws the sidebar menu from them. The folder is
not called ``pages/``: Streamlit still discovers a ``pages/`` folder beside the entry point, and a
first visit to a page's URL on a freshly started server then got a menu of raw file names.
The URL paths are the pages' file names (the home page is ``/``).
"""

import streamlit as st

PAGES = [
    st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("views/explore.py", title="Explore", icon=":material/equalizer:", url_path="explore"),
    st.Page("views/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("views/results.py", title="Results", icon=":material/leaderboard:", url_path="results"),
    st.Page("views/classify.py", title="Classify", icon=":material/music_note:", url_path="classify"),
]

st.navigation(PAGES).run()
