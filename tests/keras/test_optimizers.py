"""Each optimizer against a float64 NumPy implementation of the formula in its docstring,
step by step, on random problems; plus apply_gradients' contract."""

import math
import zlib
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import optimizers


class RefSGD:
    def __init__(self, lr=0.01, momentum=0.0, nesterov=False):
        self.lr, self.mu, self.nesterov, self.m = lr, momentum, nesterov, None

    def step(self, w, g):
        if not self.mu:
            return w - self.lr * g
        self.m = np.zeros_like(w) if self.m is None else self.m
        self.m = self.mu * self.m - self.lr * g
        return w + (self.mu * self.m - self.lr * g if self.nesterov else self.m)


class RefRMSprop:
    def __init__(self, lr=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
        self.lr, self.rho, self.mu, self.eps, self.centered = lr, rho, momentum, epsilon, centered
        self.v = self.m = self.avg = None

    def step(self, w, g):
        if self.v is None:
            self.v, self.m, self.avg = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
        self.v = self.rho * self.v + (1 - self.rho) * g ** 2
        denominator = self.v + self.eps
        if self.centered:
            self.avg = self.rho * self.avg + (1 - self.rho) * g
            denominator = self.v - self.avg ** 2 + self.eps
        increment = self.lr * g / np.sqrt(denominator)
        if self.mu:
            self.m = self.mu * self.m + increment
            return w - self.m
        return w - increment


class RefAdagrad:
    def __init__(self, lr=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
        self.lr, self.a0, self.eps, self.a = lr, initial_accumulator_value, epsilon, None

    def step(self, w, g):
        self.a = np.full_like(w, self.a0) if self.a is None else self.a
        self.a = self.a + g ** 2
        return w - self.lr * g / np.sqrt(self.a + self.eps)


class RefAdam:
    def __init__(self, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
        self.lr, self.b1, self.b2, self.eps, self.amsgrad = lr, beta_1, beta_2, epsilon, amsgrad
        self.m = self.v = self.vhat = None
        self.t = 0

    def step(self, w, g):
        if self.m is None:
            self.m, self.v, self.vhat = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
        self.t += 1
        self.m = self.m + (1 - self.b1) * (g - self.m)
        self.v = self.v + (1 - self.b2) * (g ** 2 - self.v)
        alpha = self.lr * math.sqrt(1 - self.b2 ** self.t) / (1 - self.b1 ** self.t)
        v = self.v
        if self.amsgrad:
            self.vhat = np.maximum(self.vhat, self.v)
            v = self.vhat
        return w - alpha * self.m / (np.sqrt(v) + self.eps)


CONFIGS = [
    ("sgd", lambda: optimizers.SGD(), lambda: RefSGD()),
    ("sgd_momentum", lambda: optimizers.SGD(0.05, momentum=0.9), lambda: RefSGD(0.05, 0.9)),
    ("sgd_nesterov", lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
     lambda: RefSGD(0.05, 0.9, True)),
    ("rmsprop", lambda: optimizers.RMSprop(), lambda: RefRMSprop()),
    ("rmsprop_lr", lambda: optimizers.RMSprop(0.01, rho=0.8), lambda: RefRMSprop(0.01, 0.8)),
    ("rmsprop_momentum", lambda: optimizers.RMSprop(0.01, momentum=0.5),
     lambda: RefRMSprop(0.01, momentum=0.5)),
    ("rmsprop_centered", lambda: optimizers.RMSprop(0.01, centered=True),
     lambda: RefRMSprop(0.01, centered=True)),
    ("adagrad", lambda: optimizers.Adagrad(0.05), lambda: RefAdagrad(0.05)),
    ("adam", lambda: optimizers.Adam(0.01), lambda: RefAdam(0.01)),
    ("adam_amsgrad", lambda: optimizers.Adam(0.01, amsgrad=True), lambda: RefAdam(0.01, amsgrad=True)),
]


@pytest.mark.parametrize("name,make,make_ref", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_matches_reference_step_by_step(name, make, make_ref):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    shapes = [(4, 3), (3,)]
    start = [rng.normal(0, 1, s) for s in shapes]
    variables = [cr.Variable(w.astype(np.float32)) for w in start]
    refs = [make_ref() for _ in shapes]
    expected = [w.copy() for w in start]
    opt = make()
    for step in range(10):
        # gradients of widely varying size, so epsilon's placement matters
        grads = [rng.normal(0, 1, s) * 10.0 ** rng.integers(-4, 2) for s in shapes]
        opt.apply_gradients(zip([cr.constant(g.astype(np.float32)) for g in grads], variables))
        expected = [r.step(w, g.astype(np.float32).astype(np.float64))
                    for r, w, g in zip(refs, expected, grads)]
        for v, e in zip(variables, expected):
            np.testing.assert_allclose(v.numpy(), e, rtol=1e-6, atol=1e-6,
                                       err_msg=f"{name}, step {step + 1}")
    assert int(opt.iterations) == 10


def test_rmsprop_golden_value():
    w = cr.Variable(10.0)
    optimizers.RMSprop(learning_rate=0.1).apply_gradients([(cr.constant(10.0), w)])
    assert float(w) == pytest.approx(9.683772, abs=1e-6)


@pytest.mark.parametrize("g,step", [(1.0, 0.0031623), (1e-2, 0.0031466), (1e-3, 0.0022361),
                                    (1e-4, 0.00031466)])
def test_rmsprop_epsilon_inside_the_root(g, step):
    w = cr.Variable(0.0)
    optimizers.RMSprop().apply_gradients([(cr.constant(g), w)])
    assert -float(w) == pytest.approx(step, rel=1e-4)


def test_defaults_follow_keras():
    assert float(optimizers.SGD().learning_rate) == pytest.approx(0.01)
    rms = optimizers.RMSprop()
    assert (float(rms.learning_rate), rms.rho, rms.momentum, rms.epsilon, rms.centered) == \
        (pytest.approx(0.001), 0.9, 0.0, 1e-7, False)
    ada = optimizers.Adagrad()
    assert (ada.initial_accumulator_value, ada.epsilon) == (0.1, 1e-7)
    adam = optimizers.Adam()
    assert (adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad) == (0.9, 0.999, 1e-7, False)


def test_get_by_name_and_unknown_names():
    for name, cls in [("sgd", optimizers.SGD), ("rmsprop", optimizers.RMSprop),
                      ("adam", optimizers.Adam), ("adagrad", optimizers.Adagrad),
                      ("RMSprop", optimizers.RMSprop)]:
        assert type(optimizers.get(name)) is cls
    opt = optimizers.Adam()
    assert optimizers.get(opt) is opt
    with pytest.raises(ValueError) as e:
        optimizers.get("rmsprp")
    message = str(e.value)
    assert "Unknown optimizer 'rmsprp'" in message and "Did you mean 'rmsprop'" in message
    for valid in ("'adagrad'", "'adam'", "'rmsprop'", "'sgd'"):
        assert valid in message


def test_apply_gradients_accepts_a_one_shot_zip_and_updates_in_place():
    w = cr.Variable([1.0, 2.0])
    buffer = w._value
    grads = [cr.constant([1.0, 1.0])]
    result = optimizers.SGD(learning_rate=0.5).apply_gradients(zip(grads, [w]))
    assert w._value is buffer  # same array, changed in place
    np.testing.assert_allclose(w.numpy(), [0.5, 1.5])
    assert int(result) == 1


def test_none_gradients_are_skipped_with_a_warning():
    a, b = cr.Variable([1.0], name="used"), cr.Variable([1.0], name="unused")
    opt = optimizers.SGD(learning_rate=1.0)
    with pytest.warns(UserWarning, match="unused"):
        opt.apply_gradients([(cr.constant([1.0]), a), (None, b)])
    assert a.numpy()[0] == 0.0 and b.numpy()[0] == 1.0


def test_all_none_gradients_raise():
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        optimizers.SGD().apply_gradients([(None, cr.Variable(1.0))])


def test_only_variables_can_be_updated():
    with pytest.raises(TypeError, match="only update Variables"):
        optimizers.SGD().apply_gradients([(cr.constant(1.0), cr.constant(2.0))])


def test_learning_rate_can_be_changed_and_scheduled():
    opt = optimizers.SGD(learning_rate=0.1)
    opt.learning_rate = 0.5
    w = cr.Variable(1.0)
    opt.apply_gradients([(cr.constant(1.0), w)])
    assert float(w) == pytest.approx(0.5)
    sched = optimizers.SGD(learning_rate=lambda step: 0.1 / (1 + step))
    v = cr.Variable(0.0)
    for _ in range(2):
        sched.apply_gradients([(cr.constant(1.0), v)])
    assert float(v) == pytest.approx(-(0.1 + 0.05))


def test_clipping_and_weight_decay():
    w = cr.Variable([0.0, 0.0])
    optimizers.SGD(1.0, clipnorm=1.0).apply_gradients([(cr.constant([3.0, 4.0]), w)])
    np.testing.assert_allclose(w.numpy(), [-0.6, -0.8], rtol=1e-6)
    v = cr.Variable([0.0])
    optimizers.SGD(1.0, clipvalue=0.5).apply_gradients([(cr.constant([3.0]), v)])
    assert v.numpy()[0] == pytest.approx(-0.5)
    d = cr.Variable([1.0])
    optimizers.SGD(0.1, weight_decay=0.5).apply_gradients([(cr.constant([0.0]), d)])
    assert d.numpy()[0] == pytest.approx(1.0 - 0.1 * 0.5)


def test_slots_are_built_once_and_counted():
    opt = optimizers.Adam()
    w = cr.Variable(np.zeros((3, 2), np.float32))
    opt.build([w])
    assert opt.built and len(opt.variables) == 2 + 2
    opt.apply_gradients([(cr.ones((3, 2)), w)])
    assert len(opt.variables) == 4
    assert all(not v.trainable for v in opt.variables)


def test_no_warnings_in_the_plain_path():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizers.RMSprop().apply_gradients([(cr.ones((2,)), cr.Variable([1.0, 2.0]))])


class StepScaled(optimizers.Optimizer):
    """A custom rule that reads the step count into Python: no replay can repeat that."""

    def update_step(self, gradient, variable, learning_rate):
        variable.assign_sub(gradient * (float(self.iterations.numpy()) + 1.0))


def test_an_update_step_that_reads_values_runs_as_written():
    v = cr.Variable([0.0])
    opt = StepScaled()
    for _ in range(3):
        opt.apply_gradients([(cr.constant([1.0]), v)])
    assert v.numpy().tolist() == [-(1.0 + 2.0 + 3.0)]  # not the first step's scale, frozen
    assert int(opt.iterations) == 3 and list(opt._programs.values()) == [None]


def test_one_compiled_step_for_all_variables():
    ws = [cr.Variable(np.ones((3, 2), np.float32)), cr.Variable(np.ones(2, np.float32))]
    opt = optimizers.Adam()
    for _ in range(2):
        opt.apply_gradients([(cr.ones((3, 2)), ws[0]), (cr.ones((2,)), ws[1])])
    (program,) = opt._programs.values()  # traced once, for the pair of variables
    names = [op.prim.name for op in program.program.ops]
    assert names[0] == "begin_step" and names[-1] == "assign_add"
    assert int(opt.iterations) == 2
