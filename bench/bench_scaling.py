#!/usr/bin/env python3
"""Data-parallel scaling: compiled ``fit`` under MultiWorkerMirroredStrategy on 1 and 2 local
ranks, and a projection to many workers.

For each model (the book's Dense 512 relu / Dense 10 softmax, and a wider Dense 2048 x 2) and
each global batch, every rank count is started by ``python -m chainrule.launch -n R`` (which
gives each rank cores / R math-library threads: 1 rank x 2 threads against 2 ranks x 1
thread on a 2-core machine). A rank times ``fit`` over ``--steps`` global batches after a
warm-up fit, and each all-reduce call during it (a timing wrapper around the communicator);
:func:`split_all_reduce_time` divides the time inside the calls into the collective's own
work on the critical path and the waiting for a slower rank. It also times the all-reduce of
the gradient buffer alone, after a barrier, and of 8 bytes, which give this machine's
latency and bandwidth.

The projection to 8, 64 and 512 workers takes the measured compute time per sample of one
1-thread rank and the ring all-reduce cost model

    t_allreduce(N) = 2 (N - 1) / N * bytes / bandwidth + 2 (N - 1) * latency

with a network's bandwidth and latency as printed (they are assumptions, not measurements),
for a fixed batch per worker (the global batch grows with N) and for a fixed global batch.

``--mirrored`` measures instead ``tf.distribute.MirroredStrategy`` (one replica thread per
core, each global batch split over them) against today's compiled single-process ``fit`` (the
BLAS on all of its threads), in one process, on Fashion-MNIST (``CHAINRULE_DATASETS``): the
book's network and an untuned one (Dense 256 tanh -> Dense 256 sigmoid -> Dense 10 logits,
Adam), both compiled. Each round times ``--steps`` global batches of each, in alternating
order (paired: the runs of a round see the same machine); the report gives, per network, the
median and range of the per-round ratio of throughputs, against the one process as it runs
by default and against it with the BLAS on one thread ("vs 1 thread": what the second core
adds, apart from the BLAS's threads' own cost), and the cores each used (the process's CPU
seconds per second: above 1 for the replicas means they computed at once, the GIL
notwithstanding).

Usage (from the repository root; needs ``pip install -e '.[mpi]'`` except for --mirrored):

    python bench/bench_scaling.py                 # full: 2 models x 6 batches x 1, 2 ranks
    python bench/bench_scaling.py --quick         # a smoke run of a few seconds per point
    python bench/bench_scaling.py --json out/scaling/scaling.json --plot out/scaling/projection.png
    python bench/bench_scaling.py --mirrored --batches 1024 --rounds 7   # threads vs one process
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

MODELS = {"book": (512,), "wide": (2048, 2048)}
FEATURES, CLASSES = 784, 10

# The network of the projection (assumed; see the module docstring).
NETWORKS = {
    "10 GbE": {"bandwidth_Bps": 1.25e9, "latency_s": 30e-6},
    "100 Gb InfiniBand": {"bandwidth_Bps": 12.5e9, "latency_s": 2e-6},
}
PROJECT_TO = (1, 2, 8, 64, 512)


# --------------------------------------------------------------------------- rank side

class _Timed:
    """A communicator that keeps the seconds each all_reduce call took, in ``durations``."""

    def __init__(self, inner):
        self.inner, self.durations = inner, []
        self.rank, self.size = inner.rank, inner.size

    def __getattr__(self, name):
        return getattr(self.inner, name)

    @property
    def is_chief(self):
        return self.inner.is_chief

    def all_reduce(self, array, op="sum", out=None):
        start = time.perf_counter()
        out = self.inner.all_reduce(array, op, out)
        self.durations.append(time.perf_counter() - start)
        return out


def split_all_reduce_time(durations):
    """``(transfer, wait, inside)`` in seconds, from each rank's list of per-call durations
    (every rank makes the same calls, in the same order).

    A call returns on every rank once the last rank has joined it, so the last rank to join
    spends only the collective's own work inside it (its *transfer*) and every other rank
    also waits for that last one. Per call, the shortest duration over the ranks is the
    transfer, which lengthens the step on the critical path; the longest minus the
    shortest is the wait, which is load imbalance between the ranks (one of them computed
    longer, or was descheduled) and would be the same with an infinitely fast network.
    ``inside`` is the most time any one rank spent inside the calls (transfer plus its
    waits)."""
    if not durations or not durations[0]:
        return 0.0, 0.0, 0.0
    calls = len(durations[0])
    if any(len(d) != calls for d in durations):
        raise ValueError(f"ranks made different numbers of all-reduce calls: "
                         f"{[len(d) for d in durations]}")
    per_call = list(zip(*durations))
    transfer = sum(min(c) for c in per_call)
    wait = sum(max(c) - min(c) for c in per_call)
    inside = max(sum(d) for d in durations)
    return transfer, wait, inside


def _param_count(hidden):
    sizes = (FEATURES,) + tuple(hidden) + (CLASSES,)
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def _time_all_reduce(comm, nbytes, repeats):
    import numpy as np
    buffer = np.ones(max(1, nbytes // 4), np.float32)
    times = []
    for _ in range(repeats):
        comm.barrier()
        start = time.perf_counter()
        comm.all_reduce(buffer, "mean")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rank_main(model_name, batches, steps, out_path):
    import numpy as np
    import chainrule as tf
    from chainrule import keras
    from chainrule.keras import layers

    comm = tf.distribute.get_communicator()
    timed = _Timed(comm)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communicator=timed)
    hidden = MODELS[model_name]
    params = _param_count(hidden)
    rng = np.random.default_rng(0)
    results = []
    for batch in batches:
        n = batch * steps
        x = rng.random((n, FEATURES), dtype=np.float32)
        x *= rng.random((n, FEATURES), dtype=np.float32) > 0.33  # MNIST-like zero pixels
        y = rng.integers(0, CLASSES, n).astype(np.uint8)
        with strategy.scope():
            model = keras.Sequential([layers.Dense(h, activation="relu") for h in hidden] +
                                     [layers.Dense(CLASSES, activation="softmax")])
            model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"], jit_compile=True)
        model.fit(x[:2 * batch], y[:2 * batch], batch_size=batch, verbose=0, shuffle=False)
        comm.barrier()
        timed.durations = []
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch, verbose=0, shuffle=False)
        elapsed = time.perf_counter() - start
        gathered = comm.allgather((elapsed / steps, timed.durations))
        step = max(s for s, _ in gathered)  # the slowest rank sets the pace
        durations = [d for _, d in gathered]
        transfer, wait, inside = (t / steps for t in split_all_reduce_time(durations))
        # which rank joined each call last (it spent the least time inside): a rank that
        # nearly always does is slower for a reason of its own; an even split is noise
        last = [min(range(comm.size), key=lambda r: call[r]) for call in zip(*durations)]
        last_share = [last.count(r) / max(len(last), 1) for r in range(comm.size)]
        results.append({"model": model_name, "params": params, "ranks": comm.size,
                        "threads": os.environ.get("OMP_NUM_THREADS"), "batch": batch,
                        "step_s": step, "all_reduce_s": transfer,
                        "all_reduce_share": transfer / step,
                        "wait_s": wait, "wait_share": wait / step,
                        "inside_all_reduce_s": inside, "inside_share": inside / step,
                        "all_reduce_calls": len(gathered[0][1]) / steps,
                        "joined_last_share": last_share,
                        "samples_per_s": batch / step})
    grad_bytes = 4 * params
    alone = _time_all_reduce(comm, grad_bytes, 20) if comm.size > 1 else 0.0
    tiny = _time_all_reduce(comm, 8, 50) if comm.size > 1 else 0.0
    if comm.rank == 0:
        with open(out_path, "w") as f:
            json.dump({"points": results, "gradient_bytes": grad_bytes,
                       "all_reduce_gradients_s": alone, "all_reduce_8_bytes_s": tiny}, f)


# --------------------------------------------------------------------------- MirroredStrategy

def _mirrored_networks():
    from chainrule import keras
    from chainrule.keras import layers

    def book():
        model = keras.Sequential([keras.Input((FEATURES,)), layers.Dense(512, activation="relu"),
                                  layers.Dense(CLASSES, activation="softmax")])
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], jit_compile=True)
        return model

    def untuned():
        model = keras.Sequential([keras.Input((FEATURES,)), layers.Dense(256, activation="tanh"),
                                  layers.Dense(256, activation="sigmoid"), layers.Dense(CLASSES)])
        model.compile(optimizer="adam",
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], jit_compile=True)
        return model
    return {"book": book, "untuned": untuned}


def _fashion_mnist():
    from chainrule.keras.datasets import fashion_mnist
    (x, y), _ = fashion_mnist.load_data()
    return (x.reshape(len(x), -1).astype("float32") / 255), y.astype("uint8")


def _cpu_seconds():
    t = os.times()
    return t.user + t.system


def _blas_limit(threads):
    """The BLAS on ``threads`` threads meanwhile (None: as it is)."""
    import contextlib
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=threads, user_api="blas")


def mirrored_main(args):
    """``--mirrored``: paired rounds of MirroredStrategy against one process (see the module
    docstring); prints a table and returns the report."""
    import chainrule as tf

    x, y = _fashion_mnist()
    strategy = tf.distribute.MirroredStrategy()
    batches = [int(b) for b in args.batches.split(",")]
    names = args.models.split(",") if args.models != "book,wide" else ["book", "untuned"]
    report = {"machine_cores": len(os.sched_getaffinity(0)),
              "replicas": strategy.num_replicas_in_sync,
              "load_average_start": os.getloadavg(), "networks": {}}
    print(f"MirroredStrategy, {strategy.num_replicas_in_sync} replicas, against one process's "
          f"compiled fit; Fashion-MNIST; load average at start "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{'network':>8} {'batch':>6} {'one process samples/s':>22} {'mirrored samples/s':>19} "
          f"{'ratio median':>12} {'range':>13} {'vs 1 thread':>12} {'range':>13} "
          f"{'cores: mirrored, one process, 1 thread':>20}")
    for name in names:
        make = _mirrored_networks()[name]
        for batch in batches:
            n = batch * args.steps
            tf.random.set_seed(0)
            single = make()
            with strategy.scope():
                tf.random.set_seed(0)
                mirrored = make()
            for model in (single, mirrored):  # warm-up: traces and compiles the steps
                model.fit(x[:2 * batch], y[:2 * batch], batch_size=batch, verbose=0,
                          shuffle=False)
            times = {"single": [], "mirrored": [], "single_1_thread": []}
            cores = {k: [] for k in times}  # CPU seconds of the process per second
            for r in range(args.rounds):
                order = ["single", "mirrored", "single_1_thread"]
                for which in order[r % 3:] + order[:r % 3]:
                    model = mirrored if which == "mirrored" else single
                    with _blas_limit(1 if which == "single_1_thread" else None):
                        cpu, start = _cpu_seconds(), time.perf_counter()
                        model.fit(x[:n], y[:n], batch_size=batch, verbose=0, shuffle=False)
                        times[which].append(time.perf_counter() - start)
                        cores[which].append((_cpu_seconds() - cpu) / times[which][-1])
            ratios = [s / m for s, m in zip(times["single"], times["mirrored"])]
            ratios_1 = [s / m for s, m in zip(times["single_1_thread"], times["mirrored"])]
            point = {"batch": batch, "steps": args.steps, "rounds": args.rounds,
                     "single_s": times["single"], "mirrored_s": times["mirrored"],
                     "ratio_median": statistics.median(ratios),
                     "ratio_range": [min(ratios), max(ratios)],
                     "single_1_thread_s": times["single_1_thread"],
                     "cores_used_median": {k: statistics.median(v) for k, v in cores.items()},
                     "ratio_vs_1_thread_median": statistics.median(ratios_1),
                     "ratio_vs_1_thread_range": [min(ratios_1), max(ratios_1)],
                     "single_samples_per_s": n / statistics.median(times["single"]),
                     "mirrored_samples_per_s": n / statistics.median(times["mirrored"])}
            report["networks"].setdefault(name, []).append(point)
            print(f"{name:>8} {batch:>6} {point['single_samples_per_s']:>22.0f} "
                  f"{point['mirrored_samples_per_s']:>19.0f} {point['ratio_median']:>11.2f}x "
                  f"{min(ratios):>6.2f}-{max(ratios):.2f}x "
                  f"{point['ratio_vs_1_thread_median']:>11.2f}x "
                  f"{min(ratios_1):>6.2f}-{max(ratios_1):.2f}x "
                  f"{statistics.median(cores['mirrored']):>6.2f} "
                  f"{statistics.median(cores['single']):>6.2f} "
                  f"{statistics.median(cores['single_1_thread']):>6.2f}")
    report["load_average_end"] = os.getloadavg()
    print(f"load average at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return report


# --------------------------------------------------------------------------- driver side

def run_point(model_name, ranks, batches, steps):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [sys.executable, "-m", "chainrule.launch", "-n", str(ranks), os.path.abspath(__file__),
               "--rank", model_name, ",".join(map(str, batches)), str(steps), out]
        done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
        with open(out) as f:
            return json.load(f)


def ring_all_reduce_s(nbytes, workers, bandwidth_Bps, latency_s):
    """The ring all-reduce cost model (see the module docstring)."""
    if workers == 1:
        return 0.0
    return 2 * (workers - 1) / workers * nbytes / bandwidth_Bps + 2 * (workers - 1) * latency_s


def project(compute_per_sample_s, nbytes, per_worker_batch, global_batch, network):
    rows = []
    for n in PROJECT_TO:
        t_ar = ring_all_reduce_s(nbytes, n, **network)
        weak = compute_per_sample_s * per_worker_batch + t_ar
        strong = compute_per_sample_s * global_batch / n + t_ar
        rows.append({"workers": n, "all_reduce_s": t_ar,
                     "weak_samples_per_s": n * per_worker_batch / weak,
                     "weak_efficiency": compute_per_sample_s * per_worker_batch / weak,
                     "strong_samples_per_s": global_batch / strong,
                     "strong_efficiency": (compute_per_sample_s * global_batch / n) / strong})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="book,wide")
    parser.add_argument("--batches", default="128,256,512,1024,2048,4096")
    parser.add_argument("--ranks", default="1,2")
    parser.add_argument("--steps", type=int, default=10, help="timed global batches per point")
    parser.add_argument("--quick", action="store_true",
                        help="book model, batches 128 and 1024, 3 steps: a smoke run")
    parser.add_argument("--per-worker-batch", type=int, default=512)
    parser.add_argument("--json", default=None)
    parser.add_argument("--plot", default=None, help="PNG of the projection (needs matplotlib)")
    parser.add_argument("--mirrored", action="store_true",
                        help="MirroredStrategy (threads) against one process's compiled fit")
    parser.add_argument("--rounds", type=int, default=7, help="--mirrored: paired rounds")
    parser.add_argument("--rank", nargs=4, metavar=("MODEL", "BATCHES", "STEPS", "OUT"),
                        help=argparse.SUPPRESS)  # what each MPI rank runs
    args = parser.parse_args(argv)
    if args.rank:
        model, batches, steps, out = args.rank
        rank_main(model, [int(b) for b in batches.split(",")], int(steps), out)
        return 0
    if args.mirrored:
        if args.batches == "128,256,512,1024,2048,4096":
            args.batches = "1024"
        report = mirrored_main(args)
        if args.json:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1)
        return 0
    if args.quick:
        args.models, args.batches, args.steps = "book", "128,1024", 3
    models = args.models.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    rank_counts = [int(r) for r in args.ranks.split(",")]
    report = {"machine_cores": len(os.sched_getaffinity(0)), "models": {}}
    for model in models:
        runs = {r: run_point(model, r, batches, args.steps) for r in rank_counts}
        report["models"][model] = runs
        print(f"\n{model} model ({runs[rank_counts[0]]['points'][0]['params']:,} weights, "
              f"gradient buffer {runs[rank_counts[0]]['gradient_bytes'] / 2**20:.2f} MiB)")
        print("all-reduce: the collective's own time on the critical path (per call, the "
              "shortest over the ranks);\nwait: time a rank spent in it waiting for a slower "
              "rank (load imbalance, not communication)")
        print(f"{'batch':>6} {'ranks':>5} {'threads':>7} {'step ms':>9} {'all-reduce ms':>14} "
              f"{'share':>6} {'wait ms':>8} {'share':>6} {'samples/s':>10} {'vs 1 rank':>9}")
        base = {p["batch"]: p for p in runs[rank_counts[0]]["points"]}
        for batch in batches:
            for r in rank_counts:
                p = next(q for q in runs[r]["points"] if q["batch"] == batch)
                print(f"{batch:>6} {r:>5} {p['threads'] or '-':>7} {1e3 * p['step_s']:>9.2f} "
                      f"{1e3 * p['all_reduce_s']:>14.3f} {100 * p['all_reduce_share']:>5.1f}% "
                      f"{1e3 * p['wait_s']:>8.3f} {100 * p['wait_share']:>5.1f}% "
                      f"{p['samples_per_s']:>10.0f} "
                      f"{p['samples_per_s'] / base[batch]['samples_per_s']:>8.2f}x")
        multi = [r for r in rank_counts if r > 1]
        if multi:
            run = runs[multi[-1]]
            nbytes = run["gradient_bytes"]
            lat = run["all_reduce_8_bytes_s"] / 2
            bw = nbytes / max(run["all_reduce_gradients_s"] - 2 * lat, 1e-9)
            print(f"local all-reduce ({multi[-1]} ranks): gradients {1e3 * run['all_reduce_gradients_s']:.3f} ms, "
                  f"8 bytes {1e6 * run['all_reduce_8_bytes_s']:.1f} us "
                  f"(latency ~{1e6 * lat:.1f} us, bandwidth ~{bw / 1e9:.2f} GB/s)")
            # compute per sample of one 1-thread worker: the largest batch, minus its all-reduce
            # (the waits stay in: they are this machine's imbalance, and would recur)
            p = max(run["points"], key=lambda q: q["batch"])
            per_sample = (p["step_s"] - p["all_reduce_s"]) / (p["batch"] / p["ranks"])
            report["models"][model]["projection"] = {}
            print(f"projection: compute {1e6 * per_sample:.2f} us/sample/worker (measured, "
                  f"batch {p['batch']} on {p['ranks']} ranks), gradients {nbytes / 2**20:.2f} MiB, "
                  f"ring all-reduce; batch {args.per_worker_batch}/worker (weak) or "
                  f"{max(batches)} global (strong)")
            for name, network in NETWORKS.items():
                rows = project(per_sample, nbytes, args.per_worker_batch, max(batches), network)
                report["models"][model]["projection"][name] = rows
                print(f"  assumed network {name}: {network['bandwidth_Bps'] / 1e9:.2f} GB/s, "
                      f"latency {1e6 * network['latency_s']:.0f} us")
                print(f"  {'workers':>8} {'all-reduce ms':>14} {'weak samples/s':>15} "
                      f"{'eff':>5} {'strong samples/s':>17} {'eff':>5}")
                for row in rows:
                    print(f"  {row['workers']:>8} {1e3 * row['all_reduce_s']:>14.3f} "
                          f"{row['weak_samples_per_s']:>15.0f} {100 * row['weak_efficiency']:>4.0f}% "
                          f"{row['strong_samples_per_s']:>17.0f} {100 * row['strong_efficiency']:>4.0f}%")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.plot:
        plot(report, args.plot)
    return 0


def plot(report, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for model, runs in report["models"].items():
        for network, rows in runs.get("projection", {}).items():
            n = [r["workers"] for r in rows]
            ax.plot(n, [r["weak_samples_per_s"] for r in rows], marker="o",
                    label=f"{model}, {network}, fixed batch per worker")
            ax.plot(n, [r["strong_samples_per_s"] for r in rows], marker="x", linestyle="--",
                    label=f"{model}, {network}, fixed global batch")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("workers (1 core each)")
    ax.set_ylabel("projected samples / s")
    ax.set_title("Data-parallel training: ring all-reduce projection")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


if __name__ == "__main__":
    sys.exit(main())
