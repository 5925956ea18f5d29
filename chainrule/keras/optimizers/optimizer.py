"""The Optimizer base class: slots, ``apply_gradients``, the step counter and clipping.

A subclass writes its algorithm for one variable in ``update_step(gradient, variable,
learning_rate)`` with chainrule ops and Variable updates (``assign``, ``assign_sub``), as
in Keras 3, and creates its per-variable state in ``build(var_list)`` with
:meth:`Optimizer.add_slot`. That one piece of code is the whole update, eager or compiled:
the step over all the variables (begin, each ``update_step``, the counter) is traced once
per list of variables and run by the compiler, which fuses each variable's update into one
pass over it and its slots (with numba) or runs it on planned, reused buffers (without).
A compiled training step inlines the same program. After the updates, each variable with a
``constraint`` (a layer's ``kernel_constraint``) is assigned ``constraint(variable)``, in the
same program, as Keras 3 does. Updates are never differentiated and never recorded by a tape.
"""

import math
import warnings

import numpy as np

from ... import compiler, recording
from ...distribute.strategy import update_once
from ...graph.capture import trace
from ...graph.graph import VARIABLE
from ...recording import announce_effect, mark_changed, paused_recorders, unannounced_updates
from ...tensor import Tensor
from ...variable import Variable
from .._registry import serialize
from . import schedules

__all__ = ["Optimizer"]


class Optimizer:
    """Base class of the optimizers.

    Args:
        learning_rate: a float, or a callable taking the step count (``iterations``) and
            returning the rate (a schedule).
        weight_decay: if set, each step first shrinks each weight by
            ``lr * weight_decay * w`` (decoupled weight decay).
        clipnorm / clipvalue / global_clipnorm: clip each gradient's norm, each gradient
            entry, or the norm of all gradients together, before the update.
        name: a name for the optimizer (and a prefix for its slot variables).

    Every optimizer receives gradients the same way: dense arrays of the variable's shape
    and dtype, clipped and decayed here, then handed to the compiled ``update_step``.
    """

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None):
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("give at most one of clipnorm, clipvalue and global_clipnorm")
        self.name = name or type(self).__name__.lower()
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.iterations = Variable(np.int64(0), trainable=False, name=f"{self.name}/iterations")
        self._schedule = learning_rate if callable(learning_rate) else None
        self._learning_rate = Variable(
            np.float32(0.0 if self._schedule else learning_rate), trainable=False,
            name=f"{self.name}/learning_rate")
        self._slots = {}  # id(variable) -> {slot name: slot Variable}, as build made them
        self._slot_variables = []
        self._slot_initial_values = []  # one per slot Variable, for _reset_slots
        # The whole step (begin, each variable's update_step, the counter) compiled once
        # per list of variables: {key: CompiledGraph, or None when a replay would not be
        # faithful}. See _apply.
        self._programs = {}
        self.built = False

    # -- learning rate ---------------------------------------------------------------------
    @property
    def learning_rate(self):
        """The current learning rate (a float32 Variable; assign to change it)."""
        if self._schedule is not None:
            self._learning_rate.assign(np.float32(self._schedule(int(self.iterations))))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if callable(value):
            self._schedule = value
        else:
            self._schedule = None
            self._learning_rate.assign(np.float32(value))

    # TF-Keras 2's name for it (code such as learning-rate callbacks still reads it).
    lr = learning_rate

    # -- slots ---------------------------------------------------------------------------
    def build(self, var_list):
        """Creates the per-variable state; subclasses call :meth:`add_slot` here."""
        self.built = True

    def add_slot(self, var, name, initial_value=0.0):
        """A state Variable shaped like ``var`` (momentum, velocity...), kept for ``var``."""
        slot = Variable(np.full(var.shape, initial_value, dtype=var.dtype), trainable=False,
                        name=f"{self.name}/{var.name}/{name}")
        self._slots.setdefault(id(var), {})[name] = slot
        self._slot_variables.append(slot)
        self._slot_initial_values.append(initial_value)
        return slot

    def _reset_slots(self):
        """Gives every slot the value :meth:`build` gave it (the same Variables, so compiled
        steps that hold them stay valid): the state of an optimizer that has not stepped."""
        for slot, initial_value in zip(self._slot_variables, self._slot_initial_values):
            slot.assign(np.full(slot.shape, initial_value, dtype=slot.dtype.name))

    def slot(self, var, name):
        """The slot Variable ``name`` of ``var`` (update_step assigns to it)."""
        return self._slots[id(var)][name]

    @property
    def variables(self):
        """The optimizer's own state: step counter, learning rate, then every slot."""
        return [self.iterations, self._learning_rate] + self._slot_variables

    def _build_new(self, var_list):
        slots = self._slots
        new = [v for v in var_list if id(v) not in slots]
        if new:
            for v in new:
                self._slots[id(v)] = {}
            self.build(new)
            self.built = True

    # -- the update --------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        """Applies ``(gradient, variable)`` pairs (a list or a one-shot ``zip``).

        Pairs whose gradient is None are skipped with a warning; if every gradient is None
        a ValueError says so. Variables seen for the first time get their slots built.
        Returns the step counter ``iterations`` (incremented by one). No pairs at all (a
        model with no trainable weights) is a step that changes nothing, as in Keras.
        """
        grads_and_vars = list(grads_and_vars)
        if not grads_and_vars:
            return self.iterations
        grads, variables, missing = [], [], []
        tensors = []  # the gradients as given, for a trace to identify them
        for pair in grads_and_vars:
            try:
                g, v = pair
            except (TypeError, ValueError):
                raise TypeError(f"apply_gradients takes (gradient, variable) pairs, such as "
                                f"zip(grads, model.trainable_weights); received {pair!r}") from None
            if not isinstance(v, Variable):
                raise TypeError(f"apply_gradients can only update Variables; received a "
                                f"{type(v).__name__} of shape {np.shape(v)}")
            if g is None:
                missing.append(v)
            else:
                grads.append(self._gradient_array(g, v))
                tensors.append(g)
                variables.append(v)
        if not variables:
            raise ValueError(f"No gradients provided for any variable: all {len(missing)} "
                             f"gradients are None. Does the loss depend on the variables?")
        if missing:
            warnings.warn(f"Gradients do not exist for variables {[v.name for v in missing]} "
                          f"when minimizing the loss (they are left unchanged). Did the loss "
                          f"use them?", stacklevel=2)
        once = update_once()  # MirroredStrategy.run: the replicas share the variables
        if once is not None and not recording.listeners():
            once.barrier()
            if once.rank == 0:
                self._build_new(variables)
                self._apply(grads, variables)
            once.barrier()
            return self.iterations
        self._build_new(variables)
        if recording.listeners():  # a graph is being traced: the update is recorded as one node
            APPLY_GRADIENTS.apply(*[x for pair in zip(variables, tensors) for x in pair],
                                  optimizer=self)
        else:
            self._apply(grads, variables)
        return self.iterations

    def _apply(self, grads, variables):
        """The update itself, on gradient arrays of the variables' shapes and dtypes:
        clipping, then :meth:`_whole_step` (:meth:`_begin_step`, ``update_step`` for each
        variable, ``iterations += 1``) as one compiled program for this list of variables,
        the program a compiled training step inlines. The learning rate (and a schedule) is
        read when it runs. An ``update_step`` that reads a value into Python (a replay
        would freeze it) runs as written instead."""
        if self._clips:
            grads = self._clip(grads)
        key = (tuple(map(id, variables)), tuple((g.shape, g.dtype) for g in grads),
               tuple(id(getattr(v, "constraint", None)) for v in variables))
        program = self._programs.get(key, False)
        if program is False:
            traced = self._trace_step(variables, [(g.shape, g.dtype) for g in grads])
            program = self._programs[key] = None if traced.value_reads else \
                compiler.compile(traced.graph)
        operands = [x for pair in zip(variables, grads) for x in pair]
        if program is not None:
            program(*operands)
            return
        with paused_recorders():  # an update is not part of any tape's record
            self._whole_step(*[x if isinstance(x, Variable) else Tensor._wrap(x)
                               for x in operands])

    @property
    def _clips(self):
        return self.clipvalue is not None or self.clipnorm is not None or \
            self.global_clipnorm is not None

    def _begin_step(self, variables):
        """What a step does before the variables' own updates: reads the learning rate (a
        schedule sets it now), shrinks the weights by weight decay, and lets a subclass
        compute the step's scalars (:meth:`_prepare_step`)."""
        lr = float(self.learning_rate._value)
        if self.weight_decay:
            for v in variables:
                v._value -= v._value * v._value.dtype.type(lr * self.weight_decay)
                mark_changed(v)
        self._prepare_step(lr)

    def _prepare_step(self, learning_rate):
        """Called once per step before the variables' updates, with the learning rate as a
        float: where a subclass computes the step's scalars (Adam's bias correction)."""

    def _step_graph(self, variable_values, gradient_values):
        """The whole step as a graph over ``(w1, g1, w2, g2, ...)``, for a compiled training
        step to run as its own ops (see :meth:`ApplyGradients.inline`); None when the
        step cannot be one: gradients that are clipped first, or that are not of their
        Variable's shape and dtype (eager code casts them), or Variables passed to the
        traced step as arguments (the graph would hold the slots of one of them)."""
        if self._clips or any(v.kind != VARIABLE for v in variable_values) or \
                any((g.shape, g.dtype) != (v.shape, v.dtype)
                    for g, v in zip(gradient_values, variable_values)):
            return None
        traced = self._trace_step([v.variable for v in variable_values],
                                  [(g.shape, g.dtype) for g in gradient_values])
        return None if traced.value_reads else traced.graph

    def _trace_step(self, variables, gradient_specs):
        """:meth:`_whole_step` traced for these Variables and gradients of these
        ``(shape, dtype)`` (tracing changes nothing)."""
        self._build_new(variables)
        operands = [x for v, (shape, dtype) in zip(variables, gradient_specs)
                    for x in (v, np.zeros(shape, dtype))]
        return trace(self._whole_step, *operands, name=f"{self.name}_step")

    def _whole_step(self, *operands):
        variables, grads = operands[0::2], operands[1::2]
        BEGIN_STEP.apply(*variables, optimizer=self)
        for g, v in zip(grads, variables):
            self.update_step(g, v, self._learning_rate)
        # Keras applies each variable's constraint once every variable has been updated.
        for v in variables:
            constraint = getattr(v, "constraint", None)
            if constraint is not None:
                v.assign(constraint(v))
        self.iterations.assign_add(1)

    def update_step(self, gradient, variable, learning_rate):
        """One step of the algorithm for one variable, written with chainrule ops and
        Variable updates: ``gradient`` is a tensor of ``variable``'s shape and dtype,
        ``learning_rate`` a float32 scalar Variable; slots come from :meth:`slot`."""
        raise NotImplementedError

    def apply(self, grads, trainable_variables=None):
        """Keras 3's form of :meth:`apply_gradients`: ``apply(grads, variables)``, the two
        lists in matching order. Without ``trainable_variables``, the variables of the
        previous ``apply`` call are used."""
        if trainable_variables is None:
            trainable_variables = getattr(self, "_apply_variables", None)
            if trainable_variables is None:
                raise ValueError("apply: pass trainable_variables (the list the gradients "
                                 "belong to) at least on the first call")
        else:
            trainable_variables = self._apply_variables = list(trainable_variables)
        grads = list(grads)
        if len(grads) != len(trainable_variables):
            raise ValueError(f"apply: {len(grads)} gradients for {len(trainable_variables)} "
                             f"variables; give one gradient per variable")
        return self.apply_gradients(zip(grads, trainable_variables))

    def minimize(self, loss, var_list, tape):
        """``apply_gradients`` of the gradients of ``loss`` recorded on ``tape``."""
        grads = tape.gradient(loss, var_list)
        return self.apply_gradients(zip(grads, var_list))

    @staticmethod
    def _gradient_array(g, v):
        g = g._value if isinstance(g, Tensor) else np.asarray(g)
        if g.shape != v.shape:
            raise ValueError(f"gradient of shape {g.shape} for variable '{v.name}' of shape "
                             f"{v.shape}")
        return g if g.dtype == v.dtype else g.astype(v.dtype)

    def _clip(self, grads):
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            return [g * min(1.0, self.clipnorm / max(_norm(g), 1e-12)) for g in grads]
        if self.global_clipnorm is not None:
            total = math.sqrt(sum(_norm(g) ** 2 for g in grads))
            scale = min(1.0, self.global_clipnorm / max(total, 1e-12))
            return [g * g.dtype.type(scale) for g in grads] if scale < 1 else grads
        return grads

    # -- explanation -------------------------------------------------------------------------
    def explain(self):
        """The update rule in words and as a formula, with the current hyper-parameters,
        and where PyTorch's optimizer of the same name differs. Subclasses describe their
        rule; this base adds the learning rate, weight decay and clipping."""
        return self._explanation("(no rule described)", "w <- update_step(g, w, lr)", None)

    def _explanation(self, words, formula, torch_difference):
        lr = float(self._learning_rate._value) if self._schedule is None else \
            f"{float(self.learning_rate._value):g} now, from the schedule {self._schedule!r}"
        lines = [f"{type(self).__name__} (learning_rate={lr:g})" if isinstance(lr, float)
                 else f"{type(self).__name__} (learning_rate={lr})", words, "", formula]
        if self.weight_decay:
            lines.append(f"Before each step: w <- w - lr * {self.weight_decay:g} * w "
                         f"(decoupled weight decay).")
        for name in ("clipnorm", "clipvalue", "global_clipnorm"):
            if getattr(self, name) is not None:
                lines.append(f"Gradients are clipped first ({name}={getattr(self, name):g}).")
        if torch_difference:
            lines += ["", "Compared with PyTorch: " + torch_difference]
        return "\n".join(lines)

    # -- configuration -----------------------------------------------------------------------
    def get_config(self):
        lr = serialize(self._schedule) if self._schedule is not None \
            else float(self._learning_rate._value)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if isinstance(config.get("learning_rate"), dict):  # a saved schedule
            config = {**config, "learning_rate": schedules.deserialize(
                config["learning_rate"], custom_objects)}
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} learning_rate={float(self._learning_rate._value):g}>"


class ApplyGradients:
    """``optimizer.apply_gradients`` as a graph effect (see
    :class:`chainrule.graph.VariableUpdate`): a traced training step keeps the whole update
    as one node, ``apply_gradients(w1, g1, w2, g2, ..., optimizer=...)``, that replays the
    optimizer's own code, so the step counter, the learning rate and its schedule are
    read when the graph runs, not frozen when it was traced."""

    name = "apply_gradients"
    vjp = None
    why = "it changes the Variables in place; an update is not differentiable"

    def inline(self, *operands, optimizer):
        """The step as a graph over this node's inputs (the optimizer's own ops: a begin
        node, each variable's ``update_step``, the counter), for a compiler to run in place
        of the node; or None (see ``Optimizer._step_graph``). ``operands`` are the node's
        input values."""
        return optimizer._step_graph(operands[0::2], operands[1::2])

    def apply(self, *operands, optimizer):
        variables, grads = operands[0::2], operands[1::2]
        grads = [optimizer._gradient_array(g, v) for g, v in zip(grads, variables)]
        if recording.listeners():  # traced, or replayed op by op inside another trace
            announce_effect(self, operands, {"optimizer": optimizer})
            with unannounced_updates():  # a schedule's assign is part of this node
                optimizer._apply(grads, variables)
        else:
            optimizer._apply(grads, variables)

    def changes(self, *operands, optimizer):
        return list(operands[0::2]) + optimizer.variables

    def __repr__(self):
        return "<effect apply_gradients>"


APPLY_GRADIENTS = ApplyGradients()


class BeginStep:
    """The first node of an inlined optimizer step (``Optimizer._begin_step``): the learning
    rate and its schedule, weight decay and the step's scalars (Adam's step size),
    computed when the graph runs. Its operands are the Variables being updated."""

    name = "begin_step"
    vjp = None
    why = "it changes the optimizer's state in place; an update is not differentiable"

    def apply(self, *variables, optimizer):
        if recording.listeners():
            announce_effect(self, variables, {"optimizer": optimizer})
            with unannounced_updates():
                optimizer._begin_step(variables)
        else:
            optimizer._begin_step(variables)

    def changes(self, *variables, optimizer):
        own = [v for v in vars(optimizer).values() if isinstance(v, Variable)]
        return list(variables) + optimizer.variables + own

    def __repr__(self):
        return "<effect begin_step>"


BEGIN_STEP = BeginStep()


def _norm(g):
    return float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))
