"""Checks for the benchmark itself: the baseline computes the right thing, every registered
entry honours the common interface, and the harness runs end to end.

Run with ``python -m pytest bench/tests -q`` (not part of the project's CI: it times nothing,
but it does train for a few seconds).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BENCH)

from peers import REGISTRY, common, numpy_loop  # noqa: E402


def _reference_step(params, x, y):
    """Loss and gradients in float64, written the plain unfused way."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    x = x.astype(np.float64)
    z1 = x @ p["W1"] + p["b1"]
    h = np.maximum(z1, 0)
    z2 = h @ p["W2"] + p["b2"]
    e = np.exp(z2 - z2.max(axis=1, keepdims=True))
    prob = e / e.sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.mean(np.log(prob[np.arange(n), y]))
    onehot = np.eye(10)[y]
    dz2 = (prob - onehot) / n
    dh = dz2 @ p["W2"].T * (z1 > 0)
    grads = {"W2": h.T @ dz2, "b2": dz2.sum(0), "W1": x.T @ dh, "b1": dh.sum(0)}
    return loss, grads


def _small_data(n=512, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.uint8)
    return common.Data(x, y, x[:128].copy(), y[:128].copy(), source="test", synthetic=True)


def test_numpy_step_matches_float64_reference_and_keras_rmsprop():
    data = _small_data()
    state = numpy_loop.make_state(seed=3, max_batch=128)
    before = {k: v.copy() for k, v in state.params.items()}
    idx = np.arange(100)  # a short batch, like MNIST's last one
    loss = numpy_loop.train_step(state, data.x_train, data.y_train, idx)
    ref_loss, ref_grads = _reference_step(before, data.x_train[idx], data.y_train[idx])
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    for k, g in ref_grads.items():
        np.testing.assert_allclose(state.grads[k], g, rtol=1e-4, atol=1e-6)
        # First RMSprop step from v = 0: v = (1-rho) g^2 and the step is lr*g/sqrt(v + eps).
        v = (1 - common.RHO) * g**2
        step = common.LEARNING_RATE * g / np.sqrt(v + common.EPSILON)
        np.testing.assert_allclose(before[k] - state.params[k], step, rtol=1e-3, atol=1e-7)


def test_numpy_loop_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 2000).astype(np.uint8)
    x = (rng.random((2000, 784)) * 0.1).astype(np.float32)
    x[np.arange(2000), y] = 1.0  # class k lights pixel k
    state = numpy_loop.make_state(0)
    losses = [numpy_loop.train_epoch(state, x, y, 128, rng) for _ in range(3)]
    assert losses[-1] < losses[0]
    assert numpy_loop.evaluate(state, x, y) > 0.95


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_entry_runs_or_says_why_not(name):
    module = importlib.import_module(f"peers.{REGISTRY[name]}")
    try:
        runner = module.build(_small_data(), 128, 0)
    except common.Unavailable as exc:
        assert str(exc), "a skip must say why"
        pytest.skip(f"{name}: {exc}")
    assert isinstance(runner.info, str)
    loss = runner.train_epoch()
    acc = runner.evaluate()
    if name == "floor":
        assert loss is None and acc is None
    else:
        assert np.isfinite(loss) and 0.0 <= acc <= 1.0


def test_harness_end_to_end_on_synthetic_data(tmp_path):
    out = tmp_path / "r.json"
    env = dict(os.environ, CHAINRULE_DATASETS=str(tmp_path))  # no mnist.npz there
    proc = subprocess.run(
        [sys.executable, os.path.join(BENCH, "bench_mlp.py"), "--epochs", "2",
         "--only", "numpy,floor,chainrule-fit", "--settle", "0", "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "synthetic" in proc.stdout
    report = json.loads(out.read_text())
    rows = {r["name"]: r for r in report["results"]}
    assert rows["numpy"]["ratio_vs_numpy"] == pytest.approx(1.0)
    for name in ("numpy", "floor"):
        assert rows[name]["status"] == "ready"
        assert rows[name]["peak_rss_mb"] > 100  # holds the 188 MB float32 training set
        assert len(rows[name]["epoch_seconds"]) == 2 and rows[name]["median_s"] > 0
    assert rows["chainrule-fit"]["status"] in ("skipped", "ready")
