"""``chainrule.config`` and ``chainrule.device``: the runtime switches TensorFlow code
calls. chainrule runs on the CPU, through NumPy; there is no placement to choose."""

import contextlib
import os

__all__ = ["run_functions_eagerly", "functions_run_eagerly", "set_trace_cache_size",
           "get_trace_cache_size", "list_physical_devices",
           "list_logical_devices", "get_visible_devices", "set_visible_devices", "device",
           "PhysicalDevice", "set_native_step", "native_step"]

_state = {"eager": False, "trace_cache_size": 64,
          "native": os.environ.get("CHAINRULE_NATIVE_STEP", "0") not in ("", "0")}


def run_functions_eagerly(run_eagerly):
    """With True, every ``chainrule.function`` calls its Python function directly instead
    of tracing and replaying a graph (for debugging: prints and breakpoints run each call)."""
    _state["eager"] = bool(run_eagerly)


def functions_run_eagerly():
    """Whether :func:`run_functions_eagerly` is on."""
    return _state["eager"]


def set_trace_cache_size(size):
    """How many traces each ``chainrule.function`` (and each compiled Keras step) keeps,
    one per signature; beyond it the least recently used is dropped (and traced again if
    it comes back). A trace holds its graph and its compiled buffers."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"set_trace_cache_size: expected an integer >= 1; received {size!r}")
    _state["trace_cache_size"] = size


def get_trace_cache_size():
    """See :func:`set_trace_cache_size` (64 unless set)."""
    return _state["trace_cache_size"]


def set_native_step(enabled):
    """With True, compiled programs (``jit_compile=True``) run as native segments: runs of
    fused loops, products and Variable updates written out as one numba function each,
    the products through the BLAS NumPy links (see :mod:`chainrule.compiler.native`).
    Programs compiled afterwards use it; it needs numba (otherwise nothing changes). Off
    unless set, or unless the environment sets ``CHAINRULE_NATIVE_STEP=1``. Returns the
    previous setting."""
    previous, _state["native"] = _state["native"], bool(enabled)
    return previous


def native_step():
    """Whether :func:`set_native_step` is on."""
    return _state["native"]


class PhysicalDevice:
    """A device as ``list_physical_devices`` describes it."""

    def __init__(self, name, device_type):
        self.name, self.device_type = name, device_type

    def __repr__(self):
        return f"PhysicalDevice(name={self.name!r}, device_type={self.device_type!r})"

    def __eq__(self, other):
        return isinstance(other, PhysicalDevice) and \
            (self.name, self.device_type) == (other.name, other.device_type)

    __hash__ = object.__hash__


_CPU = PhysicalDevice("/physical_device:CPU:0", "CPU")


def list_physical_devices(device_type=None):
    """The one CPU device (and no GPU: ``list_physical_devices("GPU")`` is empty)."""
    return [_CPU] if device_type in (None, "CPU") else []


def list_logical_devices(device_type=None):
    return list_physical_devices(device_type)


def get_visible_devices(device_type=None):
    return list_physical_devices(device_type)


def set_visible_devices(devices, device_type=None):
    """Accepted for compatibility; the CPU is always used."""


@contextlib.contextmanager
def device(device_name):
    """``with chainrule.device("/CPU:0"):`` runs the block as it is: everything runs on
    the CPU. (As TensorFlow does with soft placement, asking for a GPU that is not there
    is not an error.)"""
    if not isinstance(device_name, (str, type(None))):
        raise TypeError(f"device: expected a device name such as '/CPU:0'; received "
                        f"{device_name!r}")
    yield


# TensorFlow also spells these under tf.config.experimental.
class experimental:  # noqa: N801
    list_physical_devices = staticmethod(list_physical_devices)
    list_logical_devices = staticmethod(list_logical_devices)

    @staticmethod
    def set_memory_growth(device, enable):
        """Accepted for compatibility (there is no GPU memory to manage)."""
