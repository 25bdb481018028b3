"""mgc: music genre classification on GTZAN, reproducing and extending a published study.

The library is grouped by the stages of the pipeline; data flows one way, and a
stage imports only the stages before it:

1. :mod:`mgc.audio` - decode any file or bytes to mono float32; the Explore views; librosa's example clips.
2. :mod:`mgc.dataset` - tracks in GTZAN layouts, the split protocols and their lists, the survey, demo data.
3. :mod:`mgc.features` - the study's MFCC segments, the feature table, parallel extraction, the cache.
4. :mod:`mgc.models` - the Keras builders and the Keras bootstrap.
5. :mod:`mgc.runs` - the run store, test metrics, the trust checks.
6. :mod:`mgc.training` - recipes, augmentation, one fit, background jobs, cross-validation.
7. :mod:`mgc.analysis` - stored runs on new data and clips, the baseline, the report tables.
8. :mod:`mgc.plots` - plotly figures.
9. :mod:`mgc.cli` - ``python -m mgc``.

:mod:`mgc.config` (the study's constants) and :mod:`mgc.errors` (the exception
tree and shared checks) sit under every stage. The library never imports
Streamlit (the dashboard in ``dashboard/``, ``app.py`` and ``views/`` sits on top
of it), and importing a package of it never imports TensorFlow.
"""

__version__ = "0.1.0"
