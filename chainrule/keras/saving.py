"""Saving and loading models: architecture as JSON, weights as plain arrays.

``save_model`` writes a ``.keras`` name in Keras 3's format (:mod:`.keras_files`) and a
``.chainrule`` name in chainrule's own, which holds any model (subclassed ones, classes of
your own); ``load_model`` tells the two apart by their content. chainrule's own file is one
zip holding

* ``config.json``: the model's architecture (``get_config``), how it was compiled, and a
  manifest naming every weight with its shape and dtype;
* ``weights.npz``: the weights, in ``model.weights`` order;
* ``optimizer.npz``: the optimizer's state (its step counter and slots, once a first step
  has built them), listed by a second manifest in ``config.json``.

Nothing in the file can run code when it is loaded: JSON is parsed as data and arrays are
read as numbers only (never unpickled). A file is untrusted input: every size it declares is
checked against the others and against the model before memory is allocated, every weight's
dtype must be the one its layer makes, a member named twice (a reader taking the first copy
and one taking the last would see two models) refuses the file, and every failure, of the
zip container included, is a :class:`SavedModelError` naming the file.

Every write goes to a temporary file beside the target (``.<name>.<pid>-*.chainrule-tmp``)
that is renamed over it only once complete, so a crash mid-save leaves the previous file
as it was; the next save to the same place removes temporaries whose process is gone. The
file keeps an existing file's mode (a new one gets the umask's), and a symlink is written
through to its target.
"""

import contextlib
import io
import json
import os
import stat
import tempfile
import zipfile
import zlib

import numpy as np

from .. import nest
from . import layers, losses, optimizers
from . import metrics as metrics_module
from . import _registry
from ._registry import (CustomObjectScope, get_custom_objects, serialize,  # noqa: F401
                        unsavable_part)
from .layers.layer import checking_new_weights
from .untrusted import (MAX_CONFIG_BYTES, MAX_WEIGHT_BYTES, ModelFileNotFoundError,  # noqa: F401
                        SavedModelError, weight_limit as _weight_limit)
from .utils import npy
from .utils.serialization import (deserialize_keras_object, get_registered_name,  # noqa: F401
                                  get_registered_object, serialize_keras_object)
from . import keras_files

FORMAT = "chainrule.model"
FORMAT_VERSION = 1
# The names save_model writes under: chainrule's own zip, and Keras 3's format.
MODEL_EXTENSIONS = (".chainrule", ".keras")

__all__ = ["get_custom_objects", "custom_object_scope", "CustomObjectScope",
           "get_registered_name", "get_registered_object", "serialize_keras_object",
           "deserialize_keras_object",
           "save_model", "load_model", "save_weights", "load_weights", "save_checkpoint",
           "restore_checkpoint", "SavedModelError", "ModelFileNotFoundError",
           "register_keras_serializable"]


# -- writing -------------------------------------------------------------------------------

def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Writes ``model`` (architecture, weights, compile settings, optimizer state): to a
    ``.keras`` file in Keras 3's format (:mod:`.keras_files`; a model Keras cannot describe
    is refused with :class:`~.keras_files.KerasFormatError`), or to a ``.chainrule`` file
    in chainrule's own, which holds any model. Keras's other names are refused."""
    name = str(os.fspath(filepath))
    if name.endswith((".h5", ".hdf5")):
        raise ValueError(
            f"chainrule does not write legacy HDF5 model files (Keras 2's .h5); save the model "
            f"as 'name.keras' (Keras 3's format) or 'name.chainrule', or its weights alone with "
            f"save_weights('name.weights.h5'). Received: filepath={name}")
    if not name.endswith(MODEL_EXTENSIONS):
        raise ValueError(
            f"Invalid filepath extension for saving. Please add either a `.keras` extension "
            f"for the native Keras format or a `.chainrule` extension for chainrule's own. Use "
            f"`model.export(filepath, format='onnx')` to export the model for serving. "
            f"Received: filepath={name}")
    if name.endswith(".keras"):  # Keras 3's format, which Keras itself loads
        _atomic_write(filepath, keras_files.keras_file_entries(
            model, _compile_config(model), include_optimizer), overwrite)
        return
    _write(model, filepath, overwrite, include_optimizer,
           model=_model_config(model), compile=_compile_config(model),
           build=model.get_build_config())


def save_weights(model, filepath, overwrite=True):
    """Writes only the weights (and their manifest), for a model built the same way, to a
    ``.chainrule`` file (``Model.save_weights`` writes Keras's ``.weights.h5`` with
    :mod:`.weights_h5`)."""
    name = str(os.fspath(filepath))
    if not name.endswith(".chainrule"):
        raise ValueError(
            f"The filename must end in `.weights.h5` (Keras 3's HDF5 layout; "
            f"model.save_weights writes it) or `.chainrule` (chainrule's own). Received: "
            f"filepath={name}")
    _write(model, filepath, overwrite, include_optimizer=False, weights_only=True)


def save_checkpoint(model, filepath, training_state):
    """Writes what resuming a fit needs: weights, optimizer state and ``training_state``
    (a JSON-able dict; ``BackupAndRestore`` keeps the epoch and shuffling seed there)."""
    _write(model, filepath, True, include_optimizer=True, weights_only=True,
           training_state=training_state)


def _write(owner, filepath, overwrite, include_optimizer, **sections):
    optimizer = getattr(owner, "optimizer", None)
    state = optimizer.variables if include_optimizer and optimizer is not None else []
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, **sections,
              "weights": _manifest(owner.weights)}
    if state:
        # Before the first step the optimizer has no slots yet: its own manifest says what
        # the state holds, so a loader builds the slots only when the file has them.
        config["optimizer_weights"] = _manifest(state)
    entries = {"config.json": json.dumps(config, indent=1).encode(),
               "weights.npz": _arrays_bytes(owner.weights)}
    if state:
        entries["optimizer.npz"] = _arrays_bytes(state)
    _atomic_write(filepath, entries, overwrite)


def _model_config(model):
    try:
        config = model.get_config()
        json.dumps(config)
    except (NotImplementedError, TypeError) as e:
        culprit = next(filter(None, (unsavable_part(layer)
                                     for layer in reversed(model._flatten_layers()))), None)
        raise TypeError(
            f"cannot save the architecture of {type(model).__name__} "
            f"({culprit or e}); save its weights "
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
            "optimizer": serialize(optimizer),
            # One identifier per output (a list or dict) for a model with several.
            "loss": nest.map_structure(_loss_identifier, model.loss),
            "loss_weights": args.get("loss_weights"),
            "metrics": _metric_names(args.get("metrics"), model),
            "weighted_metrics": _metric_names(args.get("weighted_metrics"), None),
            "steps_per_execution": model.steps_per_execution,
        }))
    except (TypeError, ValueError):
        return None


def _loss_identifier(loss):
    if loss is None or isinstance(loss, str):
        return loss
    if hasattr(loss, "get_config"):
        return serialize(loss)
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
    return nest.map_structure(name, spec)


def _manifest(variables):
    return [{"name": v.name, "shape": list(v.shape), "dtype": v.dtype.name} for v in variables]


def _arrays_bytes(variables):
    buffer = io.BytesIO()
    np.savez(buffer, **{f"{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(variables)})
    return buffer.getvalue()


# A save in progress writes ".<name>.<pid>-<random>.chainrule-tmp" beside its target, so that
# one a killed process left behind is recognisable: the next save to the same place removes
# those whose process is gone.
TMP_SUFFIX = ".chainrule-tmp"


def _atomic_write(filepath, entries, overwrite):
    filepath = os.fspath(filepath)
    if not overwrite and os.path.lexists(filepath):
        raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it")
    # Through a symlink to the file it names: the link stays, its target gets the new model.
    target = os.path.realpath(filepath)
    folder, name = os.path.split(target)
    os.makedirs(folder, exist_ok=True)
    mode = _mode_for(target)
    _remove_stale_temporaries(folder, name)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.{os.getpid()}-", suffix=TMP_SUFFIX)
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600; the rename would carry that over
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
                for member, data in entries.items():
                    archive.writestr(member, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _mode_for(target):
    """An existing file keeps its permission bits; a new one gets what open() would give."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask():
    try:  # read without changing it: os.umask can only be read by setting it (racy)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove_stale_temporaries(folder, name):
    prefix = f".{name}."
    try:
        candidates = [e for e in os.listdir(folder)
                      if e.startswith(prefix) and e.endswith(TMP_SUFFIX)]
    except OSError:
        return
    for entry in candidates:
        pid = entry[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            try:
                os.remove(os.path.join(folder, entry))
            except OSError:
                pass  # another save cleaned it first, or it is not ours to remove


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


# -- reading -------------------------------------------------------------------------------
# A model file is untrusted input. Every size is checked before it is allocated: config.json
# against MAX_CONFIG_BYTES; the manifest's total against MAX_WEIGHT_BYTES; each weight the
# architecture creates against the manifest (see _WeightCheck); the arrays' members
# against the manifest; each .npy header against the weight it fills (see utils.npy).

_MAX_DEFLATE_RATIO = 1032  # the most deflate can expand (a run of zeros)
_NUMERIC = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
            "float16", "float32", "float64"}
# Errors that a malformed file makes NumPy, zipfile, json or a from_config raise; the loader
# answers each with a SavedModelError that names the file.
# zipfile answers a damaged central directory with NotImplementedError (an unknown
# compression method) or RuntimeError ("password required"); both are RuntimeErrors.
_FILE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, OSError,
                EOFError, OverflowError, RuntimeError, zipfile.BadZipFile, zlib.error)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """The model saved at ``filepath``, with its weights (and compiled, when it was): a file
    of ``model.save``, or a ``.keras`` file written by Keras 3 (:mod:`.keras_files`). Names
    resolve in ``custom_objects``, then in those of an open ``custom_object_scope`` and the
    global ``get_custom_objects()``, then in chainrule's own."""
    custom_objects = {**_registry.custom_objects_in_scope(), **(custom_objects or {})}
    return _load_model(filepath, custom_objects, compile, safe_mode)


def _load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    keras_file = _keras_archive(filepath)
    if keras_file is not None:  # by its content, whatever its name
        filepath = os.fspath(filepath)
        with keras_file:
            _refuse_twice_named(keras_file, filepath)
            try:
                return keras_files.load_keras_file(keras_file, filepath, custom_objects,
                                                   compile)
            except SavedModelError:
                raise
            except _FILE_ERRORS as e:
                raise SavedModelError(f"{filepath} is damaged or malformed "
                                      f"({type(e).__name__}: {e})") from e
    with _opened(filepath) as (filepath, config, archive):
        if config.get("weights_only"):
            raise SavedModelError(f"{filepath} holds only weights (from save_weights); build "
                                  f"the model in code and call model.load_weights({filepath!r})")
        described = config.get("model")
        if not isinstance(described, dict) or not isinstance(described.get("config"), dict):
            raise SavedModelError(f"{filepath}: config.json has no model description ('model' "
                                  f"with 'class_name' and 'config')")
        # Models register as layers (keras.models); a Model subclass built as
        # Model(inputs, outputs) is rebuilt as such by its from_config.
        name = described.get("class_name")
        classes = {**layers.REGISTRY.classes, **(custom_objects or {})}
        cls = classes.get(name) if isinstance(name, str) else None
        if cls is None:
            raise SavedModelError(f"{filepath}: model class {name!r} is unknown; pass "
                                  f"custom_objects={{'{name}': TheClass}}")
        manifest = config["weights"]
        _member_info(archive, "weights.npz", manifest, filepath)
        check = _WeightCheck(manifest, filepath)
        try:
            with checking_new_weights(check):
                model = cls.from_config(described["config"], custom_objects=custom_objects)
                if not model.built and config.get("build"):
                    # a subclassed model makes its weights when built: build it for the
                    # input shape it was saved with, before the weights are set
                    model.build_from_config(config["build"])
        except Exception as e:  # noqa: BLE001 - any failure to rebuild is the file's fault
            if check.refusal is not None:  # raised inside a layer call that re-worded it
                raise check.refusal from None
            if isinstance(e, SavedModelError):
                raise
            raise SavedModelError(f"{filepath}: the saved architecture cannot be rebuilt "
                                  f"({type(e).__name__}: {e})") from e
        _load_into(model.weights, archive, "weights.npz", manifest, filepath, "weights")
        if compile and config.get("compile"):
            try:
                _recompile(model, config["compile"], custom_objects)
            except Exception as e:  # noqa: BLE001
                raise SavedModelError(f"{filepath}: the saved compile settings are unusable "
                                      f"({type(e).__name__}: {e})") from e
            if "optimizer.npz" in archive.namelist():
                _restore_optimizer(model, archive, config, filepath)
    return model


def restore_checkpoint(model, filepath):
    """Puts a checkpoint written by ``save_checkpoint`` back into ``model`` (weights and optimizer
    state) and returns the backup's ``training_state``."""
    with _opened(filepath) as (filepath, config, archive):
        _load_into(model.weights, archive, "weights.npz", config["weights"], filepath, "weights")
        if "optimizer.npz" in archive.namelist():
            _restore_optimizer(model, archive, config, filepath)
        state = config.get("training_state") or {}
        if not isinstance(state, dict):
            raise SavedModelError(f"{filepath}: its training_state is not a mapping")
        return state


def _restore_optimizer(model, archive, config, filepath):
    optimizer = model.optimizer
    manifest = config.get("optimizer_weights")
    if manifest is not None:
        manifest = _checked_manifest(manifest, filepath, "optimizer_weights")
    # Slots are made for the state to fill only when the file has them (older files, with
    # no manifest of their own, always do); saved before the first step, it has none.
    if manifest is None or len(manifest) > len(optimizer.variables):
        optimizer._build_new(model.trainable_weights)
    variables = optimizer.variables
    own = len(variables) - len(optimizer._slot_variables)  # the counter, the rate
    if manifest is not None and len(manifest) == own < len(variables):
        # Saved before the first step into an optimizer that has stepped since: the
        # file's state is "not stepped yet", so the counter and rate are loaded and the
        # slots go back to their initial values (Keras leaves such an optimizer as it is,
        # with a warning; a restore that kept the later state would not be one).
        _load_into(variables[:own], archive, "optimizer.npz", manifest, filepath,
                   "optimizer state")
        optimizer._reset_slots()
        return
    _load_into(variables, archive, "optimizer.npz", manifest, filepath, "optimizer state")


def load_weights(model, filepath):
    """Sets ``model``'s weights from a file written by ``save`` or ``save_weights`` (a Keras
    3 ``.keras`` file too)."""
    keras_file = _keras_archive(filepath)
    if keras_file is not None:
        filepath = os.fspath(filepath)
        with keras_file:
            _refuse_twice_named(keras_file, filepath)
            try:
                return keras_files.load_keras_weights(model, keras_file, filepath)
            except SavedModelError:
                raise
            except _FILE_ERRORS as e:
                raise SavedModelError(f"{filepath} is damaged or malformed "
                                      f"({type(e).__name__}: {e})") from e
    with _opened(filepath) as (filepath, config, archive):
        if not model.weights:
            raise SavedModelError(
                f"{type(model).__name__} has no weights yet: build it first (call it on a "
                f"batch, or model.build(input_shape)) so the file's {len(config['weights'])} "
                f"arrays have a place")
        _load_into(model.weights, archive, "weights.npz", config["weights"], filepath, "weights")


def _keras_archive(filepath):
    """The open zip if ``filepath`` is a Keras 3 model file, else None (a file of chainrule's,
    or one that _opened then says is not readable)."""
    try:
        archive = zipfile.ZipFile(os.fspath(filepath))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    if keras_files.is_keras_file(archive):
        return archive
    archive.close()
    return None


@contextlib.contextmanager
def _opened(filepath):
    """``(path, config, archive)`` for a checked model file; closes the archive on every path
    and turns any error a malformed file provokes into a SavedModelError naming the file."""
    filepath = os.fspath(filepath)
    try:
        archive = zipfile.ZipFile(filepath)
    except FileNotFoundError:
        raise ModelFileNotFoundError(f"{filepath}: no such file") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as e:
        raise SavedModelError(f"{filepath} is not a readable chainrule model file (damaged or "
                              f"of another kind{_kind_of(filepath)}): {e}") from None
    with archive:
        _refuse_twice_named(archive, filepath)
        try:
            yield filepath, _read_config(archive, filepath), archive
        except SavedModelError:
            raise
        except _FILE_ERRORS as e:
            raise SavedModelError(f"{filepath} is damaged or malformed "
                                  f"({type(e).__name__}: {e})") from e


def _kind_of(filepath):
    """What a file that is no zip seems to be, in words that say what to do with it."""
    try:
        with open(filepath, "rb") as f:
            head = f.read(8)
    except OSError:
        return ""
    if head.startswith(b"\x89HDF"):
        return ("; it is HDF5: a Keras 2 .h5 model, which chainrule does not read, or "
                "weights, which model.load_weights('name.weights.h5') reads")
    if str(filepath).endswith(".onnx") or head[:1] == b"\x08":  # ONNX: ir_version first
        return ("; it looks like an ONNX model: chainrule writes those for serving "
                "(model.export) but does not read them back; load the .keras or .chainrule "
                "file it was exported from, or serve it with onnxruntime")
    return ""


def _refuse_twice_named(archive, filepath):
    names = archive.namelist()
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise SavedModelError(
            f"{filepath} holds {', '.join(twice)} more than once: a reader taking the "
            f"first copy and one taking the last would see two different models; refused")


def _read_config(archive, filepath):
    try:
        info = archive.getinfo("config.json")
    except KeyError:
        raise SavedModelError(f"{filepath} is not a chainrule model file (no config.json; it "
                              f"holds {', '.join(archive.namelist()[:5]) or 'nothing'})") from None
    if info.file_size > MAX_CONFIG_BYTES:
        raise SavedModelError(f"{filepath}: its config.json unpacks to {info.file_size:,} bytes, "
                              f"more than the {MAX_CONFIG_BYTES:,} a model description may take")
    try:
        config = json.loads(archive.read(info))
    except (ValueError, RuntimeError, zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
        raise SavedModelError(f"{filepath} is not a readable chainrule model file (damaged or "
                              f"of another kind): {e}") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise SavedModelError(f"{filepath} is not a chainrule model file (no '{FORMAT}' marker)")
    version = config.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise SavedModelError(f"{filepath} was written by a newer chainrule (format "
                              f"{version!r}); upgrade chainrule to read it")
    config["weights"] = _checked_manifest(config.get("weights"), filepath)
    return config


def _checked_manifest(manifest, filepath, key="weights"):
    """The manifest as ``[(name, shape, dtype)]``, refused unless well formed and sane."""
    if not isinstance(manifest, list):
        raise SavedModelError(f"{filepath}: config.json lacks the weights manifest ('{key}': "
                              f"a list of name, shape and dtype per weight)")
    checked, total = [], 0
    for i, entry in enumerate(manifest):
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not (isinstance(entry, dict) and isinstance(entry.get("name"), str)
                and isinstance(shape, list)
                and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
                and entry.get("dtype") in _NUMERIC):
            raise SavedModelError(f"{filepath}: {key} manifest entry #{i} is malformed: "
                                  f"{str(entry)[:200]}")
        dtype = np.dtype(entry["dtype"])
        total += npy.nbytes(shape, dtype)
        checked.append((entry["name"], tuple(shape), dtype))
    limit = _weight_limit()
    if total > limit:
        raise SavedModelError(f"{filepath}: its manifest declares {len(checked)} weights of "
                              f"{total:,} bytes, more than this loader allows ({limit:,}: "
                              f"MAX_WEIGHT_BYTES or half the machine's memory)")
    return checked


class _WeightCheck:
    """What ``Layer.add_weight`` runs, while a file's architecture is being rebuilt, before it
    allocates: the weight must be the next one the file's manifest lists."""

    def __init__(self, manifest, path):
        self.manifest, self.path, self.next = manifest, path, 0
        self.refusal = None  # the SavedModelError it raised, as it raised it

    def __call__(self, layer, name, shape, dtype):
        try:
            self._check(layer, name, shape, dtype)
        except SavedModelError as e:
            self.refusal = e
            raise

    def _check(self, layer, name, shape, dtype):
        manifest, path, i = self.manifest, self.path, self.next
        size = npy.nbytes(shape, dtype)
        if i >= len(manifest):
            raise SavedModelError(
                f"{path}: the saved architecture makes more weights than the file holds "
                f"({len(manifest)}): layer '{layer.name}' would create '{name}' of shape "
                f"{shape} ({size:,} bytes)")
        saved_name, saved_shape, saved_dtype = manifest[i]
        if tuple(shape) != saved_shape:
            raise SavedModelError(
                f"{path}: the saved architecture and weights disagree: layer '{layer.name}' "
                f"would create '{name}' of shape {tuple(shape)} ({size:,} bytes), but the "
                f"file's weight #{i} '{saved_name}' has shape {saved_shape}")
        if saved_dtype != np.dtype(dtype):
            raise SavedModelError(
                f"{path}: weight #{i} '{saved_name}' is {saved_dtype} in the file, but layer "
                f"'{layer.name}' makes it {np.dtype(dtype)}: loaded, it would compute what the "
                f"saved model did not")
        self.next = i + 1


def _load_into(variables, archive, member, manifest, filepath, what):
    """Reads ``member`` (an .npz inside the model file) into ``variables``, after checking
    every size against them; nothing is assigned unless every array fits."""
    variables = list(variables)
    if manifest is None:  # optimizer state: the variables themselves say what to expect
        manifest = [(v.name, tuple(v.shape), np.dtype(v.dtype.name)) for v in variables]
    if len(manifest) != len(variables):
        raise SavedModelError(f"{filepath} holds {len(manifest)} {what} arrays, but the model has "
                              f"{len(variables)}: the file was saved from a different architecture")
    for var, (saved_name, shape, dtype) in zip(variables, manifest):
        if shape != tuple(var.shape):
            raise SavedModelError(
                f"{filepath}: {what} '{saved_name}' has shape {shape} in the file but "
                f"'{var.name}' in the model has shape {tuple(var.shape)}: the file was saved "
                f"from a different architecture")
        if dtype != np.dtype(var.dtype.name):
            raise SavedModelError(
                f"{filepath}: {what} '{saved_name}' is {dtype} in the file, but '{var.name}' "
                f"in the model is {var.dtype.name}")
    arrays = _read_arrays(archive, member, manifest, filepath)
    for var, array in zip(variables, arrays):
        var.assign(array)


def _member_info(archive, member, manifest, filepath):
    """``member``'s ZipInfo, once its declared sizes fit the arrays ``manifest`` lists: at
    least their data, at most that plus headers, and no more than its stored bytes could
    inflate to. Checked before the architecture is built, so a forged file cannot make the
    loader allocate what the file does not hold."""
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise SavedModelError(f"{filepath}: its {member} is missing") from None
    data = sum(npy.nbytes(shape, dtype) for _, shape, dtype in manifest)
    # An .npz of these arrays: the data, a .npy header per array and the zip's own records.
    need = data + 512 * len(manifest) + 1024
    if info.file_size > need:
        raise SavedModelError(
            f"{filepath}: its {member} unpacks to {info.file_size:,} bytes, but the "
            f"{len(manifest)} arrays its manifest lists take {need:,} bytes at most; it was not "
            f"read")
    try:
        stored = os.fstat(archive.fp.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        stored = None
    inflatable = info.file_size if info.compress_type == zipfile.ZIP_STORED else \
        info.compress_size * _MAX_DEFLATE_RATIO
    if info.file_size < data or inflatable < info.file_size or \
            stored is not None and info.compress_size > stored:
        raise SavedModelError(
            f"{filepath}: its {member} declares {info.file_size:,} bytes ({info.compress_size:,} "
            f"stored), which cannot hold the {data:,} bytes of the {len(manifest)} arrays its "
            f"manifest lists: the file is truncated or forged")
    return info


def _read_arrays(archive, member, manifest, filepath):
    info = _member_info(archive, member, manifest, filepath)
    with archive.open(info) as stream:
        magic = stream.read(6)
        if magic == b"\x93NUMPY":
            raise SavedModelError(f"{filepath}: its {member} is a single .npy array, not the "
                                  f".npz archive of {len(manifest)} arrays it should be")
        stream.seek(0)
        try:
            with zipfile.ZipFile(stream) as inner:
                names = sorted(inner.namelist())
                expected = [f"{i:04d}.npy" for i in range(len(manifest))]
                if names != expected:
                    raise SavedModelError(
                        f"{filepath}: its {member} holds {len(names)} arrays "
                        f"({', '.join(names[:5])}{', ...' if len(names) > 5 else ''}), expected "
                        f"{len(manifest)} named 0000.npy onwards")
                return [npy.read_array(inner, name, shape, dtype)
                        for name, (_, shape, dtype) in zip(names, manifest)]
        except npy.ArrayFileError as e:
            raise SavedModelError(f"{filepath}: its {member} is damaged: {e}") from None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, zlib.error) as e:
            raise SavedModelError(f"{filepath}: its {member} is missing or damaged: {e}") from None


def _recompile(model, settings, custom_objects):
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
                  weighted_metrics=settings.get("weighted_metrics"),
                  steps_per_execution=settings.get("steps_per_execution", 1))


# -- your own classes ----------------------------------------------------------------------
def register_keras_serializable(package="Custom", name=None):
    """A class decorator that lets saved models name your class without ``custom_objects``
    (Keras's decorator; the class goes into its family's registry: layers and models,
    losses or metrics). Registering is done by your code, so loading still runs none
    from the file. ``package`` is accepted for Keras's signature; the class is found by
    ``name`` (its class name by default), as chainrule writes it."""
    def register(cls):
        if not isinstance(cls, type):
            raise TypeError(f"register_keras_serializable registers classes (a Layer, Model, "
                            f"Loss or Metric subclass); received {cls!r}")
        families = [(layers.Layer, layers.REGISTRY), (losses.Loss, losses.REGISTRY),
                    (metrics_module.Metric, metrics_module.REGISTRY)]
        for base, registry in families:
            if issubclass(cls, base):
                registry.register(cls)
                if name is not None:
                    registry.classes[name] = cls
                registered = _registry.REGISTERED_NAMES[cls] = f"{package}>{name or cls.__name__}"
                get_custom_objects()[registered] = cls
                return cls
        raise TypeError(f"register_keras_serializable: {cls.__name__} is not a Layer, Model, "
                        f"Loss or Metric subclass, the kinds a saved model names")
    return register


custom_object_scope = CustomObjectScope  # Keras's two names for it
