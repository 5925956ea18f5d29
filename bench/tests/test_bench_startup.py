"""Checks for the start-up benchmark: a new process reaches the first finished batch and
reports its marks in order, cold and warm runs use the cache folders they are given (warm
ones find the generated kernels cold ones had to write), missing peers are reported as not
installed, and the harness writes its JSON.

It runs chainrule's eager entry only (a cold compiled one compiles a dozen numba functions)."""

from __future__ import annotations

import json
import os
import sys

import pytest

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BENCH)

import bench_startup  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("startup-data")
    assert bench_startup._write_data(str(folder)) in ("MNIST", "synthetic")
    return str(folder)


def test_one_process_reports_its_marks_in_order(data, tmp_path):
    cache = str(tmp_path / "cache")
    result = bench_startup._run_timed("chainrule-eager", data, cache, timeout=600)
    marks = result["marks"]
    assert list(marks) == list(bench_startup.MARKS)
    times = [marks[k] for k in bench_startup.MARKS]
    assert 0 < times[0] and times == sorted(times)  # numpy, data, import, compile, batch
    assert result["cpu_s"] > 0
    # the eager fit's optimizer step is a fused loop: its source went to the given home
    kernels = os.listdir(os.path.join(cache, "chainrule", "kernels"))
    assert any(name.startswith("loop_") and name.endswith(".py") for name in kernels)
    assert os.listdir(os.path.join(cache, "numba"))  # and numba's machine code beside it


def test_a_failing_process_is_reported_with_its_error(data, tmp_path, monkeypatch):
    monkeypatch.setattr(bench_startup, "CHILD", "raise SystemExit('no batch here')")
    with pytest.raises(RuntimeError, match="no batch here"):
        bench_startup.run_once("chainrule-eager", data, str(tmp_path), timeout=60)


def test_missing_libraries_are_reported_not_run(monkeypatch):
    real = bench_startup.importlib.util.find_spec
    monkeypatch.setattr(bench_startup.importlib.util, "find_spec",
                        lambda name: None if name == "torch" else real(name))
    assert bench_startup.available("torch").startswith("not installed")
    assert bench_startup.available("chainrule-eager") is None


def test_the_harness_runs_and_writes_json(tmp_path, monkeypatch):
    real = bench_startup.importlib.util.find_spec
    monkeypatch.setattr(bench_startup.importlib.util, "find_spec",
                        lambda name: None if name == "torch" else real(name))
    out = tmp_path / "startup.json"
    report = bench_startup.main(["--runs", "1", "--only", "chainrule-eager,torch",
                                 "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    eager = report["results"]["chainrule-eager"]
    for condition in ("cold", "warm"):
        stats = eager[condition]["first_batch_s"]
        assert stats["n"] == 1 and stats["min"] == stats["median"] == stats["max"] > 0
        marks = eager[condition]["marks_median"]
        assert marks["import"] < marks["first_batch"] == stats["median"]
    assert report["results"]["torch"] == {"skipped": "not installed (no module named 'torch')"}
    assert "| chainrule-eager |" in bench_startup.table(report["results"])
