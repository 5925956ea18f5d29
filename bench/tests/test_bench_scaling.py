"""The scaling benchmark's cost model and projection (its timed runs need MPI and a quiet
machine, so they are not run here)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bench_scaling as bs  # noqa: E402


def test_ring_all_reduce_cost_model():
    assert bs.ring_all_reduce_s(1e6, 1, 1e9, 1e-5) == 0.0
    # 2 workers: each sends and receives half the buffer twice, and pays 2 latencies
    assert bs.ring_all_reduce_s(1e6, 2, 1e9, 1e-5) == pytest.approx(1e-3 + 2e-5)
    # many workers: the bandwidth term tends to 2 x bytes / bandwidth, latency grows linearly
    assert bs.ring_all_reduce_s(1e6, 512, 1e9, 0.0) == pytest.approx(2e-3 * 511 / 512)


def test_projection_is_ideal_without_communication_and_degrades_with_it():
    free = bs.project(1e-4, 0, 512, 4096, {"bandwidth_Bps": 1e9, "latency_s": 0.0})
    assert [r["weak_efficiency"] for r in free] == [1.0] * len(bs.PROJECT_TO)
    assert free[-1]["weak_samples_per_s"] == pytest.approx(512 / 1e-4)  # 512 workers, 1e4/s each
    costly = bs.project(1e-4, 4e6, 512, 4096, {"bandwidth_Bps": 1e9, "latency_s": 1e-5})
    strong = [r["strong_efficiency"] for r in costly]
    assert strong[0] == 1.0 and all(a >= b for a, b in zip(strong, strong[1:]))


def test_parameter_count_of_the_two_models():
    assert bs._param_count(bs.MODELS["book"]) == 407_050
    assert bs._param_count(bs.MODELS["wide"]) == 784 * 2048 + 2048 + 2048 * 2048 + 2048 + 2048 * 10 + 10


def test_all_reduce_time_splits_into_transfer_and_wait():
    # call 1: rank 1 joined last (0.2 ms inside), rank 0 waited 3 ms for it;
    # call 2: rank 0 joined last.
    transfer, wait, inside = bs.split_all_reduce_time([[3.2e-3, 0.3e-3], [0.2e-3, 1.3e-3]])
    assert transfer == pytest.approx(0.2e-3 + 0.3e-3)
    assert wait == pytest.approx(3.0e-3 + 1.0e-3)
    assert inside == pytest.approx(3.5e-3)  # rank 0: 3.2 + 0.3 ms
    assert bs.split_all_reduce_time([[]]) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="different numbers"):
        bs.split_all_reduce_time([[1.0], [1.0, 2.0]])


def test_the_mirrored_entry_s_two_networks():
    """--mirrored's networks: the book's, and the untuned one (tanh, sigmoid, logits, Adam),
    both compiled."""
    nets = bs._mirrored_networks()
    book, untuned = nets["book"](), nets["untuned"]()
    assert book.count_params() == 407_050 and type(book.optimizer).__name__ == "RMSprop"
    assert untuned.count_params() == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert type(untuned.optimizer).__name__ == "Adam"
    assert [layer.activation.__name__ for layer in untuned.layers] == ["tanh", "sigmoid",
                                                                       "linear"]
    assert book.jit_compile is True and untuned.jit_compile is True
