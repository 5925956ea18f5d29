"""The package's import graph, imports inside functions included: it has no circle, and every
import points down the layer order below (a module may import its own part and the parts
below it, never one above)."""

import ast
import pathlib
import textwrap

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "chainrule"

# Bottom to top; each entry is a set of parts that may import one another and everything in
# earlier entries. A part is a module or package under chainrule ("graph" for chainrule.graph);
# a module belongs to the longest part that names it, so "graph.graph", the Graph data
# structure, sits below the rest of "graph".
LAYERS = [
    {"backend", "dtypes", "config", "recording", "nest", "version"},
    {"tensor"},
    {"primitives"},
    {"variable"},
    {"errors"},
    {"ops"},
    {"random", "math", "nn", "linalg"},
    {"autodiff", "module", "control_flow", "train", "py_function"},
    {"debug", "testing"},
    {"graph.graph"},
    {"graph", "graph.layout"},
    {"autograph"},
    {"compiler"},
    {"distribute"},
    {"onnx"},
    {"data", "plotting", "types"},
    # keras, lowest first: the name-resolved families, layers, saving, callbacks, the
    # trainer and its helpers, models.
    {"keras._registry", "keras.untrusted", "keras.activations", "keras.initializers",
     "keras.regularizers", "keras.constraints", "keras.ops", "keras.random",
     "keras.losses", "keras.metrics", "keras.optimizers", "keras.utils.npy",
     "keras.utils.progbar", "keras.utils.sequence", "keras.utils.batching",
     "keras.utils.py_dataset", "keras.utils.dataset_utils",
     "keras.utils.data_adapter", "keras.datasets"},
    {"keras.layers", "keras.utils"},
    {"keras.saving", "keras.weights_h5", "keras.keras_files", "keras.backend"},
    {"keras.callbacks"},
    {"keras.diagnostics", "keras.distribute"},
    {"keras.trainers"},
    {"keras.models"},
    {"keras"},
    {"launch"},
    {"__init__"},
    {"examples"},  # scripts a user runs: they import chainrule as a user does
]


def modules(root):
    """Module name -> file, for every .py file under ``root`` (a package is its __init__)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_edges(root):
    """Module -> the package modules that importing it runs: those it imports anywhere in the
    file (functions included) and the packages above them."""
    mods = modules(root)
    edges = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    stem = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(stem + ([base] if base else []))
                names = [f"{base}.{alias.name}" for alias in node.names]
                names = [n if n in mods else base for n in names]
            else:
                continue
            for target in names:
                while target not in mods and "." in target:
                    target = target.rpartition(".")[0]
                # Importing a.b.c runs a/__init__ and a/b/__init__ first, unless they are
                # the importer's own packages (already running).
                while target in mods and target != name and not name.startswith(target + "."):
                    targets.add(target)
                    target = target.rpartition(".")[0]
        edges[name] = targets
    return edges


def circles(edges):
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter[0]; counter[0] += 1
        stack.append(start); on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]; counter[0] += 1
                    stack.append(child); on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop(); on_stack.discard(member); component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def part_of(module, parts):
    """The longest of ``parts`` that names ``module`` or a package above it."""
    names = module.split(".")[1:]
    for n in range(len(names), 0, -1):
        if ".".join(names[:n]) in parts:
            return ".".join(names[:n])
    return "__init__"


def upward_imports(edges, layers):
    """Imports that point from a part to a part above it, as 'importer -> imported' lines."""
    rank = {part: level for level, group in enumerate(layers) for part in group}
    return [f"{importer} -> {imported}" for importer, targets in sorted(edges.items())
            for imported in sorted(targets)
            if rank[part_of(imported, rank)] > rank[part_of(importer, rank)]]


EDGES = import_edges(PACKAGE)


def test_every_part_has_a_place_in_the_layers():
    top_level = {module.split(".")[1] for module in EDGES if "." in module}
    assert top_level <= set().union(*LAYERS), "add the new part to LAYERS"


def test_the_package_has_no_import_circle():
    assert circles(EDGES) == []


def test_every_import_points_down():
    assert upward_imports(EDGES, LAYERS) == []


def test_the_checks_catch_an_upward_import_and_a_circle(tmp_path):
    """A small package with one import inside a function that points up, closing a circle."""
    root = tmp_path / "toy"
    (root / "low").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "low" / "__init__.py").write_text("from . import core\n")
    (root / "low" / "core.py").write_text(textwrap.dedent("""
        def late():
            from ..high import top  # hidden in a function, still an import
            return top
        """))
    (root / "high.py").write_text("from .low import core\n")
    edges = import_edges(root)
    assert edges["toy.low.core"] == {"toy.high"}
    assert circles(edges) == [["toy.high", "toy.low", "toy.low.core"]]  # low/__init__ runs too
    assert upward_imports(edges, [{"low"}, {"high"}, {"__init__"}]) == ["toy.low.core -> toy.high"]
    assert upward_imports(edges, [{"high"}, {"low"}, {"__init__"}]) == [
        "toy.high -> toy.low", "toy.high -> toy.low.core"]


def test_no_import_is_held_back_to_dodge_module_order():
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if "noqa: E402" in p.read_text()]
    assert offenders == []
