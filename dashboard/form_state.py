"""Widget values that survive a switch to another page and back, and a rerun that races a page switch.

Streamlit forgets the state of a widget that was not drawn in a script run, so a page's
choices reset once the user has looked at another page. A page keeps them by building each
widget with :func:`remembered`'s arguments: its key, its value given to the widget itself
(the kept copy, else the default the first time), and a callback that copies every change
under a key of its own as soon as the change reaches the server (before the script runs).
:func:`keep`, called once the widgets are drawn, copies them again.

Why both the value and the callback (reproduced in Chromium, ``tests/test_browser.py``): typing
into a number input and clicking another page's link at once sends the field's commit and the
page switch back to back. The server may then run the first page again instead of the second,
while the browser, expecting the new page, has dropped its widget values: it draws the widgets
with the values their elements carry, and sends those back with the next change. A widget whose
value was only set through the session state carried none (a number input showed its minimum,
a multiselect nothing) and the page's choices were lost; the copy made at the end of the script
was also stale when the switch interrupted the run before it. Widgets built here carry their
value, and every change is kept by its callback. The widgets take their key as their identity
(Streamlit 1.67: number inputs, radios, selectboxes, multiselects), so the value given does not
reset them.
"""

from __future__ import annotations

from typing import Any, Sequence

import streamlit as st

from mgc.errors import ParameterError

_PREFIX = "_kept."


def _copy(key: str) -> str:
    return _PREFIX + key


def _keep_one(key: str) -> None:
    """The widget's callback: keep its new value at once (runs before the script, even one interrupted)."""
    if key in st.session_state:
        st.session_state[_copy(key)] = st.session_state[key]


def remembered(key: str, default: Any, *, options: Sequence | None = None, arg: str = "value") -> dict:
    """The arguments that make widget ``key`` keep its value: ``st.number_input(..., **remembered(...))``.

    Parameters
    ----------
    key : str
        The widget's key.
    default : any
        Its value the first time (and when the kept one no longer fits ``options``).
    options : sequence or None
        The widget's options: a kept value outside them (a list: the items outside them)
        is dropped, as the options may have changed meanwhile (another dataset).
    arg : {"value", "default", "index"}
        How the widget takes its value: ``value`` (number and text inputs), ``default``
        (multiselect) or ``index`` (radio, selectbox: the position of the value in ``options``).

    Returns
    -------
    dict
        ``key``, the value under ``arg``, and the ``on_change`` callback with its ``args``.
    """
    if arg not in ("value", "default", "index"):
        raise ParameterError(f"arg={arg!r} must be 'value', 'default' or 'index'")
    if key in st.session_state:
        value = st.session_state[key]
    else:
        value = st.session_state.get(_copy(key), default)
    if options is not None:
        if isinstance(value, list):
            value = [v for v in value if v in options]
        elif value not in options:
            value = default
    if arg == "index":
        if options is None:
            raise ParameterError(f"options=None: remembered({key!r}, arg='index') needs the widget's options")
        value = list(options).index(value) if value in options else 0
    return {"key": key, arg: value, "on_change": _keep_one, "args": (key,)}


def keep(*keys: str) -> None:
    """Copy the values of widgets ``keys`` where :func:`remembered` finds them after a page switch."""
    for key in keys:
        if key in st.session_state:
            st.session_state[_copy(key)] = st.session_state[key]
