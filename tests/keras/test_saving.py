"""Saved models: round trips, atomic writes, damaged files, and a resumed fit."""

import io
import os
import re
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.keras import layers
from chainrule.keras.saving import SavedModelError

from ._helpers import blobs, with_saved_weight


def small_model(units=16, compiled=True):
    model = keras.Sequential([layers.Dense(units, activation="relu"),
                              layers.Dense(3, activation="softmax")])
    if compiled:
        model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.01),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def trained_model():
    x, y = blobs()
    model = small_model()
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    return model, x, y


def test_round_trip_gives_identical_predictions_and_training_state(tmp_path):
    model, x, y = trained_model()
    path = tmp_path / "model.chainrule"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, keras.Sequential)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [w.name for w in loaded.weights] == [w.name for w in model.weights]
    assert isinstance(loaded.optimizer, keras.optimizers.RMSprop)
    assert loaded.optimizer.learning_rate == pytest.approx(0.01)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 20
    # Restored optimizer slots: one more identical step gives identical weights.
    model.fit(x, y, epochs=1, batch_size=300, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=300, shuffle=False, verbose=0)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_file_is_a_zip_of_json_and_arrays(tmp_path):
    model, _, _ = trained_model()
    model.save(tmp_path / "m.chainrule")
    names = zipfile.ZipFile(tmp_path / "m.chainrule").namelist()
    assert names == ["config.json", "weights.npz", "optimizer.npz"]


def test_save_and_load_weights(tmp_path):
    model, x, _ = trained_model()
    model.save_weights(tmp_path / "w.chainrule")
    other = small_model(compiled=False)
    other.build((None, x.shape[1]))
    other.load_weights(tmp_path / "w.chainrule")
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(SavedModelError, match="only weights"):
        keras.models.load_model(tmp_path / "w.chainrule")


def test_load_weights_into_a_different_architecture_says_which_weight(tmp_path):
    model, x, _ = trained_model()
    model.save(tmp_path / "m.chainrule")
    other = small_model(units=8, compiled=False)
    other.build((None, x.shape[1]))
    with pytest.raises(SavedModelError, match=r"'dense(_\d+)?/kernel' has shape \(4, 16\) in the file.*\(4, 8\)"):
        other.load_weights(tmp_path / "m.chainrule")
    deeper = keras.Sequential([layers.Dense(16), layers.Dense(16), layers.Dense(3)])
    deeper.build((None, x.shape[1]))
    with pytest.raises(SavedModelError, match="holds 4 weights arrays, but the model has 6"):
        deeper.load_weights(tmp_path / "m.chainrule")


def test_load_weights_into_an_unbuilt_model_says_to_build_it(tmp_path):
    model, _, _ = trained_model()
    model.save_weights(tmp_path / "w.chainrule")
    with pytest.raises(SavedModelError, match="build it first"):
        small_model().load_weights(tmp_path / "w.chainrule")


def test_interrupted_save_leaves_the_old_file(tmp_path, monkeypatch):
    model, x, y = trained_model()
    path = tmp_path / "m.chainrule"
    model.save(path)
    before = path.read_bytes()
    model.fit(x, y, epochs=1, verbose=0)  # the weights change

    original = zipfile.ZipFile.writestr

    def crash_after_config(self, name, data, *args, **kwargs):
        if name == "weights.npz":
            raise KeyboardInterrupt("killed mid-save")
        return original(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", crash_after_config)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.chainrule"]  # no temporary file left behind


@pytest.mark.parametrize("damage", ["truncate", "garbage", "foreign_zip", "bad_weights"])
def test_damaged_files_give_clear_errors(tmp_path, damage):
    model, _, _ = trained_model()
    path = tmp_path / "m.chainrule"
    model.save(path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a model at all" * 10)
    elif damage == "foreign_zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("config.json", '{"something": "else"}')
    else:
        with zipfile.ZipFile(path) as z:
            entries = {n: z.read(n) for n in z.namelist()}
        entries["weights.npz"] = entries["weights.npz"][:50]
        with zipfile.ZipFile(path, "w") as z:
            for n, d in entries.items():
                z.writestr(n, d)
    with pytest.raises(SavedModelError, match=str(path.name)):
        keras.models.load_model(path)


def test_loading_never_unpickles(tmp_path):
    model, _, _ = trained_model()
    path = tmp_path / "m.chainrule"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    evil = io.BytesIO()
    np.save(evil, np.array([object()], dtype=object), allow_pickle=True)
    weights = io.BytesIO()
    with zipfile.ZipFile(weights, "w") as z:
        for i in range(4):
            z.writestr(f"{i:04d}.npy", evil.getvalue())
    entries["weights.npz"] = weights.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for n, d in entries.items():
            z.writestr(n, d)
    with pytest.raises(SavedModelError, match="damaged"):
        keras.models.load_model(path)


def test_model_checkpoint_writes_loadable_files(tmp_path):
    x, y = blobs()
    model = small_model()
    pattern = str(tmp_path / "ckpt-{epoch:02d}.chainrule")
    model.fit(x, y, epochs=2, verbose=0, callbacks=[keras.callbacks.ModelCheckpoint(pattern)])
    assert sorted(os.listdir(tmp_path)) == ["ckpt-01.chainrule", "ckpt-02.chainrule"]
    reloaded = keras.models.load_model(tmp_path / "ckpt-02.chainrule")
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))


class KillAfterEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.kill_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.kill_epoch:
            raise KeyboardInterrupt("the process was killed")


def test_killed_then_resumed_fit_ends_with_the_uninterrupted_weights(tmp_path):
    x, y = blobs(500)
    cr.random.set_seed(3)
    reference = small_model()
    reference.fit(x, y, epochs=5, batch_size=32, verbose=0)

    cr.random.set_seed(3)
    model = small_model()
    backup = keras.callbacks.BackupAndRestore(tmp_path / "backup")
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=5, batch_size=32, verbose=0,
                  callbacks=[backup, KillAfterEpoch(2)])
    assert os.path.exists(backup.path)

    cr.random.set_seed(99)  # a fresh process: other weights, another seed
    resumed = small_model()
    history = resumed.fit(x, y, epochs=5, batch_size=32, verbose=0,
                          callbacks=[keras.callbacks.BackupAndRestore(tmp_path / "backup")])
    assert history.epoch == [3, 4]
    for a, b in zip(reference.weights, resumed.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(resumed.optimizer.iterations) == int(reference.optimizer.iterations)
    assert not os.path.exists(backup.path)  # a finished fit removes its backup


def test_history_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    x, y = blobs()
    model = small_model()
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.2)
    path = history.plot(tmp_path / "curves.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


# -- model files are untrusted input (issue 12) -----------------------------------------------

def _entries(path):
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _rewrite(path, entries, compress=None):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data, compress_type=(compress or {}).get(name, zipfile.ZIP_STORED))


def _config(path):
    import json
    return json.loads(_entries(path)["config.json"])


def _with_config(path, config):
    import json
    entries = _entries(path)
    entries["config.json"] = json.dumps(config).encode()
    _rewrite(path, entries)


def _npy_header(shape, descr="<f4"):
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False,
                                               "shape": shape})
    return out.getvalue()


def _saved(tmp_path, name="m.chainrule"):
    model, _, _ = trained_model()
    path = tmp_path / name
    model.save(path)
    return path


CHILD = r"""
import json, resource, sys, traceback
import numpy as np
from chainrule import keras

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

keras.models.load_model(sys.argv[2])  # warm: every code path of a good load has run once
with open("/proc/self/status") as f:
    vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
cap = vm + 256 * 2**20  # allocating the bomb must fail here, never reach the OOM killer
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
before = peak_mb()
try:
    keras.models.load_model(sys.argv[1])
    outcome = "loaded"
except Exception as e:
    outcome = f"{type(e).__name__}: {e}"
print(json.dumps({"outcome": outcome, "extra_mb": peak_mb() - before}))
"""


def _load_in_capped_child(path, good):
    """Loads ``path`` in a fresh interpreter whose address space is capped 256 MB above its
    size after one good load; answers its outcome and how far its peak RSS rose (MB)."""
    import json
    import subprocess
    import sys
    run = subprocess.run([sys.executable, "-c", CHILD, str(path), str(good)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc (Linux)")
@pytest.mark.parametrize("where", ["outer", "inner"])
def test_weights_inflating_to_300_mb_are_refused_within_50_mb(tmp_path, where):
    # A model whose 400 KB kernel makes room for a 300 KB member that inflates to 300 MB.
    model = keras.Sequential([layers.Dense(1000), layers.Dense(3)])
    model.build((None, 100))
    good = tmp_path / "good.chainrule"
    model.save(good)
    path = tmp_path / "bomb.chainrule"
    entries = _entries(good)
    zeros = b"\0" * 2**20
    if where == "outer":  # weights.npz itself inflates to 300 MB
        _rewrite(path, {"config.json": entries["config.json"]})
        with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as z, \
                z.open("weights.npz", "w", force_zip64=True) as member:
            for _ in range(300):
                member.write(zeros)
    else:  # a small weights.npz whose first .npy inflates to 300 MB behind a fitting header
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w", compression=zipfile.ZIP_DEFLATED) as z:
            with z.open("0000.npy", "w", force_zip64=True) as member:
                member.write(_npy_header((100, 1000)))
                for _ in range(300):
                    member.write(zeros)
            for i in range(1, 4):
                z.writestr(f"{i:04d}.npy", b"")
        entries["weights.npz"] = inner.getvalue()
        _rewrite(path, entries)
    assert path.stat().st_size < 2_000_000
    result = _load_in_capped_child(path, good)
    assert result["outcome"].startswith("SavedModelError: " + str(path))
    if where == "outer":
        assert "its weights.npz unpacks to 314,572,800 bytes" in result["outcome"]
    else:  # 300 KB stored can not be the 416 KB of weights the manifest lists
        assert re.search(r"its weights.npz declares [\d,]+ bytes \([\d,]+ stored\), which "
                         r"cannot hold the 416,012 bytes of the 4 arrays", result["outcome"])
    assert result["extra_mb"] < 50, result


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc (Linux)")
def test_config_declaring_a_billion_units_is_refused_before_building(tmp_path):
    good = _saved(tmp_path, "good.chainrule")
    path = tmp_path / "huge.chainrule"
    path.write_bytes(good.read_bytes())
    config = _config(path)
    config["model"]["config"]["layers"][0]["config"]["units"] = 10**9
    _with_config(path, config)
    result = _load_in_capped_child(path, good)
    outcome = result["outcome"]
    assert outcome.startswith(f"SavedModelError: {path}: the saved architecture and weights "
                              f"disagree: layer 'dense")
    assert "'kernel' of shape (4, 1000000000) (16,000,000,000 bytes)" in outcome
    assert "has shape (4, 16)" in outcome
    assert result["extra_mb"] < 50, result
    # The manifest forged to agree (10**8 units: 3.2 GB): the file cannot hold such weights.
    units = 10**8
    config["weights"][0]["shape"] = [4, units]
    config["weights"][1]["shape"] = [units]
    config["weights"][2]["shape"] = [units, 3]
    config["model"]["config"]["layers"][0]["config"]["units"] = units
    _with_config(path, config)
    result = _load_in_capped_child(path, good)
    assert "which cannot hold the 3,200,000,012 bytes of the 4 arrays" in result["outcome"]
    assert result["extra_mb"] < 50, result


def test_npy_header_declaring_ten_trillion_values_is_refused(tmp_path):
    path = _saved(tmp_path)
    entries = _entries(path)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("0000.npy", _npy_header((10**13,)) + b"\0" * 256)
        with zipfile.ZipFile(io.BytesIO(entries["weights.npz"])) as old:
            for name in old.namelist()[1:]:
                z.writestr(name, old.read(name))
    entries["weights.npz"] = inner.getvalue()
    _rewrite(path, entries)
    with pytest.raises(SavedModelError) as info:
        keras.models.load_model(path)
    assert str(info.value) == (
        f"{path}: its weights.npz is damaged: 0000.npy declares float32 (10000000000000,) "
        f"(40,000,000,000,000 bytes), expected float32 (4, 16)")


def _malformed(path, kind):
    config = _config(path)
    entries = _entries(path)
    if kind == "npy_for_npz":
        out = io.BytesIO()
        count = sum(int(np.prod(w["shape"])) for w in config["weights"])
        np.save(out, np.zeros(count, np.float32))  # as many bytes as the weights
        entries["weights.npz"] = out.getvalue()
        _rewrite(path, entries)
    elif kind == "no_manifest":
        del config["weights"]
        _with_config(path, config)
    elif kind == "layers_string":
        config["model"]["config"]["layers"] = "dense"
        _with_config(path, config)
    elif kind == "learning_rate_string":
        config["compile"]["optimizer"]["config"]["learning_rate"] = "fast"
        _with_config(path, config)
    elif kind == "float64_overflow":
        with_saved_weight(path, 1, np.full((16,), 1e300))
    elif kind == "manifest_entry":
        config["weights"][0]["shape"] = [4, "16"]
        _with_config(path, config)
    elif kind == "config_not_json":
        entries["config.json"] = b"{'format': 1"
        _rewrite(path, entries)


MALFORMED = {
    "npy_for_npz": "its weights.npz is a single .npy array, not the .npz archive of 4 arrays",
    "no_manifest": "config.json lacks the weights manifest",
    "layers_string": "the saved architecture cannot be rebuilt (AttributeError",
    "learning_rate_string": "the saved compile settings are unusable (ValueError",
    # every weight must have its layer's dtype (1e300 would become inf in float32)
    "float64_overflow": "bias' is float64 in the file, but layer",
    "manifest_entry": "weights manifest entry #0 is malformed",
    "config_not_json": "is not a readable chainrule model file",
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_files_end_in_the_loaders_error_naming_the_file(tmp_path, kind):
    path = _saved(tmp_path)
    _malformed(path, kind)
    with pytest.raises(SavedModelError) as info:
        keras.models.load_model(path)
    assert str(info.value).startswith(str(path))
    assert MALFORMED[kind] in str(info.value)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd (Linux)")
def test_failed_loads_leave_no_open_files(tmp_path):
    paths = []
    for kind in ("npy_for_npz", "layers_string", "float64_overflow", "no_manifest"):
        paths.append(_saved(tmp_path, f"{kind}.chainrule"))
        _malformed(paths[-1], kind)
    before = len(os.listdir("/proc/self/fd"))
    errors = []  # kept alive, with their tracebacks: they must not hold the archives open
    for i in range(50):
        with pytest.raises(SavedModelError) as info:
            keras.models.load_model(paths[i % len(paths)])
        errors.append(info.value)
    assert len(os.listdir("/proc/self/fd")) == before
    model = small_model(compiled=False)
    model.build((None, 4))
    with pytest.raises(SavedModelError):
        model.load_weights(paths[0])
    assert len(os.listdir("/proc/self/fd")) == before


def test_new_files_get_the_umask_mode_and_existing_files_keep_theirs(tmp_path):
    model, _, _ = trained_model()
    old = os.umask(0o022)
    try:
        model.save(tmp_path / "new.chainrule")
        existing = tmp_path / "existing.chainrule"
        existing.write_bytes(b"")
        existing.chmod(0o640)
        model.save(existing)
        os.umask(0o077)
        model.save_weights(tmp_path / "private.chainrule")
    finally:
        os.umask(old)
    mode = lambda p: oct(p.stat().st_mode & 0o777)  # noqa: E731
    assert mode(tmp_path / "new.chainrule") == oct(0o644)
    assert mode(existing) == oct(0o640)
    assert mode(tmp_path / "private.chainrule") == oct(0o600)


KILLED_SAVE = r"""
import sys, time, zipfile
from chainrule import keras
from chainrule.keras import layers
model = keras.Sequential([layers.Dense(64), layers.Dense(3)])
model.build((None, 256))
write = zipfile.ZipFile.writestr
def slow(self, name, data, *args, **kwargs):
    write(self, name, data, *args, **kwargs)
    if name == "weights.npz":
        print("writing", flush=True)
        time.sleep(60)  # killed here, mid-save
zipfile.ZipFile.writestr = slow
model.save(sys.argv[1])
"""


def test_temporaries_of_killed_saves_are_recognisable_and_removed_by_the_next_save(tmp_path):
    import signal
    import subprocess
    import sys
    model, x, _ = trained_model()
    path = tmp_path / "m.chainrule"
    model.save(path)
    before = path.read_bytes()
    for _ in range(3):
        child = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(path)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline() == "writing\n"
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    # Each save removed the one its killed predecessor left: they never pile up.
    orphans = sorted(n for n in os.listdir(tmp_path) if n != "m.chainrule")
    assert len(orphans) == 1 and all(n.startswith(".m.chainrule.") and
                                     n.endswith(".chainrule-tmp") for n in orphans)
    assert path.read_bytes() == before  # a killed save never touches the model
    live = tmp_path / ".m.chainrule.1-inuse.chainrule-tmp"  # pid 1 lives: not ours to remove
    live.write_bytes(b"")
    other = tmp_path / ".other.chainrule.99999999-x.chainrule-tmp"  # another target's
    other.write_bytes(b"")
    model.save(path)
    assert sorted(os.listdir(tmp_path)) == sorted(["m.chainrule", live.name, other.name])
    np.testing.assert_array_equal(keras.models.load_model(path).predict(x, verbose=0),
                                  model.predict(x, verbose=0))


def test_saving_to_a_symlink_writes_through_to_its_target(tmp_path):
    model, x, _ = trained_model()
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "model-v1.chainrule"
    small_model().save(target)  # an older model
    link = tmp_path / "latest.chainrule"
    link.symlink_to(os.path.join("runs", "model-v1.chainrule"))  # relative, as ln -s makes
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("runs", "model-v1.chainrule")
    np.testing.assert_array_equal(keras.models.load_model(target).predict(x, verbose=0),
                                  model.predict(x, verbose=0))
    assert sorted(os.listdir(tmp_path)) == ["latest.chainrule", "runs"]
    assert os.listdir(tmp_path / "runs") == ["model-v1.chainrule"]


def test_a_missing_file_is_the_loaders_error_and_a_file_not_found_error(tmp_path):
    path = tmp_path / "nothing.chainrule"
    with pytest.raises(SavedModelError, match=f"^{path}: no such file$"):
        keras.models.load_model(path)
    with pytest.raises(FileNotFoundError):
        keras.models.load_model(path)


@pytest.mark.parametrize("name", ["m.chainrule", "m.keras"])
def test_a_random_function_as_initializer_saves_by_name_and_loads(tmp_path, name):
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, kernel_initializer=cr.random.normal)])
    model.save(tmp_path / name)
    again = keras.models.load_model(tmp_path / name)
    assert again.layers[-1].kernel_initializer is cr.random.normal
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(again(x).numpy(), model(x).numpy())


def test_an_initializer_function_of_ones_own_saves_but_is_refused_on_load(tmp_path):
    def zeros_init(shape, dtype=None):
        return cr.zeros(shape)

    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, name="head",
                                                              kernel_initializer=zeros_init)])
    model.save(tmp_path / "m.chainrule")
    with pytest.raises(SavedModelError, match=r"layer 'head'.*zeros_init.*load_weights"):
        keras.models.load_model(tmp_path / "m.chainrule")


def test_an_initializer_object_without_config_is_named_with_its_layer(tmp_path):
    class Init:
        def __call__(self, shape, dtype=None):
            return cr.zeros(shape)

    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, name="head",
                                                              kernel_initializer=Init())])
    for name in ("m.chainrule", "m.keras"):
        with pytest.raises(Exception, match=r"layer 'head' \(Dense\), argument "
                                            r"kernel_initializer: .*Init"):
            model.save(tmp_path / name)
