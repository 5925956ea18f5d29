"""Reverse-mode automatic differentiation: the primitive table, dispatch and the tape."""
