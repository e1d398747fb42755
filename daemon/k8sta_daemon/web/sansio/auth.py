"""Webhook authentication as pure functions: a shared token, or GitHub's HMAC signature of the body.

Callers: ``web.webhooks``. Comparisons are constant-time (``hmac.compare_digest``); nothing here logs
or returns the secret.
"""

from __future__ import annotations

import hashlib
import hmac

TOKEN_HEADER = "X-K8sTA-Token"
GITHUB_SIGNATURE_HEADER = "X-Hub-Signature-256"  # GitHub cannot send custom headers, it signs instead


def authorized(secret: str, *, token: str | None, body: bytes, github_signature: str | None) -> bool:
    """True when the request carries ``secret`` in ``X-K8sTA-Token`` or a valid GitHub signature."""
    if not secret:
        return False
    if token is not None and hmac.compare_digest(token.encode(), secret.encode()):
        return True
    if github_signature is not None and github_signature.startswith("sha256="):
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(github_signature.encode(), expected.encode())
    return False
