"""The web part's configuration keys, their defaults and their normalisation.

Callers: ``create_app``. Values arrive through ``app.config.from_prefixed_env("K8STA")`` (which
JSON-decodes them, so ``K8STA_WEBHOOK_TOKEN=1234`` arrives as an int) and from a test's mapping;
``normalize`` turns them into the types the blueprints rely on; secret files are read at start and
again whenever they change (``WebhookSecrets``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Config

from k8sta_daemon.adapters import secretfile

from .sansio import scopes

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "KUBECONFIG": None,  # None: the in-cluster service account
    "NAMESPACE": None,  # None: every namespace (the API lists), and no default for webhooks
    "WEBHOOK_TOKEN": None,  # one webhook secret, belonging to WEBHOOK_NAMESPACE (sansio.scopes)
    "WEBHOOK_TOKEN_FILE": None,  # or read it from a mounted Secret
    "WEBHOOK_NAMESPACE": None,  # the namespace of WEBHOOK_TOKEN; default NAMESPACE
    "WEBHOOK_SECRETS_FILE": None,  # scoped secrets: a YAML list of {namespace, track?, token}
    "AUTH_CACHE_SECONDS": 10.0,  # TokenReview / SubjectAccessReview answers are reused this long
    "AUTH_FAILED_CACHE_SECONDS": 30.0,  # a token the TokenReview refused is refused again without asking
    "AUTH_AUDIENCES": "k8sta",  # comma-separated audiences a token must carry (`kubectl create token --audience k8sta`)
    "ARGOCD_URL": None,  # when set, /readyz also needs Argo CD's API to answer
    "ARGOCD_INSECURE": False,
    "ARGOCD_CA_FILE": None,
    "READY_TIMEOUT_SECONDS": 3.0,
    "METRICS_CACHE_SECONDS": 10.0,  # ticket counts on /metrics are at most this old
    "MAX_CONTENT_LENGTH": 1 << 20,  # webhook bodies; Flask answers 413 beyond it
    "BOARD_WATCH": True,  # the board watches the API itself; off: an in-memory board fed by the caller (bench)
    "BOARD_READY_SECONDS": 10.0,  # how long the first page waits for the watch's initial lists
    "BOARD_KEEPALIVE_SECONDS": 15.0,  # an SSE comment this often keeps proxies open and finds dead clients
    "BOARD_STREAM_SECONDS": 300.0,  # an SSE stream ends after this; the browser reconnects and catches up
    "BOARD_MAX_STREAMS": 40,  # open SSE streams per process (gunicorn_conf: one worker, so per pod); then 429
    "BOARD_MAX_STREAMS_PER_IDENTITY": 6,  # open SSE streams per user per process; then 429
    "OPS_PORT": None,  # when set, /healthz, /readyz and /metrics answer only on this port, and nothing else does
    "WEBHOOK_DEBOUNCE_SECONDS": 10.0,  # a Subscription nudged less than this ago is not nudged again
}


class SettingsError(Exception):
    """A setting that cannot work; raised at startup so a bad deployment fails its first probe."""


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes")


def _count(key: str, value: Any) -> int:
    """A whole number of at least 1 (a cap of 0 would refuse every stream)."""
    if isinstance(value, bool) or not str(value).isdigit() or int(value) < 1:
        raise SettingsError(f"K8STA_{key} must be a whole number of at least 1, got {value!r}")
    return int(value)


def _port(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).isdigit() or not 0 < int(value) < 65536:
        raise SettingsError(f"K8STA_OPS_PORT must be a TCP port (1-65535), got {value!r}")
    return int(value)


def normalize(config: Config) -> None:
    for key in ("KUBECONFIG", "NAMESPACE", "WEBHOOK_TOKEN", "WEBHOOK_TOKEN_FILE", "WEBHOOK_NAMESPACE",
                "WEBHOOK_SECRETS_FILE", "AUTH_AUDIENCES", "ARGOCD_URL", "ARGOCD_CA_FILE"):
        config[key] = _text(config.get(key))
    config["ARGOCD_INSECURE"] = _flag(config.get("ARGOCD_INSECURE"))
    config["BOARD_WATCH"] = _flag(config.get("BOARD_WATCH"))
    for key in ("READY_TIMEOUT_SECONDS", "METRICS_CACHE_SECONDS", "AUTH_CACHE_SECONDS", "BOARD_READY_SECONDS",
                "BOARD_KEEPALIVE_SECONDS", "BOARD_STREAM_SECONDS", "AUTH_FAILED_CACHE_SECONDS",
                "WEBHOOK_DEBOUNCE_SECONDS"):
        try:
            config[key] = float(config[key])
        except (TypeError, ValueError):
            raise SettingsError(f"K8STA_{key} must be a number") from None
    for key in ("BOARD_MAX_STREAMS", "BOARD_MAX_STREAMS_PER_IDENTITY"):
        config[key] = _count(key, config.get(key))
    config["OPS_PORT"] = _port(config.get("OPS_PORT"))
    config["WEBHOOK_SECRETS_SOURCE"] = WebhookSecrets(config)
    config["WEBHOOK_SECRETS"] = config["WEBHOOK_SECRETS_SOURCE"].current()  # as read at start


def webhook_secrets(config: Config) -> tuple[tuple[scopes.Scope, ...], str | None]:
    """The webhook secrets now (re-read when their files change), and why webhooks are off when none."""
    found = config["WEBHOOK_SECRETS_SOURCE"].current()
    if found:
        return found, None
    if config["WEBHOOK_SECRETS_FILE"]:
        return found, (f"webhooks are disabled: {config['WEBHOOK_SECRETS_FILE']} does not exist (create the Secret "
                       "k8sta-webhook-secrets)")
    return found, ("webhooks are disabled: set K8STA_WEBHOOK_SECRETS_FILE (or K8STA_WEBHOOK_TOKEN and "
                   "K8STA_WEBHOOK_NAMESPACE)")


class WebhookSecrets:
    """Every webhook secret with its scope. The files (the scoped secrets, the single token) are re-read
    when they change (``secretfile``), so a rotated Secret needs no restart: at start a bad file stops the
    app; later one is refused with an error in the log, and the secrets read last stay in use."""

    def __init__(self, config: Config) -> None:
        self.token: str | None = config["WEBHOOK_TOKEN"]
        self.namespace: str | None = config["WEBHOOK_NAMESPACE"] or config["NAMESPACE"]
        token_file, path = config["WEBHOOK_TOKEN_FILE"], config["WEBHOOK_SECRETS_FILE"]
        try:
            self.token_file = (secretfile.SecretFile(token_file, _token, what="K8STA_WEBHOOK_TOKEN_FILE",
                                                     missing_ok=False)
                               if token_file and not self.token else None)
            # The install mounts an optional Secret: until it is created, webhooks are off (503), the rest runs.
            self.file = secretfile.SecretFile(path, _scopes, what="K8STA_WEBHOOK_SECRETS_FILE") if path else None
        except secretfile.SecretFileError as exc:
            raise SettingsError(str(exc)) from None
        if (self.token or (self.token_file is not None and self.token_file.get())) and not self.namespace:
            raise SettingsError("K8STA_WEBHOOK_TOKEN belongs to one namespace: set K8STA_WEBHOOK_NAMESPACE "
                                "(or K8STA_NAMESPACE), or use K8STA_WEBHOOK_SECRETS_FILE")
        self._refused: tuple[scopes.Scope, ...] | None = None
        last = self._combine()
        if last is None:
            raise SettingsError("K8STA_WEBHOOK_TOKEN is also in K8STA_WEBHOOK_SECRETS_FILE; "
                                "each secret must belong to exactly one scope")
        self._last = last

    def current(self) -> tuple[scopes.Scope, ...]:
        """The secrets as the files hold them now, or the last good ones when together they are refused."""
        combined = self._combine()
        if combined is None:
            return self._last
        self._last = combined
        return combined

    def _combine(self) -> tuple[scopes.Scope, ...] | None:
        """Both sources together; None (and one error per change) when a token is in both."""
        token = self.token or (self.token_file.get() if self.token_file is not None else None)
        found = [scopes.Scope(self.namespace, None, token)] if token and self.namespace else []
        from_file = self.file.get() if self.file is not None else ()
        found.extend(from_file)
        if len({s.token for s in found}) == len(found):
            return tuple(found)
        if self._refused != from_file:
            log.error("K8STA_WEBHOOK_TOKEN is also in K8STA_WEBHOOK_SECRETS_FILE: keeping the webhook secrets "
                      "read before, until one of them changes")
            self._refused = from_file
        return None


def _token(content: bytes | None) -> str | None:
    return (content or b"").decode("utf-8", errors="replace").strip() or None


def _scopes(content: bytes | None) -> tuple[scopes.Scope, ...]:
    if content is None:
        return ()
    try:
        return scopes.parse(content.decode("utf-8", errors="replace"))
    except scopes.ScopeError as exc:
        raise ValueError(str(exc)) from None
