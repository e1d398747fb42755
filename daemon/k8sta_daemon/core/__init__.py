"""The daemon's pure domain: model, graph checks and the decision function.

Nothing in this package does I/O, reads a clock or keeps global state. The controller loop builds a
``model.World`` from what the Kubernetes and Argo CD adapters observed, calls ``decide.decide`` and
hands the returned ``actions.Action`` values to the executors. See DESIGN.md section 4 for the rules.
"""
