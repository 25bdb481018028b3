"""Keep Keras' state across script runs: the one patch of Streamlit's internals.

Streamlit's script runner calls ``keras.backend.clear_session()`` at the end of
every run once Keras is imported (``_clean_problem_modules`` in
``streamlit/runtime/scriptrunner/script_runner.py``). Here models are loaded once
per server and a training job runs in a thread across reruns, so that reset only
hurts: it drops TensorFlow's kernel cache (the next prediction costs about 5x),
resets Keras' global state under the running job, and runs a full garbage
collection after every click, during which the server answers nothing (an
upload waited 0.4 s for it). The replacement keeps the rest of the clean-up.
"""

from __future__ import annotations

import sys


def install() -> None:
    """Replace Streamlit's end-of-run clean-up by one that leaves Keras alone (once; idempotent)."""
    try:
        from streamlit.runtime.scriptrunner import script_runner
    except ImportError:  # another Streamlit layout: nothing to patch
        return
    if getattr(script_runner._clean_problem_modules, "keeps_keras", False):
        return

    def clean_but_keep_keras() -> None:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            plt.close("all")

    clean_but_keep_keras.keeps_keras = True
    script_runner._clean_problem_modules = clean_but_keep_keras
