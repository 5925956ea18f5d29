#!/usr/bin/env python3
"""Train the book's MNIST model with several implementations side by side and compare them.

Each implementation runs in its own fresh subprocess (a "worker") so that its peak resident
memory can be read from the kernel's accounting for that one process (``os.wait4``'s rusage,
the per-child form of ``getrusage(RUSAGE_CHILDREN)``), and so that one library's threads or
allocator state cannot affect another's numbers. The workers start one at a time and then stay
alive; epochs are interleaved -- epoch 1 of every implementation, then epoch 2 of every one,
in a rotating order -- and only one worker computes at any moment (the others block reading
their next command), so slow drifts of the shared machine hit all entries alike.

Usage (from the repository root):

    python bench/bench_mlp.py                         # all registered entries, 3 epochs
    python bench/bench_mlp.py --epochs 5 --only numpy,torch --json out/bench.json

The median and minimum s/epoch leave out epoch 1 as warm-up (JIT compilation, first-touch
page faults, thread-pool start) whenever more than one epoch runs; epoch 1 is reported apart.
Each epoch also records how much CPU *other* processes used meanwhile (from /proc/stat);
epochs above ``--max-other-load`` are left out of median/min when a clean one remains, because
on a small shared machine one busy neighbour can stretch a BLAS-bound epoch many times over.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
# peers/ is importable as a package from here; the checkout's chainrule wins over any other.
for _p in (REPO_ROOT, HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from peers import BASELINE, REGISTRY  # noqa: E402
from peers.common import Unavailable  # noqa: E402


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
    epoch's time is suspect: the box was shared.
    """
    busy0, own0 = _machine_busy_s(), os.times()
    t0 = time.perf_counter()
    loss = runner.train_epoch()
    wall = time.perf_counter() - t0
    busy1, own1 = _machine_busy_s(), os.times()
    other = None
    if busy0 is not None:
        own = (own1.user - own0.user) + (own1.system - own0.system)
        other = max(0.0, (busy1 - busy0 - own) / (wall * (os.cpu_count() or 1)))
    return {"seconds": wall, "loss": loss, "other_load": other}


def _worker(name: str, batch_size: int, seed: int) -> int:
    """Serve one implementation: build it, then obey 'epoch' / 'eval' / 'quit' lines on stdin.

    Replies are JSON lines on a private copy of the original stdout; fd 1 itself is pointed at
    stderr so that anything a library prints cannot corrupt the protocol.
    """
    import resource

    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def send(**msg):
        proto.write(json.dumps(msg) + "\n")

    try:
        module = importlib.import_module(f"peers.{REGISTRY[name]}")
        from peers.common import load_mnist

        data = load_mnist(seed)
        data_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        runner = module.build(data, batch_size, seed)
        setup_s = time.perf_counter() - t0
    except Unavailable as exc:
        send(status="skipped", reason=str(exc))
        return 0
    except Exception as exc:  # a broken peer is reported, not allowed to stop the others
        traceback.print_exc()
        send(status="error", reason=f"{type(exc).__name__}: {exc}")
        return 1
    send(status="ready", info=runner.info, setup_s=setup_s, data_rss_mb=data_rss,
         data_source=data.source, synthetic=data.synthetic)

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

class Worker:
    """Parent's handle on one implementation's subprocess."""

    def __init__(self, name: str, batch_size: int, seed: int):
        self.name = name
        self.result = {"name": name, "status": "starting", "epoch_seconds": [], "losses": [],
                       "other_load": []}
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", name,
             "--batch-size", str(batch_size), "--seed", str(seed)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

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
        # wait4 returns this child's own rusage: its peak RSS alone, in KiB on Linux.
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.result["peak_rss_mb"] = usage.ru_maxrss / 1024


def _summarise(r: dict, max_other_load: float) -> None:
    """Median/min over the timed epochs (all but epoch 1 when there are several).

    Epochs during which other processes used more than ``max_other_load`` of the machine are
    left out of median/min when at least one clean epoch remains: on 2 shared cores one busy
    neighbour can stretch a BLAS-bound epoch tenfold, which says nothing about the code.
    """
    secs, loads = r["epoch_seconds"], r["other_load"]
    timed = list(range(1, len(secs))) if len(secs) > 1 else list(range(len(secs)))
    r["final_loss"] = r["losses"][-1] if r["losses"] else None
    r["epochs_done"] = len(secs)
    if not timed:
        return
    clean = [i for i in timed if loads[i] is None or loads[i] <= max_other_load]
    used = clean or timed
    r["first_epoch_s"] = secs[0]
    r["warmup_excluded"] = len(secs) > 1
    r["timed_epochs"] = [i + 1 for i in used]
    r["all_epochs_contended"] = not clean
    r["median_s"] = statistics.median(secs[i] for i in used)
    r["min_s"] = min(secs[i] for i in used)
    known = [loads[i] for i in used if loads[i] is not None]
    r["other_load_mean"] = statistics.fmean(known) if known else None


def run(names: list[str], epochs: int, batch_size: int, seed: int,
        max_other_load: float, settle: float = 0.0) -> list[Worker]:
    workers = []
    for name in names:  # one at a time, so setup times are not inflated by each other
        w = Worker(name, batch_size, seed)
        msg = w.ask(None)
        if "error" in msg:
            msg = {"status": "error", "reason": msg["error"]}
        w.result.update(msg)
        state = w.result["status"]
        detail = w.result.get("info") if state == "ready" else w.result.get("reason")
        print(f"  {name:<20} {state}: {detail}", file=sys.stderr, flush=True)
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
            w.result["epoch_seconds"].append(msg["seconds"])
            w.result["losses"].append(msg["loss"])
            w.result["other_load"].append(msg["other_load"])
            loss = "-" if msg["loss"] is None else f"{msg['loss']:.4f}"
            print(f"  epoch {epoch + 1}/{epochs} {w.name:<20} {msg['seconds']:7.3f} s  "
                  f"loss {loss}  other load {_fmt(msg['other_load'], '.0%')}",
                  file=sys.stderr, flush=True)

    for w in live:
        if w.alive():
            msg = w.ask("eval")
            if "error" in msg:
                w.fail(msg["error"])
            else:
                w.result["test_accuracy"] = msg["accuracy"]
        w.finish()
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


def report(results: list[dict], epochs: int, max_other_load: float) -> str:
    """The comparison table, one row per implementation, plus the notes needed to read it."""
    base = next((r for r in results if r["name"] == BASELINE and r.get("median_s")), None)
    head = (f"{'impl':<20} {'median s/ep':>11} {'min s/ep':>9} {'epoch 1 s':>9} {'x numpy':>8} "
            f"{'final loss':>10} {'test acc':>8} {'peak RSS MB':>11} {'timed':>5} {'other':>5}"
            f"  info")
    lines = [head, "-" * len(head)]
    for r in results:
        if r["status"] != "ready":
            lines.append(f"{r['name']:<20} {r['status']}: {r.get('reason', '')}")
            continue
        ratio = r["median_s"] / base["median_s"] if base and r.get("median_s") else None
        r["ratio_vs_numpy"] = ratio
        timed = len(r.get("timed_epochs", []))
        flag = "!" if r.get("all_epochs_contended") else " "
        lines.append(
            f"{r['name']:<20} {_fmt(r.get('median_s'), '11.3f')} {_fmt(r.get('min_s'), '9.3f')} "
            f"{_fmt(r.get('first_epoch_s'), '9.3f')} {_fmt(ratio, '8.2f')} "
            f"{_fmt(r.get('final_loss'), '10.4f')} {_fmt(r.get('test_accuracy'), '8.4f')} "
            f"{_fmt(r.get('peak_rss_mb'), '11.0f')} {timed:>4}{flag} "
            f"{_fmt(r.get('other_load_mean'), '5.0%')}  {r.get('info', '')}")
    notes = []
    if epochs > 1:
        notes.append(f"median/min: epochs 2..{epochs}; epoch 1 is warm-up (JIT compilation, "
                     "first touch) and shown apart.")
    else:
        notes.append("one epoch only: median/min include the warm-up (JIT compilation etc.).")
    notes += [
        (f"timed = epochs behind median/min: those during which other processes used at most "
         f"{max_other_load:.0%} of the CPUs ('!' = none did, all were used; distrust the row)."),
        "other = mean CPU share taken by other processes during those epochs.",
        ("x numpy = median / numpy's median. final loss = last epoch's mean training loss, as "
         "Keras reports it."),
        ("peak RSS = the worker process's maximum resident set: interpreter, library and the "
         "data set (~220 MB float32 plus the uint8 arrays it is made from)."),
    ]
    return "\n".join(lines + [""] + notes)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=3, help="epochs per implementation (3)")
    ap.add_argument("--only", default="",
                    help=f"comma-separated subset of: {', '.join(REGISTRY)}")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    ap.add_argument("--batch-size", type=int, default=128, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help="seed for init and shuffling (0)")
    ap.add_argument("--max-other-load", type=float, default=0.10, metavar="FRACTION",
                    help="leave out of median/min the epochs during which other processes used "
                         "more than this share of the CPUs, if any clean epoch remains (0.10)")
    ap.add_argument("--settle", type=float, default=0.3, metavar="SECONDS",
                    help="pause before each timed epoch, so the previous worker's thread "
                         "pools stop spinning (0.3)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        return _worker(args.worker, args.batch_size, args.seed)

    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        ap.error(f"unknown implementation(s) {unknown}; known: {', '.join(REGISTRY)}")
    if args.epochs < 1:
        ap.error("--epochs must be at least 1")

    machine = {"cpu": cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version(),
               "platform": platform.platform()}
    print(f"bench_mlp: {args.epochs} epoch(s), batch {args.batch_size}, "
          f"{machine['cpus']} CPUs ({machine['cpu']})", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    results = [w.result for w in run(names, args.epochs, args.batch_size, args.seed,
                                        args.max_other_load, args.settle)]
    wall = time.perf_counter() - t0

    source = next((r["data_source"] for r in results if "data_source" in r), None)
    if any(r.get("synthetic") for r in results):
        print(f"NOTE: {source}: timings are valid, loss/accuracy are meaningless (random data).")
    print(f"\nbook MLP on {source}; {machine['cpus']} CPUs, {machine['cpu']}; "
          f"{args.epochs} epoch(s); total wall {wall:.0f} s\n")
    print(report(results, args.epochs, args.max_other_load), flush=True)

    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "epochs": args.epochs, "batch_size": args.batch_size,
                       "seed": args.seed, "settle_s": args.settle, "data": source, "wall_s": wall,
                       "baseline": BASELINE, "results": results}, f, indent=2)
    return 1 if any(r["status"] == "error" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
