"""The native step (``config.set_native_step``): segments of one numba function each, with
the executor's numbers bit for bit; products through NumPy's own BLAS."""

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.compiler import compile
from chainrule.compiler import native
from chainrule.primitives import blas
from tests.graph.graph_op_suite import CASES, as_tensors

pytestmark = pytest.mark.skipif(not blas.available(),
                                reason="needs numba and NumPy's bundled OpenBLAS")


@pytest.fixture
def native_on():
    previous = cr.config.set_native_step(True)
    yield
    cr.config.set_native_step(previous)


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.dtype.kind == "f":
        a, b = a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}")
    np.testing.assert_array_equal(a, b)


# -- the products --------------------------------------------------------------------------

def _products_of(compiled):
    """(a, b) arrays of every 2-D product of ``compiled``'s program, as its last call read
    them (the registers of its plan)."""
    plan = compiled._idle[0]
    found = []
    for op in compiled.program.ops:
        if getattr(op.prim, "product", False) and len(op.output.shape) == 2:
            a, b = (plan.registers[v.index] for v in op.inputs)
            if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
                found.append((a, b))
    return found


def _forms_of_the_test_programs():
    """The product operands of the op suite's programs and of the book's and the second
    network's training steps (their shapes and layouts: transposes included)."""
    forms = []
    for case in sorted(CASES):
        fn, arrays = CASES[case]
        compiled = compile(cr.function(fn).get_graph(*as_tensors(arrays)))
        compiled(*arrays)
        forms += _products_of(compiled)
    for model, batch in ((_book(16), 32), (_second(16), 24)):
        model.fit(*_data(batch * 2 + 5, model), batch_size=batch, epochs=1, verbose=0)
        for compiled in _compiled_steps(model):
            forms += _products_of(compiled)
    return forms


def _grid():
    """Products of every layout (transposes of either side) over edge shapes: vectors, a
    single inner term, odd sizes, and 3-D batches."""
    rng = np.random.default_rng(3)
    for (m, k, n), ta, tb, dtype in itertools.product(
            [(1, 5, 7), (7, 5, 1), (7, 1, 5), (2, 300, 1), (1, 300, 2), (33, 17, 9),
             (128, 512, 10), (128, 10, 512), (96, 64, 128)], (0, 1), (0, 1),
            (np.float32, np.float64)):
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
        yield (a.T if ta else a), (b.T if tb else b)


def test_gemm_equals_numpy_matmul_on_every_product_form_it_takes():
    from chainrule.primitives import _blas_numba  # (numba: the module's skipif)
    forms = _forms_of_the_test_programs()
    assert len(forms) > 10
    taken = differing = 0
    report = []
    for a, b in forms + list(_grid()):
        if a.ndim != 2 or b.ndim != 2 or a.dtype != b.dtype or a.dtype.kind != "f":
            continue
        out = np.empty((a.shape[0], b.shape[1]), a.dtype)
        want = np.matmul(a, b)
        if blas.gemm_form(a.shape, a.strides, b.shape, b.strides, a.itemsize):
            taken += 1
            _blas_numba.gemm(a, b, out)
            same_bits(out, want)
        elif _blas_numba._usable(a) and _blas_numba._usable(b) and 0 not in out.shape:
            _blas_numba.gemm(a, b, out)  # a form left to NumPy: does gemm differ there?
            if not np.array_equal(out.view(f"u{out.itemsize}"), want.view(f"u{out.itemsize}")):
                differing += 1
                report.append((a.shape, a.strides, b.shape, b.strides, a.dtype.name))
    assert taken > 20
    # The forms NumPy gives to gemv or dot (a dimension of 1) do differ from gemm: that is
    # why gemm_form leaves them out.
    assert differing > 0, report


def test_gemm_form_refuses_vectors_and_strided_operands():
    a = np.ones((4, 6), np.float32)
    assert blas.gemm_form(a.shape, a.strides, (6, 3), (12, 4), 4)
    assert blas.gemm_form(a.T.shape, a.T.strides, (4, 3), (12, 4), 4)
    assert not blas.gemm_form((1, 6), (24, 4), (6, 3), (12, 4), 4)  # a row vector: gemv
    assert not blas.gemm_form((4, 6), (24, 4), (6, 1), (4, 4), 4)
    assert not blas.gemm_form(a[:, ::2].shape, a[:, ::2].strides, (3, 3), (12, 4), 4)


# -- whole programs ------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_native_segments_equal_eager_on_the_op_suite(case, native_on):
    fn, arrays = CASES[case]
    eager = fn(*as_tensors(arrays))
    compiled = compile(cr.function(fn).get_graph(*as_tensors(arrays)))
    for _ in range(2):
        (got,) = compiled(*arrays)
        same_bits(got, eager.numpy())


def _compiled_steps(model):
    return [t._compiled for _, t in model._jit._by_shapes.items() if t._compiled is not None]


def _book(units=512, jit=True):
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=jit)
    return model


def _second(units=256, jit=True):
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(units, activation="tanh"),
                              keras.layers.Dense(units, activation="sigmoid"),
                              keras.layers.Dense(10)])
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=jit)
    return model


def _data(rows, model, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((rows, 784)).astype(np.float32)
    x[:, :100] = 0  # zero columns: the first layer's products may leave them out
    return x, rng.integers(0, 10, rows).astype(np.uint8)


@pytest.fixture
def split_loops(monkeypatch):
    # Every element-wise loop of two elements or more is split into ranges shared with the
    # slab pool's workers (by default none is).
    monkeypatch.setattr(native, "SPLIT_MIN_PART", 1)


def _split_functions(compiled):
    """The names of the C functions running one range of a split loop, in ``compiled``'s
    native segments."""
    found = set()
    for step in compiled._idle[0].steps:
        fn = getattr(step, "native_segment", None)
        if fn is not None:
            found |= {name for name in fn.py_func.__globals__ if name.endswith("_part")}
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_split_loops_equal_eager_on_the_op_suite(case, native_on, split_loops):
    fn, arrays = CASES[case]
    eager = fn(*as_tensors(arrays))
    compiled = compile(cr.function(fn).get_graph(*as_tensors(arrays)))
    for threads in (1, 2):
        previous = blas.pool_threads(threads)
        try:
            (got,) = compiled(*arrays)
        finally:
            blas.pool_threads(previous)
        same_bits(got, eager.numpy())


@pytest.mark.parametrize("make", [_book, _second])
def test_training_with_split_loops_equals_eager_bit_for_bit(make, native_on, split_loops):
    results = []
    for jit in (True, False):
        keras.utils.set_random_seed(0)
        model = make(units=48, jit=jit)
        history = model.fit(*_data(70, model), batch_size=32, epochs=2, verbose=0)
        results.append((model.get_weights(), history.history["loss"]))
        if jit:
            assert any(_split_functions(c) for c in _compiled_steps(model))
    (w_jit, h_jit), (w_eager, h_eager) = results
    assert h_jit == h_eager
    for a, b in zip(w_jit, w_eager):
        same_bits(a, b)


def test_only_large_loops_are_split_and_only_when_asked(native_on, monkeypatch):
    assert native.SPLIT_MIN_PART is None
    model = _book(units=512)
    model.fit(*_data(128, model), batch_size=128, epochs=1, verbose=0)
    assert set().union(*[_split_functions(c) for c in _compiled_steps(model)]) == set()
    monkeypatch.setattr(native, "SPLIT_MIN_PART", 1 << 15)
    split = {}
    for units in (512, 16):
        model = _book(units=units)
        model.fit(*_data(128, model), batch_size=128, epochs=1, verbose=0)
        split[units] = set().union(*[_split_functions(c) for c in _compiled_steps(model)])
    # 784 x 512 (the first layer's optimizer update) and 128 x 512 (its activation) are
    # split; nothing of 784 x 16 or less is.
    assert len(split[512]) >= 2 and split[16] == set()


@pytest.mark.parametrize("make", [_book, _second])
def test_native_training_equals_eager_bit_for_bit(make):
    # With the native step on, eager products run through its kernel too (column slabs of
    # one-thread gemms): compiled equals eager. Off, both are as they were.
    results = {}
    for native_step, jit in itertools.product((True, False), (True, False)):
        previous = cr.config.set_native_step(native_step)
        try:
            model = make(64, jit)
            rng = np.random.default_rng(7)
            model.set_weights([(rng.standard_normal(w.shape) * 0.05).astype(np.float32)
                               for w in model.get_weights()])
            history = model.fit(*_data(300, model), batch_size=64, epochs=2, verbose=0,
                                shuffle=False)
            results[native_step, jit] = (model.get_weights(), history.history)
            if native_step and jit:
                listings = [c.program.listing() for c in _compiled_steps(model)]
                assert any("native segment" in text for text in listings)
        finally:
            cr.config.set_native_step(previous)
    for native_step in (True, False):
        (w_jit, h_jit), (w_eager, h_eager) = results[native_step, True], \
            results[native_step, False]
        assert h_jit == h_eager
        for a, b in zip(w_jit, w_eager):
            same_bits(a, b)


_THREADS_SCRIPT = """
import numpy as np, chainrule as cr
from chainrule.primitives import blas, kernels
cr.config.set_native_step(True)
assert kernels.native() and blas.pool_threads() == 3, blas.pool_threads()
rng = np.random.default_rng(0)
shapes = [(128, 784, 512), (128, 512, 10), (784, 128, 512), (96, 200, 300), (64, 256, 256)]
results = []
for threads in (1, 2, 3):
    blas.pool_threads(threads)
    for m, k, n in shapes:
        r = np.random.default_rng(m * n)
        a = r.standard_normal((m, k)).astype(np.float32)
        b = r.standard_normal((k, n)).astype(np.float32)
        results.append(kernels.matmul(a, b).tobytes())
        results.append(kernels.matmul(np.ascontiguousarray(a.T).T, b).tobytes())
count = len(results) // 3
print(results[:count] == results[count:2 * count] == results[2 * count:])
"""


def test_products_have_the_same_bits_on_one_two_and_three_threads():
    import os
    import subprocess
    import sys
    env = dict(os.environ, NUMBA_NUM_THREADS="3")
    done = subprocess.run([sys.executable, "-c", _THREADS_SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_a_product_split_into_slabs_does_not_depend_on_the_thread_count(native_on):
    import numba
    rng = np.random.default_rng(4)
    a = rng.standard_normal((128, 512)).astype(np.float32)
    b = rng.standard_normal((512, 300)).astype(np.float32)
    assert blas.pool_threads() == numba.config.NUMBA_NUM_THREADS
    outs = []
    for threads in range(1, numba.config.NUMBA_NUM_THREADS + 1):
        previous = blas.pool_threads(threads)
        try:
            assert blas.pool_threads() == threads
            outs.append(cr.matmul(a, b).numpy())
        finally:
            blas.pool_threads(previous)
    for out in outs[1:]:
        same_bits(out, outs[0])
    np.testing.assert_allclose(outs[0], a @ b, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="at least 1"):
        blas.pool_threads(0)


def test_products_from_several_threads_at_once_keep_their_bits(native_on):
    # The pool serves one product at a time: a product called while another thread's
    # is being shared computes its slabs alone, with the same bits.
    import threading
    rng = np.random.default_rng(5)
    pairs = [(rng.standard_normal((128, 400)).astype(np.float32),
              rng.standard_normal((400, 512)).astype(np.float32)) for _ in range(3)]
    expected = [cr.matmul(a, b).numpy() for a, b in pairs]
    failures = []

    def work(n):
        a, b = pairs[n]
        for _ in range(30):
            if cr.matmul(a, b).numpy().tobytes() != expected[n].tobytes():
                failures.append(n)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert failures == []


def test_turning_the_native_step_off_gives_the_blas_back(native_on):
    from chainrule.primitives import kernels
    cr.config.set_native_step(False)
    assert not kernels.native()
    own = blas.get_threads()
    cr.config.set_native_step(True)
    assert kernels.native() and blas.get_threads() == 1
    cr.config.set_native_step(False)
    assert not kernels.native() and blas.get_threads() == own
    cr.config.set_native_step(True)


def test_a_primitive_without_a_native_form_splits_the_program(native_on):
    w = cr.Variable(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))

    def f(x):
        h = cr.matmul(x, w) * 2.0 + 1.0  # native
        s = cr.nn.softmax(h)  # NumPy's exp: runs in Python between segments
        w.assign_add(cr.matmul(cr.transpose(x), s) * 0.5)  # native again, w in place
        return cr.matmul(s, cr.transpose(w)) - 1.0

    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    eager_w = cr.Variable(w.numpy())
    compiled = compile(cr.function(f).get_graph(cr.constant(x)))
    listing = compiled.program.listing()
    assert listing.count("native segment") >= 2 and "softmax" in listing
    for _ in range(3):
        (got,) = compiled(x)
        w_before = w.numpy()
        w.assign(eager_w.numpy())
        want = f(cr.constant(x)).numpy()
        eager_w.assign(w.numpy())
        w.assign(w_before)
        same_bits(got, want)
        same_bits(w.numpy(), eager_w.numpy())


def test_an_input_without_the_planned_layout_runs_in_python(native_on):
    w = cr.constant(np.arange(12, dtype=np.float32).reshape(4, 3) / 7)

    def f(x):
        return cr.matmul(x, w) * 3.0 + 0.5

    x = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32)
    compiled = compile(cr.function(f).get_graph(cr.constant(x.T.copy())))
    assert compiled.program.segments
    same_bits(compiled(x.T)[0], f(cr.constant(x.T)).numpy())  # a transposed view: strided
    odd = np.random.default_rng(2).standard_normal((5, 8)).astype(np.float32)[:, ::2]
    same_bits(compiled(odd)[0], f(cr.constant(odd)).numpy())  # no unit stride: not gemm


def test_without_the_blas_the_executor_runs_as_before(native_on, monkeypatch):
    from chainrule.primitives import kernels
    fn, arrays = CASES["matmul_dense"]
    previous = cr.config.set_native_step(False)
    want = fn(*as_tensors(arrays)).numpy()  # the executor's and eager numbers, native off
    cr.config.set_native_step(previous)
    monkeypatch.setattr(blas, "available", lambda: False)  # no BLAS symbol found
    assert not kernels.native() and not native.enabled()
    compiled = compile(cr.function(fn).get_graph(*as_tensors(arrays)))
    assert compiled.program.segments == [] and "native" not in compiled.program.listing()
    same_bits(compiled(*arrays)[0], want)
    same_bits(fn(*as_tensors(arrays)).numpy(), want)


# -- the segments' cache key ---------------------------------------------------------------

def _inputs_with(inputs, edited):
    return [(name, data + b"\n# edited\n" if name == edited else data) for name, data in inputs]


def test_a_segment_key_changes_with_the_source_of_what_segments_call(monkeypatch):
    source = "def segment():\n    return True\n"
    inputs = native._fingerprint_inputs()
    names = [name for name, _ in inputs]
    assert names == list(native.CALLEE_MODULES) + ["numba", "llvmlite"]
    assert b"def _product(" in dict(inputs)["chainrule.primitives._blas_numba"]
    assert b"_LOOKS = " in dict(inputs)["chainrule.primitives.blas"]
    key = native.segment_key(source)
    assert len(key) == 20 and key == native.segment_key(source)
    assert native.segment_key(source + "# another segment\n") != key

    calls = []

    def counted():
        calls.append(1)
        return inputs

    monkeypatch.setattr(native, "_fingerprint", {})
    monkeypatch.setattr(native, "_fingerprint_inputs", counted)
    assert native.segment_key(source) == key and native.segment_key(source) == key
    assert len(calls) == 1  # once per process
    for name in names:  # a callee's source, or numba's version, changed: another key
        monkeypatch.setattr(native, "_fingerprint", {})
        monkeypatch.setattr(native, "_fingerprint_inputs",
                            lambda name=name: _inputs_with(inputs, name))
        assert native.segment_key(source) != key, name
    # Names and contents are delimited: moving a byte from one input to the next changes it.
    monkeypatch.setattr(native, "_fingerprint", {})
    moved = [(n, d) for n, d in inputs]
    moved[0], moved[1] = (moved[0][0], moved[0][1] + b"x"), (moved[1][0], b"x" + moved[1][1][1:])
    monkeypatch.setattr(native, "_fingerprint_inputs", lambda: moved)
    assert native.segment_key(source) != key


def test_a_segment_key_is_the_same_in_another_process():
    import subprocess
    import sys

    source = "def segment():\n    return 1\n"
    script = ("import sys; from chainrule.compiler import native; "
              f"sys.stdout.write(native.segment_key({source!r}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == native.segment_key(source)


def test_a_segment_cached_by_another_version_of_its_callees_is_not_reused(
        native_on, monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_HOME", str(tmp_path))
    monkeypatch.setattr(native, "_compiled", {})
    fn, arrays = CASES["dense_op"]  # a product and a loop: one segment
    want = fn(*as_tensors(arrays)).numpy()

    def segment_files():
        compiled = compile(cr.function(fn).get_graph(*as_tensors(arrays)))
        (got,) = compiled(*arrays)
        same_bits(got, want)
        return {step.native_segment.py_func.__globals__["__file__"]
                for step in compiled._idle[0].steps if hasattr(step, "native_segment")}

    first = segment_files()
    assert first and all(f.startswith(str(tmp_path)) for f in first)
    assert segment_files() == first  # the same callees: the same files (and numba caches)
    inputs = native._fingerprint_inputs()
    monkeypatch.setattr(native, "_compiled", {})
    monkeypatch.setattr(native, "_fingerprint", {})
    monkeypatch.setattr(native, "_fingerprint_inputs",
                        lambda: _inputs_with(inputs, "chainrule.primitives._blas_numba"))
    second = segment_files()
    assert second and not second & first
