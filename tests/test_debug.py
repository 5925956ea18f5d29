"""chainrule.debug.check_numerics: the first NaN or inf names its op, layer, line and inputs."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras, recording
from chainrule.debug import NumericsError, check_numerics
from chainrule.keras import layers


def test_a_nan_in_the_forward_pass_names_the_op_line_and_inputs():
    x = cr.constant([4.0, -1.0, 9.0])
    with pytest.raises(NumericsError) as caught:
        with check_numerics():
            y = cr.sqrt(x) * 2.0  # the line the error must point at
    error = caught.value
    message = str(error)
    assert error.op == "sqrt" and error.phase == "forward" and error.layer is None
    assert "op 'sqrt' produced NaN (1 of 3 values)" in message
    assert "outside any layer" in message
    assert "test_debug.py" in message and "y = cr.sqrt(x) * 2.0" in message
    assert "input 0: shape (3,) float32, min -1, max 9, any NaN: False, any inf: False" in message
    assert recording.recorders() == []  # the checker is gone after the block, error or not


def test_an_inf_made_by_the_backward_pass_names_the_derivative_rule():
    x = cr.Variable([0.0, 4.0])
    with pytest.raises(NumericsError) as caught:
        with check_numerics():
            with cr.GradientTape() as tape:
                y = cr.reduce_sum(cr.sqrt(x))  # finite: sqrt(0) = 0
            tape.gradient(y, x)  # d sqrt at 0 = 1 / (2 * 0) = inf
    error = caught.value
    assert error.phase == "backward"
    assert "in the backward pass, inside the derivative rule of 'sqrt'" in str(error)
    assert "inf (1 of 2 values)" in str(error)


def test_finite_values_pass_and_nothing_is_left_behind():
    with check_numerics() as checker:
        y = cr.math.log(cr.constant([1.0, 2.0]))
    assert np.all(np.isfinite(y.numpy())) and checker.epoch is None
    assert recording.recorders() == []


class Log(layers.Layer):
    def call(self, inputs):
        return cr.math.log(inputs)  # log(0) = -inf for the bad rows


def _log_model():
    model = keras.Sequential([Log(name="log_layer"), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    return model


def test_fit_names_the_log_op_the_layer_the_epoch_and_the_batch():
    x = np.full((40, 4), 0.5, np.float32)
    x[25] = 0.0  # in the third batch of 10 (shuffle=False)
    y = np.zeros(40, np.int64)
    model = _log_model()
    with pytest.raises(NumericsError) as caught:
        model.fit(x, y, batch_size=10, epochs=2, shuffle=False, verbose=0, check_numerics=True)
    error = caught.value
    message = str(error)
    assert (error.op, error.phase, error.epoch, error.batch) == ("log", "forward", 0, 2)
    assert error.layer.endswith("log_layer")
    assert "op 'log' produced inf (4 of 40 values)" in message
    assert "in layer 'sequential" in message and "/log_layer'" in message
    assert "return cr.math.log(inputs)" in message
    assert "input 0: shape (10, 4) float32, min 0, max 0.5" in message
    assert "during epoch 1, batch 3 of 4" in message
    assert recording.recorders() == []


def test_fit_with_check_numerics_runs_eagerly_and_restores_compilation():
    x = np.full((20, 4), 0.5, np.float32)
    y = np.zeros(20, np.int64)
    model = _log_model()
    compiled = model._jit
    assert compiled is not None  # jit_compile="auto" by default
    history = model.fit(x, y, batch_size=10, verbose=0, check_numerics=True)
    assert np.isfinite(history.history["loss"][0])
    assert model._jit is compiled and recording.recorders() == []
