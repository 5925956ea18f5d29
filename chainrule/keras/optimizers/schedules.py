"""``keras.optimizers.schedules``: learning rates that change with the step count, given as
an optimizer's ``learning_rate``. Each is computed in float32, in the order of Keras 3's
formulas, and serialises as ``{"class_name": ..., "config": ...}`` (so optimizers that
hold one save and load)."""

import math

import numpy as np

from .._registry import Registry, serialize

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay",
           "InverseTimeDecay", "CosineDecay", "serialize", "deserialize"]

_f32 = np.float32


class LearningRateSchedule:
    """The base class: ``schedule(step)`` is the rate at ``step`` (the optimizer's
    ``iterations``); subclasses define ``__call__`` and ``get_config``."""

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must define __call__(self, step)")

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} must define get_config() to be "
                                  f"saved")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class _StepDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: their arguments, and the progress
    ``step / decay_steps`` (floored with ``staircase=True``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name=None):
        if decay_steps <= 0:
            raise ValueError(f"{type(self).__name__}: decay_steps must be > 0; received "
                             f"{decay_steps}")
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase = decay_rate, staircase
        self.name = name or type(self).__name__

    def _progress(self, step):
        p = _f32(step) / _f32(self.decay_steps)
        return np.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_StepDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (the exponent floored
    with ``staircase=True``)."""

    def __call__(self, step):
        return _f32(self.initial_learning_rate) * _f32(self.decay_rate) ** self._progress(step)


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to ``boundaries[0]`` (inclusive), ``values[i]`` up to
    ``boundaries[i]``, and ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(f"PiecewiseConstantDecay: needs one value more than boundaries; "
                             f"received {len(boundaries)} boundaries and {len(values)} values")
        self.boundaries, self.values, self.name = list(boundaries), list(values), name

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return _f32(value)
        return _f32(self.values[-1])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class InverseTimeDecay(_StepDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (the quotient
    floored with ``staircase=True``)."""

    def __call__(self, step):
        return _f32(self.initial_learning_rate) / (
            _f32(1) + _f32(self.decay_rate) * self._progress(step))


class CosineDecay(LearningRateSchedule):
    """Half a cosine from the rate down to ``alpha`` times it over ``decay_steps``; with
    ``warmup_target``, first a straight line up to it over ``warmup_steps``."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        self.initial_learning_rate, self.decay_steps, self.alpha = (
            initial_learning_rate, decay_steps, alpha)
        self.name, self.warmup_target, self.warmup_steps = name, warmup_target, warmup_steps

    def _decay(self, step, decay_from):
        fraction = step / _f32(self.decay_steps)
        cosine = _f32(0.5) * (_f32(1) + np.cos(_f32(math.pi) * fraction))
        return decay_from * ((_f32(1) - _f32(self.alpha)) * cosine + _f32(self.alpha))

    def __call__(self, step):
        initial, decay_steps = _f32(self.initial_learning_rate), _f32(self.decay_steps)
        if self.warmup_target is None:
            return self._decay(min(_f32(step), decay_steps), initial)
        target, warmup = _f32(self.warmup_target), _f32(self.warmup_steps)
        step = min(_f32(step), decay_steps + warmup)
        if step < warmup:
            return (target - initial) * (step / warmup) + initial
        return self._decay(step - warmup, target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


REGISTRY = Registry("learning rate schedule")
for _cls in (ExponentialDecay, PiecewiseConstantDecay, InverseTimeDecay, CosineDecay):
    REGISTRY.register(_cls)


def deserialize(config, custom_objects=None):
    """The schedule a :func:`serialize` dict describes."""
    return REGISTRY.deserialize(config, custom_objects)
