"""Saving and loading models: architecture as JSON, weights as plain arrays.

A saved model is one zip file holding

* ``config.json``: the model's architecture (``get_config``), how it was compiled, and a
  manifest naming every weight with its shape and dtype;
* ``weights.npz``: the weights, in ``model.weights`` order;
* ``optimizer.npz``: the optimizer's state (its step counter and slots), when it has any.

Nothing in the file can run code when it is loaded: JSON is parsed as data and arrays are
read with ``allow_pickle=False``. Every write goes to a temporary file beside the target
that is renamed over it only once complete, so a crash mid-save leaves the previous file
as it was.
"""

import io
import json
import os
import tempfile
import zipfile

import numpy as np

from . import _nest
from . import metrics as metrics_module

FORMAT = "chainrule.model"
FORMAT_VERSION = 1

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "save_checkpoint",
           "restore_checkpoint", "SavedModelError"]


class SavedModelError(ValueError):
    """A model or weights file that is damaged, of another kind, or does not fit."""


# -- writing -------------------------------------------------------------------------------

def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Writes ``model`` (architecture, weights, compile settings, optimizer state)."""
    _write(model, filepath, overwrite, include_optimizer,
           model=_model_config(model), compile=_compile_config(model))


def save_weights(model, filepath, overwrite=True):
    """Writes only the weights (and their manifest), for a model built the same way."""
    _write(model, filepath, overwrite, include_optimizer=False, weights_only=True)


def save_checkpoint(model, filepath, training_state):
    """Writes what resuming a fit needs: weights, optimizer state and ``training_state``
    (a JSON-able dict; ``BackupAndRestore`` keeps the epoch and shuffling seed there)."""
    _write(model, filepath, True, include_optimizer=True, weights_only=True,
           training_state=training_state)


def _write(owner, filepath, overwrite, include_optimizer, **sections):
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, **sections,
              "weights": _manifest(owner.weights)}
    entries = {"config.json": json.dumps(config, indent=1).encode(),
               "weights.npz": _arrays_bytes(owner.weights)}
    optimizer = getattr(owner, "optimizer", None)
    if include_optimizer and optimizer is not None and optimizer.variables:
        entries["optimizer.npz"] = _arrays_bytes(optimizer.variables)
    _atomic_write(filepath, entries, overwrite)


def _model_config(model):
    try:
        config = model.get_config()
        json.dumps(config)
    except (NotImplementedError, TypeError) as e:
        raise TypeError(
            f"cannot save the architecture of {type(model).__name__} ({e}); save its weights "
            f"with model.save_weights(path) and rebuild the model in code to load them") from None
    return {"class_name": type(model).__name__, "config": config}


def _compile_config(model):
    """How the model was compiled, as data; None when it was not, or when it used objects
    that cannot be described by name (the model then loads uncompiled)."""
    if not getattr(model, "compiled", False):
        return None
    optimizer = model.optimizer
    args = getattr(model, "_compile_args", {})
    try:
        return json.loads(json.dumps({
            "optimizer": {"class_name": type(optimizer).__name__, "config": optimizer.get_config()},
            # One identifier per output (a list or dict) for a model with several.
            "loss": _nest.map_structure(_loss_identifier, model.loss),
            "loss_weights": args.get("loss_weights"),
            "metrics": _metric_names(args.get("metrics"), model),
            "weighted_metrics": _metric_names(args.get("weighted_metrics"), None),
        }))
    except (TypeError, ValueError):
        return None


def _loss_identifier(loss):
    if loss is None or isinstance(loss, str):
        return loss
    if hasattr(loss, "get_config"):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    name = getattr(loss, "__name__", None)
    if name is None:
        raise TypeError(f"cannot describe the loss {loss!r} as data")
    return name


def _metric_names(spec, model):
    """The compiled metrics as names, in the structure ``compile`` was given them."""
    if spec is None:
        return [m.name for m in model._compiled_metrics] if model is not None else None
    if isinstance(spec, (str, metrics_module.Metric)) or callable(spec):
        spec = [spec]

    def name(metric):
        if metric is None or isinstance(metric, str):
            return metric
        if isinstance(metric, metrics_module.Metric):
            return metric.name
        return metric.__name__
    return _nest.map_structure(name, spec)


def _manifest(variables):
    return [{"name": v.name, "shape": list(v.shape), "dtype": v.dtype.name} for v in variables]


def _arrays_bytes(variables):
    buffer = io.BytesIO()
    np.savez(buffer, **{f"{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(variables)})
    return buffer.getvalue()


def _atomic_write(filepath, entries, overwrite):
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it")
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(filepath)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
                for name, data in entries.items():
                    archive.writestr(name, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# -- reading -------------------------------------------------------------------------------

def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """The model saved at ``filepath``, with its weights (and compiled, when it was)."""
    config, archive = _open(filepath)
    if config.get("weights_only"):
        raise SavedModelError(f"{filepath} holds only weights (from save_weights); build the "
                              f"model in code and call model.load_weights({filepath!r})")
    from . import models
    from .models.functional import functional_class
    described = config.get("model") or {}
    classes = {"Sequential": models.Sequential, "Functional": models.Functional,
               **(custom_objects or {})}
    cls = classes.get(described.get("class_name"))
    if cls is not None and isinstance(described.get("config"), dict) and \
            "input_layers" in described["config"] and isinstance(cls, type) and \
            issubclass(cls, models.Model):
        cls = functional_class(cls)  # a Model subclass built as Model(inputs, outputs)
    if cls is None:
        raise SavedModelError(
            f"{filepath}: model class {described.get('class_name')!r} is unknown; pass "
            f"custom_objects={{'{described.get('class_name')}': TheClass}}")
    try:
        model = cls.from_config(described["config"], custom_objects=custom_objects)
    except (KeyError, TypeError, ValueError) as e:
        raise SavedModelError(f"{filepath}: the saved architecture cannot be rebuilt: {e}") from e
    _assign(model.weights, _read_arrays(archive, "weights.npz", filepath), config["weights"],
            filepath, "weights")
    if compile and config.get("compile"):
        _recompile(model, config["compile"], custom_objects)
        if "optimizer.npz" in archive.namelist():
            _restore_optimizer(model, archive, filepath)
    return model


def restore_checkpoint(model, filepath):
    """Puts a checkpoint written by ``save_checkpoint`` back into ``model`` (weights and optimizer
    state) and returns the backup's ``training_state``."""
    config, archive = _open(filepath)
    _assign(model.weights, _read_arrays(archive, "weights.npz", filepath), config["weights"],
            filepath, "weights")
    if "optimizer.npz" in archive.namelist():
        _restore_optimizer(model, archive, filepath)
    return config.get("training_state") or {}


def _restore_optimizer(model, archive, filepath):
    optimizer = model.optimizer
    optimizer._build_new(model.trainable_weights)  # creates the slots the state fills
    _assign(optimizer.variables, _read_arrays(archive, "optimizer.npz", filepath), None,
            filepath, "optimizer state")


def load_weights(model, filepath):
    """Sets ``model``'s weights from a file written by ``save`` or ``save_weights``."""
    config, archive = _open(filepath)
    arrays = _read_arrays(archive, "weights.npz", filepath)
    if not model.weights:
        raise SavedModelError(
            f"{type(model).__name__} has no weights yet: build it first (call it on a batch, "
            f"or model.build(input_shape)) so the file's {len(arrays)} arrays have a place")
    _assign(model.weights, arrays, config.get("weights"), filepath, "weights")


def _open(filepath):
    filepath = os.fspath(filepath)
    try:
        archive = zipfile.ZipFile(filepath)
        config = json.loads(archive.read("config.json"))
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise SavedModelError(f"{filepath} is not a readable chainrule model file (damaged or "
                              f"of another kind): {e}") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise SavedModelError(f"{filepath} is not a chainrule model file (no '{FORMAT}' marker)")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise SavedModelError(f"{filepath} was written by a newer chainrule (format "
                              f"{config['format_version']}); upgrade chainrule to read it")
    return config, archive


def _read_arrays(archive, name, filepath):
    try:
        with np.load(io.BytesIO(archive.read(name)), allow_pickle=False) as npz:
            return [npz[key] for key in sorted(npz.files)]
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as e:
        raise SavedModelError(f"{filepath}: its {name} is missing or damaged: {e}") from None


def _assign(variables, arrays, manifest, filepath, what):
    if len(arrays) != len(variables):
        raise SavedModelError(f"{filepath} holds {len(arrays)} {what} arrays, but the model has "
                              f"{len(variables)}: the file was saved from a different architecture")
    for i, (var, array) in enumerate(zip(variables, arrays)):
        saved_name = manifest[i]["name"] if manifest else f"#{i}"
        if array.shape != var.shape:
            raise SavedModelError(
                f"{filepath}: {what} '{saved_name}' has shape {array.shape} in the file but "
                f"'{var.name}' in the model has shape {var.shape}: the file was saved from a "
                f"different architecture")
        if array.dtype.kind not in "fiub":
            raise SavedModelError(f"{filepath}: {what} '{saved_name}' has unsupported dtype {array.dtype}")
    for var, array in zip(variables, arrays):
        var.assign(array.astype(var.dtype, copy=False))


def _recompile(model, settings, custom_objects):
    from . import losses, optimizers
    custom_objects = custom_objects or {}
    def loss_of(loss):
        loss = custom_objects.get(loss, loss) if isinstance(loss, str) else loss
        return None if loss is None else losses.get(loss)

    loss = settings.get("loss")
    if isinstance(loss, list):  # one per output
        loss = [loss_of(entry) for entry in loss]
    elif isinstance(loss, dict) and "class_name" not in loss:
        loss = {name: loss_of(entry) for name, entry in loss.items()}
    else:
        loss = loss_of(loss)
    model.compile(optimizer=optimizers.get(settings["optimizer"]), loss=loss,
                  loss_weights=settings.get("loss_weights"), metrics=settings.get("metrics"),
                  weighted_metrics=settings.get("weighted_metrics"))
