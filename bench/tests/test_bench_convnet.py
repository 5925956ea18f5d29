"""The convnet benchmark: its models and shared weights, the paired ratios, the harness end to
end on synthetic data, and the breakdown adding up. It times nothing that it asserts on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)

import bench_convnet as bc  # noqa: E402


@pytest.mark.parametrize("model", list(bc.MODELS))
def test_shared_weights_fit_the_keras_model_and_both_chainrule_modes_agree(model):
    from chainrule import keras
    weights = bc.init_weights(model, seed=3)
    x = np.random.default_rng(0).random((2 * bc.MODELS[model]["batch_size"], 28, 28, 1),
                                        np.float32)
    y = np.arange(len(x)) % 10
    losses = []
    for jit in (False, True):
        net = bc.build_keras_model(keras, model, weights, jit_compile=jit)
        for have, want in zip(net.get_weights(), weights):
            np.testing.assert_array_equal(have, want)
        side, channels = bc._spatial_after(model)
        assert net.layers[-1].kernel.shape == (side * side * channels, 10)
        history = net.fit(x, y, epochs=1, batch_size=bc.MODELS[model]["batch_size"],
                          shuffle=False, verbose=0)
        losses.append(history.history["loss"][-1])
    assert losses[0] == losses[1]  # compiled fit repeats eager fit bit for bit
    assert np.isfinite(losses[0]) and 1.0 < losses[0] < 4.0


def test_torch_entry_computes_the_keras_models_loss():
    pytest.importorskip("torch")
    from chainrule import keras
    for model in bc.MODELS:
        weights = bc.init_weights(model, seed=1)
        x = np.random.default_rng(2).random((16, 28, 28, 1), np.float32)
        y = np.arange(16) % 10
        net = bc.build_keras_model(keras, model, weights, jit_compile=False)
        want = net.evaluate(x, y, verbose=0)[0]
        entry = bc.TorchEntry(model, weights, x, y, seed=0)
        import torch
        logits = entry._forward(entry.x)
        got = float(torch.nn.functional.cross_entropy(logits, entry.y).detach())
        assert got == pytest.approx(want, rel=1e-4), model


def test_paired_ratios_pair_rounds_not_medians():
    fast = [10.0, 20.0, 10.0]
    slow = [11.0, 22.0, 12.0]  # 1.1x, 1.1x, 1.2x in the same rounds
    ratio = bc.paired(slow, fast)
    assert ratio["median"] == pytest.approx(1.1) and ratio["max"] == pytest.approx(1.2)
    assert ratio["n"] == 3
    assert bc.spread([]) is None


def test_harness_runs_end_to_end_and_names_skipped_peers(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO, CHAINRULE_DATASETS=str(tmp_path))  # no data
    out = tmp_path / "convnet.json"
    result = subprocess.run(
        [sys.executable, os.path.join(BENCH, "bench_convnet.py"), "--model", "chapter8",
         "--rounds", "2", "--steps", "2", "--settle", "0",
         "--only", "chainrule-fit,chainrule-jit", "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "| chainrule-jit |" in result.stdout and "| chainrule-fit |" in result.stdout
    assert "SYNTHETIC" in result.stderr
    (block,) = json.loads(out.read_text())["blocks"]
    rows = {r["name"]: r for r in block["results"]}
    assert rows["chainrule-jit"]["ms_per_step"]["n"] == 1  # round 1 is warm-up
    assert rows["chainrule-jit"]["losses"] == rows["chainrule-fit"]["losses"]
    assert block["fastest_peer"] is None  # no peer ran: no ratios


def test_breakdown_parts_add_up_to_the_step(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_DATASETS", str(tmp_path))
    matmul = np.matmul
    parts = bc.breakdown("chapter8", steps=2, seed=0, rounds=1)
    assert np.matmul is matmul  # what it wrapped to time is put back
    for mode in ("compiled", "eager"):
        p = parts[mode]
        assert sum(p[c] for c in bc.CATEGORIES) == pytest.approx(p["total"])
        assert p["products"] > 0 and p["pooling"] > 0 and p["layout changes"] > 0
