"""The gradient-tape examples of chapter 2 (and the start of chapter 3), run and printed.

    python -m chainrule.examples.tape_basics
"""

import chainrule as tf


def main():
    x = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        y = 2 * x + 3
    print("d(2x + 3)/dx at x = 0:", float(tape.gradient(y, x)))

    x = tf.Variable(tf.random.uniform((2, 2)))
    with tf.GradientTape() as tape:
        y = 2 * x + 3
    print("same on a (2, 2) Variable:\n", tape.gradient(y, x).numpy())

    W = tf.Variable(tf.random.uniform((2, 2)))
    b = tf.Variable(tf.zeros((2,)))
    x = tf.random.uniform((2, 2))
    with tf.GradientTape() as tape:
        y = tf.matmul(x, W) + b
    grad_W, grad_b = tape.gradient(y, [W, b])
    print("d(xW + b)/db:", grad_b.numpy())

    # The worked computation graph: loss = |y_true - (x * w + b)|
    w, b = tf.Variable(3.0), tf.Variable(1.0)
    x, y_true = tf.constant(2.0), tf.constant(4.0)
    with tf.GradientTape() as tape:
        loss = tf.abs(y_true - (x * w + b))
    grad_w, grad_b = tape.gradient(loss, [w, b])
    print(f"worked example: loss = {loss:.1f}, d loss/d w = {grad_w:.1f}, d loss/d b = {grad_b:.1f}")

    time = tf.Variable(0.0)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            position = 4.9 * time ** 2
        speed = inner.gradient(position, time)
    acceleration = outer.gradient(speed, time)
    print(f"position 4.9 t^2: speed {speed:.1f}, acceleration {acceleration:.1f}")


if __name__ == "__main__":
    main()
