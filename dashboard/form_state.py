"""Widget values that survive a switch to another page and back.

Streamlit forgets the state of a widget that was not drawn in a script run, so a page's
choices reset once the user has looked at another page. A page keeps them by giving each
widget a key through :func:`remembered` (which seeds the widget from a copy kept under a
key of its own, or from the default the first time) and calling :func:`keep` once its
widgets are drawn (which copies their values there). Widgets seeded this way take their
value from the session only: give them no ``value``/``default``/``index`` of their own.
"""

from __future__ import annotations

from typing import Any, Sequence

import streamlit as st

_PREFIX = "_kept."


def _copy(key: str) -> str:
    return _PREFIX + key


def remembered(key: str, default: Any, *, options: Sequence | None = None) -> str:
    """Seed widget ``key`` before it is drawn: its kept value, else ``default``; returns ``key``.

    Parameters
    ----------
    key : str
        The widget's key.
    default : any
        Its value the first time (and when the kept one no longer fits ``options``).
    options : sequence or None
        The widget's options: a kept value outside them (a list: the items outside them)
        is dropped, as the options may have changed meanwhile (another dataset).

    Returns
    -------
    str
        ``key``, to pass to the widget.
    """
    if key not in st.session_state:
        value = st.session_state.get(_copy(key), default)
        if options is not None:
            if isinstance(value, list):
                value = [v for v in value if v in options]
            elif value not in options:
                value = default
        st.session_state[key] = value
    return key


def keep(*keys: str) -> None:
    """Copy the values of widgets ``keys`` where :func:`remembered` finds them after a page switch."""
    for key in keys:
        if key in st.session_state:
            st.session_state[_copy(key)] = st.session_state[key]
