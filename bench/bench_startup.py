#!/usr/bin/env python3
"""Start-up: the time to the first finished batch of the book's network in a new process.

What is timed, for each entry, in a process of its own:

* **from** the moment the harness starts the process (``time.time()`` just before
  ``subprocess.Popen``, so the interpreter's own start-up and every import count: numpy, the
  framework, numba or XLA),
* **to** the return of the first ``on_train_batch_end`` of ``model.fit(x, y, epochs=1,
  batch_size=128)`` for the book's network: ``Sequential([Dense(512, relu), Dense(10,
  softmax)])``, ``compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
  metrics=["accuracy"])``, on 60000 x 784 float32 inputs (MNIST scaled to 0..1 where
  ``$CHAINRULE_DATASETS/mnist.npz`` is found, else synthetic inputs with MNIST's share of
  all-zero pixel columns).

The process then ends at once (``os._exit``). Python's bytecode of chainrule is compiled
beforehand (``compileall``, as ``pip install`` does; a session with
``PYTHONDONTWRITEBYTECODE`` set would otherwise compile every module from source in every
process, half a second here). Its inputs are read from an uncompressed ``.npy``
file the harness wrote beforehand (about 30 ms from the page cache), so the figure is the
framework's, not a decompressor's; the child also reports when numpy, the data, the
framework's import and ``compile`` were done, and the harness reads the process's CPU time
(user + system, all threads) from ``os.wait4``.

Two conditions:

* **cold**: every process gets new, empty cache folders: ``CHAINRULE_HOME`` (chainrule's
  generated kernels, ``~/.chainrule`` by default) and ``NUMBA_CACHE_DIR`` (numba's machine
  code), so every numba function the first batch needs is compiled. (The operating system's
  page cache cannot be dropped without root: the libraries' files are read from memory.)
* **warm**: one process fills a pair of folders first; the timed processes then run on them,
  as a second run of the same script does.

Entries: ``chainrule-jit`` (``compile`` as written: jit_compile="auto", a compiled step),
``chainrule-eager`` (``jit_compile=False``), ``chainrule-native`` (the compiled step with
``CHAINRULE_NATIVE_STEP=1``), and the peers ``keras-jax`` and ``keras-tf`` (Keras 3 on JAX or
TensorFlow, ``jit_compile=True``, their default) and ``torch`` (an eager PyTorch loop with
the same layers, optimizer and loss), each reported as "not installed" where its library
cannot be imported by this interpreter. The peers keep no compilation cache on disk (JAX
and TensorFlow can be configured to; they are not), so their cold and warm runs differ
only in what the operating system already holds.

``chainrule-jit@PATH`` (any chainrule entry, ``@`` a checkout's root) runs the chainrule of
another checkout, e.g. the commit before a change. The entries take turns: the cold and warm
processes of every entry, then the next round.

Usage (from the repository root):

    python bench/bench_startup.py                      # every entry, 5 processes each
    python bench/bench_startup.py --runs 3 --only chainrule-jit,chainrule-eager --json s.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)

# name -> (library that must be importable, environment for the child, child mode)
ENTRIES = {
    "chainrule-jit": ("chainrule", {"CHAINRULE_NATIVE_STEP": "0"}, "chainrule-jit"),
    "chainrule-eager": ("chainrule", {"CHAINRULE_NATIVE_STEP": "0"}, "chainrule-eager"),
    "chainrule-native": ("chainrule", {"CHAINRULE_NATIVE_STEP": "1"}, "chainrule-jit"),
    "keras-jax": ("jax", {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}, "keras"),
    "keras-tf": ("tensorflow", {"KERAS_BACKEND": "tensorflow"}, "keras"),
    "torch": ("torch", {}, "torch"),
}
DEFAULT_ENTRIES = ("chainrule-jit", "chainrule-eager", "keras-jax", "keras-tf", "torch")
MARKS = ("numpy", "data", "import", "compile", "first_batch")
ROWS = 60000


# --------------------------------------------------------------------------- the child

CHILD = r'''
import os, sys, time
T0, MODE, DATA = float(sys.argv[1]), sys.argv[2], sys.argv[3]
marks = {}
def mark(name):
    marks[name] = time.time() - T0
import numpy as np
mark("numpy")
x = np.load(os.path.join(DATA, "x.npy"))
y = np.load(os.path.join(DATA, "y.npy"))
mark("data")
def report():
    mark("first_batch")
    sys.stdout.write("STARTUP " + " ".join(f"{k}={v:.6f}" for k, v in marks.items()) + "\n")
    sys.stdout.flush()
    os._exit(0)
if MODE == "torch":
    import torch
    mark("import")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(),
                                torch.nn.Linear(512, 10))  # softmax: in the loss
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    mark("compile")
    for start in range(0, len(xt), 128):
        xb, yb = xt[start:start + 128], yt[start:start + 128]
        opt.zero_grad()
        logits = model(xb)
        loss = loss_fn(logits, yb)
        loss.backward()
        opt.step()
        accuracy = (logits.argmax(1) == yb).float().mean().item()  # the metric, as fit's
        report()
if MODE == "keras":
    import keras
    from keras import layers
else:
    from chainrule import keras
    from chainrule.keras import layers
mark("import")
model = keras.Sequential([layers.Dense(512, activation="relu"),
                          layers.Dense(10, activation="softmax")])
options = {"jit_compile": False} if MODE == "chainrule-eager" else {}
model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
              metrics=["accuracy"], **options)
mark("compile")
class FirstBatch(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        report()
model.fit(x, y, epochs=1, batch_size=128, verbose=0, callbacks=[FirstBatch()])
raise SystemExit("fit ended without a finished batch")
'''


def _write_data(folder: str) -> str:
    """x.npy (60000 x 784 float32 in 0..1) and y.npy (int64 labels) in ``folder``; returns
    where the inputs came from."""
    import numpy as np
    path = os.path.join(os.environ.get("CHAINRULE_DATASETS", ""), "mnist.npz")
    if os.path.isfile(path):
        with np.load(path) as f:
            x = (f["x_train"].reshape(len(f["x_train"]), -1) / np.float32(255)).astype("float32")
            y = f["y_train"].astype("int64")
        source = "MNIST"
    else:  # MNIST's shape, and about its share of pixel columns that are zero in a batch
        rng = np.random.default_rng(0)
        x = rng.random((ROWS, 784), dtype=np.float32)
        x[:, rng.random(784) < 0.3] = 0
        x[x < 0.8] = 0
        y = rng.integers(0, 10, ROWS).astype("int64")
        source = "synthetic"
    np.save(os.path.join(folder, "x.npy"), x)
    np.save(os.path.join(folder, "y.npy"), y)
    return source


def compile_bytecode(checkout=REPO_ROOT) -> bool:
    """Writes a checkout's ``.pyc`` files (``compileall``); False where it cannot."""
    import compileall
    try:
        return bool(compileall.compile_dir(os.path.join(checkout, "chainrule"), quiet=2))
    except OSError:
        return False


def run_once(entry: str, data: str, cache: str, timeout: float = 600.0) -> dict:
    """One new process for ``entry`` with its caches in ``cache``: its marks, in seconds
    from the start of the process."""
    name, _, checkout = entry.partition("@")
    _, env_extra, mode = ENTRIES[name]
    env = dict(os.environ)
    env.update(env_extra)
    env["CHAINRULE_HOME"] = os.path.join(cache, "chainrule")
    env["NUMBA_CACHE_DIR"] = os.path.join(cache, "numba")
    env["PYTHONPATH"] = (checkout or REPO_ROOT) + (os.pathsep + env["PYTHONPATH"]
                                                   if env.get("PYTHONPATH") else "")
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, repr(t0), mode, data],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=data, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError(f"{entry}: no first batch within {timeout:.0f} s") from None
    line = next((ln for ln in out.splitlines() if ln.startswith("STARTUP ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"{entry}: the process failed (exit {proc.returncode}):\n"
                           f"{err[-3000:]}")
    marks = dict((k, float(v)) for k, v in (kv.split("=") for kv in line.split()[1:]))
    return {"marks": marks}


def _run_timed(entry, data, cache, timeout):
    """:func:`run_once`, with the process's CPU seconds: the growth of the reaped children's
    total (one child at a time)."""
    before = os.times()
    result = run_once(entry, data, cache, timeout)
    after = os.times()
    result["cpu_s"] = (after.children_user - before.children_user) + \
        (after.children_system - before.children_system)
    return result


def available(entry: str) -> str | None:
    """None when ``entry`` can run here, else why not."""
    name, _, checkout = entry.partition("@")
    if checkout:
        return None if os.path.isdir(os.path.join(checkout, "chainrule")) else \
            f"no chainrule checkout at {checkout}"
    library = ENTRIES[name][0]
    if importlib.util.find_spec(library) is None:
        return f"not installed (no module named {library!r})"
    if name.startswith("keras-") and importlib.util.find_spec("keras") is None:
        return "not installed (no module named 'keras')"
    return None


def _stats(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def measure(entries, runs: int, data: str, scratch: str, timeout: float = 600.0) -> dict:
    """For each entry, ``runs`` cold processes (each with new caches) and ``runs`` warm ones
    (on caches one more process filled first). The entries take turns, process by process,
    so that a change in the machine's load falls on all of them alike."""
    samples = {entry: {"cold": [], "warm": []} for entry in entries}
    warm_cache = {}
    for entry in entries:  # fills the caches of the warm runs; not counted
        warm_cache[entry] = tempfile.mkdtemp(prefix="warm-", dir=scratch)
        _run_timed(entry, data, warm_cache[entry], timeout)
    for _ in range(runs):
        for entry in entries:
            cold = tempfile.mkdtemp(prefix="cold-", dir=scratch)
            samples[entry]["cold"].append(_run_timed(entry, data, cold, timeout))
            samples[entry]["warm"].append(_run_timed(entry, data, warm_cache[entry], timeout))
    results = {}
    for entry in entries:
        results[entry] = {}
        for condition, taken in samples[entry].items():
            results[entry][condition] = {
                "first_batch_s": _stats([s["marks"]["first_batch"] for s in taken]),
                "cpu_s": _stats([s["cpu_s"] for s in taken]),
                "marks_median": {k: statistics.median(s["marks"][k] for s in taken)
                                 for k in MARKS},
            }
    return results


def _load():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def table(results: dict) -> str:
    lines = ["| entry | cold: first batch s | warm: first batch s | warm: import done s | "
             "warm: fit to first batch s | cold CPU s | warm CPU s |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        if "skipped" in r:
            lines.append(f"| {name} | {r['skipped']} | | | | | |")
            continue

        def fmt(s):
            return f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})"
        warm = r["warm"]["marks_median"]
        lines.append(f"| {name} | {fmt(r['cold']['first_batch_s'])} | "
                     f"{fmt(r['warm']['first_batch_s'])} | {warm['import']:.2f} | "
                     f"{warm['first_batch'] - warm['compile']:.2f} | "
                     f"{r['cold']['cpu_s']['median']:.2f} | {r['warm']['cpu_s']['median']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="processes per entry and condition")
    parser.add_argument("--only", default=",".join(DEFAULT_ENTRIES),
                        help=f"comma-separated entries among {', '.join(ENTRIES)}")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per process")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n.partition("@")[0] not in ENTRIES]
    if unknown:
        parser.error(f"unknown entries {unknown}; known: {', '.join(ENTRIES)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    results = {}
    scratch = tempfile.mkdtemp(prefix="chainrule-startup-")
    try:
        source = _write_data(scratch)
        bytecode = compile_bytecode()
        load_before = _load()
        runnable = []
        for name in names:
            why = available(name)
            if why is None:
                runnable.append(name)
                checkout = name.partition("@")[2]
                if checkout:
                    compile_bytecode(checkout)
            else:
                results[name] = {"skipped": why}
                print(f"{name}: skipped, {why}", flush=True)
        measured = measure(runnable, args.runs, scratch, scratch, args.timeout)
        results = {name: results.get(name) or measured[name] for name in names}
        report = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                  "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
                             f"Python {platform.python_version()}",
                  "load_average": [load_before, _load()], "data": source, "runs": args.runs,
                  "bytecode_compiled": bytecode,
                  "results": results}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print()
    print(table(results))
    print(f"\n{report['when']}; {report['machine']}; inputs: {source}; load average "
          f"{report['load_average'][0]} -> {report['load_average'][1]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == "__main__":
    main()
