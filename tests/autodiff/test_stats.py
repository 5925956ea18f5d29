"""tape.stats() and the warning for a persistent tape kept across training steps."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import optimizers


def test_stats_count_ops_saved_bytes_and_watched_sources():
    w = cr.Variable(np.ones((3, 2), np.float32))
    x = cr.constant(np.ones((4, 3), np.float32))
    c = cr.constant(2.0)
    with cr.GradientTape() as tape:
        tape.watch(c)
        y = cr.reduce_sum(cr.matmul(x, w))  # matmul, reduce_sum
        z = y * c
    stats = tape.stats()
    assert stats.ops_recorded == 3 and stats.watched_variables == 1 and stats.watched_tensors == 1
    # x (48 B), matmul's output (32 B), y and z and c (4 B each); w is the model's, not counted
    assert stats.saved_arrays == 5 and stats.saved_bytes == 48 + 32 + 4 + 4 + 4
    assert "3 ops recorded" in str(stats) and "1 watched Variables" in str(stats)
    tape.gradient(z, w)
    assert tape.stats().released and "released" in str(tape.stats())


def _train(steps, persistent):
    w = cr.Variable(np.ones((3, 2), np.float32))
    x = cr.constant(np.ones((4, 3), np.float32))
    opt = optimizers.SGD(0.01)
    if persistent:
        with cr.GradientTape(persistent=True) as tape:
            for _ in range(steps):
                loss = cr.reduce_mean(cr.matmul(x, w) ** 2)
                opt.apply_gradients([(tape.gradient(loss, w), w)])
        return tape
    for _ in range(steps):
        with cr.GradientTape() as tape:
            loss = cr.reduce_mean(cr.matmul(x, w) ** 2)
        opt.apply_gradients([(tape.gradient(loss, w), w)])
    return tape


def test_a_persistent_tape_kept_across_many_steps_warns_once():
    with pytest.warns(UserWarning, match=r"persistent=True\) has kept recording across 50 "
                                         r"Variable updates .* Open a new tape for each") as caught:
        tape = _train(80, persistent=True)
    assert sum("kept recording" in str(w.message) for w in caught) == 1
    assert tape.stats().updates_seen == 79


def test_a_tape_per_step_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _train(80, persistent=False)
