"""Plumbing (kopf's ``_cogs``): Kubernetes, Argo CD, git, leader election, settings, logs, metrics.

Thin adapters over I/O that know nothing of the domain: no module here imports ``core``, ``reactor``,
``ops``, ``cli`` or ``web`` (import-linter checks it). Each names its errors by what the caller should
do next (retry later vs give up); turning those into a ticket's fate is the reactor's and the core's job.
"""
