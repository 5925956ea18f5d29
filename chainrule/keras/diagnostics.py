"""What ``fit`` can tell you about a run: first-batch checks, NaN provenance, training
diagnostics, the run's environment, and gradient checks of a model.

* ``fit(..., checks=True)`` (the default) looks once at the first batch and warns, with the
  fix, about the usual silent mistakes: pixels left in 0..255, float64 inputs, a softmax
  fed to a loss that expects logits (and the reverse), labels that do not fit the loss,
  "accuracy" measured as binary accuracy on a multi-unit output, and a learning rate whose
  first step is larger than the weights.
* ``fit(..., check_numerics=True)`` runs eagerly and stops at the first NaN or infinity,
  naming the op, the layer, the line, the epoch and the batch (:mod:`chainrule.debug`).
* ``fit(..., diagnostics=True)`` records per layer the gradient norm, the update-to-weight
  ratio, the fraction of dead ReLU units, and the scale of the logits into
  ``history.diagnostics``, and prints a short diagnosis after training.
* ``history.params`` records the seed, the library versions, the BLAS and its threads.
* ``model.check_gradients(x, y)`` checks the loss's gradients with respect to the weights
  against finite differences (:func:`chainrule.testing.check_grads`).
"""

import contextlib
import functools
import os
import platform
import sys
import warnings

import numpy as np

from .. import debug, random
from ..version import __version__
from ..recording import recorders
from ..tensor import Tensor
from ..testing import check_grads
from . import activations, metrics as metrics_module
from .callbacks import Callback
from .callbacks.history import plot_diagnostics

__all__ = ["FitWatch", "TrainingCheckWarning", "check_model_gradients", "run_info",
           "plot_diagnostics", "diagnose"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class TrainingCheckWarning(UserWarning):
    """A first-batch check of ``fit`` found something that usually means a mistake."""


def _warn(message):
    """Warns at the user's line (the first frame outside chainrule)."""
    level, f = 2, sys._getframe(1)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(_PACKAGE):
        level, f = level + 1, f.f_back
    warnings.warn(message, TrainingCheckWarning, stacklevel=level)


class FitWatch:
    """What one ``fit`` call adds for its ``checks``, ``check_numerics`` and
    ``diagnostics`` arguments: callbacks, eager running when ops must be seen, and the
    run's environment for ``history.params``. ``close()`` undoes it all."""

    def __init__(self, model, history, data, batch_size, checks=True, check_numerics=False,
                 diagnostics=False):
        """``data`` is ``(x, y, the dtype x had before fit converted it)``."""
        self.model = model
        self.callbacks = []
        self._jit = None
        self._eager = bool(check_numerics or diagnostics)
        if self._eager:  # a compiled step replays its graph: no op would be seen
            self._jit, model._jit = model._jit, None
        if checks:
            x, y, _ = data
            if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
                # (the checks read one input and one target: models of several skip them)
                self.callbacks.append(FirstBatchChecks(*data, batch_size))
        if check_numerics:
            self.callbacks.append(NumericsCallback())
        if diagnostics:
            self.callbacks.append(Diagnostics(history))

    def run_info(self):
        return run_info()

    def close(self):
        for cb in self.callbacks:
            if hasattr(cb, "close"):
                cb.close()
        if self._eager:
            self.model._jit, self._jit = self._jit, None
            self._eager = False


# -- 1. first-batch checks ----------------------------------------------------------------------

class FirstBatchChecks(Callback):
    """Looks once at the first batch (and the first update) and warns about likely mistakes."""

    def __init__(self, x, y, x_dtype, batch_size):
        super().__init__()
        self.x, self.y = x[:batch_size], y[:batch_size]
        self.x_dtype, self.x_bytes = x_dtype, x.nbytes
        self._before = None

    def on_train_begin(self, logs=None):
        model = self.model
        x, y = np.asarray(self.x), np.asarray(self.y)
        fn, kwargs = _loss_of(model)
        classifier = fn is not None and fn.__name__.endswith("crossentropy")
        if not any(getattr(layer, "takes_indices", False) for layer in model._flatten_layers()):
            _check_inputs(x, classifier)  # (integers fed to an Embedding are indices)
        if self.x_dtype == np.float64:
            _warn(f"x is float64, but chainrule computes in float32: fit made a float32 copy "
                  f"of all of x ({_megabytes(self.x_bytes)} more memory, beside the float64 "
                  f"array at twice that size), and evaluate/predict will copy it again. Fix: "
                  f"x = x.astype('float32') once, before fit")
        try:
            y_pred = model(Tensor._wrap(x), training=False)
        except Exception:  # noqa: BLE001 -- the training step will raise it, with context
            return
        if not isinstance(y_pred, Tensor):
            return
        if fn is not None:
            _check_loss(model, fn, kwargs, y, y_pred)
        _check_accuracy(model, fn, y, y_pred)

    def on_train_batch_begin(self, batch, logs=None):
        if self._before is None:
            self._before = [(w, w.numpy()) for w in self.model.trainable_weights]

    def on_train_batch_end(self, batch, logs=None):
        if self._before is None or self._before is False:
            return
        before, self._before = self._before, False  # only the first update is checked
        owner = _owners(self.model)
        change, size = {}, {}  # per layer (kernel and bias together: a bias starts at 0)
        for w, old in before:
            layer = owner.get(id(w), w.name)
            change[layer] = change.get(layer, 0.0) + float(np.sum(np.square(w._value - old, dtype=np.float64)))
            size[layer] = size.get(layer, 0.0) + float(np.sum(np.square(old, dtype=np.float64)))
        worst = None
        for layer in change:
            if size[layer] > 0 and np.isfinite(size[layer]):
                ratio = float(np.sqrt(change[layer] / size[layer]))
                if ratio > 1 and (worst is None or ratio > worst[0]):
                    worst = (ratio, layer)
        if worst is not None:
            ratio, layer = worst
            lr = float(self.model.optimizer.learning_rate._value)
            suggested = float(f"{lr * 1e-2 / ratio:.0e}")  # a first step of ~1% of |w|
            _warn(f"the first update changed the weights of layer '{layer}' by "
                  f"{ratio:.3g} times their own size (|dw| / |w|): the "
                  f"learning rate {lr:g} is too large for this model; a first step of about 1e-2 "
                  f"of the weights, and later steps of about 1e-3, are healthy. Fix: compile(optimizer={type(self.model.optimizer).__name__}"
                  f"(learning_rate={suggested:g}), ...)")


def _megabytes(n):
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.1f} KB"


def _check_inputs(x, classifier):
    if x.dtype.kind in "iu" and x.size and x.max() > 1:
        if classifier:
            _warn(f"the inputs are integers ({x.dtype}, values {x.min()}..{x.max()}) fed to a "
                  f"classifier: unscaled pixels make the first layer saturate and train "
                  f"badly. Fix: x = x.astype('float32') / {255 if x.max() <= 255 else x.max()}")
    elif x.dtype.kind == "f" and x.size:
        lo, hi = float(x.min()), float(x.max())
        if classifier and lo >= 0 and hi > 1 and np.array_equal(x, np.round(x)):
            _warn(f"the inputs are whole numbers in {lo:g}..{hi:g} fed to a classifier (pixels "
                  f"left unscaled?). Fix: x = x.astype('float32') / {255 if hi <= 255 else hi:g}")


def _loss_of(model):
    """(the per-sample loss function, its keyword arguments) compiled into ``model``."""
    compiled = getattr(model, "_loss_fn", None)  # a CompileLoss, when compiled with a loss
    loss = compiled.single_loss() if compiled is not None else None
    fn = getattr(loss, "fn", None)
    if fn is None or not callable(fn):
        return None, {}
    return fn, dict(getattr(loss, "fn_kwargs", {}))


def _last_activation(model):
    layers = [l for l in model._flatten_layers() if l is not model]
    return getattr(layers[-1], "activation", None) if layers else None


def _check_loss(model, fn, kwargs, y, y_pred):
    name = fn.__name__
    from_logits = kwargs.get("from_logits", False)
    softmax = activations.logits_of(y_pred) is not None
    sigmoid = _last_activation(model) is activations.sigmoid
    cls = "".join(part.capitalize() for part in name.split("_")).replace("crossentropy", "Crossentropy")
    if name.endswith("crossentropy"):
        if from_logits and (softmax or sigmoid):
            act = "softmax" if softmax else "sigmoid"
            _warn(f"the loss {name} was given from_logits=True, but the model ends in a {act}: "
                  f"the loss would apply a second {act} to probabilities. Fix: "
                  f"loss=keras.losses.{cls}() (from_logits=False), or give the last layer "
                  f"activation=None and keep from_logits=True")
        p = np.asarray(y_pred._value)
        if not from_logits and not softmax and p.size and (p.min() < 0 or p.max() > 1):
            _warn(f"the loss {name} expects probabilities, but the model's outputs range over "
                  f"{p.min():.3g}..{p.max():.3g} (logits, with no softmax or sigmoid). Fix: "
                  f"loss=keras.losses.{cls}(from_logits=True), or add "
                  f"activation='{'sigmoid' if p.shape[-1] == 1 else 'softmax'}' to the last "
                  f"layer")
    classes = y_pred.shape[-1] if y_pred.ndim else 1
    if name == "categorical_crossentropy" and (
            y.dtype.kind in "iu" or y.ndim < y_pred.ndim or (y.ndim and y.shape[-1] == 1 < classes)):
        _warn(f"categorical_crossentropy expects one-hot labels of shape {y_pred.shape}, but "
              f"y holds class indices ({y.dtype}, shape {y.shape}). Fix: "
              f"loss='sparse_categorical_crossentropy', or y = "
              f"keras.utils.to_categorical(y, {classes})")
    if name == "sparse_categorical_crossentropy" and y.ndim == y_pred.ndim and \
            y.shape[-1] == classes > 1 and np.isin(y, (0, 1)).all():
        _warn(f"sparse_categorical_crossentropy expects one class index per sample, but y "
              f"looks one-hot (shape {y.shape}). Fix: loss='categorical_crossentropy', or "
              f"y = y.argmax(axis=-1)")


def _check_accuracy(model, fn, y, y_pred):
    classes = y_pred.shape[-1] if y_pred.ndim else 1
    if classes < 2:
        return
    for metric in model._compiled_metrics:
        resolved = metric
        if isinstance(metric, metrics_module.ShapeResolvedAccuracy):
            resolved = metrics_module.resolve(metric.name, y, y_pred)
        binary = isinstance(resolved, metrics_module.BinaryAccuracy)
        if not binary and fn is not None and fn.__name__ == "binary_crossentropy" and \
                isinstance(metric, metrics_module.ShapeResolvedAccuracy):
            binary = True  # Keras 2 (the book's TensorFlow) reads "accuracy" from this loss
        if binary:
            _warn(f"the metric '{metric.name}' is binary accuracy on an output of {classes} "
                  f"units: it thresholds each unit at 0.5 and averages, so it reads about "
                  f"{1 - 1 / classes:.2f} for a model that is always wrong on a one-of-"
                  f"{classes} task. Fix: metrics=['sparse_categorical_accuracy'] for integer "
                  f"labels or ['categorical_accuracy'] for one-hot labels (and, for one class "
                  f"per sample, loss='categorical_crossentropy' rather than binary)")


def _owners(model):
    """id(Variable) -> the name of the layer that owns it."""
    return {id(w): layer.name for layer in model._flatten_layers() for w in layer._own_weights}


# -- 2. NaN provenance ----------------------------------------------------------------------------

class NumericsCallback(Callback):
    """Runs ``fit`` under :func:`chainrule.debug.check_numerics`, telling it the epoch and
    the batch."""

    def __init__(self):
        super().__init__()
        self._stack = contextlib.ExitStack()
        self.checker = None
        self._epoch = None

    def on_train_begin(self, logs=None):
        self.checker = self._stack.enter_context(debug.check_numerics())
        self.checker.steps = self.params.get("steps")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.checker.new_batch(self._epoch, batch)

    def on_test_batch_begin(self, batch, logs=None):
        if self.checker is not None:
            self.checker.new_batch(self._epoch, batch, where="validation")

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        self._stack.close()


# -- 3. training diagnostics ---------------------------------------------------------------------

class _Activations:
    """A recorder, on during the forward pass of a training step: dead ReLU units per layer
    and the scale of the logits."""

    def __init__(self):
        self.on = False
        self.dead = {}
        self.logit_scale = None

    def _record(self, prim, inputs, params, out):
        if not self.on:
            return
        if prim.dead_when_zero:  # the table says which activations' units die
            layer = (debug.current_layer() or prim.name).split("/")[-1]
            value = out._value.reshape(-1, out.shape[-1]) if out.ndim else out._value.reshape(1, 1)
            self.dead[layer] = float(np.mean(~value.any(axis=0)))
        elif prim.logits_input is not None:
            logits = inputs[prim.logits_input]._value
            self.logit_scale = float(np.std(logits))


class Diagnostics(Callback):
    """Records, per training step and per layer, the gradient norm, the update-to-weight
    ratio, the fraction of dead ReLU units, and the logits' standard deviation into
    ``history.diagnostics``; prints a diagnosis after training (``history.diagnosis``)."""

    def __init__(self, history):
        super().__init__()
        self.history = history
        self.watch = _Activations()
        self._stack = contextlib.ExitStack()
        self._optimizer = None

    def on_train_begin(self, logs=None):
        self.history.diagnostics = {"grad_norm": {}, "update_ratio": {}, "dead_relu": {},
                                    "logit_scale": [], "epoch_steps": []}
        self._owner = _owners(self.model)
        self._stack.enter_context(debug.watching_layers())
        rec = recorders()
        rec.append(self.watch)
        self._stack.callback(lambda: self.watch in rec and rec.remove(self.watch))
        # The optimizer's update is where gradients and weight changes are both in reach:
        # wrap it (on this instance only, for this fit).
        optimizer = self._optimizer = self.model.optimizer
        original = optimizer._apply

        def apply(grads, variables):
            self.watch.on = False
            self._record_update(original, grads, variables)

        optimizer._apply = apply
        self._stack.callback(lambda: optimizer.__dict__.pop("_apply", None))

    def _record_update(self, original, grads, variables):
        before = [v._value.copy() for v in variables]
        original(grads, variables)
        grad_sq, delta_sq, weight_sq = {}, {}, {}
        for g, v, old in zip(grads, variables, before):
            layer = self._owner.get(id(v), v.name)
            g = np.asarray(g, dtype=np.float64)
            grad_sq[layer] = grad_sq.get(layer, 0.0) + float(np.sum(g * g))
            delta = v._value.astype(np.float64) - old
            delta_sq[layer] = delta_sq.get(layer, 0.0) + float(np.sum(delta * delta))
            weight_sq[layer] = weight_sq.get(layer, 0.0) + float(np.sum(np.square(old, dtype=np.float64)))
        d = self.history.diagnostics
        for layer in grad_sq:
            d["grad_norm"].setdefault(layer, []).append(float(np.sqrt(grad_sq[layer])))
            ratio = np.sqrt(delta_sq[layer] / weight_sq[layer]) if weight_sq[layer] else float("nan")
            d["update_ratio"].setdefault(layer, []).append(float(ratio))

    def on_train_batch_begin(self, batch, logs=None):
        self.watch.dead, self.watch.logit_scale = {}, None
        self.watch.on = True

    def on_train_batch_end(self, batch, logs=None):
        self.watch.on = False
        d = self.history.diagnostics
        for layer, fraction in self.watch.dead.items():
            d["dead_relu"].setdefault(layer, []).append(fraction)
        d["logit_scale"].append(self.watch.logit_scale if self.watch.logit_scale is not None
                                else float("nan"))

    def on_epoch_end(self, epoch, logs=None):
        self.history.diagnostics["epoch_steps"].append(len(self.history.diagnostics["logit_scale"]))

    def on_train_end(self, logs=None):
        self.close()
        self.history.diagnosis = diagnose(self.history.diagnostics)
        if self.params.get("verbose"):
            print(self.history.diagnosis)

    def close(self):
        self.watch.on = False
        self._stack.close()


def diagnose(d):
    """A short text naming what looks wrong in ``history.diagnostics`` (the last epoch's
    steps are judged), or saying that nothing does."""
    bounds = d.get("epoch_steps") or [len(d["logit_scale"])]
    start = bounds[-2] if len(bounds) > 1 else 0

    def last(values):
        tail = np.asarray(values[start:] or values, dtype=np.float64)
        tail = tail[np.isfinite(tail)]
        return float(np.median(tail)) if tail.size else float("nan")

    problems = []
    for layer, values in d["grad_norm"].items():
        norm = last(values)
        if not np.isfinite(norm) or norm > 1e3:
            problems.append(f"exploding gradients in layer '{layer}' (gradient norm {norm:.3g}):"
                            f" lower the learning rate, or clip with clipnorm=1.0")
        elif norm < 1e-7:
            problems.append(f"vanishing gradients in layer '{layer}' (gradient norm {norm:.3g})"
                            f": check the activations (saturated sigmoid/tanh, dead ReLUs) and "
                            f"the input scale")
    for layer, values in d["dead_relu"].items():
        dead = last(values)
        if dead > 0.5:
            problems.append(f"{dead:.0%} of the ReLU units of layer '{layer}' are dead (zero for "
                            f"every example in a batch): lower the learning rate or scale the "
                            f"inputs to about [0, 1]")
    for layer, values in d["update_ratio"].items():
        ratio = last(values)
        if ratio > 1e-1:
            problems.append(f"the updates of layer '{layer}' are large, {ratio:.2g} of the "
                            f"weights per step (about 1e-3 is healthy): lower the learning rate")
        elif ratio < 1e-5:
            problems.append(f"the updates of layer '{layer}' are tiny, {ratio:.2g} of the "
                            f"weights per step (about 1e-3 is healthy): raise the learning rate")
    scale = last(d["logit_scale"])
    if scale > 50:
        problems.append(f"the logits are very spread out (standard deviation {scale:.3g}): the "
                        f"softmax is saturated; lower the learning rate or add regularisation")
    if not problems:
        return "diagnostics: nothing looks wrong (gradient norms, update ratios, dead units " \
               "and logit scale are in their usual ranges)"
    return "diagnostics: " + "\n  ".join(problems)


# -- 4. the run's environment ---------------------------------------------------------------------

def run_info():
    """The seed, library versions, BLAS and thread counts, for ``history.params``."""
    return {"seed": random.get_seed(), **_environment()}


@functools.lru_cache(maxsize=1)
def _environment():
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "chainrule": __version__}
    numba = sys.modules.get("numba")
    if numba is not None:
        versions["numba"] = numba.__version__
    blas, threads = _blas()
    return {"versions": versions, "blas": blas, "blas_threads": threads,
            "cpu_count": os.cpu_count()}


def _blas():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if info:
            first = info[0]
            name = f"{first.get('internal_api')} {first.get('version') or ''}".strip()
            return name, first.get("num_threads")
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version', '')}".strip(), None
    except Exception:  # numpy's config layout is not a stable API
        return "unknown", None


# -- 5. gradient checks of a model -------------------------------------------------------------------

def check_model_gradients(model, x, y, **kwargs):
    """Checks the gradients of ``model``'s compiled loss on ``(x, y)`` with respect to its
    trainable weights against finite differences, on a float64 copy (the model is put back
    as it was). Returns a :class:`chainrule.testing.GradientCheckReport`; a wrong derivative
    raises :class:`chainrule.testing.GradientCheckError` naming the op. Keyword arguments go
    to :func:`chainrule.testing.check_grads`."""
    model._require_compiled("check_gradients")
    x = np.asarray(x)
    if not model.built:
        model.build((None,) + x.shape[1:])
    x = x.astype(np.float64) if x.dtype.kind == "f" else x
    weights = model.trainable_weights
    if not weights:
        raise ValueError(f"check_gradients: model '{model.name}' has no trainable weights")
    layers = model._flatten_layers()
    dtypes = [layer.dtype for layer in layers]
    for layer in layers:
        layer.dtype = np.dtype(np.float64)  # layers cast their inputs to this

    def loss(*_weights):
        y_pred = model(Tensor._wrap(x), training=False)
        return model.compute_loss(x, y, y_pred, training=False)

    loss.__name__ = f"the loss of {model.name}"
    try:
        return check_grads(loss, tuple(weights), **kwargs)
    finally:
        for layer, dtype in zip(layers, dtypes):
            layer.dtype = dtype
