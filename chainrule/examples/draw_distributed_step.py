"""The book model's training step, captured and rewritten by ``data_parallel``: printed, and
drawn so the reader sees where the ranks communicate.

    python -m chainrule.examples.draw_distributed_step [output folder]

Writes ``distributed_step.svg`` (``.dot`` when Graphviz's `dot` is not installed) into the
folder (default ``out/``; ``docs`` renews the README's picture). The step is captured for a
batch of 64 rows (a rank's share of a global batch of 128 on two ranks); the rewrite packs
the four gradients into one buffer, all-reduces it (the mean over the ranks) and cuts it back
before ``apply_gradients``.
"""

import os
import shutil
import sys

import numpy as np

import chainrule as tf
from chainrule import keras
from chainrule.keras import layers


def distributed_step():
    """The data-parallel graph of the book model's training step (RMSprop)."""
    model = keras.Sequential([layers.Dense(512, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    model.build((None, 784))
    optimizer = keras.optimizers.RMSprop()
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    def train_step(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        return loss

    graph = tf.function(train_step).get_graph(np.zeros((64, 784), np.float32),
                                               np.zeros(64, np.uint8))
    return tf.distribute.data_parallel(graph)


def main(folder="out"):
    graph = distributed_step()
    print(graph)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "distributed_step" + (".svg" if shutil.which("dot") else ".dot"))
    tf.graph.draw(graph, path, max_items=2)
    print("wrote", path)


if __name__ == "__main__":
    main(*sys.argv[1:])
