"""Chapter 2's code, with only its imports changed, on an MNIST subset."""

import numpy as np

import chainrule as tf
from chainrule import keras
from chainrule.keras import layers, optimizers

from ._helpers import mnist_subset


def test_imports_and_attribute_access():
    import chainrule.keras.layers  # noqa: F401
    assert tf.keras is keras
    assert tf.keras.losses.sparse_categorical_crossentropy is keras.losses.sparse_categorical_crossentropy
    assert keras.optimizers is optimizers
    assert keras.Sequential is keras.models.Sequential


def test_opening_example_on_a_subset(capsys):
    (train_images, train_labels), (test_images, test_labels) = mnist_subset(2000, 500)
    model = keras.Sequential([
        layers.Dense(512, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(train_images, train_labels, epochs=3, batch_size=128)
    out = capsys.readouterr().out
    assert "Epoch 1/3" in out and "Epoch 3/3" in out and "16/16" in out
    assert sorted(history.history) == ["accuracy", "loss"]
    assert history.history["loss"][2] < history.history["loss"][1] < history.history["loss"][0]

    test_digits = test_images[0:10]
    predictions = model.predict(test_digits)
    assert isinstance(predictions, np.ndarray) and predictions.dtype == np.float32
    assert predictions.shape == (10, 10)
    np.testing.assert_allclose(predictions.sum(axis=1), 1, rtol=1e-5)
    assert 0 <= predictions[0].argmax() < 10 and 0 <= predictions[0][7] <= 1

    test_loss, test_acc = model.evaluate(test_images, test_labels)
    assert isinstance(test_loss, float) and isinstance(test_acc, float)
    assert test_acc > 0.8
    print(f"test_acc: {test_acc}")


class NaiveDense:
    def __init__(self, input_size, output_size, activation):
        self.activation = activation
        w_shape = (input_size, output_size)
        w_initial_value = tf.random.uniform(w_shape, minval=0, maxval=1e-1)
        self.W = tf.Variable(w_initial_value)
        b_shape = (output_size,)
        b_initial_value = tf.zeros(b_shape)
        self.b = tf.Variable(b_initial_value)

    def __call__(self, inputs):
        return self.activation(tf.matmul(inputs, self.W) + self.b)

    @property
    def weights(self):
        return [self.W, self.b]


class NaiveSequential:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, inputs):
        x = inputs
        for layer in self.layers:
            x = layer(x)
        return x

    @property
    def weights(self):
        weights = []
        for layer in self.layers:
            weights += layer.weights
        return weights


class BatchGenerator:
    def __init__(self, images, labels, batch_size=128):
        assert len(images) == len(labels)
        self.index = 0
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.num_batches = int(np.ceil(len(images) / batch_size))

    def next(self):
        images = self.images[self.index: self.index + self.batch_size]
        labels = self.labels[self.index: self.index + self.batch_size]
        self.index += self.batch_size
        return images, labels


def _naive_model():
    return NaiveSequential([
        NaiveDense(input_size=28 * 28, output_size=512, activation=tf.nn.relu),
        NaiveDense(input_size=512, output_size=10, activation=tf.nn.softmax),
    ])


def _train(model, update_weights, images, labels, epochs=2):
    def one_training_step(model, images_batch, labels_batch):
        with tf.GradientTape() as tape:
            predictions = model(images_batch)
            per_sample_losses = tf.keras.losses.sparse_categorical_crossentropy(
                labels_batch, predictions)
            average_loss = tf.reduce_mean(per_sample_losses)
        gradients = tape.gradient(average_loss, model.weights)
        update_weights(gradients, model.weights)
        return average_loss

    epoch_losses = []
    for epoch_counter in range(epochs):
        batch_generator = BatchGenerator(images, labels)
        losses = []
        for batch_counter in range(batch_generator.num_batches):
            images_batch, labels_batch = batch_generator.next()
            loss = one_training_step(model, images_batch, labels_batch)
            assert f"{loss:.2f}"  # the chapter prints it with an f-string
            losses.append(float(loss))
        epoch_losses.append(np.mean(losses))
    return epoch_losses


def _accuracy(model, images, labels):
    predictions = model(images)
    predictions = predictions.numpy()
    predicted_labels = np.argmax(predictions, axis=1)
    matches = predicted_labels == labels
    return matches.mean()


def test_from_scratch_loop_with_assign_sub():
    (images, labels), (test_images, test_labels) = mnist_subset(2000, 500)
    learning_rate = 1e-3

    def update_weights(gradients, weights):
        for g, w in zip(gradients, weights):
            w.assign_sub(g * learning_rate)

    model = _naive_model()
    first = float(tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
        labels, model(images))))
    _train(model, update_weights, images, labels, epochs=2)
    last = float(tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
        labels, model(images))))
    assert last < first


def test_from_scratch_loop_with_sgd_optimizer():
    (images, labels), (test_images, test_labels) = mnist_subset(2000, 500)
    optimizer = optimizers.SGD(learning_rate=1e-3)

    def update_weights(gradients, weights):
        optimizer.apply_gradients(zip(gradients, weights))

    model = _naive_model()
    losses = _train(model, update_weights, images, labels, epochs=3)
    assert losses[-1] < losses[0]
    assert int(optimizer.iterations) == 3 * 16
    assert 0 <= _accuracy(model, test_images, test_labels) <= 1
