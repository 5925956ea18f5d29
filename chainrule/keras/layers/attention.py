"""Attention layers: MultiHeadAttention (Keras's weight layout, so that Keras-written
weights load), Attention (dot-product, Luong-style) and AdditiveAttention (Bahdanau-style).

Masks follow Keras: a boolean ``attention_mask`` of shape ``(B, T, S)`` (True where a query
position may attend to a key position), ``use_causal_mask=True`` (each position attends to
itself and the ones before it), and per-position masks of the query and the value combined
with them by logical and. Masked scores are replaced by -1e9 before the softmax, so a row
with every position masked attends uniformly, as in Keras."""

import math
import numbers
import string

import numpy as np

from ... import ops
from .. import initializers, regularizers
from .einsum_dense import EinsumDense
from .layer import Layer

__all__ = ["MultiHeadAttention", "Attention", "AdditiveAttention"]

_LARGE_NEGATIVE = -1e9  # Keras's stand-in for -inf in masked float32 scores


def causal_mask(query_length, value_length):
    """``(1, T, S)`` booleans, True where the key position is not after the query's."""
    return np.tril(np.ones((query_length, value_length), bool))[None]


def _softmax(x, axes):
    """Softmax over ``axes`` (the last ones). Over the last axis alone it is taken on the
    scores as rows of a matrix: the compiled step's softmax of a 2-D array is bit for bit
    the eager one, that of a 4-D array not yet (its gradient differs in the last bits)."""
    if tuple(axes) == (x.ndim - 1,):
        return ops.reshape(ops.softmax(ops.reshape(x, (-1, x.shape[-1])), axis=-1), x.shape)
    if len(axes) == 1:
        return ops.softmax(x, axis=axes[0])
    shifted = x - ops.stop_gradient(ops.reduce_max(x, axes, keepdims=True))
    e = ops.exp(shifted)
    return e / ops.reduce_sum(e, axes, keepdims=True)


def _as_bool(mask):
    mask = ops.convert_to_tensor(mask)
    return mask if mask.dtype.name == "bool" else ops.not_equal(mask, ops.zeros_like(mask))


def _projection(free_dims, bound_dims, output_dims):
    """Keras's projection equation: ``free`` input axes kept, ``bound`` contracted with the
    kernel, ``output`` made by it; returns ``(equation, bias_axes, output_rank)``."""
    letters = string.ascii_lowercase
    free = letters[:free_dims]
    bound = letters[free_dims:free_dims + bound_dims]
    out = letters[free_dims + bound_dims:free_dims + bound_dims + output_dims]
    return f"{free}{bound},{bound}{out}->{free}{out}", out, free_dims + output_dims


def _attention_equations(rank, attn_axes):
    """Keras's einsum equations for the scores (key, query -> scores) and the combination
    (scores, value -> output) of projected tensors of ``rank`` (batch, ..., heads, channels),
    and the scores' rank."""
    letters = string.ascii_lowercase
    target = letters[:rank]
    batch_dims = [i for i in range(rank) if i not in attn_axes and i != rank - 1]
    source, offset = "", rank
    for i in range(rank):
        if i in batch_dims or i == rank - 1:
            source += target[i]
        else:
            source += letters[offset]
            offset += 1
    product = "".join([target[i] for i in batch_dims] + [target[i] for i in attn_axes]
                      + [source[i] for i in attn_axes])
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


class MultiHeadAttention(Layer):
    """Multi-head attention as in "Attention Is All You Need", Keras's layer: ``query``,
    ``key`` and ``value`` are each projected to ``num_heads`` heads (of ``key_dim`` channels,
    ``value_dim`` for the value), each head attends by ``softmax(q k^T / sqrt(key_dim))``,
    and the heads' outputs are projected back to the query's last size (or
    ``output_shape``).

    Call it as ``mha(query, value, key=None, attention_mask=None,
    return_attention_scores=False, training=None, use_causal_mask=False)``; ``key`` defaults
    to ``value``. The projections are :class:`EinsumDense` layers with Keras's names and
    kernel shapes: ``query``/``key``/``value`` kernels ``(dim, num_heads, key_dim)`` with
    biases ``(num_heads, key_dim)``, the ``attention_output`` kernel ``(num_heads,
    value_dim, dim)`` with a bias ``(dim,)``; ``weights`` lists them in that order, and a
    ``.keras`` file keeps them under ``query_dense``, ``key_dense``, ``value_dense`` and
    ``output_dense``, as Keras's files do.

    >>> import numpy as np
    >>> from chainrule.keras import layers
    >>> mha = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    >>> x = np.ones((1, 4, 8), np.float32)
    >>> out, scores = mha(x, x, return_attention_scores=True)
    >>> out.shape, scores.shape, [tuple(w.shape) for w in mha.weights][:2]
    (TensorShape([1, 4, 8]), TensorShape([1, 2, 4, 4]), [(8, 2, 3), (2, 3)])
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, sliding_window=None,
                 flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 use_gate=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        for what, value in (("num_heads", num_heads), ("key_dim", key_dim)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"MultiHeadAttention: {what} must be a positive int; "
                                 f"received {what}={value!r}")
        if value_dim is not None and (not isinstance(value_dim, numbers.Integral)
                                      or value_dim < 1):
            raise ValueError(f"MultiHeadAttention: value_dim must be a positive int or None; "
                             f"received value_dim={value_dim!r}")
        if kernel_constraint is not None or bias_constraint is not None:
            raise ValueError("MultiHeadAttention: chainrule has no weight constraints yet; "
                             "pass kernel_constraint=None and bias_constraint=None")
        if activity_regularizer is not None:
            raise ValueError("MultiHeadAttention: activity_regularizer is not supported; add "
                             "an ActivityRegularization layer after it")
        if flash_attention:
            raise ValueError("MultiHeadAttention: flash_attention is a GPU kernel of other "
                             "backends; chainrule computes the same attention without it "
                             "(pass flash_attention=None)")
        if sliding_window is not None and (not isinstance(sliding_window, numbers.Integral)
                                           or sliding_window < 1):
            raise ValueError(f"MultiHeadAttention: sliding_window must be None or a positive "
                             f"int; received sliding_window={sliding_window!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"MultiHeadAttention: dropout must be in [0, 1); received "
                             f"dropout={dropout}")
        self._num_heads, self._key_dim = int(num_heads), int(key_dim)
        self._value_dim = int(value_dim) if value_dim else int(key_dim)
        self._dropout, self._use_bias, self._use_gate = float(dropout), bool(use_bias), \
            bool(use_gate)
        if output_shape:
            output_shape = (output_shape,) if isinstance(output_shape, int) \
                else tuple(output_shape)
        self._output_shape_given = output_shape or None
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(f"MultiHeadAttention: attention_axes must be an int, a list or a "
                             f"tuple; received attention_axes={attention_axes!r}")
        self._attention_axes = None if attention_axes is None else tuple(attention_axes)
        self._sliding_window = sliding_window
        self._kernel_initializer = initializers.get(kernel_initializer)
        self._bias_initializer = initializers.get(bias_initializer)
        self._kernel_regularizer = regularizers.get(kernel_regularizer)
        self._bias_regularizer = regularizers.get(bias_regularizer)
        self.seed = seed
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(self._key_dim))
        self.supports_masking = True
        # the projections, made once the shapes of query, value and key are known
        self._query_dense = self._key_dense = self._gate_dense = None
        self._value_dense = self._output_dense = None

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)
    query_dense = property(lambda self: self._query_dense)
    key_dense = property(lambda self: self._key_dense)
    value_dense = property(lambda self: self._value_dense)
    output_dense = property(lambda self: self._output_dense)

    # Where Keras's files keep the projections' weights: under its public properties.
    _keras_paths = {"_query_dense": "query_dense", "_key_dense": "key_dense",
                    "_value_dense": "value_dense", "_output_dense": "output_dense"}

    def build(self, query_shape, value_shape=None, key_shape=None):
        # Called with the query's shape alone by the first call, which then builds the
        # projections from every input's shape (see _build_projections).
        if value_shape is not None:
            self._build_projections(tuple(query_shape), tuple(value_shape),
                                    None if key_shape is None else tuple(key_shape))
        self._min_ndim = 3
        self.built = True

    def _dense(self, equation, output_shape, bias_axes, name, activation=None):
        return EinsumDense(equation, output_shape=output_shape, activation=activation,
                           bias_axes=bias_axes if self._use_bias else None, name=name,
                           kernel_initializer=initializers.get(
                               initializers.serialize(self._kernel_initializer)),
                           bias_initializer=initializers.get(
                               initializers.serialize(self._bias_initializer)),
                           kernel_regularizer=self._kernel_regularizer,
                           bias_regularizer=self._bias_regularizer, dtype=self.dtype)

    def _build_projections(self, query_shape, value_shape, key_shape=None):
        self._shapes = {"query_shape": query_shape, "value_shape": value_shape}
        if key_shape is not None:
            self._shapes["key_shape"] = key_shape
        key_shape = value_shape if key_shape is None else key_shape
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(f"MultiHeadAttention '{self.name}': value and key must agree on "
                             f"every axis but the last; received value shape {value_shape} "
                             f"and key shape {key_shape}")
        heads = self._num_heads

        def shape(rank, last):
            return [None] * (rank - len(last)) + list(last)

        equation, bias, rank = _projection(len(query_shape) - 1, 1, 2)
        self._query_dense = self._dense(equation, shape(rank - 1, [heads, self._key_dim]),
                                        bias, "query")
        self._query_dense.build(query_shape)
        equation, bias, rank = _projection(len(key_shape) - 1, 1, 2)
        self._key_dense = self._dense(equation, shape(rank - 1, [heads, self._key_dim]),
                                      bias, "key")
        self._key_dense.build(key_shape)
        if self._use_gate:
            equation, bias, rank = _projection(len(query_shape) - 1, 1, 2)
            self._gate_dense = self._dense(equation, shape(rank - 1, [heads, self._value_dim]),
                                           bias, "gate", activation="sigmoid")
            self._gate_dense.build(query_shape)
        equation, bias, rank = _projection(len(value_shape) - 1, 1, 2)
        self._value_dense = self._dense(equation, shape(rank - 1, [heads, self._value_dim]),
                                        bias, "value")
        self._value_dense.build(value_shape)
        # the attention over the projected tensors (rank: that of the value's projection)
        if self._attention_axes is None:
            self._attention_axes = tuple(range(1, rank - 2))
        else:
            self._attention_axes = tuple(a if a >= 0 else (rank - 1) + a
                                         for a in self._attention_axes)
        self._dot_product_equation, self._combine_equation, scores_rank = \
            _attention_equations(rank, self._attention_axes)
        self._norm_axes = tuple(range(scores_rank - len(self._attention_axes), scores_rank))
        output_shape = self._output_shape_given or (query_shape[-1],)
        equation, bias, rank = _projection(len(query_shape) - 1, 2, len(output_shape))
        self._output_dense = self._dense(equation, shape(rank - 1, output_shape), bias,
                                         "attention_output")
        projected = list(self._query_dense.compute_output_shape(query_shape))
        projected[-1] = self._value_dim
        self._output_dense.build(tuple(projected))

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        if key is None:
            key = value
        query, value, key = (t if t.dtype == self.dtype else ops.cast(t, self.dtype)
                             for t in (query, value, key))
        if self._query_dense is None:
            self._build_projections(tuple(query.shape), tuple(value.shape),
                                    tuple(key.shape))
        mask = self._attention_mask(query, value, query_mask, value_mask, key_mask,
                                    attention_mask, use_causal_mask)
        gate = self._gate_dense(query) if self._use_gate else None
        q = self._query_dense(query)
        k = self._key_dense(key)
        v = self._value_dense(value)
        # the scores scaled by 1 / sqrt(key_dim), after the product (as Keras's default
        # path, dot_product_attention, does; scaling the query first, as its other path,
        # differs only in rounding, and the compiled step's gradient of that form is not
        # yet bit for bit the eager one)
        scores = ops.einsum(self._dot_product_equation, k, q) * self._inverse_sqrt_key_dim
        if mask is not None:
            for _ in range(scores.ndim - mask.ndim):
                mask = ops.expand_dims(mask, -len(self._attention_axes) * 2 - 1)
            scores = ops.where(mask, scores, _LARGE_NEGATIVE)
        scores = _softmax(scores, self._norm_axes)
        weights = scores
        if training and self._dropout > 0:
            weights = ops.dropout(scores, self._dropout, seed=self.seed)
        output = ops.einsum(self._combine_equation, weights, v)
        output = self._output_dense(output * gate if gate is not None else output)
        return (output, scores) if return_attention_scores else output

    def _attention_mask(self, query, value, query_mask, value_mask, key_mask, attention_mask,
                        use_causal_mask):
        """Keras's combined mask, ``(B, T, S)`` booleans (broadcastable), or None."""
        masks = []
        if query_mask is not None:
            masks.append(ops.expand_dims(_as_bool(query_mask), -1))
        if value_mask is not None:
            masks.append(ops.expand_dims(_as_bool(value_mask), -2))
        if key_mask is not None:
            masks.append(ops.expand_dims(_as_bool(key_mask), -2))
        t, s = query.shape[1], value.shape[1]
        if use_causal_mask:
            masks.append(ops.constant(causal_mask(t, s)))
        if self._sliding_window is not None:
            band = np.abs(np.arange(t)[:, None] - np.arange(s)[None]) < self._sliding_window
            masks.append(ops.constant(band[None]))
        if attention_mask is not None:
            masks.insert(0, _as_bool(attention_mask))
        if not masks:
            return None
        combined = masks[0]
        for m in masks[1:]:
            combined = ops.logical_and(combined, m)
        return combined

    def get_build_config(self):
        """Keras's form: ``{"shapes_dict": {"query_shape": ..., "value_shape": ...}}``."""
        shapes = self.__dict__.get("_shapes")
        return {"shapes_dict": dict(shapes)} if shapes else None

    def build_from_config(self, config):
        shapes = (config or {}).get("shapes_dict")
        if shapes and self._query_dense is None:
            self._build_for(tuple(shapes["query_shape"]))
            self._build_projections(*(tuple(shapes[k]) if shapes.get(k) is not None else None
                                      for k in ("query_shape", "value_shape", "key_shape")))

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        if self._output_shape_given:
            return query_shape[:-1] + tuple(self._output_shape_given)
        return query_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self._num_heads,
                "key_dim": self._key_dim, "value_dim": self._value_dim,
                "dropout": self._dropout, "use_bias": self._use_bias,
                "use_gate": self._use_gate, "output_shape": self._output_shape_given,
                "attention_axes": self._attention_axes,
                "sliding_window": self._sliding_window,
                "kernel_initializer": initializers.serialize(self._kernel_initializer),
                "bias_initializer": initializers.serialize(self._bias_initializer),
                "kernel_regularizer": regularizers.serialize(self._kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self._bias_regularizer),
                "activity_regularizer": None, "kernel_constraint": None,
                "bias_constraint": None, "seed": self.seed}


class Attention(Layer):
    """Dot-product attention (Luong-style), Keras's layer: called on ``[query, value]`` or
    ``[query, value, key]`` (``(B, Tq, dim)``, ``(B, Tv, dim)``), it returns
    ``softmax(scores) @ value`` with ``scores = query @ key^T`` (times a learned scalar
    ``scale`` if ``use_scale``), or with ``score_mode="concat"``,
    ``concat_score_weight * sum(tanh(scale * (query + key)))``.

    ``mask=[query_mask, value_mask]`` (booleans, ``(B, Tq)`` and ``(B, Tv)``): value
    positions masked out get no weight, query positions masked out give zeros;
    ``use_causal_mask=True`` lets each query position see only values up to its own."""

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"{type(self).__name__}: score_mode must be 'dot' or 'concat'; "
                             f"received score_mode={score_mode!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1); received "
                             f"dropout={dropout}")
        self.use_scale, self.score_mode = bool(use_scale), score_mode
        self.dropout, self.seed = float(dropout), seed
        self.supports_masking = True

    def _validate(self, inputs, mask=None):
        name = f"{type(self).__name__} '{self.name}'"
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(f"{name} must be called on a list [query, value] or "
                             f"[query, value, key]; received {type(inputs).__name__}"
                             f"{'' if not isinstance(inputs, (list, tuple)) else f' of {len(inputs)} entries'}")
        if mask is not None and (not isinstance(mask, (list, tuple))
                                 or not 2 <= len(mask) <= 3):
            raise ValueError(f"{name}: mask must be a list [query_mask, value_mask]; received "
                             f"{mask!r}")

    def build(self, input_shape):
        self._validate(input_shape)
        self.scale = self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight((), "ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight((), "ones", name="concat_score_weight")
        self.built = True

    def _scores(self, query, key):
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.matrix_transpose(key))
            return scores if self.scale is None else scores * self.scale
        summed = ops.expand_dims(query, -2) + ops.expand_dims(key, -3)
        if self.scale is not None:
            summed = self.scale * summed
        return self.concat_score_weight * ops.reduce_sum(ops.tanh(summed), -1)

    def call(self, inputs, mask=None, training=False, return_attention_scores=False,
             use_causal_mask=False):
        self._validate(inputs, mask)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        query_mask = mask[0] if mask else None
        value_mask = mask[1] if mask else None
        scores = self._scores(query, key)
        scores_mask = None if value_mask is None else ops.expand_dims(_as_bool(value_mask), -2)
        if use_causal_mask:
            causal = ops.constant(causal_mask(scores.shape[-2], scores.shape[-1]))
            scores_mask = causal if scores_mask is None else ops.logical_and(scores_mask,
                                                                              causal)
        if scores_mask is not None:
            scores = ops.where(scores_mask, scores, scores - 1e9)
        weights = _softmax(scores, (scores.ndim - 1,))
        attended = weights
        if training and self.dropout > 0:
            attended = ops.dropout(weights, self.dropout, seed=self.seed)
        output = ops.matmul(attended, value)
        if query_mask is not None:
            output = ops.where(ops.expand_dims(_as_bool(query_mask), -1), output,
                               ops.zeros_like(output))
        return (output, weights) if return_attention_scores else output

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (input_shape[1][-1],)

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode, "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive attention (Bahdanau-style), Keras's layer: ``scores = sum(scale *
    tanh(query + key))`` over the channels, ``scale`` a learned vector of the query's last
    size (Glorot-uniform at first; ``use_scale=False``: ones, not learned); masks, dropout
    and the call as :class:`Attention`'s."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._validate(input_shape)
        self.scale = None
        self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight((input_shape[0][-1],), "glorot_uniform",
                                         name="scale")
        self.built = True

    def _scores(self, query, key):
        summed = ops.tanh(ops.expand_dims(query, -2) + ops.expand_dims(key, -3))
        return ops.reduce_sum(summed if self.scale is None else self.scale * summed, -1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
