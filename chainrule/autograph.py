"""``chainrule.autograph`` (TensorFlow's ``tf.autograph``): how ``chainrule.function`` treats
Python control flow on tensor values.

TensorFlow's AutoGraph rewrites a function's source so that an ``if`` or ``while`` on a
tensor becomes ``tf.cond``/``tf.while_loop`` in the graph. chainrule does not rewrite
source: its traces run the Python on the real values, and each decision the Python takes
on a traced tensor (``bool``, ``int``, ``float`` of it) is a *guard* of the trace; a call
whose inputs decide otherwise runs the trace of their own path (see
:mod:`chainrule.graph.capture`). So there is no converted code to show (``to_code`` and
``to_graph`` are TensorFlow names chainrule does not have), and what this module offers is:

* :func:`experimental.do_not_convert` (also ``chainrule.autograph.do_not_convert``): inside
  the decorated function, an ``if`` on a traced tensor is an error again, as in a function
  AutoGraph leaves alone;
* :func:`set_verbosity` / :func:`get_verbosity`: at level 1 or more, each new path a
  function traces is printed (to stderr, or stdout with ``alsologtostdout``);
* :func:`trace`: prints its arguments (TensorFlow's trace-time print).
"""

import functools
import sys
import types

from . import errors
from .graph import capture

__all__ = ["do_not_convert", "experimental", "get_verbosity", "set_verbosity", "trace"]


def do_not_convert(func=None):
    """``func`` with Python conditions on traced tensors refused inside it (a
    :class:`~chainrule.errors.OperatorNotAllowedInGraphError` naming the line); eagerly it
    runs as it is. Works as ``@do_not_convert`` and ``do_not_convert(func)``."""
    if func is None:
        return do_not_convert
    if not callable(func):
        raise TypeError(f"do_not_convert: expected a function; received {func!r}")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with capture.tensor_conditions_refused():
            return func(*args, **kwargs)
    return wrapper


def set_verbosity(level, alsologtostdout=False):
    """How much ``chainrule.function`` tells about the paths it traces: 0 (the default)
    nothing, 1 or more a line for each new path of a function (which guard, where)."""
    level = int(level)
    if level < 0:
        raise ValueError(f"set_verbosity: level must be >= 0; received {level}")
    capture.verbosity[:] = [level, bool(alsologtostdout)]


def get_verbosity():
    return capture.verbosity[0]


def trace(*args):
    """Prints ``args`` when it runs: in a traced function, while tracing (each new path)."""
    print(*args, file=sys.stdout)


experimental = types.SimpleNamespace(do_not_convert=do_not_convert)

_TENSORFLOW_NAMES = frozenset({"to_code", "to_graph", "experimental_convert"})


def __getattr__(name):
    kind = "TensorFlow name" if name in _TENSORFLOW_NAMES else None
    raise errors.MissingNameError(__name__, name, kind, __all__)
