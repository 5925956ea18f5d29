"""The book's first convnet (chapter 8): read handwritten digits with convolutions.

    python -m chainrule.examples.mnist_convnet [--dataset mnist|fashion_mnist|digits]
                                               [--epochs N] [--batch-size N] [--jit]
                                               [--seed N] [--out DIR]

Three Conv2D layers (32, 64 and 128 filters of 3x3, relu) with MaxPooling2D(2) between
them, Flatten and Dense(10, softmax), trained with RMSprop on batches of 64 as the book
does; prints the test accuracy and the seconds per epoch (``--jit``: compiled steps,
``compile(jit_compile=True)``), and saves the model to ``--out``.

The data come as in :mod:`chainrule.examples.mnist`, with its offline fallback: without
MNIST it says where to put the file and trains on scikit-learn's 8x8 digits, where the
convolutions pad ("same") so that three of them still fit.
"""

import argparse
import os
import time

import numpy as np

import chainrule
from chainrule import keras
from chainrule.keras import layers

from .mnist import load

DEFAULT_EPOCHS = {"mnist": 5, "fashion_mnist": 5, "digits": 20}


def prepare(images, scale):
    """(n, h, w) uint8 -> (n, h, w, 1) float32 in [0, 1]: images with one channel."""
    return images[..., None].astype("float32") / np.float32(scale)


def build_model(height, width, jit_compile=False):
    """The chapter-8 network for ``height`` x ``width`` gray images."""
    # The book's "valid" convolutions need 28x28 inputs; 8x8 digits keep their size instead.
    padding = "valid" if min(height, width) >= 28 else "same"
    inputs = keras.Input(shape=(height, width, 1))
    x = layers.Conv2D(filters=32, kernel_size=3, activation="relu", padding=padding)(inputs)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=64, kernel_size=3, activation="relu", padding=padding)(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=128, kernel_size=3, activation="relu", padding=padding)(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=jit_compile)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train the book's chapter-8 convnet on digits.")
    parser.add_argument("--dataset", choices=["mnist", "fashion_mnist", "digits"], default="mnist")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: 5 (20 for the small digits set)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--jit", action="store_true", help="compiled training steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out", help="folder for the trained model")
    args = parser.parse_args(argv)

    chainrule.random.set_seed(args.seed)
    ((train_images, train_labels), (test_images, test_labels)), scale, dataset = \
        load(args.dataset, args.seed)
    epochs = args.epochs or DEFAULT_EPOCHS[dataset]
    height, width = train_images.shape[1:3]
    print(f"{dataset}: {len(train_images)} training and {len(test_images)} test images "
          f"of {height}x{width} pixels")
    train_images, test_images = prepare(train_images, scale), prepare(test_images, scale)

    model = build_model(height, width, jit_compile=args.jit)
    model.summary()
    start = time.perf_counter()
    model.fit(train_images, train_labels, epochs=epochs, batch_size=args.batch_size)
    seconds = time.perf_counter() - start
    test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=0)
    mode = "compiled" if args.jit else "eager"
    print(f"trained {epochs} epochs ({mode}) in {seconds:.1f} s ({seconds / epochs:.2f} s/epoch)")
    print(f"test_loss: {test_loss:.4f}")
    print(f"test_acc: {test_acc:.4f}")

    os.makedirs(args.out, exist_ok=True)
    model_path = os.path.join(args.out, f"{dataset}_convnet.chainrule")
    model.save(model_path)
    print(f"saved the model to {model_path}")
    return test_acc


if __name__ == "__main__":
    main()
