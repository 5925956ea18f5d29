"""``tf.types``: the abstract types TensorFlow's guides check values against
(``isinstance(f, tf.types.experimental.GenericFunction)``), in :mod:`.experimental`."""

from .. import errors
from . import experimental

__all__ = ["experimental"]


def __getattr__(name):
    raise errors.MissingNameError(__name__, name, None, __all__)
