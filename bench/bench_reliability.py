"""What the reliability fixes of issue 21 cost a single caller.

* Thread-safe compiled programs: a call takes its buffers (a plan) from a pool and gives
  them back. Measured: one caller's time per call, and the part of it that taking and
  giving back a plan takes (all a call does beyond what it did before), for a small
  serving forward and a tiny graph (where a fixed cost shows most).
* Labels checked in the compiled step: the ``class_indices`` op runs per batch. Measured:
  its time per batch against a whole compiled training step of the book's model.

The figures of 2026-12-07 (2-core machine, busy): the pool takes about 30 ns of a 6 us call
of a tiny graph (0.5%) and 40 ns of a 46 us serving forward (0.1%); the label check takes
46 us of a 57 ms training step (0.08%).

    python bench/bench_reliability.py [--rounds 7] [--calls 2000]
"""

import argparse
import time

import numpy as np

import chainrule as cr
from chainrule import keras
from chainrule.keras import losses


def _per_call(fn, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def pool_cost(rounds, calls):
    """(name, seconds per call, seconds of it the pool takes) per graph. A call is what it
    was before but for taking its plan from the pool and giving it back (a ``list.pop`` and
    a ``list.append`` in a ``try``/``finally``): that is timed on its own, with the call."""
    rng = np.random.default_rng(0)
    w = cr.Variable(rng.normal(size=(64, 64)).astype(np.float32))
    cases = {
        "serving forward (32x64 @ 64x64, tanh, softmax)":
            (lambda x: cr.nn.softmax(cr.tanh(cr.matmul(x, w) + 1.0)),
             rng.normal(size=(32, 64)).astype(np.float32)),
        "tiny graph (x * 2 + 1 on 4 floats)":
            (lambda x: x * 2.0 + 1.0, np.ones(4, np.float32)),
    }
    results = []
    for name, (fn, x) in cases.items():
        f = cr.function(fn, jit_compile=True)
        f(cr.constant(x))
        compiled = f._last.compiled()
        idle = compiled._idle

        def take_and_give_back():
            try:
                plan = idle.pop()
            except IndexError:
                plan = None
            try:
                pass
            finally:
                idle.append(plan)
        calls_, pool = [], []
        for _ in range(rounds):  # interleaved, so drifts of the machine hit both alike
            calls_.append(_per_call(lambda: compiled(x), calls))
            pool.append(_per_call(take_and_give_back, calls) - _per_call(lambda: None, calls))
        results.append((name, float(np.median(calls_)), float(np.median(pool))))
    return results


def label_check_cost(rounds, steps):
    """(seconds per compiled training step, seconds of the label check per batch)."""
    rng = np.random.default_rng(0)
    batch = 128
    x = rng.normal(size=(batch * steps, 784)).astype(np.float32)
    y = rng.integers(0, 10, batch * steps).astype(np.float32)  # float labels: all checks run
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(512, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", jit_compile=True)
    model.fit(x[:batch * 2], y[:batch * 2], batch_size=batch, verbose=0)  # traced, compiled
    labels = y[:batch]
    step_times, check_times = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        step_times.append((time.perf_counter() - start) / steps)
        check_times.append(_per_call(lambda: losses._class_indices(
            labels, 10, (batch, 10), True, "sparse_categorical_crossentropy"), 2000))
    return float(np.median(step_times)), float(np.median(check_times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    print("compiled calls, one caller (median of rounds):")
    for name, call, pool in pool_cost(args.rounds, args.calls):
        print(f"  {name}: {call * 1e6:.2f} us per call, of which the pool of plans "
              f"{pool * 1e9:.0f} ns ({pool / call * 100:.1f}%)")
    step, check = label_check_cost(args.rounds, args.steps)
    print(f"label check in the compiled step (book model, batch 128, float labels): "
          f"{check * 1e6:.1f} us of a {step * 1e3:.2f} ms step ({check / step * 100:.2f}%)")


if __name__ == "__main__":
    main()
