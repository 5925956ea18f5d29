"""tape.explain: one test per reason a gradient can be None."""

import pytest

import chainrule as cr


def test_constant_not_watched():
    x = cr.constant(3.0)
    with cr.GradientTape() as tape:
        y = x * x
    assert tape.gradient(y, x) is None
    text = tape.explain(y, x)  # works after gradient() on a one-shot tape
    assert "not watched" in text and "tape.watch(x)" in text


def test_variable_not_trainable_and_auto_watch_off():
    v = cr.Variable(1.0, trainable=False)
    with cr.GradientTape(persistent=True) as tape:
        y = v * 2.0
    assert tape.gradient(y, v) is None
    assert "trainable=False" in tape.explain(y, v)
    u = cr.Variable(1.0)
    with cr.GradientTape(watch_accessed_variables=False) as tape:
        y = u * 2.0
    assert "watch_accessed_variables=False" in tape.explain(y, u)


def test_used_only_outside_the_tape():
    w = cr.Variable(2.0, name="w")
    h = w * 2.0  # computed before the block
    with cr.GradientTape() as tape:
        loss = h * h
    assert tape.gradient(loss, w) is None
    text = tape.explain(loss, w)
    assert "Variable 'w'" in text and "only outside the tape" in text

    x = cr.constant(2.0)
    h = x * 3.0
    with cr.GradientTape() as tape:
        tape.watch(x)
        loss = h * h
    assert "only outside the tape" in tape.explain(loss, x)


def test_path_through_a_non_differentiable_op():
    v = cr.Variable([1.0, 5.0, 3.0])
    with cr.GradientTape() as tape:
        index = cr.argmax(v)
        y = cr.cast(index, cr.float32) * 2.0
    assert tape.gradient(y, v) is None
    text = tape.explain(y, v)
    assert "`argmax`" in text and "not differentiable" in text and "integer index" in text


def test_path_through_stop_gradient():
    v = cr.Variable([1.0, 2.0])
    with cr.GradientTape(persistent=True) as tape:
        y = cr.reduce_sum(cr.stop_gradient(v * 2.0) * 3.0)
    assert "`stop_gradient`" in tape.explain(y, v)  # before any gradient()
    assert tape.gradient(y, v) is None
    assert "`stop_gradient`" in tape.explain(y, v)


def test_path_through_an_integer_cast():
    v = cr.Variable([1.5, 2.5])
    with cr.GradientTape() as tape:
        y = cr.cast(cr.cast(v, cr.int32), cr.float32) * 3.0
    assert tape.gradient(y, v) is None
    assert "`cast` to an integer dtype" in tape.explain(y, v)


def test_no_path_at_all():
    a, b = cr.Variable(1.0, name="a"), cr.Variable(2.0, name="b")
    with cr.GradientTape() as tape:
        unrelated = a * 2.0
        y = b * 3.0
    assert tape.gradient(y, a) is None
    assert "no path from Variable 'a'" in tape.explain(y, a)
    assert float(unrelated) == 2.0  # a was recorded, on a path that does not reach y


def test_integer_source():
    i = cr.constant(3)
    with cr.GradientTape() as tape:
        y = cr.cast(i, cr.float32) * 2.0
    assert "only floating tensors have gradients" in tape.explain(y, i)


def test_unconnected_gradients_raise_uses_the_explanation():
    v = cr.Variable([1.0, 2.0])
    with cr.GradientTape() as tape:
        y = cr.reduce_sum(cr.stop_gradient(v) * 2.0)
    with pytest.raises(ValueError, match="no gradient for Variable .* `stop_gradient`"):
        tape.gradient(y, v, unconnected_gradients="raise")


def test_connected_gradients_are_unaffected_and_explain_needs_a_record():
    v = cr.Variable(2.0)
    with cr.GradientTape() as tape:
        y = v * v
    assert "gradient is not None" in tape.explain(y, v)
    assert float(tape.gradient(y, v)) == 4.0
    with pytest.raises(RuntimeError, match="persistent=True"):
        tape.explain(y, v)


def test_a_source_with_one_differentiable_path_is_connected():
    w = cr.Variable([1.0, 3.0])
    with cr.GradientTape(persistent=True) as tape:  # one path is cut by argmax, one is not
        y = cr.reduce_sum(w * 2.0) + cr.cast(cr.argmax(w), cr.float32)
    assert tape.gradient(y, w) is not None
    assert "gradient is not None" in tape.explain(y, w)
