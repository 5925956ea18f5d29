"""``keras.optimizers.schedules``: Keras 3's formulas, usable wherever an optimizer takes a
rate (eager and compiled steps alike), and saved with the optimizer."""

import math

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras import layers, optimizers
from chainrule.keras.optimizers import schedules

from ._helpers import blobs

STEPS = [0, 1, 5, 10, 15, 20, 99, 100, 250]

CASES = [
    (schedules.ExponentialDecay(0.1, 10, 0.5), lambda s: 0.1 * 0.5 ** (s / 10)),
    (schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True),
     lambda s: 0.1 * 0.5 ** math.floor(s / 10)),
    (schedules.InverseTimeDecay(0.1, 10, 0.5), lambda s: 0.1 / (1 + 0.5 * s / 10)),
    (schedules.InverseTimeDecay(0.1, 10, 0.5, staircase=True),
     lambda s: 0.1 / (1 + 0.5 * math.floor(s / 10))),
    (schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]),
     lambda s: 1.0 if s <= 10 else 0.5 if s <= 20 else 0.1),
    (schedules.CosineDecay(0.1, 100, alpha=0.1),
     lambda s: 0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(s, 100) / 100)) + 0.1)),
    (schedules.CosineDecay(0.0, 100, warmup_target=0.2, warmup_steps=10),
     lambda s: 0.2 * s / 10 if s < 10 else
     0.2 * 0.5 * (1 + math.cos(math.pi * (min(s, 110) - 10) / 100))),
]


@pytest.mark.parametrize("schedule, formula", CASES, ids=lambda c: repr(c)[:40])
def test_kerass_formulas(schedule, formula):
    for step in STEPS:
        value = schedule(step)
        assert np.asarray(value).dtype == np.float32
        np.testing.assert_allclose(float(value), formula(step), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("schedule, formula", CASES, ids=lambda c: repr(c)[:40])
def test_config_round_trips(schedule, formula):
    config = schedules.serialize(schedule)
    assert config["class_name"] == type(schedule).__name__
    again = schedules.deserialize(config)
    assert [again(s) for s in STEPS] == [schedule(s) for s in STEPS]


def test_schedule_arguments_are_checked():
    with pytest.raises(ValueError, match="one value more than boundaries"):
        schedules.PiecewiseConstantDecay([10], [1.0])


@pytest.mark.parametrize("optimizer", [optimizers.SGD, optimizers.RMSprop, optimizers.Adam,
                                       optimizers.Adagrad])
def test_every_optimizer_takes_a_schedule(optimizer):
    schedule = schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5)
    opt = optimizer(learning_rate=schedule)
    model = keras.Sequential([layers.Dense(3, activation="softmax")])
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    model.fit(*blobs(64), batch_size=16, epochs=1, verbose=0)
    assert int(opt.iterations) == 4
    assert float(opt.learning_rate) == schedule(4)
    clone = optimizers.get({"class_name": type(opt).__name__, "config": opt.get_config()})
    assert type(clone._schedule) is schedules.ExponentialDecay
    assert clone._schedule.get_config() == schedule.get_config()


def fit(jit):
    x, y = blobs(200)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([layers.Dense(8, activation="relu"),
                              layers.Dense(3, activation="softmax")])
    rate = schedules.PiecewiseConstantDecay([3, 6], [0.01, 0.005, 0.001])
    model.compile(optimizer=optimizers.Adam(rate), loss="sparse_categorical_crossentropy",
                  jit_compile=jit)
    model.fit(x, y, epochs=3, batch_size=64, verbose=0)
    return model


def test_compiled_steps_read_the_schedule_as_eager_ones():
    eager, compiled = fit(False), fit(True)
    for a, b in zip(eager.weights, compiled.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert float(compiled.optimizer.learning_rate) == np.float32(0.001)


def test_a_model_with_a_schedule_saves_and_loads(tmp_path):
    model = fit(False)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer._schedule, schedules.PiecewiseConstantDecay)
    assert loaded.optimizer._schedule.get_config() == model.optimizer._schedule.get_config()
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)
