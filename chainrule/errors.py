"""``chainrule.errors``: TensorFlow's error classes under ``tf.errors`` names.

An op given arguments it cannot combine (shapes that do not broadcast, a bad index)
raises :class:`InvalidArgumentError`, which is also a ``ValueError``; so both
``except tf.errors.InvalidArgumentError`` and ``except ValueError`` catch it.
"""

import difflib

from .primitives.primitive import OpError

__all__ = [
    "OpError", "InvalidArgumentError", "NotFoundError", "AlreadyExistsError",
    "OutOfRangeError", "ResourceExhaustedError", "UnimplementedError", "InternalError",
    "FailedPreconditionError", "UnknownError", "CancelledError", "AbortedError",
    "DeadlineExceededError", "PermissionDeniedError", "UnauthenticatedError",
    "UnavailableError", "DataLossError", "OperatorNotAllowedInGraphError", "MissingNameError",
]

# The class ops raise: TensorFlow's name for it.
InvalidArgumentError = OpError


class NotFoundError(OpError):
    """Something named (a file, a resource) does not exist."""


class AlreadyExistsError(OpError):
    """What was to be created already exists."""


class OutOfRangeError(OpError):
    """Iteration went past the end (a dataset iterator that is exhausted)."""


class ResourceExhaustedError(OpError):
    """Memory (or another resource) ran out."""


class UnimplementedError(OpError):
    """The operation is not implemented or supported."""


class InternalError(OpError):
    """An invariant of the runtime was broken."""


class FailedPreconditionError(OpError):
    """The system is not in a state the operation needs (an uninitialised value)."""


class UnknownError(OpError):
    """An error with no better class."""


class CancelledError(OpError):
    """The operation was cancelled."""


class AbortedError(OpError):
    """The operation was aborted."""


class DeadlineExceededError(OpError):
    """A deadline passed before the operation finished."""


class PermissionDeniedError(OpError):
    """The caller may not do this."""


class UnauthenticatedError(OpError):
    """The request has no valid credentials."""


class UnavailableError(OpError):
    """The service is unavailable for now."""


class DataLossError(OpError):
    """Data was lost or corrupted."""


class OperatorNotAllowedInGraphError(TypeError):
    """A traced tensor was used where Python needs a concrete value (``if tensor:``)."""


class MissingNameError(AttributeError):
    """A name asked of a chainrule module that it lacks (``layers.LSTM``). When TensorFlow or
    Keras has the name (``kind`` names what it is there: ``"Keras layer"``), the message says
    that chainrule does not have it yet; it always lists what the module does have
    (``available``) and suggests the closest name, or says what is near (``note``)."""

    def __init__(self, module, name, kind, available, note=None):
        names = sorted(n for n in available if not n.startswith("_"))
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        if note:  # what chainrule has near the name, said before the list
            hint = f" {note}"
        if kind:
            message = (f"{name!r} is a {kind} that chainrule does not have yet ({module}).{hint} "
                       f"What {module} has: {', '.join(names)}.")
        else:
            message = f"module {module!r} has no attribute {name!r}.{hint}"
        super().__init__(message)
        self.name = name
