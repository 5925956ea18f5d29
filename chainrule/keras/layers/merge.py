"""Merge layers: one output from a list of inputs (``Concatenate()([a, b])``, ``Add()``,
``Multiply()``, ``Average()``, ``Subtract()``, ``Maximum()``, ``Minimum()``), and the
lower-case functions that make and call one (``layers.concatenate([a, b])``)."""

from functools import reduce

from ... import ops
from .layer import Layer

__all__ = ["Dot", "dot", "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
           "concatenate", "add", "subtract", "multiply", "average", "maximum", "minimum"]


class _Merge(Layer):
    """Base class: ``call`` gets the list of input tensors; the shapes must agree.

    Masks: the output's mask is the OR of the inputs' masks (none when an input has none),
    as in Keras; Maximum and Minimum also leave masked entries out of the comparison."""

    supports_masking = True

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        self._check_masks(inputs, mask)
        if any(m is None for m in mask):
            return None
        return reduce(ops.logical_or, [ops.cast(m, bool) for m in mask])

    def _check_masks(self, inputs, mask):
        if not isinstance(mask, (list, tuple)) or not isinstance(inputs, (list, tuple)) or \
                len(mask) != len(inputs):
            raise ValueError(f"layer '{self.name}' ({type(self).__name__}): the masks must be "
                             f"a list with one entry (or None) per input; received "
                             f"{type(mask).__name__} for {len(inputs)} inputs")

    def _check_list(self, shapes):
        if not isinstance(shapes, (list, tuple)) or len(shapes) < 2 or \
                not all(isinstance(s, (list, tuple)) for s in shapes):
            raise ValueError(f"A {type(self).__name__} layer ('{self.name}') should be called "
                             f"on a list of at least 2 inputs; received {shapes!r}")

    def build(self, input_shape):
        self._check_list(input_shape)
        self._check_shapes([tuple(s) for s in input_shape])
        self.built = True

    def _check_shapes(self, shapes):
        """Element-wise merges: every input has the same shape (batch axis aside)."""
        first = shapes[0]
        for shape in shapes[1:]:
            if len(shape) != len(first) or any(
                    a is not None and b is not None and a != b
                    for a, b in zip(shape[1:], first[1:])):
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}) needs inputs of one shape; "
                    f"received shapes {[tuple(s) for s in shapes]}")

    def call(self, inputs):
        return reduce(self._merge, inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


class Add(_Merge):
    """The element-wise sum of the inputs."""

    _merge = staticmethod(ops.add)


class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs)."""

    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"A Subtract layer ('{self.name}') takes exactly 2 inputs; "
                             f"received {len(input_shape)}")

    def call(self, inputs):
        return ops.subtract(inputs[0], inputs[1])


class Multiply(_Merge):
    """The element-wise product of the inputs."""

    _merge = staticmethod(ops.multiply)


class Maximum(_Merge):
    """The element-wise maximum of the inputs (of the unmasked entries, with masks)."""

    _merge = staticmethod(ops.maximum)

    def call(self, inputs):
        return _merge_masked(self._merge, inputs)


class Minimum(_Merge):
    """The element-wise minimum of the inputs (of the unmasked entries, with masks)."""

    _merge = staticmethod(ops.minimum)

    def call(self, inputs):
        return _merge_masked(self._merge, inputs)


def _merge_masked(op, inputs):
    """``op`` folded over the inputs, where an input's masked steps take the other's value
    (so they do not count); the output's mask, the OR of the masks, is attached when every
    input has one (Keras's rule for Maximum and Minimum)."""
    output = output_mask = None
    for i, x in enumerate(inputs):
        mask = getattr(x, "_keras_mask", None)
        if mask is not None:
            mask = ops.broadcast_to(ops.expand_dims(ops.cast(mask, bool), -1), x.shape)
        if i == 0:
            output, output_mask = x, mask
            continue
        if mask is not None:
            x = ops.where(mask, x, output)
        if output_mask is not None:
            output = ops.where(output_mask, output, x)
        output_mask = (ops.logical_or(output_mask, mask)
                       if mask is not None and output_mask is not None else None)
        output = op(output, x)
    if output_mask is not None:
        output._keras_mask = ops.reduce_any(output_mask, axis=-1)
    return output


class Average(_Merge):
    """The element-wise mean of the inputs."""

    def call(self, inputs):
        return reduce(ops.add, inputs) * (1.0 / len(inputs))


class Concatenate(_Merge):
    """Joins the inputs along ``axis`` (the last by default); the other axes must agree."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _check_shapes(self, shapes):
        rank = len(shapes[0])
        axis = self.axis % rank if rank else 0
        for shape in shapes:
            if len(shape) != rank or any(
                    a is not None and b is not None and a != b
                    for i, (a, b) in enumerate(zip(shape, shapes[0])) if i not in (0, axis)):
                raise ValueError(
                    f"Layer '{self.name}' (Concatenate) needs inputs whose shapes match "
                    f"except along the concatenation axis ({self.axis}); received shapes "
                    f"{[tuple(s) for s in shapes]}")

    def call(self, inputs):
        return ops.concat(list(inputs), self.axis)

    def compute_mask(self, inputs, mask=None):
        """The inputs' masks joined along ``axis`` (an unmasked input counts as all True),
        reduced over the last axis, as Keras does."""
        if mask is None:
            return None
        self._check_masks(inputs, mask)
        masks = []
        for x, m in zip(inputs, mask):
            if m is None:
                m = ops.ones(x.shape, bool)
            else:
                m = ops.cast(m, bool)
                if m.ndim < x.ndim:
                    m = ops.logical_or(ops.expand_dims(m, -1), ops.zeros(x.shape, bool))
            masks.append(m)
        return ops.reduce_any(ops.concat(masks, self.axis), axis=-1)

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        axis = self.axis % len(shapes[0])
        sizes = [s[axis] for s in shapes]
        out = list(shapes[0])
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """The dot product of two inputs along ``axes`` (one int for both, or one each), batch
    by batch: ``(batch, n)`` and ``(batch, n)`` give ``(batch, 1)``; ``(batch, t, d)`` and
    ``(batch, s, d)`` with ``axes=2`` give ``(batch, t, s)``. ``normalize=True`` scales
    both to unit L2 norm along those axes first (the cosine similarity)."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(isinstance(a, int) for a in axes):
                raise ValueError(f"Dot: axes must be an int or two ints; received axes={axes!r}")
            axes = list(axes)
        elif not isinstance(axes, int):
            raise TypeError(f"Dot: axes must be an int or a list of two ints; received "
                            f"axes={axes!r}")
        self.axes, self.normalize = axes, bool(normalize)
        self.supports_masking = True

    def _axes(self, shapes):
        axes = [self.axes] * 2 if isinstance(self.axes, int) else self.axes
        return [a % len(s) for a, s in zip(axes, shapes)]

    def _check_shapes(self, shapes):
        if len(shapes) != 2:
            raise ValueError(f"A Dot layer ('{self.name}') is called on exactly 2 inputs; "
                             f"received {len(shapes)}")
        a, b = self._axes(shapes)
        if 0 in (a, b) or (shapes[0][a] is not None and shapes[1][b] is not None
                           and shapes[0][a] != shapes[1][b]):
            raise ValueError(f"Dot layer '{self.name}': axes {self.axes} pair axis {a} of "
                             f"shape {tuple(shapes[0])} with axis {b} of shape "
                             f"{tuple(shapes[1])}: they must be non-batch axes of one size")

    def call(self, inputs):
        x, y = inputs
        a, b = self._axes([x.shape, y.shape])
        if self.normalize:
            x, y = (t * ops.rsqrt(ops.maximum(ops.reduce_sum(ops.square(t), axis, keepdims=True),
                                              1e-14))
                    for t, axis in ((x, a), (y, b)))
        letters = "abcdefghijklmnopqrstuvwxyz"
        xs = "z" + letters[:x.ndim - 1]
        ys = "z" + letters[x.ndim - 1:x.ndim + y.ndim - 2]
        ys = ys[:b] + xs[a] + ys[b + 1:]
        out = "z" + xs[1:].replace(xs[a], "") + ys[1:].replace(xs[a], "")
        result = ops.einsum(f"{xs},{ys}->{out}", x, y)
        return ops.expand_dims(result, 1) if result.ndim == 1 else result

    def compute_output_shape(self, input_shape):
        s1, s2 = (tuple(s) for s in input_shape)
        a, b = self._axes([s1, s2])
        rest = s1[1:a] + s1[a + 1:] + s2[1:b] + s2[b + 1:]
        return (s1[0],) + (rest or (1,))

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """``Dot(axes, normalize, **kwargs)(inputs)``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)


def _functional(cls, doc):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)
    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = doc
    return merge


concatenate = _functional(Concatenate, "``Concatenate(axis=...)(inputs)``.")
add = _functional(Add, "``Add()(inputs)``.")
subtract = _functional(Subtract, "``Subtract()(inputs)``.")
multiply = _functional(Multiply, "``Multiply()(inputs)``.")
average = _functional(Average, "``Average()(inputs)``.")
maximum = _functional(Maximum, "``Maximum()(inputs)``.")
minimum = _functional(Minimum, "``Minimum()(inputs)``.")
