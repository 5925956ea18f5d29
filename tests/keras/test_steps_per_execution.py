"""``compile(steps_per_execution=N)``: executions of N steps, with Keras 3's batch indices in
the callbacks, and exactly the numbers of N=1 (the same batches, shuffled the same way, the
short last batch included), eager and compiled, on both kernel backends."""

import io
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.data import Dataset
from chainrule.distribute import MultiWorkerMirroredStrategy
from chainrule.keras import layers
from chainrule.primitives import kernels
from tests.distribute.threads import run_ranks

try:
    import numba  # noqa: F401
    BACKENDS = ["numpy", "numba"]
except ImportError:
    BACKENDS = ["numpy"]

pytestmark = pytest.mark.time_limit(120)  # one test iterates an endless Dataset

RNG = np.random.default_rng(0)
X = RNG.random((1000, 20), dtype=np.float32)
Y = RNG.integers(0, 10, 1000).astype(np.uint8)


@pytest.fixture(params=BACKENDS)
def backend(request):
    previous = kernels.use(request.param)
    yield request.param
    kernels.use(previous)


def _model(steps_per_execution=1, jit_compile=False, strategy=None):
    cr.random.set_seed(3)
    model = keras.Sequential([keras.Input((20,)), layers.Dense(16, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=jit_compile,
                  steps_per_execution=steps_per_execution)
    return model


class Hooks(keras.callbacks.Callback):
    """Every batch hook's name, index and logs."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def _record(self, name, batch, logs):
        self.seen.append((name, batch, dict(logs or {})))

    def on_train_batch_begin(self, batch, logs=None):
        self._record("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._record("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._record("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._record("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._record("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._record("on_predict_batch_end", batch, {"outputs": logs["outputs"]})

    def indices(self, name):
        return [batch for hook, batch, _ in self.seen if hook == name]


def _train(steps_per_execution, jit_compile):
    model = _model(steps_per_execution, jit_compile)
    # 1000 samples by 32: 31 batches and a last one of 8; shuffled every epoch
    history = model.fit(X, Y, batch_size=32, epochs=2, verbose=0,
                        validation_data=(X[:100], Y[:100]))
    return (model, history.history, model.evaluate(X, Y, batch_size=64, verbose=0),
            model.predict(X, batch_size=64, verbose=0))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_n_steps_per_execution_train_exactly_as_one(backend, jit_compile):
    one, history, evaluated, predicted = _train(1, jit_compile)
    for n in (32, 3):  # 32 divides the 32 batches of an epoch; 3 leaves an execution of 2
        model, other_history, other_evaluated, other_predicted = _train(n, jit_compile)
        for a, b in zip(one.weights + one.optimizer.variables,
                        model.weights + model.optimizer.variables, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"N={n}")
        assert other_history == history and other_evaluated == evaluated
        np.testing.assert_array_equal(other_predicted, predicted)
        assert int(model.optimizer.iterations) == 64


def test_batch_hooks_see_keras_3s_indices_and_the_last_steps_logs():
    x, y = X[:100], Y[:100]  # 10 batches of 10
    one, hooks_one = _model(1), Hooks()
    one.fit(x, y, batch_size=10, epochs=1, shuffle=False, verbose=0, callbacks=[hooks_one])
    model, hooks = _model(4), Hooks()
    model.fit(x, y, batch_size=10, epochs=1, shuffle=False, verbose=0, callbacks=[hooks],
              validation_data=(x, y))
    model.evaluate(x, y, batch_size=10, verbose=0, callbacks=[hooks])
    predicted = model.predict(x, batch_size=10, verbose=0, callbacks=[hooks])
    # begin: the first batch of each execution; end: first + N - 1, the last one included
    assert hooks.indices("on_train_batch_begin") == [0, 4, 8]
    assert hooks.indices("on_train_batch_end") == [3, 7, 11]
    assert hooks.indices("on_test_batch_begin") == [0, 4, 8] * 2  # validation, evaluate
    assert hooks.indices("on_test_batch_end") == [3, 7, 11] * 2
    assert hooks.indices("on_predict_batch_begin") == [0, 4, 8]
    assert hooks.indices("on_predict_batch_end") == [3, 7, 11]
    # the logs of an execution are those after its last step
    ends = [logs for hook, _, logs in hooks.seen if hook == "on_train_batch_end"]
    ends_one = [logs for hook, _, logs in hooks_one.seen if hook == "on_train_batch_end"]
    assert ends == [ends_one[3], ends_one[7], ends_one[9]]
    # predict hands each execution's outputs, joined
    outputs = [logs["outputs"] for hook, _, logs in hooks.seen if hook == "on_predict_batch_end"]
    assert [len(o) for o in outputs] == [40, 40, 20]
    np.testing.assert_array_equal(np.concatenate(outputs), predicted)


def test_an_execution_ends_with_the_epoch_under_steps_per_epoch():
    """An endless Dataset, 5 steps per epoch, 3 per execution: executions of 3 and 2 (Keras
    would run 6 batches), and the weights of N=1."""
    data = Dataset.from_tensor_slices((X[:200], Y[:200])).batch(20).repeat()
    one = _model(1)
    one.fit(data, epochs=3, steps_per_epoch=5, verbose=0)
    model, hooks = _model(3), Hooks()
    model.fit(data, epochs=3, steps_per_epoch=5, verbose=0, callbacks=[hooks])
    assert hooks.indices("on_train_batch_begin") == [0, 3] * 3
    assert hooks.indices("on_train_batch_end") == [2, 5] * 3
    assert int(model.optimizer.iterations) == 15
    for a, b in zip(one.weights, model.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_the_progress_bar_stops_at_the_last_step():
    out = io.StringIO()
    model = _model(4)
    model.fit(X[:100], Y[:100], batch_size=10, epochs=1, verbose=1,
              callbacks=[keras.callbacks.ProgbarLogger(stream=out)])
    shown = out.getvalue()
    assert "10/10" in shown and "12/10" not in shown and "11/10" not in shown


def test_model_checkpoint_counts_every_batch_of_an_execution(tmp_path):
    saved = []
    for n in (1, 2):
        path = str(tmp_path / f"n{n}-{{epoch}}-{{batch}}.weights.chainrule")
        checkpoint = keras.callbacks.ModelCheckpoint(path, save_weights_only=True, save_freq=4)
        _model(n).fit(X[:100], Y[:100], batch_size=10, epochs=2, verbose=0,
                      callbacks=[checkpoint])
        saved.append(sorted(name.split("-", 1)[1] for name in os.listdir(tmp_path)
                            if name.startswith(f"n{n}-")))
    assert saved[0] == saved[1] == sorted(f"{epoch}-{batch}.weights.chainrule" for epoch, batch
                                          in [(1, 4), (1, 8), (2, 2), (2, 6), (2, 10)])


def test_the_setting_is_checked_and_travels_with_the_compile_config(tmp_path):
    with pytest.raises(ValueError, match="steps_per_execution must be a positive integer; "
                                         "received 0"):
        _model(0)
    model = _model(5)
    assert model.steps_per_execution == 5
    assert model.get_compile_config()["steps_per_execution"] == 5
    model.save(tmp_path / "model.keras")
    assert keras.models.load_model(tmp_path / "model.keras").steps_per_execution == 5
    other = _model()
    other.compile_from_config(model.get_compile_config())
    assert other.steps_per_execution == 5


def test_two_ranks_with_n_steps_per_execution_train_as_with_one():
    initial = _model().get_weights()  # the ranks (threads) share one random generator

    def work(comm, n):
        strategy = MultiWorkerMirroredStrategy(communicator=comm)
        with strategy.scope():
            model = _model(n)
        if comm.rank == 0:
            model.set_weights(initial)  # the others get these by the broadcast
        history = model.fit(X[:300], Y[:300], batch_size=32, epochs=2, verbose=0,
                            shuffle=False)
        return [w.numpy() for w in model.weights], history.history

    one = run_ranks(2, lambda comm: work(comm, 1))
    three = run_ranks(2, lambda comm: work(comm, 3))
    for (weights, history), (other, other_history) in zip(one, three):
        for a, b in zip(weights, other, strict=True):
            np.testing.assert_array_equal(a, b)
        assert history == other_history
