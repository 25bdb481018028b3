"""The library's exception tree.

Every error the library raises on purpose is an :class:`MgcError`, with a message
that says what was wrong, the value, and what is accepted. Pages and the CLI catch
``MgcError`` alone and show its text.
"""


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
