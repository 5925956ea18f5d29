"""How chainrule.keras is put together: its modules depend one way, every family resolves
names through one kind of registry, and the public names stay where Keras has them."""

import ast
import pathlib

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras import callbacks, initializers, layers, losses, metrics, optimizers

KERAS = pathlib.Path(keras.__file__).parent

# The order, lowest first: a module may import its own part or a lower one, never a higher.
ORDER = [
    {"_registry", "activations", "initializers", "regularizers", "losses", "metrics",
     "optimizers", "utils.npy", "utils.progbar", "utils.sequence", "utils.batching",
     "utils.data_adapter", "datasets"},
    {"layers", "utils"},
    {"saving"},
    {"callbacks"},
    {"diagnostics", "distribute"},
    {"trainers"},
    {"models"},
]


def rank_of(module):
    """The position in ORDER of ``module`` (dotted, relative to chainrule.keras)."""
    for rank, parts in enumerate(ORDER):
        if any(module == p or module.startswith(p + ".") for p in parts):
            return rank
    raise AssertionError(f"chainrule.keras.{module} is not placed in ORDER")


def module_of(path):
    """``path``'s module name relative to chainrule.keras ("" for the package itself)."""
    name = ".".join(path.relative_to(KERAS).with_suffix("").parts)
    return "" if name == "__init__" else name.removesuffix(".__init__")


def keras_imports(path):
    """The chainrule.keras modules that importing ``path`` runs (imports in functions
    included), relative names: each one imported, and the packages above it, whose
    ``__init__`` runs first."""
    package = list(path.relative_to(KERAS).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom) or not 0 < node.level <= len(package) + 1:
            continue  # plain imports and those of chainrule's core: not keras modules
        base = package[:len(package) - node.level + 1]
        targets = [base + node.module.split(".")] if node.module else \
            [base + [alias.name] for alias in node.names]
        for parts in targets:  # (the packages holding ``path`` are already running)
            yield from (".".join(parts[:n]) for n in range(1, len(parts) + 1)
                        if n == len(parts) or parts[:n] != package[:n])


def test_modules_import_one_way():
    wrong = []
    for path in sorted(KERAS.rglob("*.py")):
        module = module_of(path)
        if not module:
            continue  # the package's front door imports everything
        for target in keras_imports(path):
            if rank_of(target) > rank_of(module):
                wrong.append(f"{module} imports {target}, which is above it")
    assert not wrong, "\n".join(wrong)


def test_no_import_circle_not_even_through_a_function():
    graph = {module_of(path): set(keras_imports(path)) for path in KERAS.rglob("*.py")}
    state = {}  # module -> "open" while its imports are being walked, then "done"

    def walk(module, trail):
        if state.get(module) == "open":
            raise AssertionError("import circle: " + " -> ".join(trail[trail.index(module):]))
        if state.get(module) is None:
            state[module] = "open"
            for target in graph.get(module, ()):
                walk(target, trail + [target])
            state[module] = "done"

    for module in graph:
        walk(module, [module])


def test_every_family_resolves_names_through_one_kind_of_registry():
    registries = [layers.REGISTRY, optimizers.REGISTRY, losses.REGISTRY, metrics.REGISTRY,
                  initializers.REGISTRY, keras.activations.REGISTRY, keras.regularizers.REGISTRY]
    assert len({type(r) for r in registries}) == 1
    assert {"Dense", "Sequential", "Functional"} <= set(layers.REGISTRY.classes)
    assert isinstance(optimizers.get({"class_name": "adam", "config": {}}), optimizers.Adam)
    dense = layers.Dense(3, kernel_initializer=initializers.HeNormal(seed=1))
    clone = layers.deserialize(layers.serialize(dense))
    assert isinstance(clone.kernel_initializer, initializers.HeNormal)
    assert clone.get_config() == dense.get_config()
    with pytest.raises(ValueError, match=r"Unknown layer class 'Foo'\. Known: .*Sequential.*"
                                         r"pass custom_objects=\{'Foo': Foo\}"):
        layers.deserialize({"class_name": "Foo", "config": {}})


def test_a_model_inside_a_model_saves_and_loads(tmp_path):
    inner = keras.Sequential([layers.Dense(4, activation="relu")], name="inner")
    model = keras.Sequential([keras.Input(shape=(3,)), inner, layers.Dense(2)])
    model.save(tmp_path / "nested.chainrule")
    loaded = keras.models.load_model(tmp_path / "nested.chainrule")
    assert isinstance(loaded.layers[0], keras.Sequential)
    x = np.random.default_rng(0).random((5, 3), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_public_names_stay_where_keras_has_them():
    from chainrule.keras.callbacks import EarlyStopping, History, ModelCheckpoint  # noqa: F401
    from chainrule.keras.models import Model, Sequential, load_model  # noqa: F401
    from chainrule.keras.trainers import Trainer
    assert keras.Model is Model and keras.models.load_model is keras.saving.load_model
    assert issubclass(Model, Trainer) and issubclass(Model, layers.Layer)
    for name in callbacks.__all__:  # one module per callback, named after it
        module = getattr(callbacks, name).__module__
        assert module.startswith("chainrule.keras.callbacks."), (name, module)
