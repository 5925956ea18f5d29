"""The Layer base class: configuration in ``__init__``, weights in ``build``, math in ``call``.

``layer(x)`` converts ``x`` to a float32 Tensor, builds the layer from ``x.shape`` the first
time, checks the input against what the layer was built for, and runs ``call``. Weights are
:class:`chainrule.Variable` objects made by :meth:`Layer.add_weight`; a layer's ``weights``
also include those of the layers held in its attributes (found by walking them, so there
is nothing to register).
"""

import contextlib
import inspect
import threading
import warnings

import numpy as np

from ... import dtypes, nest, ops
from ...debug import layer_scope
from ...recording import paused_recorders
from ...tensor import Tensor
from ...variable import Variable
from .. import constraints, initializers, regularizers
from .. import metrics as metrics_module
from .._registry import snake_case
from . import keras_tensor

__all__ = ["Layer", "get_keras_mask", "set_keras_mask"]

# Building makes weights: two threads calling an unbuilt model at once (fit and predict
# started together) must not both make them. One lock for every layer, held only while
# building (rare), re-entrant because building a model builds its layers.
_build_lock = threading.RLock()

# How many layers of each base name exist, so that names come out dense, dense_1, ...
_name_counts = {}


def unique_name(base):
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def reset_names():
    """Restart layer numbering (``keras.utils.clear_session()``)."""
    _name_counts.clear()


def to_input_tensor(x, dtype=dtypes.float32):
    """``x`` as a Tensor; floating values are cast to ``dtype`` (Keras's autocast)."""
    if isinstance(x, Tensor):
        value = x._value
        if value.dtype == dtype or value.dtype.kind != "f":
            return x
        return ops.cast(x, dtype)  # an op, so that a traced step sees it
    value = np.asarray(x)
    if value.dtype.kind == "f" and value.dtype != dtype:
        value = value.astype(dtype)
    return Tensor._wrap(value)


def get_keras_mask(x):
    """The mask a layer attached to ``x`` (a boolean tensor, True where a step counts), or
    None; for a list/tuple/dict of tensors, None when none has one, else the masks in that
    structure (None for a tensor without one)."""
    if isinstance(x, (list, tuple, dict)):
        masks = nest.map_structure(get_keras_mask, x)
        return masks if any(m is not None for m in nest.flatten(masks)) else None
    return getattr(x, "_keras_mask", None)


def set_keras_mask(x, mask):
    """Attaches ``mask`` to the tensor ``x`` (``None`` removes it), as Keras 3 does to a
    layer's output; values that cannot carry one (NumPy arrays) are left as they are."""
    if mask is None:
        if getattr(x, "_keras_mask", None) is not None:
            del x._keras_mask
        return
    try:
        x._keras_mask = mask
    except AttributeError:
        pass


def with_keras_mask(x, mask):
    """``x`` carrying ``mask``: ``x`` itself when it carries it already, else a new tensor
    of the same values (``x * 1``, an op, so a traced step sees it), so that the caller's
    tensor is left as it was."""
    if getattr(x, "_keras_mask", None) is mask:
        return x
    out = ops.multiply(x, ops.ones((), x.dtype))
    set_keras_mask(out, mask)
    return out


class Layer:
    """Base class of all layers.

    Subclasses set their configuration in ``__init__``, create weights in
    ``build(input_shape)`` with :meth:`add_weight`, and compute in ``call(inputs)`` (which may
    also take ``training`` and ``mask``). ``__call__`` builds once, on the first input.

    Masks (Keras 3's): a tensor may carry a boolean mask of its steps (``_keras_mask``, set
    by ``Embedding(mask_zero=True)`` or ``Masking``). ``__call__`` passes the input's mask as
    ``mask=`` when ``call`` takes one, and when the layer ``supports_masking`` (true for a
    class that overrides :meth:`compute_mask`, or that sets it) attaches
    ``compute_mask(inputs, mask)`` to the output; a layer that does not support masking
    drops the mask, with a warning. ``layer(x, mask=m)`` overrides the input's mask.

    >>> import chainrule as cr
    >>> from chainrule.keras import layers
    >>> class Scale(layers.Layer):
    ...     def build(self, input_shape):
    ...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
    ...     def call(self, inputs):
    ...         return inputs * self.w
    >>> Scale()(cr.ones((2, 3))).shape
    TensorShape([2, 3])
    """

    def __init__(self, trainable=True, name=None, dtype=None, input_shape=None, input_dim=None,
                 **kwargs):
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)  # Keras 2's `Dense(64, input_dim=784)`
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) "
                            f"{', '.join(sorted(kwargs))}")
        self.name = name if name is not None else unique_name(snake_case(type(self).__name__))
        self.dtype = dtypes.as_dtype(dtype or "float32")
        self.built = False
        self._trainable = bool(trainable)
        self._own_weights = []
        # Keras 2 style `Dense(512, input_shape=(784,))`: a Sequential builds from it.
        self._declared_input_shape = None if input_shape is None else tuple(input_shape)
        # {axis: size} the input must have once built, and the smallest input rank.
        self._input_axes = {}
        self._min_ndim = 0
        self._build_shape = None
        self._output_shape = None
        self._inbound_nodes = []  # symbolic calls (see keras_tensor.py)
        self._losses = []  # add_loss values of the current call

    # -- the three steps ------------------------------------------------------------------
    def build(self, input_shape):
        """Creates the weights for inputs of ``input_shape``; the base layer has none."""
        self.built = True

    def call(self, inputs):
        """The layer's computation; the base layer is the identity."""
        return inputs

    def __call__(self, *args, **kwargs):
        """``layer(inputs, *more, training=None, **kwargs)``: the first argument (or the
        first of ``call``'s by name, ``layer(targets=t, logits=l)``) is what the layer is
        built from; the others go to ``call`` as given, arrays among them as tensors."""
        training = kwargs.pop("training", None)
        if len(args) == 1 and not kwargs:  # the usual call, layer(x): nothing more to sort
            inputs, rest = args[0], ()
        else:
            inputs, rest = self._split_call_args(args, kwargs)
        if keras_tensor.is_symbolic(inputs) or ((rest or kwargs) and keras_tensor.is_symbolic(
                [rest, list(kwargs.values())])):
            # the functional API: record, do not compute
            return keras_tensor.symbolic_call(self, inputs, training, kwargs, rest)
        masks = get_keras_mask(inputs)
        x = self._prepare(inputs)
        if masks is not None and x is not inputs:
            _carry_masks(inputs, x)  # a cast input keeps its mask
        if rest or kwargs:
            rest = tuple(_array_to_tensor(v, self.dtype) for v in rest)
            kwargs = {k: _array_to_tensor(v, self.dtype) for k, v in kwargs.items()}
        position = self._training_position()
        if position is not None and position > len(rest):
            kwargs["training"] = training  # unless `training` came positionally
        previous_mask = masks
        position = self._mask_position()
        if position is not None:
            if position <= len(rest):  # given positionally
                given = rest[position - 1]
            else:
                given = kwargs.get("mask")
                if given is None:
                    kwargs["mask"] = masks
            if given is not None:
                previous_mask = given
        elif "mask" in kwargs:  # a mask for compute_mask only: call() takes none
            given = kwargs.pop("mask")
            if given is not None:
                previous_mask = given
        state = _call_state
        if state.depth == 0 and state.with_losses:
            _clear_losses()  # add_loss values live for one outermost call
        state.depth += 1
        try:
            with layer_scope(self.name):  # names the layer for check_numerics; else a no-op
                out = self.call(x, *rest, **kwargs)
        finally:
            state.depth -= 1
        if isinstance(out, Tensor):
            self._output_shape = (None,) + out.shape[1:] if out.ndim else ()
        if previous_mask is None and type(self).compute_mask is Layer.compute_mask:
            pass  # nothing to attach (the common case: no masks about)
        elif self.supports_masking:
            self._set_output_masks(x, out, previous_mask)
        elif previous_mask is not None and self._warns_on_dropped_mask:
            warnings.warn(
                f"Layer '{self.name}' ({type(self).__name__}) was passed an input with a mask "
                f"attached to it, but it does not support masking, so the layers after it "
                f"will not see the mask. Put a layer that consumes the mask (such as "
                f"GlobalAveragePooling1D) before it, or set supports_masking=True on a layer "
                f"that keeps the steps as they are", UserWarning, stacklevel=2)
        return out

    # -- masks -----------------------------------------------------------------------------
    _warns_on_dropped_mask = True  # models and op layers pass masks on their own way

    @property
    def supports_masking(self):
        """Whether the layer passes masks on: its output gets ``compute_mask(inputs,
        mask)``. True for a class that overrides :meth:`compute_mask`; a layer may set it."""
        value = self.__dict__.get("_supports_masking")
        if value is None:
            return type(self).compute_mask is not Layer.compute_mask
        return value

    @supports_masking.setter
    def supports_masking(self, value):
        self.__dict__["_supports_masking"] = bool(value)

    def compute_mask(self, inputs, previous_mask=None):
        """The mask of the output for ``inputs`` whose mask is ``previous_mask`` (used when
        the layer ``supports_masking``): by default the input's mask, unchanged."""
        return previous_mask


    def _set_output_masks(self, inputs, outputs, previous_mask):
        """Attaches ``compute_mask(inputs, previous_mask)`` to the outputs that have no mask
        yet (a layer's ``call`` may have set them itself)."""
        flat = nest.flatten(outputs)
        if all(getattr(t, "_keras_mask", None) is not None for t in flat):
            return
        out_masks = self.compute_mask(inputs, previous_mask)
        if out_masks is None:
            return
        flat_masks = nest.flatten(out_masks)
        if len(flat_masks) == 1 and len(flat) > 1:
            flat_masks = flat_masks * len(flat)
        for tensor, mask in zip(flat, flat_masks):
            if mask is not None and getattr(tensor, "_keras_mask", None) is None:
                set_keras_mask(tensor, mask)

    def _prepare(self, inputs):
        """``inputs`` as a float32 Tensor, after building the layer or checking the shape.
        A list, tuple or dict of inputs (a merge layer's) is converted entry by entry."""
        if nest.is_nested(inputs):
            xs = nest.map_structure(lambda v: to_input_tensor(v, self.dtype), inputs)
            if not self.built:
                self._build_for(nest.map_structure(lambda t: t.shape, xs))
            return xs
        x = to_input_tensor(inputs, self.dtype)
        if not self.built:
            self._build_for(x.shape)
        elif self._input_axes or self._min_ndim:
            self._check_input(x.shape)
        return x

    def _build_once(self, input_shape):
        """``build(input_shape)`` unless the layer is built (by another thread meanwhile)."""
        with _build_lock:
            if not self.built:
                self.build(input_shape)

    def _build_for(self, shape):
        with _build_lock:
            if not self.built:  # another thread may have built it while this one waited
                self._build_unguarded(shape)

    def _build_unguarded(self, shape):
        if nest.is_nested(shape) and not _is_shape(shape):
            self._build_shape = nest.map_structure(lambda s: s, shape)
            self.build(shape)
            self.built = True
            return
        self._build_shape = (None,) + tuple(shape[1:]) if len(shape) else ()
        self._check_input(shape)
        self.build(shape)
        self.built = True

    def _call_takes_training(self):
        return self._training_position() is not None

    def _training_position(self):
        """Where ``training`` is among ``call``'s arguments (the inputs are 0), or None."""
        return self._call_position("training")

    def _mask_position(self):
        """Where ``mask`` is among ``call``'s arguments (the inputs are 0), or None."""
        return self._call_position("mask")

    def _call_position(self, name):
        params = self._call_params()
        return params.index(name) - 1 if name in params else None

    def _call_params(self):
        """The names of ``call``'s parameters (``self`` first), looked up once per class."""
        cls = type(self)
        cached = cls.__dict__.get("_call_params_cache")
        if cached is None:
            cached = list(inspect.signature(cls.call).parameters)
            cls._call_params_cache = cached
        return cached

    def _split_call_args(self, args, kwargs):
        """``(inputs, other positional arguments)`` of a call; with no positional argument
        the inputs are ``call``'s first parameter, given by name (taken out of kwargs)."""
        if args:
            return args[0], args[1:]
        params = self._call_params()
        first = params[1] if len(params) > 1 else "inputs"
        if first not in kwargs:
            raise TypeError(f"layer '{self.name}' ({type(self).__name__}) was called without "
                            f"inputs: pass them first, or as {first}=...")
        return kwargs.pop(first), ()

    def _check_input(self, shape):
        """Raises a ValueError naming this layer when ``shape`` does not fit it."""
        if len(shape) < self._min_ndim:
            one_example = len(shape) == self._min_ndim - 1  # most likely no batch axis
            raise ValueError(
                f"Input 0 of layer '{self.name}' ({type(self).__name__}) is incompatible with "
                f"the layer: expected min_ndim={self._min_ndim}, found ndim={len(shape)}. "
                f"Full shape received: {tuple(shape)}" + (
                    ". Inputs come in batches: to predict one example, add a batch axis: "
                    "x[None] or np.expand_dims(x, 0)" if one_example else ""))
        for axis, size in self._input_axes.items():
            if len(shape) >= -axis and shape[axis] != size:
                built = f" (built for input shape {self._build_shape})" if self._build_shape else ""
                raise ValueError(
                    f"Input 0 of layer '{self.name}' ({type(self).__name__}) is incompatible "
                    f"with the layer: expected axis {axis} of input shape to have value {size}"
                    f"{built}, but received input with shape {tuple(shape)}")

    def compute_output_shape(self, input_shape):
        """The output shape for ``input_shape`` (``None`` for an unknown batch size).

        The default runs the layer on zeros, so layers need only override it when that is
        wasteful or impossible.
        """
        probe = tuple(1 if d is None else d for d in input_shape)
        with np.errstate(all="ignore"):  # only the shape counts: log(0) or 1 / 0 may happen
            out = self(np.zeros(probe, self.dtype))
        return (input_shape[0],) + tuple(out.shape[1:])

    # -- weights -------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer="glorot_uniform", dtype=None,
                   trainable=True, name=None, regularizer=None, constraint=None):
        """Creates a Variable, records it as this layer's weight, and returns it. A
        ``regularizer`` (see :mod:`chainrule.keras.regularizers`) adds its penalty of the
        weight to the training loss; a ``constraint`` (see
        :mod:`chainrule.keras.constraints`) projects the weight after each optimizer step."""
        shape = () if shape is None else tuple(int(d) for d in shape)
        dtype = dtypes.as_dtype(dtype or self.dtype)
        name = name or f"weight_{len(self._own_weights)}"
        if _weight_checks.check is not None:  # a model file being loaded vouches for it
            _weight_checks.check(self, name, shape, dtype.name)
        init = initializers.get(initializer)
        with paused_recorders():  # a first value, drawn once: not part of any traced step
            value = np.asarray(init(shape, dtype=dtype), dtype=dtype)
        if value.shape != shape:
            raise ValueError(f"layer '{self.name}': initializer {init!r} returned shape "
                             f"{value.shape} for a weight of shape {shape}")
        variable = Variable(value, trainable=trainable, name=f"{self.name}/{name}",
                            constraint=constraints.get(constraint))
        self._own_weights.append(variable)
        if regularizer is not None:
            self.__dict__.setdefault("_weight_regularizers", []).append(
                (variable, regularizers.get(regularizer)))
        return variable

    def _weight_penalties(self):
        """The regularization penalties of this layer's and its sublayers' weights, as
        tensors computed now (so a traced step recomputes them from the live weights)."""
        return [reg(w) for layer in self._flatten_layers()
                for w, reg in layer.__dict__.get("_weight_regularizers", ())]

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        for layer in self._flatten_layers():
            layer._trainable = bool(value)

    @property
    def weights(self):
        """All weights, this layer's first, then its sublayers' in attribute order.

        A layer's own weights are those of :meth:`add_weight`, then Variables held in its
        attributes (directly or in lists, tuples and dicts), as Keras tracks them."""
        seen, out = set(), []
        for layer in self._flatten_layers():
            for w in layer._tracked_weights():
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    @property
    def trainable_weights(self):
        out = []
        for layer in self._flatten_layers():
            if layer._trainable:
                out.extend(w for w in layer._tracked_weights() if w.trainable)
        return _unique(out)

    def _tracked_weights(self):
        """``add_weight``'s Variables, then the Variables in attributes."""
        found = list(self._own_weights)
        for name, value in vars(self).items():
            if name in _UNTRACKED:
                continue
            if isinstance(value, Variable):
                found.append(value)
            elif isinstance(value, (list, tuple, dict)) and not isinstance(value, Tensor):
                found.extend(v for v in nest.flatten(value) if isinstance(v, Variable))
        return found

    @property
    def non_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    def get_weights(self):
        """The weights' values as NumPy arrays (copies)."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, values):
        weights = self.weights
        if len(values) != len(weights):
            raise ValueError(f"layer '{self.name}': set_weights got {len(values)} arrays for "
                             f"{len(weights)} weights")
        for w, v in zip(weights, values):
            w.assign(np.asarray(v, dtype=w.dtype))

    def _sublayers(self):
        """Layers held directly in attributes (or in lists/tuples/dicts of them, nested)."""
        found = []
        for name, value in vars(self).items():
            if isinstance(value, Layer):
                found.append(value)
            elif isinstance(value, (list, tuple, dict)) and name not in _UNTRACKED:
                found.extend(v for v in nest.flatten(value) if isinstance(v, Layer))
        return found

    # -- the functional API ----------------------------------------------------------------
    def _first_node(self, what):
        if not self._inbound_nodes:
            raise ValueError(
                f"Layer '{self.name}' has never been called on symbolic tensors "
                f"(keras.Input), so it has no defined {what}")
        return self._inbound_nodes[0]

    @property
    def input(self):
        """The symbolic input(s) of this layer's first call on symbolic tensors (as in
        Keras 3; ``get_input_at(i)`` gives the others)."""
        return self._first_node("input").args

    @property
    def output(self):
        """The symbolic output(s) of this layer's first call on symbolic tensors."""
        return self._first_node("output").outputs

    def get_input_at(self, node_index):
        return self._inbound_nodes[node_index].args

    def get_output_at(self, node_index):
        return self._inbound_nodes[node_index].outputs

    # -- extra losses ----------------------------------------------------------------------
    def add_loss(self, loss):
        """Adds a scalar (or tensor, summed) loss term from inside ``call``; ``fit`` adds
        it to the compiled loss. Values are kept until the next outermost call."""
        self._losses.append(loss)
        _call_state.with_losses.append(self)

    def add_metric(self, value, name=None, aggregation=None):
        """TF-Keras 2's way to report a value from ``call``: ``fit`` and ``evaluate`` log
        its mean over the epoch under ``name`` (Keras 3 dropped it; hold a
        ``keras.metrics.Mean`` and update it instead). The result of a metric object's
        call (``self.add_metric(self.accuracy_fn(y, p))``) logs that metric as it is."""
        metric = metrics_module.metric_of_result(value)
        if metric is not None:  # already updated by its own call: just report it
            added = self.__dict__.setdefault("_added_metrics", {})
            added.setdefault(metric.name, metric)
            return
        if aggregation not in (None, "mean"):
            raise ValueError(f"layer '{self.name}': add_metric aggregation must be None or "
                             f"'mean' (the mean over the epoch); received {aggregation!r}")
        if not name:
            raise ValueError(f"layer '{self.name}': add_metric needs a name for the value, as "
                             f"in self.add_metric(value, name='mean_activation')")
        added = self.__dict__.setdefault("_added_metrics", {})
        if name not in added:
            with paused_recorders():  # its state is made once, not part of a traced step
                added[name] = metrics_module.Mean(name=name)
        added[name].update_state(value)

    @property
    def metrics(self):
        """The metrics this layer and its sublayers hold (metric objects in attributes, and
        those of :meth:`add_metric`)."""
        out = []
        for layer in self._flatten_layers():
            out.extend(layer._tracked_metrics())
        return _unique(out)

    def _tracked_metrics(self):
        found = []
        for name, value in vars(self).items():
            if name in _UNTRACKED:
                continue
            if isinstance(value, metrics_module.Metric):
                found.append(value)
            elif isinstance(value, (list, tuple, dict)) and not isinstance(value, Tensor):
                found.extend(v for v in nest.flatten(value)
                             if isinstance(v, metrics_module.Metric))
        return found + list(self.__dict__.get("_added_metrics", {}).values())

    @property
    def losses(self):
        """What this layer adds to the training loss, as Keras counts it: the ``add_loss``
        values of the last call and the weights' penalties (regularizers), this layer's and
        its sublayers'."""
        out = []
        for layer in self._flatten_layers():
            out.extend(layer._losses)
        return out + self._weight_penalties()

    @property
    def submodules(self):
        """Every layer below this one, depth first (``tf.Module``'s name, which TF-Keras 2
        layers have)."""
        return tuple(self._flatten_layers()[1:])

    def _flatten_layers(self):
        """This layer and every layer below it, depth first, each once."""
        out, seen, stack = [], set(), [self]
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out.append(layer)
            stack.extend(reversed(layer._sublayers()))
        return out

    # -- configuration -------------------------------------------------------------------
    def get_config(self):
        """The constructor arguments that recreate this layer (without its weights)."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}
        if self._declared_input_shape is not None:
            config["input_shape"] = self._declared_input_shape
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_build_config(self):
        """``{"input_shape": ...}``, the shape (or shapes) the layer was built for, None
        when it is not built: what a saved file keeps so that loading builds a layer (a
        subclassed model) before setting its weights, as Keras does."""
        shape = self.__dict__.get("_build_shape")
        return {"input_shape": shape} if self.built and shape is not None else None

    def build_from_config(self, config):
        """Builds the layer for the input shape :meth:`get_build_config` gave (JSON lists
        as tuples); nothing when it is built already or the config has no shape."""
        shape = (config or {}).get("input_shape")
        if self.built or shape is None:
            return
        shape = _shape_from_data(shape, self.name)
        if nest.is_nested(shape) and not _is_shape(shape):
            self._build_for(shape)
        else:
            self._build_for(shape)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _shape_from_data(value, name):
    """A build shape read from a file: tuples of ints/None, or a list/dict of them."""
    if isinstance(value, dict):
        return {k: _shape_from_data(v, name) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and all(
            d is None or (isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**31)
            for d in value):
        return tuple(value)
    if isinstance(value, (list, tuple)):
        return [_shape_from_data(v, name) for v in value]
    raise ValueError(f"layer '{name}': the saved build shape {value!r} is not a shape (a "
                     f"list of sizes or None, or a list/dict of such lists)")


# Bookkeeping attributes that hold Variables or layers without owning them.
# (A model's own loss tracker and compiled metrics are listed by Model.metrics itself.)
_UNTRACKED = frozenset({"_own_weights", "_train_weights", "_inbound_nodes", "_losses",
                        "_loss_tracker", "_compiled_metrics", "_added_metrics"})


class _WeightChecks(threading.local):
    """Per thread: the check ``add_weight`` runs before it allocates (see
    :func:`checking_new_weights`)."""

    check = None


_weight_checks = _WeightChecks()


@contextlib.contextmanager
def checking_new_weights(check):
    """Within the block, ``add_weight`` calls ``check(layer, name, shape, dtype_name)``
    before allocating a weight, in this thread: how loading a model file checks each weight
    its architecture creates against the file before memory is allocated."""
    previous, _weight_checks.check = _weight_checks.check, check
    try:
        yield
    finally:
        _weight_checks.check = previous


class _CallState(threading.local):
    """Per thread: how deep in nested layer calls we are, and the layers that hold
    ``add_loss`` values (cleared when the next outermost call starts)."""

    def __init__(self):
        self.depth = 0
        self.with_losses = []


_call_state = _CallState()


def _clear_losses():
    for layer in _call_state.with_losses:
        layer._losses.clear()
    _call_state.with_losses.clear()


def _array_to_tensor(value, dtype):
    """A NumPy array given to ``call`` besides the inputs, as a tensor (floats as ``dtype``);
    anything else as it is."""
    return to_input_tensor(value, dtype) if isinstance(value, np.ndarray) else value


def _carry_masks(inputs, converted):
    """Attaches the masks of ``inputs`` to their converted tensors (same structure)."""
    for before, after in zip(nest.flatten(inputs), nest.flatten(converted)):
        mask = getattr(before, "_keras_mask", None)
        if mask is not None and after is not before and \
                getattr(after, "_keras_mask", None) is None:
            set_keras_mask(after, mask)


def _is_shape(value):
    return isinstance(value, (tuple, list)) and all(
        d is None or isinstance(d, (int, np.integer)) for d in value)


def _unique(items):
    seen, out = set(), []
    for w in items:
        if id(w) not in seen:
            seen.add(id(w))
            out.append(w)
    return out
