"""compile(jit_compile=True): compiled steps give eager results (bit for bit here, so the
comparisons are exact), trace once per batch signature, read the step counter and learning
rate live, and fall back to eager, with one warning, when a step cannot be traced."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.primitives import kernels, sparsity
from chainrule.keras import layers, optimizers

from ._helpers import blobs, mnist_subset

try:
    import numba  # noqa: F401
    BACKENDS = ["numpy", "numba"]
except ImportError:
    BACKENDS = ["numpy"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    previous = kernels.use(request.param)
    yield request.param
    kernels.use(previous)


def book_model(hidden=64):
    return keras.Sequential([layers.Dense(hidden, activation="relu"),
                             layers.Dense(10, activation="softmax")])


def run(jit, make=book_model, data=None, epochs=2, batch_size=128, seed=0, **compile_args):
    """Builds, compiles and fits a model from ``seed``; returns what the loops return."""
    (x, y), (x_test, y_test) = data or mnist_subset(1000, 300)  # 1000 / 128: a last batch of 104
    keras.utils.set_random_seed(seed)
    model = make()
    compile_args = {"optimizer": "rmsprop", "loss": "sparse_categorical_crossentropy",
                    "metrics": ["accuracy"], **compile_args}
    model.compile(jit_compile=jit, **compile_args)
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return {"model": model, "history": history.history,
            "weights": [w.numpy() for w in model.weights],
            "evaluate": model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0),
            "predict": model.predict(x_test, batch_size=batch_size, verbose=0)}


def assert_same_run(a, b):
    assert a["history"] == b["history"]
    assert a["evaluate"] == b["evaluate"]
    np.testing.assert_array_equal(a["predict"], b["predict"])
    for wa, wb in zip(a["weights"], b["weights"]):
        np.testing.assert_array_equal(wa, wb)


def traces(model, step="_measured_gradient_step"):
    fn = model._jit._functions.get(step)
    return 0 if fn is None else fn.tracing_count


def test_book_model_compiled_equals_eager(backend):
    eager, jit = run(False), run(True)
    assert_same_run(eager, jit)
    assert eager["model"]._jit is None
    # One trace per batch signature: the full batches and the short last one.
    assert traces(jit["model"]) == 2
    jit["model"].fit(*mnist_subset(1000, 10)[0], epochs=1, batch_size=128, verbose=0)
    assert traces(jit["model"]) == 2
    assert traces(jit["model"], "_measured_test_forward") == 2
    assert traces(jit["model"], "_predict_forward") == 2


def test_the_book_step_is_compiled_by_generic_passes():
    """The book model's step: every element-wise op that has a one-element form runs inside
    a fused loop with its neighbours (the bias adds with relu, the cross-entropy gradient
    with the bias gradient's column sums, relu's gradient with its column sums)."""
    model = run(True, epochs=1)["model"]
    traced = next(iter(model._jit._functions["_measured_gradient_step"]._traces.values()))
    program = traced._compiled.program
    loops = [op.prim for op in program.ops if op.prim.name == "loop"]
    if kernels.backend() != "numba":
        assert not loops  # without numba every op runs its own NumPy kernel
        return
    members = [[op.prim.name for op in loop.members] for loop in loops]
    assert ["add", "relu"] in members and ["relu_grad"] in members
    assert sum(len(loop.sums) for loop in loops) == 2  # both hidden-layer bias gradients
    outside = [op.prim.name for op in program.ops if op.prim.name != "loop"]
    assert not {"relu", "relu_grad", "dense", "subtract"} & set(outside), program.listing()


def test_auto_compiles_the_default_steps():
    model = run("auto", epochs=1)["model"]
    assert traces(model) == 2


def dropout_model():
    return keras.Sequential([layers.Dense(32, activation="relu"), layers.Dropout(0.3),
                             layers.Dense(10, activation="softmax")])


def test_dropout_draws_afresh_in_each_compiled_step():
    eager, jit = run(False, dropout_model), run(True, dropout_model)
    assert_same_run(eager, jit)  # same masks: traces put the generator back


def second_model():
    """The benchmark's untuned network: tanh, sigmoid, logits."""
    return keras.Sequential([layers.Dense(48, activation="tanh"),
                             layers.Dense(32, activation="sigmoid"), layers.Dense(10)])


def three_layers_with_dropout():
    return keras.Sequential([layers.Dense(64, activation="relu"), layers.Dropout(0.25),
                             layers.Dense(32, activation="relu"), layers.Dropout(0.1),
                             layers.Dense(10, activation="softmax")])


@pytest.mark.parametrize("make, compile_args", [
    (second_model, dict(optimizer=optimizers.Adam(),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))),
    (three_layers_with_dropout, dict(optimizer=optimizers.SGD(0.05, momentum=0.9,
                                                              nesterov=True))),
    (three_layers_with_dropout, dict(optimizer=optimizers.Adam())),
], ids=["tanh-sigmoid-logits-adam", "dropout-nesterov", "dropout-adam"])
def test_other_networks_compiled_equal_eager(backend, make, compile_args):
    def fresh(args):  # an optimizer object per run
        return {**args, "optimizer": type(args["optimizer"]).from_config(
            args["optimizer"].get_config())}

    eager = run(False, make, batch_size=64, **fresh(compile_args))
    jit = run(True, make, batch_size=64, **fresh(compile_args))
    assert_same_run(eager, jit)


@pytest.mark.parametrize("loss, last, targets", [
    ("binary_crossentropy", layers.Dense(1, activation="sigmoid"), "binary"),
    (keras.losses.BinaryCrossentropy(from_logits=True), layers.Dense(1), "binary"),
    ("mse", layers.Dense(1), "regression"),
])
def test_other_losses_compiled_equal_eager(loss, last, targets):
    x, labels = blobs(300, 6, 2, seed=3)
    y = labels.astype(np.float32) * 2 + x[:, 0] if targets == "regression" else labels
    data = ((x, y), (x[:100], y[:100]))
    metrics = ["mae"] if targets == "regression" else ["accuracy"]

    def make():
        return keras.Sequential([layers.Dense(16, activation="relu"),
                                 type(last).from_config(last.get_config())])

    eager = run(False, make, data, batch_size=64, loss=loss, metrics=metrics)
    jit = run(True, make, data, batch_size=64, loss=loss, metrics=metrics)
    assert_same_run(eager, jit)


@pytest.mark.parametrize("make_optimizer", [
    lambda: optimizers.SGD(0.05),
    lambda: optimizers.SGD(0.05, momentum=0.9),
    lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    lambda: optimizers.RMSprop(),
    lambda: optimizers.RMSprop(momentum=0.5),
    lambda: optimizers.RMSprop(centered=True),
    lambda: optimizers.RMSprop(momentum=0.5, centered=True),
    lambda: optimizers.Adagrad(0.05),
    lambda: optimizers.Adam(),
    lambda: optimizers.Adam(amsgrad=True),
    lambda: optimizers.Adam(learning_rate=lambda step: 1e-3 / (1 + step)),  # a schedule
    lambda: optimizers.SGD(0.05, momentum=0.9, weight_decay=0.01),
    lambda: optimizers.Adam(weight_decay=0.004),
    lambda: optimizers.RMSprop(clipnorm=0.5),  # not inlined: the clipping is NumPy code
    lambda: optimizers.SGD(0.05, global_clipnorm=0.5),
], ids=["sgd", "momentum", "nesterov", "rmsprop", "rmsprop-momentum", "rmsprop-centered",
        "rmsprop-both", "adagrad", "adam", "amsgrad", "adam-schedule", "sgd-decay",
        "adam-decay", "rmsprop-clipnorm", "sgd-global-clipnorm"])
def test_every_optimizer_compiled_equals_eager(make_optimizer):
    data = mnist_subset(300, 50)
    eager = run(False, lambda: book_model(16), data, epochs=2, batch_size=64,
                optimizer=make_optimizer())
    jit = run(True, lambda: book_model(16), data, epochs=2, batch_size=64,
              optimizer=make_optimizer())
    assert_same_run(eager, jit)  # Adam's bias correction needs the live step counter
    assert int(jit["model"].optimizer.iterations) == int(eager["model"].optimizer.iterations) == 10


@pytest.mark.parametrize("clip, inlined", [(None, True), (1.0, False)])
def test_the_compiled_step_runs_the_optimizer_update_inline(clip, inlined):
    """The graph keeps one apply_gradients node; the compiled program replaces it with the
    optimizer's own ops (its begin_step, fused update loops, the counter), except when the
    gradients are clipped first."""
    (x, y), _ = mnist_subset(128, 10)
    keras.utils.set_random_seed(0)
    model = book_model(16)
    model.compile(optimizer=optimizers.Adam(clipnorm=clip),
                  loss="sparse_categorical_crossentropy", jit_compile=True)
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    traced = next(t for (method, _), t in model._jit._by_shapes.items()
                  if method == "_measured_gradient_step")
    assert [n.prim.name for n in traced.graph.nodes].count("apply_gradients") == 1
    program = traced.compiled().program
    names = [op.prim.name for op in program.ops]
    assert ("apply_gradients" in names) is not inlined
    assert ("begin_step" in names) is inlined
    if inlined and kernels.numba_module() is not None:
        # each variable's update is one loop that stores to it and its two slots
        stores = [op.prim.stores for op in program.ops if op.prim.name == "loop"]
        assert sum(len(s) == 3 for s in stores) == len(model.trainable_weights)
    assert int(model.optimizer.iterations) == 2


def test_a_learning_rate_changed_between_fits_takes_effect():
    (x, y), _ = mnist_subset(256, 10)
    results = []
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        model = book_model(16)
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", jit_compile=jit)
        model.fit(x, y, epochs=1, batch_size=64, verbose=0)
        frozen = [w.numpy() for w in model.weights]
        model.optimizer.learning_rate = 0.0
        model.fit(x, y, epochs=1, batch_size=64, verbose=0)
        for before, w in zip(frozen, model.weights):
            np.testing.assert_array_equal(before, w.numpy())  # lr 0: nothing moves
        model.optimizer.learning_rate = 0.01
        model.fit(x, y, epochs=1, batch_size=64, verbose=0)
        results.append([w.numpy() for w in model.weights])
        if jit:
            assert traces(model) == 1  # the rate is read live, not traced in
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_freezing_a_layer_between_fits_retraces():
    (x, y), _ = mnist_subset(256, 10)
    keras.utils.set_random_seed(0)
    model = book_model(16)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", jit_compile=True)
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    model.layers[0].trainable = False
    kernel = model.layers[0].kernel.numpy()
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    np.testing.assert_array_equal(kernel, model.layers[0].kernel.numpy())


class TwoDense(keras.Model):
    """A subclassed model whose tests differ only in their train_step."""

    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(16, activation="relu")
        self.out = layers.Dense(10, activation="softmax")

    def call(self, x):
        return self.out(self.hidden(x))


class ValueBranching(TwoDense):
    """A custom train_step with Python control flow on a tensor's value."""

    def train_step(self, data):
        x, y = data
        with cr.GradientTape() as tape:
            loss = self.compute_loss(y=y, y_pred=self(x, training=True))
        if float(loss) > 0:  # a guard: a compiled step (one graph) cannot follow it
            grads = tape.gradient(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self._loss_tracker.update_state(loss, sample_weight=len(x))
        return {"loss": self._loss_tracker.result()}


def test_an_untraceable_train_step_falls_back_to_eager_with_one_warning():
    data = mnist_subset(256, 10)
    eager = run(False, ValueBranching, data, batch_size=64, metrics=None)
    with pytest.warns(UserWarning, match=r"train_step runs eagerly: its Python decides on "
                                         r"tensor values \(.*test_jit.py:\d+ \(`if float\(loss\)"):
        jit = run(True, ValueBranching, data, batch_size=64, metrics=None)
    assert_same_run(eager, jit)  # the batch seen while tracing was counted once
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jit["model"].fit(*data[0], epochs=1, batch_size=64, verbose=0)  # warned once


def test_the_metric_updates_run_inside_the_compiled_step():
    model = run(True, epochs=1)["model"]
    traced = next(iter(model._jit._functions["_measured_gradient_step"]._traces.values()))
    updated = {id(v.variable) for node in traced.graph if node.is_update
               for v in node.inputs if v.variable is not None}
    for metric in model.metrics:  # the loss tracker and the accuracy
        assert {id(v) for v in metric.variables} <= updated, metric.name
    assert not model._jit.eager and "_gradient_step" not in model._jit._functions


class PythonSideMetric(keras.metrics.Mean):
    """A metric that reads its values into Python: no graph can repeat that."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(float(np.mean(np.asarray(y_pred)[:, 0])))


def test_a_metric_read_in_python_keeps_the_step_compiled():
    data = mnist_subset(256, 10)
    eager = run(False, data=data, batch_size=64, metrics=[PythonSideMetric("first")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: only the metrics leave the graph
        jit = run(True, data=data, batch_size=64, metrics=[PythonSideMetric("first")])
    assert_same_run(eager, jit)
    assert "reads traced values" in jit["model"]._jit.eager["_measured_gradient_step"]
    assert traces(jit["model"], "_gradient_step") == 1  # the step itself still compiled


def test_auto_runs_an_overridden_train_step_as_written():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = run("auto", ValueBranching, mnist_subset(128, 10), metrics=None)["model"]
    assert "train_step" not in model._jit._functions


class PlainCustomStep(TwoDense):
    """A custom train_step with nothing a trace cannot replay."""

    def train_step(self, data):
        x, y = data
        with cr.GradientTape() as tape:
            loss = self.compute_loss(y=y, y_pred=self(x, training=True))
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return {"loss": loss}


def test_a_traceable_custom_train_step_is_compiled_whole():
    data = mnist_subset(256, 10)
    eager = run(False, PlainCustomStep, data, batch_size=64, metrics=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jit = run(True, PlainCustomStep, data, batch_size=64, metrics=None)
    assert traces(jit["model"], "train_step") == 1
    for a, b in zip(eager["weights"], jit["weights"]):
        np.testing.assert_array_equal(a, b)


def test_a_custom_loop_with_chainrule_function():
    """The chapter's loop written by hand, compiled with chainrule.function."""
    (x, y), _ = mnist_subset(256, 10)
    results = []
    for mode in ("eager", "replayed", "compiled"):
        keras.utils.set_random_seed(0)
        model = book_model(16)
        model.build((None, 784))
        opt = optimizers.Adam()
        loss_fn = keras.losses.SparseCategoricalCrossentropy()

        def step(xb, yb):
            with cr.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True))
            grads = tape.gradient(loss, model.trainable_weights)
            opt.apply_gradients(zip(grads, model.trainable_weights))
            return loss

        if mode != "eager":
            step = cr.function(step, jit_compile=mode == "compiled")
        losses = [float(step(cr.constant(x[i:i + 64]), cr.constant(y[i:i + 64])))
                  for i in range(0, 256, 64)]
        opt.learning_rate = 0.1  # live: a graph does not freeze it
        losses.append(float(step(cr.constant(x[:64]), cr.constant(y[:64]))))
        results.append((losses, [w.numpy() for w in model.weights]))
    for losses, weights in results[1:]:
        assert losses == results[0][0]
        for a, b in zip(weights, results[0][1]):
            np.testing.assert_array_equal(a, b)


def test_compiled_steps_check_labels():
    (x, y), _ = mnist_subset(128, 10)
    model = book_model(16)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", jit_compile=True)
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    bad = y.copy()
    bad[70] = 10
    with pytest.raises(ValueError, match="label 10 is out of range for 10 classes"):
        model.fit(x, bad, epochs=1, batch_size=64, verbose=0, shuffle=False)


def test_jit_compile_must_be_a_known_value():
    with pytest.raises(ValueError, match="jit_compile must be True, False or 'auto'"):
        book_model().compile(loss="mse", jit_compile="xla")


def sparse_images(n_train=1000, n_test=300, seed=3):
    """Separable data shaped like MNIST whose border "pixels" are zero in every image, so
    the first layer's products leave out those columns (see ``kernels.matmul``), and some of
    whose other pixels are rarely lit, so which columns are zero changes from batch to
    batch."""
    x, y = blobs(n_train + n_test, 28 * 28, 10, seed=seed)
    x = np.maximum(x, 0)
    border = np.ones((28, 28), bool)
    border[6:22, 6:22] = False
    x[:, border.reshape(-1)] = 0
    rare = np.random.default_rng(seed).random(x.shape) < 0.99
    rare[:, ::2] = False
    x[rare] = 0
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


@pytest.mark.skipif("numba" not in BACKENDS, reason="only the numba kernels skip zeros")
@pytest.mark.parametrize("optimizer", ["rmsprop", "adam"])
def test_skipping_zero_input_columns_compiled_equals_eager(optimizer):
    previous = kernels.use("numba")
    try:
        check_skipping_compiled_equals_eager(optimizer)
    finally:
        kernels.use(previous)


def check_skipping_compiled_equals_eager(optimizer):
    data = sparse_images()
    eager = run(False, data=data, optimizer=optimizer)
    jit = run(True, data=data, optimizer=optimizer)
    assert_same_run(eager, jit)
    traced = next(iter(jit["model"]._jit._functions["_measured_gradient_step"]._traces.values()))
    products = [op for op in traced._compiled.program.ops if op.prim.name == "matmul"]
    x = traced.graph.inputs[0]

    def reads_x(op):  # x @ kernel, or the kernel gradient x.T @ g
        left = op.inputs[0]
        return left is x or (left.producer is not None and left.producer.prim.name ==
                             "transpose" and left.producer.inputs[0] is x)

    scans = [op.params.get("scan") for op in products if reads_x(op)]
    assert len(scans) == 2 and scans[0] is scans[1] is not None  # x is scanned once
    # and the data did take the skipping path: the products differ from full ones
    previous, sparsity.SKIP_MAX_ACTIVE = sparsity.SKIP_MAX_ACTIVE, 0.0
    try:
        full = run(True, data=data, optimizer=optimizer)
    finally:
        sparsity.SKIP_MAX_ACTIVE = previous
    assert any((a != b).any() for a, b in zip(full["weights"], jit["weights"]))
    np.testing.assert_allclose(full["predict"], jit["predict"], atol=1e-4)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("bad, named", [(np.nan, "y_true holds NaN (sample 8 of the batch)"),
                                        (np.inf, "y_true holds inf (sample 8 of the batch)"),
                                        (2.5, "y_true must hold integer class indices; "
                                              "received non-integer values such as 2.5")])
def test_a_bad_float_label_in_a_later_batch_is_named_by_the_compiled_step(from_logits, bad,
                                                                           named):
    """The labels are checked while the step is traced (on the first batch) and again by
    the compiled step on every batch: a NaN is named as NaN, not as the integer a cast
    makes of it."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = rng.integers(0, 3, 64).astype(np.float32)
    y[40] = bad
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)),
                              keras.layers.Dense(3, activation=None if from_logits else "softmax")])
    model.compile(optimizer="sgd", jit_compile=True,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    with pytest.raises(ValueError) as info:
        model.fit(x, y, batch_size=16, shuffle=False, verbose=0)
    assert str(info.value).startswith(f"sparse_categorical_crossentropy: {named}")
    assert int(model.optimizer.iterations) == 2  # the first two batches trained


def test_an_out_of_range_label_in_a_later_batch_of_probabilities_is_refused():
    """With probabilities (no logits to take), an out-of-range label made a zero one-hot
    row, a loss of 0, in the compiled step."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    y[40] = 3
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
                              keras.layers.Activation("sigmoid")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=True)
    with pytest.raises(ValueError, match="label 3 is out of range for y_pred with 3 classes"):
        model.fit(x, y, batch_size=16, shuffle=False, verbose=0)
