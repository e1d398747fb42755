"""The shapes of names, commits, digests and image references: one definition for plugin and daemon.

Callers: ``contract`` (the plugin validating ``.k8sta/metadata.yaml``), and the daemon's ``core.codec``,
``core.subscriptions`` and ``ops.intake`` (objects read from Kubernetes, image references an operator
or a webhook gives). They follow the CRDs' own patterns (kustomize/crds/) and Kubernetes' name rules.
It lives here because the plugin imports nothing from the daemon; it imports only ``re`` (the plugin's
hot path).
"""

from __future__ import annotations

import re

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
# An object name's characters (a DNS-1123 subdomain without the length: callers say "at most 253").
OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")  # a full SHA-1 or SHA-256 git commit id
SHA256 = re.compile(r"^[0-9a-f]{64}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# An image reference without tag or digest: registry[:port]/path components, lower case.
IMAGE_NAME = re.compile(
    r"^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$"
)
