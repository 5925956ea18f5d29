"""Issue 22's smaller names: LearningRateScheduler, initializers' lower-case names,
Orthogonal and Identity, and keras.utils helpers (custom objects, PyDataset, ...)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.keras import initializers


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    return model


def test_learning_rate_scheduler_sets_the_rate_each_epoch_and_logs_it(capsys):
    x, y = np.ones((8, 3), np.float32), np.ones((8, 1), np.float32)
    seen = []
    model = _model()
    history = model.fit(x, y, epochs=4, batch_size=4, verbose=0, callbacks=[
        keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr / 2,
                                              verbose=1),
        keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda e, logs: seen.append(float(model.optimizer.learning_rate)))])
    np.testing.assert_allclose(seen, [0.1, 0.1, 0.05, 0.025], rtol=1e-6)
    np.testing.assert_allclose(history.history["learning_rate"], seen, rtol=1e-6)
    assert "Epoch 3: LearningRateScheduler setting learning rate to 0.05" in capsys.readouterr().out
    # the one-argument form (Keras's old API)
    model = _model()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[
        keras.callbacks.LearningRateScheduler(lambda epoch: 0.5 * (epoch + 1))])
    assert float(model.optimizer.learning_rate) == pytest.approx(1.0)


def test_learning_rate_scheduler_wants_a_float():
    model = _model()
    with pytest.raises(ValueError, match="schedule must return a float.*'0.1'"):
        model.fit(np.ones((4, 3), np.float32), np.ones((4, 1), np.float32), verbose=0, callbacks=[
            keras.callbacks.LearningRateScheduler(lambda epoch, lr: "0.1")])


def test_initializer_lower_case_names_are_the_classes():
    assert initializers.glorot_uniform is initializers.GlorotUniform
    assert initializers.he_normal is initializers.HeNormal
    assert initializers.zeros is initializers.Zeros and initializers.orthogonal is \
        initializers.Orthogonal
    layer = keras.layers.Dense(2, kernel_initializer=initializers.he_normal,
                               bias_initializer=initializers.ones)
    layer.build((None, 3))
    np.testing.assert_array_equal(layer.bias.numpy(), [1.0, 1.0])
    assert isinstance(layer.kernel_initializer, initializers.HeNormal)


@pytest.mark.parametrize("shape", [(4, 4), (6, 3), (3, 6), (2, 3, 5)])
def test_orthogonal(shape):
    w = initializers.Orthogonal(gain=2.0, seed=3)(shape).numpy()
    assert w.shape == shape and w.dtype == np.float32
    m = w.reshape(-1, shape[-1]) / 2.0
    small = min(m.shape)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-5)
    again = initializers.Orthogonal(gain=2.0, seed=3)(shape).numpy()
    np.testing.assert_array_equal(w, again)  # seeded: repeatable
    with pytest.raises(ValueError, match="at least 2-D"):
        initializers.Orthogonal()((3,))


def test_identity_and_configs():
    np.testing.assert_array_equal(initializers.Identity(3.0)((2, 3)).numpy(),
                                  3.0 * np.eye(2, 3, dtype=np.float32))
    with pytest.raises(ValueError, match="must be 2-D"):
        initializers.get("identity")((2, 2, 2))
    for init in (initializers.Orthogonal(gain=0.5, seed=1), initializers.Identity(2.0)):
        again = initializers.deserialize(initializers.serialize(init))
        assert type(again) is type(init) and again.get_config() == init.get_config()
    # Keras's class names in saved files
    assert isinstance(initializers.get({"class_name": "OrthogonalInitializer",
                                        "config": {"gain": 1.0, "seed": None}}),
                      initializers.Orthogonal)
