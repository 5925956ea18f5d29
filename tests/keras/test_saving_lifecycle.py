"""Every file chainrule writes loads back, at every point of a model's life, in Keras 3's
format (``.keras``) and in chainrule's own (``.chainrule``); a model file is read as one
unambiguous thing."""

import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.keras import optimizers
from chainrule.keras.saving import SavedModelError, restore_checkpoint, save_checkpoint

from ._helpers import with_saved_weight

OPTIMIZERS = [lambda: optimizers.SGD(0.05), lambda: optimizers.SGD(0.05, momentum=0.9),
              lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True), optimizers.RMSprop,
              optimizers.Adagrad, optimizers.Adam, lambda: optimizers.Adam(amsgrad=True)]


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 6)).astype(np.float32), rng.integers(0, 3, 64)


def _model():
    cr.random.set_seed(0)
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(3, activation="softmax")])


def _stages(make_optimizer):
    """(name, model) at each point of a model's life, one after another."""
    x, y = _data()
    model = _model()
    yield "built", model
    model.compile(optimizer=make_optimizer(), loss="sparse_categorical_crossentropy")
    yield "compiled, before the first step", model
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    yield "trained", model
    model.compile(optimizer=make_optimizer(), loss="sparse_categorical_crossentropy")
    yield "recompiled after training", model
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    yield "trained after the recompile", model


def _optimizer_state(model):
    optimizer = getattr(model, "optimizer", None)
    return [] if optimizer is None else [v.numpy() for v in optimizer.variables]


@pytest.mark.parametrize("suffix", [".keras", ".chainrule"])
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS, ids=lambda f: repr(f()))
def test_every_file_written_at_every_point_of_a_models_life_loads_back(tmp_path, make_optimizer,
                                                                      suffix):
    x, y = _data()
    for stage, model in _stages(make_optimizer):
        expected = model.predict(x, verbose=0)
        path = tmp_path / f"model{suffix}"
        model.save(path)
        loaded = keras.models.load_model(path)
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected, err_msg=stage)
        if model.optimizer is not None:
            for a, b in zip(_optimizer_state(loaded), _optimizer_state(model), strict=True):
                np.testing.assert_array_equal(a, b, err_msg=stage)
                assert a.dtype == b.dtype, stage
            # and it trains on exactly as the original does
            twin = keras.models.load_model(path)
            twin.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
            loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
            for a, b in zip(_optimizer_state(loaded) + loaded.get_weights(),
                            _optimizer_state(twin) + twin.get_weights(), strict=True):
                np.testing.assert_array_equal(a, b, err_msg=stage)
        weights = tmp_path / "model.weights.chainrule"
        model.save_weights(weights)
        fresh = _model()
        fresh.load_weights(weights)
        np.testing.assert_array_equal(fresh.predict(x, verbose=0), expected, err_msg=stage)
        if model.optimizer is not None:
            backup = tmp_path / "backup.chainrule"
            save_checkpoint(model, backup, {"epoch": 1})
            other = _model()
            other.compile(optimizer=make_optimizer(), loss="sparse_categorical_crossentropy")
            assert restore_checkpoint(other, backup) == {"epoch": 1}, stage
            np.testing.assert_array_equal(other.predict(x, verbose=0), expected, err_msg=stage)
            for a, b in zip(_optimizer_state(other), _optimizer_state(model), strict=True):
                np.testing.assert_array_equal(a, b, err_msg=stage)


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS, ids=lambda f: repr(f()))
def test_a_checkpoint_from_before_the_first_step_restores_into_an_optimizer_that_stepped(
        tmp_path, make_optimizer, jit_compile):
    """The file's optimizer has no slots yet; the live one has. Restoring gives the file's
    state (step 0, every slot as build makes it), and training then goes exactly as it goes
    from a model that never trained."""
    x, y = _data()
    model = _model()
    model.compile(optimizer=make_optimizer(), loss="sparse_categorical_crossentropy",
                  jit_compile=jit_compile)
    backup = tmp_path / "backup.chainrule"
    save_checkpoint(model, backup, {"epoch": 0})
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    assert int(model.optimizer.iterations) == 4  # and it has slots (but plain SGD)
    assert restore_checkpoint(model, backup) == {"epoch": 0}
    assert int(model.optimizer.iterations) == 0
    untrained = _model()
    untrained.compile(optimizer=make_optimizer(), loss="sparse_categorical_crossentropy",
                      jit_compile=jit_compile)
    np.testing.assert_array_equal(model.predict(x, verbose=0), untrained.predict(x, verbose=0))
    untrained.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)  # its compiled step
    for a, b in zip(_optimizer_state(model), _optimizer_state(untrained), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.weights, untrained.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# -- one unambiguous thing -------------------------------------------------------------------

def _saved(tmp_path, suffix=".chainrule"):
    x, y = _data()
    model = _model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / f"model{suffix}"
    model.save(path)
    return path, model


def _members(path):
    with zipfile.ZipFile(path) as z:
        return [(info.filename, z.read(info)) for info in z.infolist()]


def _write(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members:
            z.writestr(name, data)


@pytest.mark.parametrize("suffix, member", [
    (".chainrule", "weights.npz"), (".chainrule", "config.json"),
    (".keras", "model.weights.h5"), (".keras", "config.json")])
def test_a_file_with_a_member_twice_is_refused(tmp_path, suffix, member):
    path, _ = _saved(tmp_path, suffix)
    members = _members(path)
    (tmp_path / "other").mkdir()
    other_path, _ = _saved(tmp_path / "other", suffix)
    # the second copy is another model's: a scanner reading the first copy sees this one
    members.append((member, dict(_members(other_path))[member]))
    with pytest.warns(UserWarning, match="Duplicate name"):
        _write(path, members)
    with pytest.raises(SavedModelError, match=f"{member} more than once"):
        keras.models.load_model(path)


@pytest.mark.parametrize("dtype", ["bool", "float16", "float64", "int32"])
def test_a_weight_of_another_dtype_than_its_layers_is_refused(tmp_path, dtype):
    path, model = _saved(tmp_path)
    kernel = model.weights[0].numpy()
    with_saved_weight(path, 0, (kernel > 0) if dtype == "bool" else kernel.astype(dtype))
    name = model.weights[0].name
    with pytest.raises(SavedModelError) as info:
        keras.models.load_model(path)
    assert str(info.value).startswith(f"{path}: weight #0 '{name}' is {dtype} in the file, "
                                      f"but layer '")
    assert str(info.value).split(": loaded")[0].endswith("makes it float32")
    with pytest.raises(SavedModelError) as info:
        _model().load_weights(path)
    assert str(info.value).startswith(f"{path}: weights '{name}' is {dtype} in the file")


def _flip_central_directory(path, offset, bit):
    data = bytearray(path.read_bytes())
    start = data.rindex(b"PK\x01\x02")  # the last central directory record
    data[start + offset] ^= bit
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("suffix", [".keras", ".chainrule"])
@pytest.mark.parametrize("offset, bit", [(10, 0x01), (8, 0x01), (10, 0x10), (8, 0x40)],
                         ids=["method", "encrypted", "method-high", "flags"])
def test_a_flipped_bit_in_the_central_directory_is_a_saved_model_error(tmp_path, offset, bit,
                                                                       suffix):
    path, _ = _saved(tmp_path, suffix)
    _flip_central_directory(path, offset, bit)
    with pytest.raises(SavedModelError) as info:
        keras.models.load_model(path)
    assert str(info.value).startswith(str(path))
