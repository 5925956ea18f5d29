"""Tools for testing differentiable code: finite-difference gradient checks."""

from .gradcheck import GradientCheckError, check_grads, numerical_gradient, numerical_jvp

__all__ = ["GradientCheckError", "check_grads", "numerical_gradient", "numerical_jvp"]
