"""Trace caches in long runs: bounded, a warning when a function keeps retracing, and
``reduce_retracing`` letting one trace serve every batch size."""

import tracemalloc
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras


@pytest.fixture
def cache_size():
    before = cr.config.get_trace_cache_size()
    yield cr.config.set_trace_cache_size
    cr.config.set_trace_cache_size(before)


def test_a_function_called_with_ever_new_shapes_keeps_at_most_the_limit(cache_size):
    cache_size(8)
    f = cr.function(lambda x: cr.reduce_sum(x * 2.0), jit_compile=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in range(1, 60):
            assert float(f(cr.constant(np.ones((3, n), np.float32)))) == 6.0 * n
    assert f.tracing_count == 59 and len(f._traces) == 8
    # the most recent signatures are kept; an old one comes back by tracing again
    f(cr.constant(np.ones((3, 59), np.float32)))
    assert f.tracing_count == 59
    f(cr.constant(np.ones((3, 1), np.float32)))
    assert f.tracing_count == 60 and len(f._traces) == 8
    with pytest.raises(ValueError, match="integer >= 1"):
        cr.config.set_trace_cache_size(0)


def test_a_function_that_retraces_at_every_call_warns_once():
    f = cr.function(lambda x: x + 1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in range(100):  # a few signatures, each reused: no warning
            f(cr.constant(np.ones((2, 1 + n % 3), np.float32)))
        assert not caught and f.tracing_count == 3
        for n in range(4, 30):
            f(cr.constant(np.ones((2, n), np.float32)))
    retrace = [w for w in caught if "traced it anew" in str(w.message)]
    assert len(retrace) == 1
    assert "reduce_retracing=True" in str(retrace[0].message)
    assert retrace[0].filename == __file__  # it points at the caller's line


def test_reduce_retracing_serves_every_batch_size_with_one_trace():
    w = cr.Variable(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))

    def forward(x):
        return cr.nn.softmax(cr.matmul(x, w) + 0.5)
    f = cr.function(forward, jit_compile=True, reduce_retracing=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no retrace warning either
        for n in range(1, 40):
            x = np.random.default_rng(n).normal(size=(n, 4)).astype(np.float32)
            np.testing.assert_array_equal(f(cr.constant(x)).numpy(), forward(cr.constant(x)).numpy())
    assert f.tracing_count == 2  # the second batch size shows the graph does not depend on it


def test_reduce_retracing_traces_again_when_the_graph_reads_the_batch_size():
    def mean_by_hand(x):
        return cr.reduce_sum(x) / float(x.shape[0])
    f = cr.function(mean_by_hand, reduce_retracing=True)
    with pytest.warns(UserWarning, match="traced it anew"):
        for n in range(1, 8):
            assert float(f(cr.constant(np.full((n, 2), 3.0, np.float32)))) == 6.0
    assert f.tracing_count == 7


def test_predict_on_batch_in_a_serving_loop_levels_off_in_memory(cache_size):
    cache_size(16)
    cr.random.set_seed(0)
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(4, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", jit_compile=True)
    rng = np.random.default_rng(0)

    def serve(requests):  # requests of any size up to 1000 samples, as a server gets them
        for n in rng.integers(1, 1000, requests):
            x = rng.normal(size=(n, 16)).astype(np.float32)
            assert model.predict_on_batch(x).shape == (n, 4)
    serve(100)
    tracemalloc.start()
    try:
        serve(150)
        first, _ = tracemalloc.get_traced_memory()
        serve(150)
        second, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Keeping every size's trace and buffers grew by tens of megabytes per 150 requests.
    assert second - first < 8 * 2**20, (first, second)
    assert len(model._jit._by_shapes) <= 16
    assert model._jit._functions["_predict_forward"].tracing_count == 2
    x = rng.normal(size=(37, 16)).astype(np.float32)
    np.testing.assert_array_equal(model.predict_on_batch(x), model(x).numpy())
    # predict runs batches of 7: it equals the eager model on the same batches. (Not on all
    # 37 rows at once: the BLAS may round a 7-row product differently from a 37-row one.)
    eager = np.concatenate([model(x[i:i + 7]).numpy() for i in range(0, 37, 7)])
    np.testing.assert_array_equal(model.predict(x, batch_size=7, verbose=0), eager)
