"""Weight initializers with Keras's formulas, drawing from :mod:`chainrule.random`.

An initializer is called as ``init(shape, dtype="float32")`` and returns a Tensor. Unseeded
initializers draw from the global generator, so ``chainrule.random.set_seed`` (or
``keras.utils.set_random_seed``) makes a model's initial weights repeatable.

The limits, for a kernel of shape ``(fan_in, fan_out)``:

============================  ===================================================
``"glorot_uniform"``          U(-L, L), L = sqrt(6 / (fan_in + fan_out))  (Dense default)
``"glorot_normal"``           truncated N(0, s), s = sqrt(2 / (fan_in + fan_out)) / .8796
``"he_uniform"``              U(-L, L), L = sqrt(6 / fan_in)
``"he_normal"``               truncated N(0, s), s = sqrt(2 / fan_in) / .8796
``"lecun_uniform"``           U(-L, L), L = sqrt(3 / fan_in)
``"lecun_normal"``            truncated N(0, s), s = sqrt(1 / fan_in) / .8796
``"uniform"``                 U(-0.05, 0.05)
``"normal"``                  N(0, 0.05)
``"truncated_normal"``        N(0, 0.05) redrawn beyond two standard deviations
``"zeros"`` / ``"ones"``      constants (bias default: zeros)
``"orthogonal"``              gain * an orthogonal matrix (QR of a normal draw)
``"identity"``                gain * the identity matrix (2-D shapes)
============================  ===================================================

Keras's lower-case names are also attributes: ``initializers.glorot_uniform`` is
:class:`GlorotUniform`, as in Keras.

(.8796 is the standard deviation of a unit normal truncated to [-2, 2]: dividing by it
gives the truncated draw the intended variance.)
"""

import math
import types

import numpy as np

from .. import dtypes, random
from ..ops import convert_to_tensor, fill
from ._registry import Configurable, Registry, serialize as _serialize

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal",
    "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform",
    "HeNormal", "LecunUniform", "LecunNormal", "Orthogonal", "OrthogonalInitializer",
    "Identity", "IdentityInitializer", "get", "serialize", "deserialize", "zeros", "ones",
    "constant", "random_uniform", "random_normal", "truncated_normal", "variance_scaling",
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
    "lecun_normal", "orthogonal", "identity",
]

_TRUNCATED_STDDEV = 0.87962566103423978


class Initializer(Configurable):
    """Base class: ``__call__(shape, dtype)`` returns a Tensor; ``get_config`` its arguments."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError


def _float_dtype(dtype):
    return dtypes.float32 if dtype is None else dtypes.as_dtype(dtype)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return fill(shape, _float_dtype(dtype).type(self.value))

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=None):
        return random.uniform(shape, self.minval, self.maxval, _float_dtype(dtype), self.seed)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=None):
        return random.normal(shape, self.mean, self.stddev, _float_dtype(dtype), self.seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    def __call__(self, shape, dtype=None):
        return random.truncated_normal(shape, self.mean, self.stddev, _float_dtype(dtype),
                                       self.seed)


def compute_fans(shape):
    """(fan_in, fan_out) of a weight shape; axes before the last two are a receptive field."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class VarianceScaling(Initializer):
    """Draws with variance ``scale / n``, where n is fan_in, fan_out or their mean."""

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be positive, received {scale}")
        if mode not in self._MODES:
            raise ValueError(f"VarianceScaling: mode must be one of {self._MODES}, received {mode!r}")
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(f"VarianceScaling: distribution must be one of "
                             f"{self._DISTRIBUTIONS}, received {distribution!r}")
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def __call__(self, shape, dtype=None):
        dtype = _float_dtype(dtype)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return random.uniform(shape, -limit, limit, dtype, self.seed)
        if self.distribution == "untruncated_normal":
            return random.normal(shape, 0.0, math.sqrt(variance), dtype, self.seed)
        stddev = math.sqrt(variance) / _TRUNCATED_STDDEV
        return random.truncated_normal(shape, 0.0, stddev, dtype, self.seed)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


def _fixed_variance_scaling(name, scale, mode, distribution, doc):
    """A VarianceScaling subclass whose only argument is ``seed``."""

    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__doc__": doc, "__module__": __name__})


GlorotUniform = _fixed_variance_scaling(
    "GlorotUniform", 1.0, "fan_avg", "uniform",
    "U(-L, L) with L = sqrt(6 / (fan_in + fan_out)): Dense's default kernel initializer.")
GlorotNormal = _fixed_variance_scaling(
    "GlorotNormal", 1.0, "fan_avg", "truncated_normal",
    "Truncated normal with stddev sqrt(2 / (fan_in + fan_out)) / .8796.")
HeUniform = _fixed_variance_scaling(
    "HeUniform", 2.0, "fan_in", "uniform", "U(-L, L) with L = sqrt(6 / fan_in).")
HeNormal = _fixed_variance_scaling(
    "HeNormal", 2.0, "fan_in", "truncated_normal",
    "Truncated normal with stddev sqrt(2 / fan_in) / .8796.")
LecunUniform = _fixed_variance_scaling(
    "LecunUniform", 1.0, "fan_in", "uniform", "U(-L, L) with L = sqrt(3 / fan_in).")
LecunNormal = _fixed_variance_scaling(
    "LecunNormal", 1.0, "fan_in", "truncated_normal",
    "Truncated normal with stddev sqrt(1 / fan_in) / .8796.")

class Orthogonal(Initializer):
    """``gain`` times an orthogonal matrix, reshaped to ``shape`` (at least 2-D: the axes
    but the last are flattened into rows): the Q of the QR decomposition of a standard
    normal draw of shape (max(rows, cols), min(rows, cols)), its columns' signs fixed by R's
    diagonal, transposed when there are fewer rows than columns (as Keras does)."""

    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = gain, seed

    def __call__(self, shape, dtype=None):
        shape = tuple(int(d) for d in shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: the weight must be at least 2-D; received shape "
                             f"{shape}")
        dtype = _float_dtype(dtype)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = random.normal((max(rows, cols), min(rows, cols)), 0.0, 1.0, dtype, self.seed)
        q, r = np.linalg.qr(np.asarray(a.numpy(), np.float64))
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return convert_to_tensor((self.gain * q).reshape(shape).astype(dtype.name))

    def get_config(self):
        return {"seed": self.seed, "gain": self.gain}


class Identity(Initializer):
    """``gain`` times the identity matrix (ones on the main diagonal of a 2-D shape)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = tuple(int(d) for d in shape)
        if len(shape) != 2:
            raise ValueError(f"Identity: the weight must be 2-D; received shape {shape}")
        dtype = _float_dtype(dtype)
        return convert_to_tensor((self.gain * np.eye(*shape)).astype(dtype.name))

    def get_config(self):
        return {"gain": self.gain}


OrthogonalInitializer, IdentityInitializer = Orthogonal, Identity

# Keras's lower-case names are the classes themselves.
zeros, ones, constant = Zeros, Ones, Constant
random_uniform, random_normal, truncated_normal = RandomUniform, RandomNormal, TruncatedNormal
variance_scaling, orthogonal, identity = VarianceScaling, Orthogonal, Identity
glorot_uniform, glorot_normal, he_uniform, he_normal = GlorotUniform, GlorotNormal, \
    HeUniform, HeNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal


REGISTRY = Registry("initializer")
for _cls, *_names in (
        (Zeros, "zeros"), (Ones, "ones"), (Constant, "constant"),
        (RandomUniform, "random_uniform", "uniform"), (RandomNormal, "random_normal", "normal"),
        (TruncatedNormal, "truncated_normal"), (VarianceScaling, "variance_scaling"),
        (GlorotUniform, "glorot_uniform"), (GlorotNormal, "glorot_normal"),
        (HeUniform, "he_uniform"), (HeNormal, "he_normal"),
        (LecunUniform, "lecun_uniform"), (LecunNormal, "lecun_normal"),
        (Orthogonal, "orthogonal", "orthogonal_initializer"),
        (Identity, "identity", "identity_initializer")):
    REGISTRY.register(_cls, *_names)
REGISTRY.classes.update(OrthogonalInitializer=Orthogonal, IdentityInitializer=Identity)


def _named_functions():
    """The functions an initializer config may name (``{"class_name": "function", ...}``):
    TensorFlow's random draws, which take ``(shape, dtype=...)`` as an initializer does. A
    file naming any other function is refused (chainrule runs no code a file names)."""
    return {f"{f.__module__}.{f.__qualname__}": f
            for f in (random.normal, random.uniform, random.truncated_normal)}


def serialize(initializer):
    """An initializer's config; a plain function (``kernel_initializer=tf.random.normal``)
    is saved by its module and name, as Keras saves one."""
    if isinstance(initializer, (types.FunctionType, types.BuiltinFunctionType)):
        return {"module": initializer.__module__, "class_name": "function",
                "config": initializer.__qualname__, "registered_name": "function"}
    return _serialize(initializer)


def get(identifier):
    """An initializer from a name (``"glorot_uniform"``), a class name, a config dict
    ``{"class_name": ..., "config": {...}}``, an Initializer, or any callable
    ``(shape, dtype) -> tensor``."""
    if isinstance(identifier, str):
        return REGISTRY.from_name(identifier)
    if isinstance(identifier, dict):
        if identifier.get("class_name") == "function":
            name = f"{identifier.get('module')}.{identifier.get('config')}"
            known = _named_functions()
            if name not in known:
                raise ValueError(
                    f"the initializer is the function {name}, which chainrule does not load "
                    f"from a file (it loads only {sorted(known)} and initializer classes); "
                    f"build the model in code and load its weights with load_weights, or "
                    f"use an initializer class such as keras.initializers.RandomNormal")
            return known[name]
        return REGISTRY.deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()  # initializers.glorot_uniform, the class, as Keras allows
    if isinstance(identifier, Initializer) or callable(identifier):
        return identifier
    raise TypeError(f"initializer must be a name, a config dict or a callable; received "
                    f"{identifier!r} of type {type(identifier).__name__}")


def deserialize(config, custom_objects=None):
    """The initializer a :func:`serialize` dict (or a name) describes."""
    if isinstance(config, str):
        return REGISTRY.from_name(config)
    return REGISTRY.deserialize(config, custom_objects)
