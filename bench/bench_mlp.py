#!/usr/bin/env python3
"""Train small dense networks with several implementations side by side and compare them.

Two models (``peers.common``): the book's (Dense 512 relu, Dense 10 softmax, RMSprop, batch
128) and a second one nothing was tuned for (Dense 256 tanh, Dense 256 sigmoid, Dense 10
logits, Adam, batch 64), on MNIST or Fashion-MNIST. The models run one after the other; within
a model, each implementation runs in its own fresh subprocess (a "worker") so that its peak
resident memory can be read from the kernel's accounting for that one process (``os.wait4``'s
rusage, the per-child form of ``getrusage(RUSAGE_CHILDREN)``), and so that one library's
threads or allocator state cannot affect another's numbers. The workers start one at a time
and then stay alive; epochs are interleaved -- epoch 1 of every implementation, then epoch 2 of
every one, in a rotating order -- and only one worker computes at any moment (the others block
reading their next command), so slow drifts of the shared machine hit all entries alike, and
the epochs of one round can be compared pairwise.

Usage (from the repository root):

    python bench/bench_mlp.py                         # both models, Fashion-MNIST, 3 epochs
    python bench/bench_mlp.py --model book --dataset mnist --epochs 5 --json out/bench.json
    python bench/bench_mlp.py --only numpy,chainrule-jit --epochs 1 --steps 50   # a quick check

The statistics of s/epoch leave out epoch 1 as warm-up (JIT compilation, first-touch page
faults, thread-pool start) whenever more than one epoch runs; epoch 1 is reported apart.
Each epoch also records how much CPU *other* processes used meanwhile (from /proc/stat);
epochs above ``--max-other-load`` are left out when a clean one remains, because on a small
shared machine one busy neighbour can stretch a BLAS-bound epoch many times over.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
# peers/ is importable as a package from here; the checkout's chainrule wins over any other
# (also over one installed into the interpreter's environment from another checkout).
for _p in (REPO_ROOT, HERE):
    if _p in sys.path:
        sys.path.remove(_p)
    sys.path.insert(0, _p)

from peers import BASELINE, REFERENCE, REGISTRY  # noqa: E402
from peers.common import DATASETS, MODEL_GROUPS, MODELS, Unavailable  # noqa: E402

# The thread-pool sizes --threads sets, read by OpenBLAS, OpenMP (torch's intra-op pool among
# them), MKL and numba when each library starts; so they go into the workers' environment.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")


# --------------------------------------------------------------------------- worker side

def _machine_busy_s() -> float | None:
    """CPU-seconds the whole machine has spent busy since boot (all cores; steal included).

    From /proc/stat's first line: user nice system idle iowait irq softirq steal ... Steal is
    time the hypervisor gave our virtual CPUs to someone else -- interference all the same.
    """
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _timed_epoch(runner) -> dict:
    """Run one epoch; return its wall time, loss, and how busy everything else kept the CPUs.

    other_load = CPU time used by all other processes during the epoch, as a fraction of the
    machine's capacity over that time (0.5 on 2 cores = one core's worth). Above ~0.1 the
    epoch's time is suspect: the box was shared. cpu_s is this worker's own CPU time (all its
    threads): near twice the wall time on 2 cores means its thread pools computed or spun on
    both. The context switches (voluntary: a thread waited; involuntary: it was preempted)
    are this process's, summed over its threads.
    """
    import resource

    busy0, own0 = _machine_busy_s(), os.times()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.time()
    t0 = time.perf_counter()
    loss = runner.train_epoch()
    wall = time.perf_counter() - t0
    busy1, own1 = _machine_busy_s(), os.times()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    own = (own1.user - own0.user) + (own1.system - own0.system)
    other = None
    if busy0 is not None:
        other = max(0.0, (busy1 - busy0 - own) / (wall * (os.cpu_count() or 1)))
    return {"seconds": wall, "loss": loss, "other_load": other, "start_unix": start,
            "cpu_s": own, "ctx_voluntary": ru1.ru_nvcsw - ru0.ru_nvcsw,
            "ctx_involuntary": ru1.ru_nivcsw - ru0.ru_nivcsw}


def _thread_pools() -> list[str]:
    """The native thread pools loaded in this process and their sizes, when
    threadpoolctl is installed (it is with scikit-learn); numba's from its config."""
    pools = []
    try:
        from threadpoolctl import threadpool_info
        pools += [f"{p.get('internal_api')} {p.get('version')}: {p.get('num_threads')} threads"
                  for p in threadpool_info()]
    except Exception:  # optional diagnostics: never let them stop a worker
        pass
    if "numba" in sys.modules:
        try:
            from numba import config
            pools.append(f"numba: {config.NUMBA_NUM_THREADS} threads")
        except Exception:
            pass
    return pools


def _worker(name: str, model: str, data_path: str, batch_size: int, seed: int,
            steps: int | None) -> int:
    """Serve one implementation: build it, then obey 'epoch' / 'eval' / 'quit' lines on stdin.

    Replies are JSON lines on a private copy of the original stdout; fd 1 itself is pointed at
    stderr so that anything a library prints cannot corrupt the protocol.
    """
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    with proto:
        return _serve(proto, name, model, data_path, batch_size, seed, steps)


def _serve(proto, name: str, model: str, data_path: str, batch_size: int, seed: int,
           steps: int | None) -> int:
    import resource

    def send(**msg):
        proto.write(json.dumps(msg) + "\n")

    try:
        module = importlib.import_module(f"peers.{REGISTRY[name]}")
        from peers.common import limit_steps, load_staged

        data = limit_steps(load_staged(data_path), steps, batch_size)
        data_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        runner = module.build(data, batch_size, seed, model)
        setup_s = time.perf_counter() - t0
    except Unavailable as exc:
        send(status="skipped", reason=str(exc))
        return 0
    except Exception as exc:  # a broken peer is reported, not allowed to stop the others
        traceback.print_exc()
        send(status="error", reason=f"{type(exc).__name__}: {exc}")
        return 1
    chainrule = sys.modules.get("chainrule")
    send(status="ready", info=runner.info, setup_s=setup_s, data_rss_mb=data_rss,
         train_rows=len(data.x_train), thread_pools=_thread_pools(),
         chainrule_from=os.path.dirname(chainrule.__file__) if chainrule else None)

    while True:
        cmd = sys.stdin.readline().strip()  # '' at EOF: the parent went away
        try:
            if cmd == "epoch":
                send(**_timed_epoch(runner))
            elif cmd == "eval":
                send(accuracy=runner.evaluate())
            else:  # "quit" or EOF
                break
        except Exception as exc:
            traceback.print_exc()
            send(error=f"{type(exc).__name__}: {exc}")
            return 1
    return 0


# --------------------------------------------------------------------------- parent side

# What each epoch reply carries, kept per epoch in the result (and the JSON).
EPOCH_FIELDS = ("seconds", "loss", "other_load", "start_unix", "cpu_s", "ctx_voluntary",
                "ctx_involuntary")


class Worker:
    """Parent's handle on one implementation's subprocess."""

    def __init__(self, name: str, model: str, data_path: str, batch_size: int, seed: int,
                 steps: int | None, env: dict):
        self.name = name
        self.result = {"name": name, "model": model, "status": "starting", "epochs": []}
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--model", model,
               "--data-file", data_path, "--batch-size", str(batch_size), "--seed", str(seed)]
        if steps:
            cmd += ["--steps", str(steps)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1, env=env)

    def ask(self, cmd: str | None) -> dict:
        """Send a command (None: just read) and return the worker's JSON reply."""
        if cmd is not None:
            self.proc.stdin.write(cmd + "\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            return {"error": "worker exited unexpectedly (see its stderr above)"}
        return json.loads(line)

    def alive(self) -> bool:
        return self.result["status"] == "ready"

    def fail(self, reason: str) -> None:
        self.result["status"] = "error"
        self.result["reason"] = reason

    def finish(self) -> None:
        """Tell the worker to quit, reap it, and record its peak RSS from the kernel."""
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        self.proc.stdout.read()
        self.proc.stdout.close()
        # wait4 returns this child's own rusage: its peak RSS alone, in KiB on Linux.
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.result["peak_rss_mb"] = usage.ru_maxrss / 1024


def _timed_indices(r: dict, max_other_load: float) -> tuple[list[int], list[int]]:
    """(timed, clean): the epochs (0-based) that count -- all but the first when there are
    several -- and those of them during which other processes stayed under the limit."""
    secs, loads = r["epoch_seconds"], r["other_load"]
    timed = list(range(1, len(secs))) if len(secs) > 1 else list(range(len(secs)))
    clean = [i for i in timed if loads[i] is None or loads[i] <= max_other_load]
    return timed, clean


def _spread(values: list[float]) -> dict:
    """Median, min, max and quartiles of a non-empty list."""
    q1, _, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "q1": q1, "q3": q3, "n": len(values)}


def _summarise(r: dict, max_other_load: float) -> None:
    """Median, min, max and quartiles over the timed epochs (all but epoch 1 when there are
    several).

    Epochs during which other processes used more than ``max_other_load`` of the machine are
    left out when at least one clean epoch remains: on 2 shared cores one busy neighbour can
    stretch a BLAS-bound epoch tenfold, which says nothing about the code.
    """
    for field in EPOCH_FIELDS:  # the per-epoch lists, as the report and the tests read them
        key = {"seconds": "epoch_seconds", "loss": "losses"}.get(field, field)
        r[key] = [e.get(field) for e in r["epochs"]]
    secs, loads = r["epoch_seconds"], r["other_load"]
    r["final_loss"] = r["losses"][-1] if r["losses"] else None
    r["epochs_done"] = len(secs)
    timed, clean = _timed_indices(r, max_other_load)
    if not timed:
        return
    used = clean or timed
    r["first_epoch_s"] = secs[0]
    r["warmup_excluded"] = len(secs) > 1
    r["timed_epochs"] = [i + 1 for i in used]
    r["all_epochs_contended"] = not clean
    spread = _spread([secs[i] for i in used])
    r["seconds_stats"] = spread
    r["median_s"], r["min_s"], r["max_s"] = spread["median"], spread["min"], spread["max"]
    known = [loads[i] for i in used if loads[i] is not None]
    r["other_load_mean"] = statistics.fmean(known) if known else None


def paired_ratios(r: dict, ref: dict, max_other_load: float) -> dict | None:
    """r's epoch time over ref's, round by round (epoch i of both ran in the same round, one
    right after the other), over the timed rounds in which both epochs were clean (all timed
    rounds if there is none). Median, min, max and quartiles of those ratios, or None."""
    if ref is None or not ref.get("epoch_seconds") or not r.get("epoch_seconds"):
        return None
    rounds = min(len(r["epoch_seconds"]), len(ref["epoch_seconds"]))
    timed_r, clean_r = _timed_indices(r, max_other_load)
    timed_ref, clean_ref = _timed_indices(ref, max_other_load)
    pairs = [i for i in clean_r if i in clean_ref and i < rounds]
    contended = not pairs
    if contended:
        pairs = [i for i in timed_r if i in timed_ref and i < rounds]
    if not pairs:
        return None
    ratios = [r["epoch_seconds"][i] / ref["epoch_seconds"][i] for i in pairs]
    return {**_spread(ratios), "rounds": [i + 1 for i in pairs], "all_contended": contended,
            "per_round": ratios}


def run(names: list[str], model: str, data_path: str, epochs: int, batch_size: int, seed: int,
        max_other_load: float, settle: float = 0.0, steps: int | None = None,
        env: dict | None = None) -> list[Worker]:
    workers = []
    for name in names:  # one at a time, so setup times are not inflated by each other
        w = Worker(name, model, data_path, batch_size, seed, steps, env or dict(os.environ))
        msg = w.ask(None)
        if "error" in msg:
            msg = {"status": "error", "reason": msg["error"]}
        w.result.update(msg)
        state = w.result["status"]
        detail = w.result.get("info") if state == "ready" else w.result.get("reason")
        print(f"  {model:<6} {name:<20} {state}: {detail}", file=sys.stderr, flush=True)
        if state != "ready":
            w.finish()
        workers.append(w)

    live = [w for w in workers if w.alive()]
    for epoch in range(epochs):
        # Rotate the order each epoch so no entry always runs right after the same neighbour.
        k = epoch % len(live) if live else 0
        for w in live[k:] + live[:k]:
            if not w.alive():
                continue
            # The previous worker's BLAS threads keep spinning for a while after its last
            # call (OpenBLAS: ~0.1 s); let them go quiet so they do not slow this epoch.
            time.sleep(settle)
            msg = w.ask("epoch")
            if "error" in msg:
                w.fail(msg["error"])
                continue
            w.result["epochs"].append({k: msg.get(k) for k in EPOCH_FIELDS})
            loss = "-" if msg["loss"] is None else f"{msg['loss']:.4f}"
            print(f"  epoch {epoch + 1}/{epochs} {model:<6} {w.name:<20} {msg['seconds']:7.3f} s"
                  f"  loss {loss}  other load {_fmt(msg['other_load'], '.0%')}",
                  file=sys.stderr, flush=True)

    for w in live:
        if w.alive():
            msg = w.ask("eval")
            if "error" in msg:
                w.fail(msg["error"])
            else:
                w.result["test_accuracy"] = msg["accuracy"]
        w.finish()
    for w in workers:
        _summarise(w.result, max_other_load)
    return workers


def cpu_model() -> str:
    """What lscpu calls the CPU, or /proc/cpuinfo's model name, or platform's guess."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _fmt(v, spec: str) -> str:
    """Format a number, or a right-aligned '-' of the same width when there is none."""
    if v is None:
        return "-".rjust(int(spec.split(".")[0] or 0))
    return format(v, spec)


def _fmt_ratio(s: dict | None) -> str:
    """'0.64 (0.60-0.70)': median and range of paired ratios; '*' if no round was clean."""
    if not s:
        return "-".rjust(17)
    flag = "*" if s["all_contended"] else ""
    return f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f}){flag}".rjust(17)


def report(results: list[dict], epochs: int, max_other_load: float) -> str:
    """The comparison table, one row per implementation, plus the notes needed to read it.

    Adds ``ratio_vs_<baseline>`` and ``ratio_vs_<reference>`` (paired, see
    :func:`paired_ratios`) to every ready result, and ``ratio_vs_numpy`` as the median of the
    first for callers of the older layout.
    """
    by_name = {r["name"]: r for r in results if r["status"] == "ready"}
    base, ref = by_name.get(BASELINE), by_name.get(REFERENCE)
    head = (f"{'impl':<20} {'median s/ep':>11} {'min':>7} {'max':>7} {'epoch 1 s':>9} "
            f"{'x ' + BASELINE + ' (range)':>17} {'x ' + REFERENCE + ' (range)':>17} "
            f"{'final loss':>10} {'test acc':>8} {'peak RSS MB':>11} {'timed':>5} {'other':>5}"
            f"  info")
    lines = [head, "-" * len(head)]
    for r in results:
        if r["status"] != "ready":
            lines.append(f"{r['name']:<20} {r['status']}: {r.get('reason', '')}")
            continue
        vs_base = paired_ratios(r, base, max_other_load)
        vs_ref = paired_ratios(r, ref, max_other_load)
        r[f"ratio_vs_{BASELINE}_paired"] = vs_base
        r[f"ratio_vs_{REFERENCE}_paired"] = vs_ref
        r["ratio_vs_numpy"] = vs_base["median"] if vs_base else None
        timed = len(r.get("timed_epochs", []))
        flag = "!" if r.get("all_epochs_contended") else " "
        lines.append(
            f"{r['name']:<20} {_fmt(r.get('median_s'), '11.3f')} {_fmt(r.get('min_s'), '7.3f')} "
            f"{_fmt(r.get('max_s'), '7.3f')} {_fmt(r.get('first_epoch_s'), '9.3f')} "
            f"{_fmt_ratio(vs_base)} {_fmt_ratio(vs_ref)} "
            f"{_fmt(r.get('final_loss'), '10.4f')} {_fmt(r.get('test_accuracy'), '8.4f')} "
            f"{_fmt(r.get('peak_rss_mb'), '11.0f')} {timed:>4}{flag} "
            f"{_fmt(r.get('other_load_mean'), '5.0%')}  {r.get('info', '')}")
    notes = []
    if epochs > 1:
        notes.append(f"median/min/max: epochs 2..{epochs}; epoch 1 is warm-up (JIT "
                     "compilation, first touch) and shown apart.")
    else:
        notes.append("one epoch only: the statistics include the warm-up (JIT compilation "
                     "etc.).")
    notes += [
        (f"timed = epochs behind median/min/max: those during which other processes used at "
         f"most {max_other_load:.0%} of the CPUs ('!' = none did, all were used; distrust the "
         f"row)."),
        "other = mean CPU share taken by other processes during those epochs.",
        (f"x {BASELINE} / x {REFERENCE} = this entry's epoch time over theirs in the same round "
         f"(epoch i of both, run back to back), over the timed rounds where both epochs were "
         f"clean: median (min-max); '*' = no such round, all timed rounds used."),
        "final loss = last epoch's mean training loss, as Keras reports it.",
        ("peak RSS = the worker process's maximum resident set: interpreter, library and the "
         "data set (~220 MB float32 plus the uint8 arrays it is made from)."),
    ]
    return "\n".join(lines + [""] + notes)


def steadiness_across_processes(runs: list[list[dict]]) -> dict:
    """Per entry, how its epoch times vary across fresh processes: each process's median
    (over its timed epochs), the slowest process's median over the fastest's, and the
    slowest timed epoch over the fastest of all processes pooled. A process stuck in a slow
    mode shows as a large first ratio; a process that switches mode mid-run, in the second.
    ``runs`` holds one list of worker results per process; :func:`report` has summarised them.
    """
    out = {}
    for results in runs:
        for r in results:
            if r["status"] != "ready" or not r.get("timed_epochs"):
                continue
            secs = [r["epoch_seconds"][i - 1] for i in r["timed_epochs"]]  # 1-based
            entry = out.setdefault(r["name"], {"process_medians": [], "epochs": []})
            entry["process_medians"].append(statistics.median(secs))
            entry["epochs"] += secs
    for entry in out.values():
        medians, epochs = entry["process_medians"], entry["epochs"]
        entry["process_max_over_min"] = max(medians) / min(medians)
        entry["epoch_max_over_min"] = max(epochs) / min(epochs)
    return out


def steadiness_report(steadiness: dict) -> str:
    head = (f"{'impl':<20} {'processes':>9} {'medians s/ep (min-max)':>24} "
            f"{'max/min medians':>15} {'max/min epochs':>14}")
    lines = [head, "-" * len(head)]
    for name, e in steadiness.items():
        m = e["process_medians"]
        lines.append(f"{name:<20} {len(m):>9} {statistics.median(m):>10.3f} "
                     f"({min(m):.3f}-{max(m):.3f}) {e['process_max_over_min']:>15.2f} "
                     f"{e['epoch_max_over_min']:>14.2f}")
    lines += ["", "max/min medians = the slowest process's median epoch over the fastest's "
              "(a process in a slow mode raises it); max/min epochs = the slowest timed "
              "epoch of any process over the fastest."]
    return "\n".join(lines)


def worker_env(threads: int | None) -> dict:
    """The workers' environment: this one, with the thread-pool sizes set when asked."""
    env = dict(os.environ)
    if threads:
        env.update({v: str(threads) for v in THREAD_VARIABLES})
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=3, help="epochs per implementation (3)")
    ap.add_argument("--only", default="",
                    help=f"comma-separated subset of: {', '.join(REGISTRY)}")
    ap.add_argument("--model", default="both", choices=[*MODELS, *MODEL_GROUPS],
                    help="which network to train: one by name, both (book and second, the "
                         "default), held-out (third and fourth) or all")
    ap.add_argument("--dataset", default="fashion_mnist", choices=DATASETS,
                    help="training data (fashion_mnist: no always-zero pixels to skip)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="override the model's batch size (book 128, second 64)")
    ap.add_argument("--steps", type=int, default=None, metavar="N",
                    help="train on the first N batches only (quick checks; default: all)")
    ap.add_argument("--threads", type=int, default=None, metavar="N",
                    help=f"set {', '.join(THREAD_VARIABLES)} to N in every worker "
                         "(default: leave each library its own choice)")
    ap.add_argument("--seed", type=int, default=0, help="seed for init and shuffling (0)")
    ap.add_argument("--max-other-load", type=float, default=0.10, metavar="FRACTION",
                    help="leave out the epochs during which other processes used more than "
                         "this share of the CPUs, if any clean epoch remains (0.10)")
    ap.add_argument("--settle", type=float, default=0.3, metavar="SECONDS",
                    help="pause before each timed epoch, so the previous worker's thread "
                         "pools stop spinning (0.3)")
    ap.add_argument("--processes", type=int, default=1, metavar="N",
                    help="run every entry in N fresh processes, one after another, and report "
                         "how steady each is across them (1)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--data-file", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        return _worker(args.worker, args.model, args.data_file, args.batch_size, args.seed,
                       args.steps)

    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        ap.error(f"unknown implementation(s) {unknown}; known: {', '.join(REGISTRY)}")
    if args.epochs < 1:
        ap.error("--epochs must be at least 1")
    if args.steps is not None and args.steps < 1:
        ap.error("--steps must be at least 1")
    if args.processes < 1:
        ap.error("--processes must be at least 1")
    if args.threads is not None and args.threads < 1:
        ap.error("--threads must be at least 1")
    models = list(MODEL_GROUPS.get(args.model, (args.model,)))

    machine = {"cpu": cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version(),
               "platform": platform.platform()}
    threads = f"{args.threads} threads per pool" if args.threads else "default thread pools"
    print(f"bench_mlp: {', '.join(models)} on {args.dataset}, {args.epochs} epoch(s)"
          f"{f', {args.steps} steps each' if args.steps else ''}, {threads}, "
          f"{machine['cpus']} CPUs ({machine['cpu']})", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    staging = tempfile.mkdtemp(prefix="bench_mlp-")
    blocks = []
    try:
        data_path = os.path.join(staging, "data.npz")
        rows = args.steps * max(args.batch_size or MODELS[m].batch_size for m in models) \
            if args.steps else None
        source, synthetic = _stage(data_path, args.dataset, args.seed, rows)
        for model in models:
            spec = MODELS[model]
            batch = args.batch_size or spec.batch_size
            for process in range(1, args.processes + 1):
                t_model = time.perf_counter()
                workers = run(names, model, data_path, args.epochs, batch, args.seed,
                              args.max_other_load, args.settle, args.steps,
                              worker_env(args.threads))
                blocks.append({"model": model, "description": spec.describe(),
                               "batch_size": batch, "process": process,
                               "wall_s": time.perf_counter() - t_model,
                               "results": [w.result for w in workers]})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    wall = time.perf_counter() - t0

    if synthetic:
        print(f"NOTE: {source}: timings are valid, loss/accuracy are meaningless (random data).")
    for block in blocks:
        rows = next((r.get("train_rows") for r in block["results"] if r.get("train_rows")), None)
        origin = sorted({r["chainrule_from"] for r in block["results"] if r.get("chainrule_from")})
        of = f" (processes {block['process']}/{args.processes})" if args.processes > 1 else ""
        print(f"\nmodel {block['model']}{of}: {block['description']}\n"
              f"data: {source}{f', first {rows} training rows' if args.steps else ''}; "
              f"{machine['cpus']} CPUs, {machine['cpu']}; {threads}; {args.epochs} epoch(s); "
              f"wall {block['wall_s']:.0f} s"
              f"{''.join(f'; chainrule from {p}' for p in origin)}\n")
        print(report(block["results"], args.epochs, args.max_other_load), flush=True)
    steadiness = {}
    if args.processes > 1:
        for model in models:
            steadiness[model] = steadiness_across_processes(
                [b["results"] for b in blocks if b["model"] == model])
            print(f"\nmodel {model}: steadiness over {args.processes} fresh processes\n")
            print(steadiness_report(steadiness[model]), flush=True)
    print(f"\ntotal wall {wall:.0f} s")

    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "dataset": args.dataset, "data": source,
                       "synthetic": synthetic, "epochs": args.epochs, "steps": args.steps,
                       "threads": args.threads, "seed": args.seed, "settle_s": args.settle,
                       "max_other_load": args.max_other_load, "wall_s": wall,
                       "baseline": BASELINE, "reference": REFERENCE, "models": blocks,
                       "processes": args.processes, "steadiness": steadiness},
                      f, indent=2)
    failed = any(r["status"] == "error" for b in blocks for r in b["results"])
    return 1 if failed else 0


def _stage(path: str, dataset: str, seed: int, rows: int | None) -> tuple[str, bool]:
    from peers.common import save_staged
    print(f"  loading {dataset}", file=sys.stderr, flush=True)
    return save_staged(path, dataset, seed, rows)


if __name__ == "__main__":
    sys.exit(main())
