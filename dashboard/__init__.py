"""The dashboard's Streamlit-aware helpers: the one place beside ``app.py`` and ``views/`` that imports Streamlit.

- :mod:`dashboard.keras_guard`: keeps Keras' state across script runs (installed on import of this package).
- :mod:`dashboard.data`: the dataset folder (set by whoever starts the server), the demo, cached loaders.
- :mod:`dashboard.widgets`: the page header, progress bars bound to ``on_progress``, summaries.
- :mod:`dashboard.training`: features kept in the session, the server's board of training jobs, its panel.
- :mod:`dashboard.runs`: runs with their models loaded once per server, classification and scoring.

Everything that needs no Streamlit lives in the library (:mod:`mgc`); these modules
only cache it, bind it to widgets and render it.
"""

from . import keras_guard

keras_guard.install()
