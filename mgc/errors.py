"""The library's exception tree.

Every error the library raises on purpose is an :class:`MgcError`, with a message
that says what was wrong, the value, and what is accepted. Pages and the CLI catch
``MgcError`` alone and show its text.

The checks several stages share (:func:`check_positive_int`) live here too, so that
one rule gives one message everywhere.
"""

import numbers


class MgcError(Exception):
    """Base class of every error the library raises on purpose."""


class ParameterError(MgcError, ValueError):
    """A function argument is out of range or of the wrong kind."""


class AudioError(MgcError):
    """Audio could not be read, or is unusable (empty, silent, too short, non-finite)."""


class DatasetError(MgcError):
    """A dataset folder or split cannot be used as asked."""


class ArtifactError(MgcError):
    """A cache file, run folder or model on disk is missing, damaged or foreign."""


def check_positive_int(name: str, value, *, upper: int | None = None, unit: str = "") -> int:
    """Return ``value`` as an ``int`` if it is a positive integer (at most ``upper``), else raise.

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : object
        Any integral number (``int``, ``np.integer``) > 0; ``bool`` is refused.
    upper : int or None
        Largest accepted value.
    unit : str
        Shown after the rule, e.g. ``"Hz"``.

    Raises
    ------
    ParameterError
        ``f"{name}={value!r} must be a positive integer"``, or ``"... must be at most {upper}"``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ParameterError(f"{name}={value!r} must be a positive integer" + (f" ({unit})" if unit else ""))
    if upper is not None and value > upper:
        raise ParameterError(f"{name}={value!r} must be at most {upper}")
    return int(value)
