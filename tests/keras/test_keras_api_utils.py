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


# -- keras.utils --------------------------------------------------------------------------------

class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.begins = self.ends = 0
        self.seen = []

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        self.seen.append(i)
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[s], self.y[s]

    def on_epoch_begin(self):
        self.begins += 1

    def on_epoch_end(self):
        self.ends += 1


def _data(n=40):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x[:, :1] > 0).astype(np.float32)


def test_fit_evaluate_predict_accept_a_py_dataset_as_keras_does():
    x, y = _data()
    results = []
    for data in ((x, y), Batches(x, y, 8)):
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
        if isinstance(data, tuple):
            model.fit(*data, batch_size=8, epochs=3, shuffle=False, verbose=0)
        else:
            model.fit(data, epochs=3, shuffle=False, verbose=0,
                      validation_data=Batches(x, y, 16))
            assert (data.begins, data.ends) == (3, 3)
            assert data.seen[-5:] == [0, 1, 2, 3, 4]  # shuffle=False: in order
        results.append(model.get_weights())
        ev = model.evaluate(Batches(x, y, 16), verbose=0)
        assert ev == pytest.approx(model.evaluate(x, y, batch_size=16, verbose=0))
        np.testing.assert_array_equal(model.predict(Batches(x, y, 16), verbose=0),
                                      model.predict(x, batch_size=16, verbose=0))
    for a, b in zip(*results):  # the same batches in the same order: the same training
        np.testing.assert_array_equal(a, b)
    shuffled = Batches(x, y, 8)
    model.fit(shuffled, epochs=1, verbose=0)  # shuffle=True (the default): a new order
    assert sorted(shuffled.seen[-5:]) == [0, 1, 2, 3, 4]
    assert keras.utils.Sequence is keras.utils.PyDataset
    with pytest.raises(ValueError, match="batch_size must not be given"):
        model.fit(Batches(x, y, 8), batch_size=8, verbose=0)


def test_pack_and_normalize():
    assert keras.utils.pack_x_y_sample_weight(1) == 1
    assert keras.utils.pack_x_y_sample_weight((1, 2)) == ((1, 2),)
    assert keras.utils.pack_x_y_sample_weight(1, 2) == (1, 2)
    assert keras.utils.pack_x_y_sample_weight(1, 2, 3) == (1, 2, 3)
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(keras.utils.normalize(x), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(keras.utils.normalize(x, axis=0, order=1),
                               [[1.0, 1.0], [0.0, 0.0]])
    t = keras.utils.normalize(cr.constant(np.array([[3.0, 4.0]], np.float32)))
    np.testing.assert_allclose(t.numpy(), [[0.6, 0.8]], rtol=1e-6)


def test_split_dataset_as_keras():
    x, y = np.arange(10), np.arange(10) * 10
    left, right = keras.utils.split_dataset((x, y), left_size=0.8)
    assert [int(a) for a, _ in left.as_numpy_iterator()] == list(range(8))
    assert [(int(a), int(b)) for a, b in right.as_numpy_iterator()] == [(8, 80), (9, 90)]
    left, right = keras.utils.split_dataset(x, right_size=3, shuffle=True, seed=1)
    got = sorted(int(a) for a in left.as_numpy_iterator()) + \
        sorted(int(a) for a in right.as_numpy_iterator())
    assert len(got) == 10 and sorted(got) == list(range(10))
    with pytest.raises(ValueError, match="left_size must be a positive integer smaller"):
        keras.utils.split_dataset(x, left_size=10)


def test_timeseries_dataset_from_array_as_keras():
    data = np.arange(20)
    ds = keras.utils.timeseries_dataset_from_array(data, np.arange(20) * 10, sequence_length=4,
                                                   sequence_stride=3, sampling_rate=2,
                                                   batch_size=2, start_index=1)
    batches = list(ds.as_numpy_iterator())
    windows = np.concatenate([w for w, _ in batches])
    targets = np.concatenate([t for _, t in batches])
    # 19 - 3 * 2 = 13 starts fit: 0, 3, 6, 9, 12 of data[1:]; window p holds
    # data[1 + p + 2 * k] for k < 4, its target is targets[1 + p]
    np.testing.assert_array_equal(windows, [[1, 3, 5, 7], [4, 6, 8, 10], [7, 9, 11, 13],
                                            [10, 12, 14, 16], [13, 15, 17, 19]])
    np.testing.assert_array_equal(targets, [10, 40, 70, 100, 130])
    assert [len(w) for w, _ in batches] == [2, 2, 1]
    with pytest.raises(ValueError, match="sampling_rate must be higher than 0"):
        keras.utils.timeseries_dataset_from_array(data, None, 3, sampling_rate=0)


def test_source_inputs_and_keras_tensors():
    a, b = keras.Input((3,)), keras.Input((3,))
    out = keras.layers.Dense(2)(keras.layers.Add()([a, keras.layers.Dense(3)(b)]))
    sources = keras.utils.get_source_inputs(out)
    assert len(sources) == 2 and sources[0] is a and sources[1] is b
    assert keras.utils.get_source_inputs(a)[0] is a
    assert keras.utils.is_keras_tensor(out) and not keras.utils.is_keras_tensor(np.ones(2))


def test_custom_objects_resolve_names(tmp_path):
    def my_loss(y_true, y_pred):
        return cr.reduce_mean(cr.square(y_true - y_pred), -1)

    with keras.utils.custom_object_scope({"my_loss": my_loss}):
        assert keras.losses.get("my_loss") is my_loss
    with pytest.raises(ValueError, match="Unknown loss 'my_loss'"):
        keras.losses.get("my_loss")
    keras.utils.get_custom_objects()["my_loss"] = my_loss
    try:
        assert keras.losses.get("my_loss") is my_loss
        assert keras.utils.get_registered_object("my_loss") is my_loss
    finally:
        del keras.utils.get_custom_objects()["my_loss"]

    @keras.saving.register_keras_serializable(package="Mine")
    class Scale(keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    assert keras.utils.get_registered_name(Scale) == "Mine>Scale"
    assert keras.utils.get_registered_object("Mine>Scale") is Scale
    config = keras.utils.serialize_keras_object(Scale(3.0, name="scale"))
    assert config["registered_name"] == "Mine>Scale" and config["config"]["factor"] == 3.0
    again = keras.utils.deserialize_keras_object(config)
    assert type(again) is Scale and again.factor == 3.0
    dense = keras.utils.serialize_keras_object(keras.optimizers.Adam(0.01))
    assert dense["module"] == "keras.optimizers" and dense["class_name"] == "Adam"
    assert type(keras.utils.deserialize_keras_object(dense)) is keras.optimizers.Adam
    assert keras.utils.serialize_keras_object([1, "a", None]) == [1, "a", None]
