"""The daemon's pure domain: model, graph checks, the decision function and what outcomes mean.

Nothing in this package does I/O, reads a clock or keeps global state, and nothing here imports an
adapter (import-linter checks it). The reactor's loop builds a ``model.World`` from what the
Kubernetes and Argo CD adapters observed (``codec``), calls ``decide.decide`` and hands the returned
``actions.Action`` values to its units; ``outcomes.follow_up`` says what a push's result means for the
ticket and ``sources`` where an Application's app branch lives. See DESIGN.md section 4 for the rules.
"""
