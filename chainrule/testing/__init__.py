"""Tools for testing differentiable code: finite-difference gradient checks that name the
op whose derivative rule is wrong."""

from .gradcheck import (GradientCheckError, GradientCheckReport, KinkWarning, check_grads,
                        numerical_gradient, numerical_jvp)

__all__ = ["GradientCheckError", "GradientCheckReport", "KinkWarning", "check_grads",
           "numerical_gradient", "numerical_jvp"]
