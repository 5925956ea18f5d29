"""``chainrule.print`` (TensorFlow's ``tf.print``): eager, and at every run of a traced
function (a graph effect), compiled or not."""

import io

import numpy as np
import pytest

import chainrule as tf


def test_print_formats_tensors_as_tensorflow_does():
    out = io.StringIO()
    tf.print("a", tf.constant([1.5, 2.0]), tf.range(20), tf.constant(2.0), 7,
             output_stream=out)
    tf.print(np.arange(3), tf.constant([[1, 2], [3, 4]]), sep="|", end="!", output_stream=out)
    assert out.getvalue() == "a [1.5 2] [0 1 2 ... 17 18 19] 2 7\n[0 1 2]|[[1 2]\n [3 4]]!"


def test_print_defaults_to_standard_error(capsys):
    tf.print("to stderr", tf.constant(1))
    captured = capsys.readouterr()
    assert captured.err == "to stderr 1\n" and captured.out == ""


@pytest.mark.parametrize("jit_compile", [False, True])
def test_print_in_a_traced_function_prints_at_every_call(jit_compile):
    out = io.StringIO()

    @tf.function(jit_compile=jit_compile)
    def f(x):
        tf.print("x is", x, output_stream=out)
        return x * 2

    for value in (1.0, 2.0, 3.0):
        assert float(f(tf.constant(value))) == 2 * value
    assert f.tracing_count == 1
    assert out.getvalue() == "x is 1\nx is 2\nx is 3\n"  # once per call, none while tracing


def test_print_under_a_tape_leaves_the_gradient_alone():
    out = io.StringIO()
    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = x * x
        tf.print(y, output_stream=out)
    assert float(tape.gradient(y, x)) == 6.0 and out.getvalue() == "9\n"
