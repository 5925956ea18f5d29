"""Preprocessing layers: Rescaling, Normalization (standardisation by statistics given or
computed from data with ``adapt``), and CategoryEncoding (integer categories as one-hot,
multi-hot or count vectors), and Discretization (numbers as the index of their bin)."""

import math
import numbers

import numpy as np

from ... import ops
from ...tensor import Tensor
from .layer import Layer

__all__ = ["Rescaling", "Normalization", "CategoryEncoding", "Discretization"]


class Rescaling(Layer):
    """``inputs * scale + offset``: ``Rescaling(1 / 255)`` maps pixels to [0, 1]. Integer
    inputs (uint8 images) are cast to the layer's dtype first."""

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset

    def call(self, inputs):
        if inputs.dtype != self.dtype:
            inputs = ops.cast(inputs, self.dtype)
        scale = ops.cast(self.scale, self.dtype)
        offset = ops.cast(self.offset, self.dtype)
        return inputs * scale + offset

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


_EPSILON = 1e-7  # Keras's backend.epsilon(): the smallest standard deviation divided by


class Normalization(Layer):
    """Standardises features: ``(x - mean) / max(sqrt(variance), 1e-7)``, or the reverse
    with ``invert=True`` (``mean + x * max(sqrt(variance), 1e-7)``).

    ``axis`` names the axes that keep their own statistics (the last by default: one mean
    per feature; ``None`` for one mean over everything); the statistics are taken over the
    others. Give them as ``mean`` and ``variance`` (numbers or arrays broadcast to the kept
    axes), or call :meth:`adapt` on data, which sets the non-trainable weights ``mean``,
    ``variance`` and ``count`` (Keras's three, in its order; Keras 3 leaves ``count`` 0).

    >>> import numpy as np
    >>> from chainrule.keras import layers
    >>> norm = layers.Normalization()
    >>> norm.adapt(np.array([[0.0, 10.0], [2.0, 30.0]], np.float32))
    >>> norm(np.array([[1.0, 20.0]], np.float32)).numpy().tolist()
    [[0.0, 0.0]]
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            axis = (int(axis),)
        elif isinstance(axis, (list, tuple)) and all(
                isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis):
            axis = tuple(int(a) for a in axis)
        else:
            raise TypeError(f"Normalization: axis must be None, an int or a tuple of ints; "
                            f"received axis={axis!r}")
        if (mean is None) != (variance is None):
            raise ValueError(f"Normalization: give both mean and variance, or neither (and "
                             f"call adapt); received mean={mean!r} and variance={variance!r}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(f"Normalization: mean and variance must have the same shape; "
                                 f"received mean of shape {np.shape(mean)} and variance of "
                                 f"shape {np.shape(variance)}")
            if np.ndim(mean) > len(axis):
                raise ValueError(f"Normalization: mean of shape {np.shape(mean)} has more axes "
                                 f"than the {len(axis)} kept by axis={axis}")
        self.axis = axis
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self.supports_masking = True
        self._build_input_shape = None

    def build(self, input_shape):
        ndim = len(input_shape)
        name = f"Normalization '{self.name}'"
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(f"{name}: axis={self.axis} is out of range for inputs of shape "
                             f"{tuple(input_shape)} (rank {ndim})")
        keep = tuple(sorted(a % ndim for a in self.axis))
        for a in keep:
            if input_shape[a] is None:
                raise ValueError(f"{name}: the kept axis {a} of input shape "
                                 f"{tuple(input_shape)} must have a known size")
        self._build_input_shape = tuple(input_shape)
        self._keep_axis = keep
        self._reduce_axis = tuple(a for a in range(ndim) if a not in keep)
        self._broadcast_shape = tuple(input_shape[a] if a in keep else 1 for a in range(ndim))
        self._mean_and_var_shape = tuple(input_shape[a] for a in keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(self._mean_and_var_shape, "zeros", name="mean",
                                              trainable=False)
            self.adapt_variance = self.add_weight(self._mean_and_var_shape, "ones",
                                                  name="variance", trainable=False)
            self.count = self.add_weight((), "zeros", dtype="int32", name="count",
                                         trainable=False)
        else:
            self._given = tuple(self._broadcast_given(v) for v in (self.input_mean,
                                                                  self.input_variance))
        self._input_axes = {a: input_shape[a] for a in keep}
        self._min_ndim = ndim
        self.built = True

    def _broadcast_given(self, value):
        value = np.asarray(value, np.float32)
        ndim = len(self._broadcast_shape)
        if value.ndim:  # its axes are the last kept ones
            expanded = [1] * ndim
            for i in range(1, value.ndim + 1):
                expanded[self._keep_axis[-i]] = value.shape[-i]
            value = value.reshape(expanded)
        return np.broadcast_to(value, self._broadcast_shape).astype(self.dtype.name)

    @property
    def mean(self):
        """The mean the layer subtracts, shaped to broadcast against its inputs."""
        return self._statistics()[0] if self.built else None

    @property
    def variance(self):
        return self._statistics()[1] if self.built else None

    def _statistics(self):
        if self.input_mean is not None:
            return tuple(ops.constant(v) for v in self._given)
        return (ops.reshape(self.adapt_mean, self._broadcast_shape),
                ops.reshape(self.adapt_variance, self._broadcast_shape))

    def adapt(self, data):
        """Sets ``mean`` and ``variance`` from ``data``: an array or tensor (all of it at
        once), or an iterable of batches (a list of arrays, a generator, a batched
        ``chainrule.data.Dataset``; of ``(x, y)`` pairs, ``x`` is used), combined batch by
        batch as Keras does."""
        name = f"Normalization '{self.name}'"
        if isinstance(data, (np.ndarray, Tensor)):
            batches, shape = None, tuple(data.shape)
        elif hasattr(data, "__iter__"):
            iterator = iter(data)
            first = next(iterator, None)
            if first is None:
                raise ValueError(f"{name}: adapt() received no batches; pass an array or a "
                                 f"non-empty iterable of arrays")
            first = _first_of(first)
            shape = getattr(first, "shape", None)
            if shape is None:
                raise TypeError(f"{name}: adapt() expects batches with a shape (arrays or "
                                f"tensors); received a {type(first).__name__}")
            shape = tuple(shape)
            batches = _chain(first, iterator)
        else:
            raise TypeError(f"{name}: adapt() takes an array, a tensor or an iterable of "
                            f"batches; received a {type(data).__name__}")
        if self.input_mean is not None:
            raise ValueError(f"{name}: it was given mean and variance, so adapt() has nothing "
                             f"to set; make the layer without them to adapt it")
        if not self.built:
            self._build_for(shape)
        self._check_adapt_shape(shape)
        if batches is None:
            values = data.numpy() if isinstance(data, Tensor) else data
            total_mean = np.mean(values, axis=self._reduce_axis)
            total_var = np.var(values, axis=self._reduce_axis)
        else:
            total_mean = np.zeros(self._mean_and_var_shape, np.float32)
            total_var = np.zeros(self._mean_and_var_shape, np.float32)
            total_count = 0
            for batch in batches:
                batch = _first_of(batch)
                batch = np.asarray(batch.numpy() if isinstance(batch, Tensor) else batch,
                                   self.dtype.name)
                self._check_adapt_shape(batch.shape)
                batch_mean = np.mean(batch, axis=self._reduce_axis)
                batch_var = np.var(batch, axis=self._reduce_axis)
                count = math.prod(batch.shape[a] for a in self._reduce_axis)
                total_count += count
                new_weight = float(count) / total_count
                old_weight = 1.0 - new_weight
                new_mean = total_mean * old_weight + batch_mean * new_weight
                total_var = ((total_var + (total_mean - new_mean) ** 2) * old_weight
                             + (batch_var + (batch_mean - new_mean) ** 2) * new_weight)
                total_mean = new_mean
        self.adapt_mean.assign(np.asarray(total_mean, self.dtype.name))
        self.adapt_variance.assign(np.asarray(total_var, self.dtype.name))

    def _check_adapt_shape(self, shape):
        for a in self._keep_axis:
            if len(shape) != len(self._build_input_shape) or shape[a] != \
                    self._build_input_shape[a]:
                raise ValueError(
                    f"Normalization '{self.name}': it was built for input shape "
                    f"{self._build_input_shape}, but adapt() received data of shape "
                    f"{tuple(shape)} (axis {a} must be {self._build_input_shape[a]})")

    def call(self, inputs):
        if inputs.dtype != self.dtype:
            inputs = ops.cast(inputs, self.dtype)
        mean, variance = self._statistics()
        spread = ops.maximum(ops.sqrt(variance), _EPSILON)
        if self.invert:
            return mean + inputs * spread
        return (inputs - mean) / spread

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": np.array(self.input_mean).tolist(),
                "variance": np.array(self.input_variance).tolist()}

    def get_build_config(self):
        return {"input_shape": self._build_input_shape} if self._build_input_shape else None


def _first_of(batch):
    """The features of a batch that may be an ``(x, y)`` or ``(x, y, weights)`` tuple."""
    return batch[0] if isinstance(batch, tuple) else batch


def _chain(first, rest):
    yield first
    yield from rest


def encode_categories(x, output_mode, depth, dtype, count_weights=None):
    """Integer categories ``x`` as Keras 3 encodes them (see :class:`CategoryEncoding`)."""
    if x.ndim == 0:
        x = ops.expand_dims(x, -1)
    if output_mode == "one_hot":
        if x.ndim > 1 and x.shape[-1] == 1:
            x = ops.reshape(x, x.shape[:-1])
        return ops.one_hot(x, depth, dtype=dtype)
    axis = 1 if x.ndim > 1 else 0
    encoded = ops.one_hot(x, depth, dtype=dtype)
    if output_mode == "multi_hot":
        return ops.reduce_max(encoded, axis)
    if count_weights is not None:
        weights = ops.cast(ops.convert_to_tensor(count_weights), dtype)
        encoded = encoded * ops.expand_dims(weights, -1)
    return ops.reduce_sum(encoded, axis)


class CategoryEncoding(Layer):
    """Integer categories in ``[0, num_tokens)`` as vectors of ``num_tokens`` floats, as
    Keras 3 encodes them:

    * ``"multi_hot"`` (the default; ``"binary"`` is the same): 1 for each category present
      in an example, ``(batch, k)`` to ``(batch, num_tokens)``;
    * ``"one_hot"``: one vector per entry, ``(batch,)`` or ``(batch, 1)`` to ``(batch,
      num_tokens)``, ``(batch, k)`` to ``(batch, k, num_tokens)``;
    * ``"count"``: how many times each category occurs (each occurrence weighted by
      ``count_weights`` when the call gives them).

    Categories outside the range count for nothing (a row of zeros)."""

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in ("count", "one_hot", "multi_hot"):
            raise ValueError(f"CategoryEncoding: output_mode must be 'multi_hot', 'one_hot' "
                             f"or 'count'; received output_mode={output_mode!r}")
        if num_tokens is None or not isinstance(num_tokens, numbers.Integral) or num_tokens < 1:
            raise ValueError(f"CategoryEncoding: num_tokens must be a positive int (the number "
                             f"of categories); received num_tokens={num_tokens!r}")
        if sparse:
            raise ValueError("CategoryEncoding: sparse=True is not supported (chainrule has no "
                             "sparse tensors); pass sparse=False")
        self.num_tokens, self.output_mode, self.sparse = int(num_tokens), output_mode, False

    def _prepare(self, inputs):
        # Categories stay integers (the base class would make floats of float inputs).
        x = inputs if isinstance(inputs, Tensor) else ops.convert_to_tensor(np.asarray(inputs))
        if not self.built:
            self._build_for(x.shape)
        return x

    def call(self, inputs, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(f"CategoryEncoding '{self.name}': count_weights are used only "
                             f"with output_mode='count' (this layer's is "
                             f"{self.output_mode!r})")
        return encode_categories(inputs, self.output_mode, self.num_tokens, self.dtype,
                                 count_weights)

    def compute_output_shape(self, input_shape):
        if len(input_shape) == 0:
            return (self.num_tokens,)
        if self.output_mode == "one_hot":
            if input_shape[-1] != 1 or len(input_shape) == 1:
                return tuple(input_shape) + (self.num_tokens,)
        return tuple(input_shape[:-1]) + (self.num_tokens,)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode}


class Discretization(Layer):
    """Each number as the index of its bin: with ``bin_boundaries=[0.0, 1.0, 2.0]``, values
    below 0 are 0, those in [0, 1) are 1, ..., those at or above 2 are 3 (int32), or the
    indices encoded as ``"one_hot"``, ``"multi_hot"`` or ``"count"`` vectors (see
    :class:`CategoryEncoding`).

    With ``num_bins`` instead, :meth:`adapt` finds boundaries at the data's quantiles the
    way Keras does: each batch is summarised by every k-th of its sorted values (about
    ``1 / epsilon`` of them, each standing for k values), summaries are merged and
    compressed by interpolating the cumulative counts at multiples of ``epsilon``, and the
    boundaries are the interpolated values at multiples of ``1 / num_bins``. Keras keeps no
    weights for it: the boundaries found are part of the configuration."""

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError(f"Discretization: output_mode must be 'int', 'one_hot', "
                             f"'multi_hot' or 'count'; received output_mode={output_mode!r}")
        if sparse:
            raise ValueError("Discretization: sparse=True is not supported (chainrule has no "
                             "sparse tensors); pass sparse=False")
        if num_bins is not None and num_bins < 0:
            raise ValueError(f"Discretization: num_bins must be >= 0; received "
                             f"num_bins={num_bins}")
        if (num_bins is None) == (bin_boundaries is None):
            raise ValueError("Discretization: give either bin_boundaries or num_bins (and "
                             "then call adapt), not both and not neither")
        self.bin_boundaries = None if bin_boundaries is None else [float(b) for b in
                                                                    bin_boundaries]
        if self.bin_boundaries is not None and any(
                a > b for a, b in zip(self.bin_boundaries, self.bin_boundaries[1:])):
            raise ValueError(f"Discretization: bin_boundaries must be increasing; received "
                             f"{bin_boundaries!r}")
        self.num_bins, self.epsilon = num_bins, float(epsilon)
        self.output_mode, self.sparse = output_mode, False
        self._summary = None if self.bin_boundaries else np.zeros((2, 0), np.float32)

    def adapt(self, data, steps=None):
        """Sets ``bin_boundaries`` from the quantiles of ``data`` (an array, or an iterable
        of batches; ``steps`` batches at most)."""
        if self.num_bins is None:
            raise ValueError(f"Discretization '{self.name}': it was made with bin_boundaries; "
                             f"make it with num_bins to adapt it")
        if isinstance(data, (np.ndarray, Tensor)) or not hasattr(data, "__iter__"):
            batches = [data]
        else:
            batches = data
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            batch = _first_of(batch)
            values = np.asarray(batch.numpy() if isinstance(batch, Tensor) else batch,
                                np.float32)
            self._summary = _merge(_summarize(values, self.epsilon), self._summary,
                                   self.epsilon)
        self.bin_boundaries = _compress(self._summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError(f"Discretization '{self.name}' has no bin boundaries yet: give "
                             f"bin_boundaries, or call adapt(data) first")
        x = inputs if inputs.dtype == self.dtype else ops.cast(inputs, self.dtype)
        boundaries = ops.constant(np.asarray(self.bin_boundaries, self.dtype.name))
        # np.digitize's index: how many boundaries are at or below each value
        indices = ops.cast(ops.reduce_sum(ops.cast(ops.greater_equal(
            ops.expand_dims(x, -1), boundaries), "int32"), -1), "int32")
        if self.output_mode == "int":
            return indices
        return encode_categories(indices, self.output_mode, len(self.bin_boundaries) + 1,
                                 self.dtype)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None \
            else self.num_bins
        if self.output_mode == "one_hot":
            if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
                return tuple(input_shape[:-1]) + (depth,)
            return tuple(input_shape) + (depth,)
        if input_shape and len(input_shape) >= 2:
            return (input_shape[0],) + tuple(input_shape[2:]) + (depth,)
        return (depth,)

    @classmethod
    def from_config(cls, config):
        # an adapted layer's config has both: made from num_bins, given the boundaries found
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            config = dict(config)
            boundaries = config.pop("bin_boundaries")
            layer = cls(**config)
            layer.bin_boundaries = [float(b) for b in boundaries]
            return layer
        return cls(**config)

    def get_config(self):
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries,
                "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": False}


def _summarize(values, epsilon):
    """``[values, weights]``: every k-th sorted value (k about size * epsilon, at least 1),
    each weighing k."""
    values = np.sort(values.reshape(-1))
    step = max(values.size * epsilon, 1)
    kept = values[int(step - 1)::int(step)]
    return np.stack([kept, np.full_like(kept, step)])


def _merge(first, second, epsilon):
    merged = np.concatenate((first, second), axis=1)
    return _compress(merged[:, np.argsort(merged[0])], epsilon)


def _compress(summary, epsilon):
    """The summary at the cumulative-weight fractions epsilon, 2 epsilon, ..., 1, by linear
    interpolation (unchanged when it is already that small)."""
    if summary.shape[1] * epsilon < 1:
        return summary
    fractions = epsilon + np.arange(0.0, 1.0, epsilon)
    cumulative = summary[1].cumsum()
    where = cumulative / cumulative[-1]
    values = np.interp(fractions, where, summary[0])
    cumulative = np.interp(fractions, where, cumulative)
    weights = np.diff(cumulative, prepend=0.0)
    return np.stack((values, weights)).astype("float32")
