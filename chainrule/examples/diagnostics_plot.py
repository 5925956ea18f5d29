"""Draws the picture of ``fit(..., diagnostics=True)`` for the README: a small network on
scikit-learn's 8x8 digits (they ship with scikit-learn, so this runs offline), trained with
RMSprop at a learning rate high enough for the diagnostics to have something to say.

    python -m chainrule.examples.diagnostics_plot [output folder]

writes ``diagnostics.png`` into the folder (default ``out/``; ``docs`` renews the README's
picture) and prints the diagnosis.
"""

import argparse
import os

import numpy as np

from chainrule import keras
from chainrule.keras import layers


def load_digits():
    from sklearn.datasets import load_digits as sklearn_digits
    digits = sklearn_digits()
    x = (digits.data / 16.0).astype("float32")  # pixels 0..16 scaled to [0, 1]
    return x, digits.target.astype("int64")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="out", help="folder for diagnostics.png")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    x, y = load_digits()
    model = keras.Sequential([layers.Dense(128, activation="relu"),
                              layers.Dense(64, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=args.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=args.epochs, batch_size=64, validation_split=0.2,
                        diagnostics=True, verbose=2)
    os.makedirs(args.out, exist_ok=True)
    path = history.plot(os.path.join(args.out, "diagnostics.png"),
                        title=f"fit(..., diagnostics=True): digits, RMSprop "
                              f"learning_rate={args.learning_rate:g}")
    print(f"wrote {path}")
    return history


if __name__ == "__main__":
    main()
