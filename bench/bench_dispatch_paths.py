"""Per-op cost of a 1000-op chain of small multiplies through bind (run: PYTHONPATH=. python bench/bench_dispatch_paths.py)."""
import timeit
import numpy as np
import chainrule as cr
from chainrule.primitives import table as P
from chainrule.primitives.primitive import bind
x = cr.Variable(np.ones((4,), np.float32))
c = cr.constant(np.ones((4,), np.float32) * 0.5)
def chain(y):
    for _ in range(1000):
        y = bind(P.multiply, (y, c))
    return y
def taped():
    with cr.GradientTape():
        chain(x)
def unwatched():
    with cr.GradientTape():
        chain(c)
def unwatched_after_cut():
    # worst case for the side-table: a cut exists, so every unconnected op checks its inputs
    with cr.GradientTape():
        cr.argmax(x)
        chain(c)
def taped_after_cut():
    with cr.GradientTape():
        cr.argmax(x)
        chain(x)
cases = [("no tape", lambda: chain(x)), ("tape records", taped), ("tape, unwatched", unwatched),
         ("tape, unwatched, cut", unwatched_after_cut), ("tape records, cut", taped_after_cut)]
for name, f in cases:
    best = min(timeit.repeat(f, number=10, repeat=30)) / 10
    print(f"{name:22s} {best*1e6/1000:.3f} us/op")
