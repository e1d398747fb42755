"""The ``k8sta`` operator CLI, plus the operator-facing pieces the web part shares with it.

Layout (pipx style): ``main`` builds argparse and dispatches to one module per command in
``commands/``; ``intake`` (pins and ticket bodies), ``board`` (JSON views) and ``railway``/``journey``
(terminal pictures) are pure; ``store`` is the only module here that talks to Kubernetes.
"""
