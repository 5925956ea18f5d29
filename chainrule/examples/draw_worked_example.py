"""Chapter 2's worked backpropagation example, drawn from real code.

x = 2, w = 3, b = 1, y_true = 4; x1 = x * w, x2 = x1 + b, loss = |y_true - x2|.
The forward picture shows the values 6, 7 and 3 on the edges; the backward picture shows
each edge's local derivative (grad(x1, w) = 2, grad(x2, x1) = 1, ...) and each value's
gradient (grad(loss, w) = 2, grad(loss, b) = 1).

    python -m chainrule.examples.draw_worked_example [output folder]

Writes forward/backward .dot files, and .svg pictures when Graphviz's `dot` is installed, into
the folder (default ``out/``; ``docs`` renews the README's pictures).
"""

import os
import shutil
import sys

import chainrule as tf


def main(folder="out"):
    w, b = tf.Variable(3.0, name="w"), tf.Variable(1.0, name="b")
    x, y_true = tf.constant(2.0), tf.constant(4.0)
    with tf.GradientTape() as tape:
        x1 = x * w
        x2 = x1 + b
        loss = tf.abs(y_true - x2)
    graph = tf.graph.from_tape(tape, loss,
                               names=dict(x=x, w=w, b=b, y_true=y_true, x1=x1, x2=x2, loss=loss))
    grad_w, grad_b = tape.gradient(loss, [w, b])
    print(graph)
    print(f"grad(loss, w) = {float(grad_w):g}, grad(loss, b) = {float(grad_b):g}")
    os.makedirs(folder, exist_ok=True)
    extension = ".svg" if shutil.which("dot") else ".dot"
    for direction, backward in (("forward", False), ("backward", True)):
        path = os.path.join(folder, f"worked_example_{direction}{extension}")
        tf.graph.draw(graph, path, backward=backward)
        print("wrote", path)


if __name__ == "__main__":
    main(*sys.argv[1:])
