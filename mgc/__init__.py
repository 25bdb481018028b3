"""mgc: music genre classification on GTZAN, reproducing and extending a published study.

The library turns audio into the study's MFCC segments (:mod:`mgc.features`,
:mod:`mgc.extract`), splits datasets honestly (:mod:`mgc.dataset`), builds and
trains the study's three networks (:mod:`mgc.models`, :mod:`mgc.train`), stores
runs (:mod:`mgc.runs`) and classifies new clips (:mod:`mgc.classify`). It never
imports Streamlit; the dashboard in ``app.py`` and ``pages/`` sits on top of it.
"""

__version__ = "0.1.0"
