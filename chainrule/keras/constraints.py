"""``keras.constraints``: projections applied to a weight after every optimizer step.

A constraint is a function of one weight tensor returning the weight it should become; a
layer given one (``Dense(..., kernel_constraint=constraints.MaxNorm(3))``) stores it on the
Variable (``variable.constraint``), and the optimizer assigns ``constraint(variable)`` to the
variable once all the variables of a step have been updated, as Keras 3 does. The
projection is written with chainrule ops, so a compiled training step runs it as part of
its fused update (the same values as the eager step).

Norms are taken over ``axis`` (default 0: for a ``Dense`` kernel of shape ``(inputs,
units)``, the weights coming into each unit), and divided by ``norm + 1e-7`` (Keras's
epsilon), so a zero column stays zero.
"""

from .. import ops
from ._registry import Configurable, Registry, serialize as _serialize, snake_case

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm",
           "min_max_norm", "non_neg", "unit_norm", "get", "serialize", "deserialize"]

EPSILON = 1e-7  # keras.config.epsilon()


class Constraint(Configurable):
    """Base class: ``constraint(w)`` returns the projected weight (here, ``w`` unchanged).
    Subclasses override ``__call__`` (and ``get_config`` for their arguments)."""

    def __call__(self, w):
        return w


def _norms(w, axis):
    return ops.sqrt(ops.reduce_sum(ops.square(w), _axis(axis), keepdims=True))


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


class MaxNorm(Constraint):
    """Scales the weights along ``axis`` down to norm at most ``max_value``:
    ``w * clip(n, 0, max_value) / (1e-7 + n)`` with ``n = sqrt(sum(w², axis))``.

    Args:
        max_value: default 2.
        axis: an axis or a list of axes; default 0 (for a ``Conv2D`` kernel,
            ``[0, 1, 2]`` constrains each filter).
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = ops.clip_by_value(norms, 0.0, float(self.max_value))
        return w * (desired / (norms + EPSILON))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves the norm ``n`` along ``axis`` towards [min_value, max_value]: the weights are
    scaled to norm ``rate * clip(n, min_value, max_value) + (1 - rate) * n`` (divided by
    ``1e-7 + n``). ``rate=1`` enforces the interval at every step.

    Args:
        min_value: default 0.0.
        max_value: default 1.0.
        rate: default 1.0.
        axis: default 0.
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        clipped = ops.clip_by_value(norms, float(self.min_value), float(self.max_value))
        desired = clipped * float(self.rate) + norms * (1.0 - float(self.rate))
        return w * (desired / (norms + EPSILON))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


class NonNeg(Constraint):
    """``max(w, 0)``: negative weights become zero."""

    def __call__(self, w):
        return ops.maximum(w, ops.zeros((), w.dtype))


class UnitNorm(Constraint):
    """``w / (1e-7 + sqrt(sum(w², axis)))``: unit norm along ``axis`` (default 0)."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (_norms(w, self.axis) + EPSILON)

    def get_config(self):
        return {"axis": self.axis}


# Keras's lower-case names are the classes themselves.
max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm

REGISTRY = Registry("constraint")
for _cls in (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm):
    REGISTRY.register(_cls, snake_case(_cls.__name__))


def serialize(constraint):
    """``{"class_name": ..., "config": ...}`` for a constraint; None stays None."""
    return _serialize(constraint)


def deserialize(config, custom_objects=None):
    """The constraint a :func:`serialize` dict (or a name) describes."""
    if isinstance(config, str):
        return REGISTRY.from_name(config)
    return REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    """A constraint from None, a name (``"max_norm"``, ``"MaxNorm"``: default arguments), a
    config dict, a Constraint, or any callable ``weight -> weight``."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        return REGISTRY.from_name(identifier)
    if isinstance(identifier, dict):
        return REGISTRY.deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"constraint must be None, a name, a config dict or a callable such as "
                    f"keras.constraints.MaxNorm(2); received {identifier!r}")
