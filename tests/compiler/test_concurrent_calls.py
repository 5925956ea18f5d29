"""Compiled programs called from several threads at once, as a server calls them."""

import threading

import numpy as np

import chainrule as cr
from chainrule import keras


def _in_threads(n, work):
    """Runs ``work(k)`` in ``n`` threads started together; returns their results by k."""
    results, errors = [None] * n, []
    start = threading.Barrier(n)

    def run(k):
        try:
            start.wait()
            results[k] = work(k)
        except BaseException as e:  # noqa: BLE001 (reported by the test)
            errors.append(e)
    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_one_jit_function_called_from_two_threads_gives_each_call_its_own_numbers():
    w = cr.Variable(np.linspace(-1, 1, 64 * 64, dtype=np.float32).reshape(64, 64))

    @cr.function(jit_compile=True)
    def f(x):
        h = cr.tanh(cr.matmul(x, w) * 0.5 + 1.0)
        return cr.reduce_sum(cr.exp(h) * h, axis=1)

    inputs = [np.random.default_rng(k).normal(size=(256, 64)).astype(np.float32)
              for k in range(2)]
    expected = [f(cr.constant(x)).numpy() for x in inputs]

    def work(k):
        return [f(cr.constant(inputs[k])).numpy() for _ in range(100)]
    for k, outs in enumerate(_in_threads(2, work)):
        assert all(np.array_equal(o, expected[k]) for o in outs)
    assert f.tracing_count == 1


def _mlp():
    return keras.Sequential([keras.Input((20,)), keras.layers.Dense(64, activation="relu"),
                             keras.layers.Dense(64, activation="relu"),
                             keras.layers.Dense(5, activation="softmax")])


def test_four_threads_predicting_with_one_model_get_the_sequential_results():
    cr.random.set_seed(0)
    model = _mlp()
    model.compile(loss="sparse_categorical_crossentropy", jit_compile=True)
    inputs = [np.random.default_rng(k).normal(size=(300, 20)).astype(np.float32)
              for k in range(4)]
    expected = [model.predict(x, verbose=0) for x in inputs]

    def work(k):
        return [model.predict(inputs[k], verbose=0) for _ in range(10)]
    for k, outs in enumerate(_in_threads(4, work)):
        for out in outs:
            np.testing.assert_array_equal(out, expected[k])


def test_fit_and_predict_started_together_on_an_unbuilt_model_build_it_once(tmp_path):
    for attempt in range(3):
        cr.random.set_seed(attempt)
        # Weights large enough that building takes a while, as a real model's do.
        model = keras.Sequential([keras.layers.Dense(2048, activation="relu"),
                                  keras.layers.Dense(3)])
        model.compile(optimizer="sgd", loss="mse", jit_compile=True)
        x = np.random.default_rng(0).normal(size=(64, 512)).astype(np.float32)
        y = np.zeros((64, 3), np.float32)

        def work(k):
            if k == 0:
                return model.fit(x, y, epochs=1, verbose=0)
            return model.predict(x, verbose=0)
        _in_threads(2, work)
        weights = model.weights
        assert len(weights) == 4, [w.name for w in weights]
        assert len({id(w) for w in weights}) == 4
        model.save(tmp_path / "m.keras")
        loaded = keras.models.load_model(tmp_path / "m.keras")
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
