"""Per-op cost of a recorded chain of small ops: chainrule vs NumPy vs PyTorch autograd.

A chain of N element-wise ops on a small (16, 16) float32 array is run

* as plain NumPy (no differentiation: the floor),
* through chainrule with no tape active (dispatch cost only),
* through chainrule inside a GradientTape, followed by tape.gradient (forward + backward),
* through PyTorch eager with requires_grad, followed by backward() (when installed).

Every variant is timed in the same process, interleaved, several times; the script prints
the median microseconds per op and the ratio to PyTorch.

    python bench/bench_tape_overhead.py [--ops 1000] [--repeats 15]
"""

import argparse
import statistics
import time

import numpy as np

import chainrule as cr


def chain_numpy(x, n):
    y = x
    for i in range(n // 3):
        y = np.tanh(y * 0.9 + 0.1)
    return y


def chain_chainrule(x, n):
    y = x
    for i in range(n // 3):
        y = cr.tanh(y * 0.9 + 0.1)
    return y


def run_numpy(x, n):
    chain_numpy(x, n)


def run_chainrule_no_tape(x, n):
    chain_chainrule(x, n)


def run_chainrule_tape(x, n):
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = chain_chainrule(x, n)
    tape.gradient(y, x)


def make_torch_runner():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)

    def run_torch(x, n):
        t = torch.from_numpy(x).requires_grad_(True)
        y = t
        for i in range(n // 3):
            y = torch.tanh(y * 0.9 + 0.1)
        y.sum().backward()
    return run_torch


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=999)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    x_np = np.random.default_rng(0).standard_normal((16, 16)).astype(np.float32)
    x_cr = cr.constant(x_np)
    variants = {
        "numpy (no autodiff)": (run_numpy, x_np),
        "chainrule, no tape": (run_chainrule_no_tape, x_cr),
        "chainrule, tape + gradient": (run_chainrule_tape, x_cr),
    }
    torch_runner = make_torch_runner()
    if torch_runner is not None:
        variants["pytorch, autograd + backward"] = (torch_runner, x_np)
    times = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, (fn, x) in variants.items():
            start = time.perf_counter()
            fn(x, args.ops)
            times[name].append((time.perf_counter() - start) / args.ops * 1e6)
    medians = {name: statistics.median(ts[1:] or ts) for name, ts in times.items()}
    reference = medians.get("pytorch, autograd + backward")
    print(f"{args.ops} ops on (16, 16) float32, median of {args.repeats} runs (first dropped)")
    print(f"{'variant':32s} {'us/op':>8s}  {'vs pytorch':>10s}")
    for name, us in medians.items():
        ratio = f"{us / reference:9.2f}x" if reference else "       n/a"
        print(f"{name:32s} {us:8.2f}  {ratio}")
    if reference is None:
        print("(PyTorch is not installed: pip install torch to compare)")


if __name__ == "__main__":
    main()
