"""The operator service layer that both front ends use: the CLI (``k8sta``) and the web part.

``store`` (the only module here that talks to Kubernetes), ``intake`` (pins and ticket bodies),
``operations`` (create, rollback), ``board`` (JSON views of Tracks and tickets) and ``errors`` (failures
named by what the caller should do; the CLI maps them to exit codes, the web part to HTTP statuses).
Neither front end imports the other; both import this.
"""
