"""Webhook authentication of the git forges beside the existing checks (``auth``): GitLab's shared token
(``X-Gitlab-Token``) and Gitea's / Forgejo's HMAC-SHA256 of the body (``X-Gitea-Signature`` /
``X-Forgejo-Signature``, bare hex). Constant-time comparisons; the secret is never returned or logged."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

GITLAB_TOKEN_HEADER = "X-Gitlab-Token"
GITEA_SIGNATURE_HEADERS = ("X-Forgejo-Signature", "X-Gitea-Signature")


def authorized(secret: str, *, body: bytes, headers: Mapping[str, str]) -> bool:
    """True when a GitLab token or a Gitea/Forgejo signature proves the sender knows ``secret``."""
    if not secret:
        return False
    token = headers.get(GITLAB_TOKEN_HEADER)
    if token is not None and hmac.compare_digest(token.encode(), secret.encode()):
        return True
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    for header in GITEA_SIGNATURE_HEADERS:
        signature = headers.get(header)
        if signature is not None and hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
            return True
    return False
