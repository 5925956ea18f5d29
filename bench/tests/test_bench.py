"""Checks for the benchmark itself: the baseline computes the right thing for both models,
chainrule trains along the same trajectory from the same start, every registered entry honours
the common interface, and the harness runs end to end.

Run with ``python -m pytest bench/tests -q``. It times nothing; it trains tiny models for a few
steps on synthetic data.
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
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)

import bench_mlp  # noqa: E402
from peers import REGISTRY, common, keras_api, numpy_loop  # noqa: E402

MODELS = list(common.MODELS)


def _reference_step(params, x, y, model):
    """Loss and gradients in float64, written the plain unfused way."""
    acts = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
            "sigmoid": lambda z: 1 / (1 + np.exp(-z))}
    derivs = {"relu": lambda h: (h > 0).astype(np.float64), "tanh": lambda h: 1 - h * h,
              "sigmoid": lambda h: h * (1 - h)}
    spec = common.model_spec(model)
    p = {k: v.astype(np.float64) for k, v in params.items()}
    hs = [x.astype(np.float64)]
    for i, act in enumerate(spec.activations, start=1):
        hs.append(acts[act](hs[-1] @ p[f"W{i}"] + p[f"b{i}"]))
    last = len(spec.sizes) - 1
    z = hs[-1] @ p[f"W{last}"] + p[f"b{last}"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    prob = e / e.sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.mean(np.log(prob[np.arange(n), y]))
    delta = (prob - np.eye(10)[y]) / n
    grads = {}
    for i in range(last, 0, -1):
        grads[f"W{i}"], grads[f"b{i}"] = hs[i - 1].T @ delta, delta.sum(0)
        if i > 1:
            delta = delta @ p[f"W{i}"].T * derivs[spec.activations[i - 2]](hs[i - 1])
    return loss, grads


def _first_update(g, model):
    """What the first optimizer step subtracts from a weight with gradient g (slots at 0)."""
    if common.model_spec(model).optimizer == "rmsprop":
        v = (1 - common.RHO) * g**2
        return common.LEARNING_RATE * g / np.sqrt(v + common.EPSILON)
    m, v = (1 - common.BETA_1) * g, (1 - common.BETA_2) * g**2
    return common.adam_alpha(1) * m / (np.sqrt(v) + common.ADAM_EPSILON)


def _small_data(n=256, seed=0):
    """Random images with a learnable signal: class k lights pixel k."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n).astype(np.uint8)
    x = (rng.random((n, 784)) * 0.1).astype(np.float32)
    x[np.arange(n), y] = 1.0
    return common.Data(x, y, x[:128].copy(), y[:128].copy(), source="test", synthetic=True)


@pytest.mark.parametrize("model", MODELS)
def test_numpy_step_matches_float64_reference_and_keras_optimizer(model):
    data = _small_data()
    state = numpy_loop.make_state(seed=3, model=model)
    before = {k: v.copy() for k, v in state.params.items()}
    idx = np.arange(min(50, state.model.batch_size - 1))  # a short batch, like an epoch's last
    loss = numpy_loop.train_step(state, data.x_train, data.y_train, idx)
    ref_loss, ref_grads = _reference_step(before, data.x_train[idx], data.y_train[idx], model)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert set(ref_grads) == set(state.grads)
    for k, g in ref_grads.items():
        np.testing.assert_allclose(state.grads[k], g, rtol=1e-4, atol=1e-6)
        # Adam's first update is about lr * sign(g): where |g| is near epsilon the float32
        # gradient's rounding moves it by up to ~3e-7, so the floor is 0.1% of lr.
        np.testing.assert_allclose(before[k] - state.params[k], _first_update(g, model),
                                   rtol=1e-3, atol=1e-6)


def test_adam_step_size_folds_in_both_bias_corrections():
    assert common.adam_alpha(1) == pytest.approx(1e-3 * np.sqrt(1 - 0.999) / (1 - 0.9))
    assert common.adam_alpha(10**6) == pytest.approx(1e-3)


@pytest.mark.parametrize("model", MODELS)
def test_numpy_loop_learns_a_separable_problem(model):
    data = _small_data(1024)
    rng = np.random.default_rng(0)
    state = numpy_loop.make_state(0, model=model)
    losses = [numpy_loop.train_epoch(state, data.x_train, data.y_train,
                                     state.model.batch_size, rng) for _ in range(2)]
    assert losses[-1] < losses[0]
    assert numpy_loop.evaluate(state, data.x_train, data.y_train) > 0.8  # chance: 0.1


def test_every_model_starts_from_the_same_glorot_weights():
    book = common.init_params(0, "book")
    assert [v.shape for v in book.values()] == [(784, 512), (512,), (512, 10), (10,)]
    second = common.init_params(0, "second")
    assert [v.shape for v in second.values()] == [(784, 256), (256,), (256, 256), (256,),
                                                  (256, 10), (10,)]
    limit = np.sqrt(6 / (256 + 256))
    assert np.abs(second["W2"]).max() <= limit and second["W2"].std() > limit / 3
    assert not second["b2"].any()
    np.testing.assert_array_equal(common.init_params(0, "second")["W3"], second["W3"])


@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("model", MODELS)
def test_chainrule_trains_along_the_numpy_loops_trajectory(model, jit_compile):
    """Same init, same batches: chainrule.keras's fit step and the hand-written loop agree
    step by step (float32 rounding apart), so the benchmark times the same computation."""
    keras = pytest.importorskip("chainrule.keras")
    data = _small_data()
    spec = common.model_spec(model)
    net = keras_api.build_model(keras, spec, seed=5, owner="chainrule.keras",
                                compile_options={"jit_compile": jit_compile})
    state = numpy_loop.make_state(seed=5, model=spec)
    for w, v in zip(net.get_weights(), state.params.values()):
        np.testing.assert_array_equal(w, v)
    rng = np.random.default_rng(1)
    ours, theirs = [], []
    for _ in range(6):
        idx = rng.permutation(len(data.x_train))[:spec.batch_size]
        theirs.append(numpy_loop.train_step(state, data.x_train, data.y_train, idx))
        out = net.train_on_batch(data.x_train[idx], data.y_train[idx])
        ours.append(float(np.ravel(out)[0]))
    assert theirs[-1] < theirs[0]
    np.testing.assert_allclose(ours, theirs, rtol=2e-5)
    for w, v in zip(net.get_weights(), state.params.values()):
        np.testing.assert_allclose(w, v, rtol=1e-3, atol=2e-5)


def _result(secs, loads):
    return {"epoch_seconds": secs, "other_load": loads}


def test_ratios_pair_epochs_of_the_same_round_and_skip_contended_ones():
    numpy_row = _result([9.0, 1.0, 2.0, 1.0, 1.0], [0, 0, 0, 0.5, 0])
    row = _result([9.0, 0.5, 1.5, 0.1, 0.8], [0, 0, 0, 0, 0])
    r = bench_mlp.paired_ratios(row, numpy_row, max_other_load=0.1)
    # Epoch 1 is warm-up; round 4 is contended for numpy: rounds 2, 3, 5 remain.
    assert r["rounds"] == [2, 3, 5] and not r["all_contended"]
    assert r["median"] == pytest.approx(0.75) and r["min"] == 0.5 and r["max"] == 0.8
    busy = bench_mlp.paired_ratios(row, _result([1.0, 2.0, 2.0], [1, 1, 1]), 0.1)
    assert busy["all_contended"] and busy["rounds"] == [2, 3]  # shorter run: common rounds
    assert bench_mlp.paired_ratios(row, None, 0.1) is None


def test_threads_option_sets_every_pool_size_for_the_workers():
    env = bench_mlp.worker_env(3)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        assert env[var] == "3"
    assert bench_mlp.worker_env(None).get("OPENBLAS_NUM_THREADS") == \
        os.environ.get("OPENBLAS_NUM_THREADS")


def test_data_limited_to_a_few_steps_keeps_the_test_set():
    data = _small_data(256)
    cut = common.limit_steps(data, 3, 64)
    assert len(cut.x_train) == len(cut.y_train) == 192 and len(cut.x_test) == 128
    assert common.limit_steps(data, None, 64) is data


def test_missing_data_set_falls_back_to_labelled_synthetic_data(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATASETS", str(tmp_path))
    path = tmp_path / "staged.npz"
    source, synthetic = common.save_staged(str(path), "fashion_mnist", seed=0)
    assert synthetic and "synthetic" in source and "fashion_mnist" in source
    data = common.load_staged(str(path))
    assert data.synthetic and data.source == source
    assert data.x_train.shape == (60000, 784) and data.x_train.dtype == np.float32
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0


@pytest.mark.skipif(not os.environ.get("CHAINRULE_DATASETS"),
                    reason="CHAINRULE_DATASETS is not set: the real data sets are not here")
def test_fashion_mnist_is_read_with_chainrules_loader_and_has_no_blank_border():
    arrays, source, synthetic = common.raw_arrays("fashion_mnist")
    assert not synthetic and "fashion-mnist" in source
    assert arrays["x_train"].shape == (60000, 28, 28) and arrays["y_test"].shape == (10000,)
    # Unlike MNIST's, Fashion-MNIST's border pixels are not always zero.
    assert (arrays["x_train"][:, 0, :] > 0).mean() > 0.05


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_entry_runs_or_says_why_not(name, model):
    module = importlib.import_module(f"peers.{REGISTRY[name]}")
    spec = common.model_spec(model)
    try:
        runner = module.build(_small_data(), spec.batch_size, 0, model)
    except common.Unavailable as exc:
        assert str(exc), "a skip must say why"
        pytest.skip(f"{name}: {exc}")
    assert isinstance(runner.info, str)
    loss = runner.train_epoch()
    acc = runner.evaluate()
    if name == "floor":
        assert loss is None and acc is None
    else:
        # 256 rows, 10 classes: the first epoch's mean loss starts near ln(10) = 2.30.
        assert 1.0 < loss < 2.6 and 0.0 <= acc <= 1.0


def test_harness_end_to_end_on_synthetic_data(tmp_path):
    out = tmp_path / "r.json"
    env = dict(os.environ, CHAINRULE_DATASETS=str(tmp_path))  # no data set there
    proc = subprocess.run(
        [sys.executable, os.path.join(BENCH, "bench_mlp.py"), "--epochs", "2", "--steps", "3",
         "--only", "numpy,floor,chainrule-jit", "--settle", "0", "--threads", "1",
         "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "synthetic" in proc.stdout
    assert "model book: Dense 512 relu" in proc.stdout
    assert "model second: Dense 256 tanh, Dense 256 sigmoid, Dense 10 logits" in proc.stdout
    report = json.loads(out.read_text())
    assert report["dataset"] == "fashion_mnist" and report["threads"] == 1
    assert [b["model"] for b in report["models"]] == ["book", "second"]
    for block in report["models"]:
        rows = {r["name"]: r for r in block["results"]}
        assert rows["numpy"]["ratio_vs_numpy"] == pytest.approx(1.0)
        for name in ("numpy", "floor"):
            r = rows[name]
            assert r["status"] == "ready" and r["train_rows"] == 3 * block["batch_size"]
            assert r["peak_rss_mb"] > 20  # a real figure from the kernel, in MB
            assert len(r["epochs"]) == 2 and r["median_s"] > 0
            assert r["min_s"] <= r["median_s"] <= r["max_s"]
            assert all(e["cpu_s"] >= 0 and e["start_unix"] > 0 for e in r["epochs"])
            # --threads 1 reached the worker's BLAS (when threadpoolctl can tell).
            blas = [p for p in r["thread_pools"] if p.startswith(("openblas", "mkl"))]
            assert all(p.endswith(": 1 threads") for p in blas)
        jit = rows["chainrule-jit"]
        assert jit["status"] in ("skipped", "ready")
        if jit["status"] == "ready":
            assert jit["chainrule_from"] == os.path.join(REPO, "chainrule")
            assert jit["ratio_vs_numpy_paired"]["rounds"] == [2]


def test_steadiness_compares_fresh_processes_medians_and_pooled_epochs():
    def process(secs):
        r = {"name": "x", "status": "ready", "epochs": [{"seconds": s, "other_load": 0.0}
                                                        for s in secs]}
        bench_mlp._summarise(r, 0.1)
        return [r, {"name": "y", "status": "skipped"}]

    # Epoch 1 is warm-up and left out; the second process is in a slow mode throughout.
    s = bench_mlp.steadiness_across_processes([process([5.0, 1.0, 1.2]),
                                               process([5.0, 2.0, 2.2]),
                                               process([5.0, 1.1, 0.9])])
    assert set(s) == {"x"}
    assert s["x"]["process_medians"] == pytest.approx([1.1, 2.1, 1.0])
    assert s["x"]["process_max_over_min"] == pytest.approx(2.1)
    assert s["x"]["epoch_max_over_min"] == pytest.approx(2.2 / 0.9)
    text = bench_mlp.steadiness_report(s)
    assert "x" in text and "2.10" in text and "y" not in text.splitlines()[2:3]


def test_harness_runs_held_out_networks_in_fresh_processes(tmp_path):
    out = tmp_path / "r.json"
    env = dict(os.environ, CHAINRULE_DATASETS=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, os.path.join(BENCH, "bench_mlp.py"), "--model", "held-out",
         "--epochs", "2", "--steps", "2", "--only", "numpy", "--settle", "0",
         "--processes", "2", "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "model third (processes 2/2): Dense 1024 relu, Dense 128 tanh" in proc.stdout
    assert "model fourth: steadiness over 2 fresh processes" in proc.stdout
    report = json.loads(out.read_text())
    assert [(b["model"], b["process"]) for b in report["models"]] == [
        ("third", 1), ("third", 2), ("fourth", 1), ("fourth", 2)]
    steady = report["steadiness"]["fourth"]["numpy"]
    assert len(steady["process_medians"]) == 2 and steady["process_max_over_min"] >= 1.0
