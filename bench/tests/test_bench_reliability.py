"""The reliability benchmark runs and reports each cost as a share of the call or step."""

import os
import re
import subprocess
import sys

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_reliability_benchmark_reports_the_pool_and_label_check_costs():
    env = dict(os.environ, PYTHONPATH=os.path.dirname(BENCH))
    out = subprocess.run([sys.executable, os.path.join(BENCH, "bench_reliability.py"),
                          "--rounds", "1", "--calls", "50", "--steps", "2"],
                         capture_output=True, text=True, env=env, check=True).stdout
    pool = re.findall(r"us per call, of which the pool of plans -?\d+ ns \(-?[\d.]+%\)", out)
    assert len(pool) == 2, out
    assert re.search(r"label check in the compiled step .*: [\d.]+ us of a [\d.]+ ms step "
                     r"\([\d.]+%\)", out), out
