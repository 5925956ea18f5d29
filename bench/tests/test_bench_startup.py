"""Checks for the start-up benchmark: a new process reaches the first finished batch and
reports its marks in order, writing its kernels into the cache folders it is given; cold
runs get new folders and warm ones share folders filled first; missing peers are reported
as not installed; the harness writes its JSON.

One real process runs (chainrule's eager entry, cold: a compiled one would compile a dozen
numba functions); the harness's bookkeeping is checked with the process faked."""

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


def test_the_harness_gives_cold_runs_new_caches_and_warm_runs_a_filled_one(tmp_path,
                                                                          monkeypatch):
    real = bench_startup.importlib.util.find_spec
    monkeypatch.setattr(bench_startup.importlib.util, "find_spec",
                        lambda name: None if name == "torch" else real(name))
    calls = []

    def fake_run(entry, data, cache, timeout):  # one process, without the process
        calls.append((entry, cache))
        base = float(len(calls))
        return {"marks": {k: base + i / 10 for i, k in enumerate(bench_startup.MARKS)},
                "cpu_s": base / 2}

    monkeypatch.setattr(bench_startup, "_run_timed", fake_run)
    out = tmp_path / "startup.json"
    report = bench_startup.main(["--runs", "2", "--only", "chainrule-eager,torch",
                                 "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    # a run that fills the warm folders, then per round a cold run on new folders and a warm
    # one on the filled folders
    assert [entry for entry, _ in calls] == ["chainrule-eager"] * 5
    warm, cold1, warm1, cold2, warm2 = [cache for _, cache in calls]
    assert warm == warm1 == warm2 and len({warm, cold1, cold2}) == 3
    eager = report["results"]["chainrule-eager"]
    assert eager["cold"]["first_batch_s"] == pytest.approx({"median": 3.4, "min": 2.4, "max": 4.4,
                                                            "n": 2})
    assert eager["warm"]["first_batch_s"]["min"] == pytest.approx(3.4)  # not the filling run
    assert eager["warm"]["marks_median"]["import"] == pytest.approx(4.2)
    assert report["results"]["torch"] == {"skipped": "not installed (no module named 'torch')"}
    table = bench_startup.table(report["results"])
    assert "| chainrule-eager | 3.40 (2.40-4.40) |" in table and "| torch | not installed" in table
