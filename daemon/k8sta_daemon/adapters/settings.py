"""Daemon settings: one dataclass tree, loaded from flags or ``K8STA_*`` environment variables once.

Callers: the ``k8sta-daemon`` entry point builds it and passes it down explicitly; nothing reads
``os.environ`` elsewhere in the daemon. The two secrets in files (the Argo CD token, the input key) are
read here first, and again whenever their files change (``secretfile``), so rotating them needs no restart.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from k8sta_cmp import errors, inputs
from k8sta_cmp.kustomize import default_cache_dir

from . import secretfile

DEFAULT_ARGOCD_NAMESPACE = "argocd"  # the one default; Argo CD's API address follows it


class SettingsError(Exception):
    """A missing or malformed setting; the message names the flag and the variable."""


@dataclass(frozen=True)
class Settings:
    kubeconfig: str | None
    namespace: str | None
    argocd_url: str
    argocd_token: str = field(repr=False)
    argocd_verify: bool | str
    argocd_namespace: str
    cache_dir: Path
    resync_seconds: float
    lease_namespace: str
    identity: str
    default_source_branch: str
    leader_election: bool
    metrics_port: int | None = None
    drift_seconds: float = 30.0
    lease_seconds: int = 15
    input_key: bytes | None = field(default=None, repr=False)  # signs app branches (contract v3)
    repo_secrets_namespace: str = "k8sta"  # where the git write credentials are (repo_credentials)
    # The current token and input key, re-read when their files change; None: the values above, fixed.
    argocd_token_source: Callable[[], str] | None = field(default=None, repr=False, compare=False)
    input_key_source: Callable[[], bytes | None] | None = field(default=None, repr=False, compare=False)


def _flag(parser: argparse.ArgumentParser, name: str, env: str, help_: str, **kw: object) -> None:
    parser.add_argument(name, dest=env, help=f"{help_} (env {env})", **kw)  # type: ignore[arg-type]


# (flag, environment variable, help[, "switch"]): a switch takes no value.
_FLAGS: tuple[tuple[str, ...], ...] = (
    ("--kubeconfig", "K8STA_KUBECONFIG", "kubeconfig file; default: in-cluster service account"),
    ("--namespace", "K8STA_NAMESPACE", "watch Tracks/Stations/Tickets only here; default: all"),
    ("--argocd-url", "K8STA_ARGOCD_URL", "Argo CD API URL; default https://argocd-server.<argocd namespace>.svc"),
    ("--argocd-token-file", "K8STA_ARGOCD_TOKEN_FILE", "file holding an Argo CD API token"),
    ("--argocd-insecure", "K8STA_ARGOCD_INSECURE", "skip TLS verification of Argo CD's API", "switch"),
    ("--argocd-ca-file", "K8STA_ARGOCD_CA_FILE", "CA bundle for Argo CD's API"),
    ("--argocd-namespace", "K8STA_ARGOCD_NAMESPACE", f"namespace of Argo CD; default {DEFAULT_ARGOCD_NAMESPACE}"),
    ("--repo-secrets-namespace", "K8STA_REPO_SECRETS_NAMESPACE",
     "namespace of the git write credentials (Argo CD-format repository/repo-creds Secrets); default: k8sta"),
    ("--cache-dir", "K8STA_CACHE", "git mirrors live under <cache>/mirrors"),
    ("--resync-seconds", "K8STA_RESYNC_SECONDS", "full re-decision interval (time-based rules)"),
    ("--drift-seconds", "K8STA_DRIFT_SECONDS", "how often app branches are checked for hand edits"),
    ("--lease-namespace", "K8STA_LEASE_NAMESPACE", "namespace of the leader-election Lease"),
    ("--lease-seconds", "K8STA_LEASE_SECONDS", "Lease duration (leader, namespace claims), renewed every third"),
    ("--source-branch", "K8STA_SOURCE_BRANCH", "default source branch of config repos"),
    ("--metrics-port", "K8STA_METRICS_PORT", "serve the controller's Prometheus /metrics here"),
    ("--no-leader-election", "K8STA_NO_LEADER_ELECTION", "act without a Lease (one replica only)", "switch"),
    ("--input-key-file", "K8STA_INPUT_KEY_FILE", "HMAC key signing app branches' inputs (the sidecar mounts it too)"),
)


def parse(argv: Sequence[str] | None, environ: Mapping[str, str]) -> Settings:
    parser = argparse.ArgumentParser(prog="k8sta-daemon", description="K8sTA controller")
    for name, env, help_, *flag in _FLAGS:
        _flag(parser, name, env, help_, **({"action": "store_const", "const": "true"} if flag else {}))
    args = vars(parser.parse_args(argv))

    def get(env: str, default: str | None = None) -> str | None:
        value = args.get(env)
        return value if value is not None else environ.get(env, default)

    argocd_namespace = get("K8STA_ARGOCD_NAMESPACE") or DEFAULT_ARGOCD_NAMESPACE
    url = get("K8STA_ARGOCD_URL") or f"https://argocd-server.{argocd_namespace}.svc"
    token = environ.get("K8STA_ARGOCD_TOKEN")
    token_file = get("K8STA_ARGOCD_TOKEN_FILE")
    token_source: secretfile.SecretFile[str] | None = None
    if token_file:
        try:
            token_source = secretfile.SecretFile(token_file, _token, what="the Argo CD token file",
                                                 missing_ok=False)
        except secretfile.SecretFileError as exc:
            raise SettingsError(str(exc)) from None
        token = token_source.get()
    if not token:
        raise SettingsError("an Argo CD API token is required: --argocd-token-file, K8STA_ARGOCD_TOKEN_FILE "
                            "or K8STA_ARGOCD_TOKEN")

    def seconds(env: str, flag: str, default: str) -> float:
        """A positive number of seconds (``flag``/``env``), else the SettingsError naming both."""
        raw = get(env, default)
        try:
            value = float(raw or "")
        except ValueError:
            value = -1
        if value <= 0:
            raise SettingsError(f"{flag} / {env} must be a positive number, got {raw!r}")
        return value

    resync = seconds("K8STA_RESYNC_SECONDS", "--resync-seconds", "5")
    drift_seconds = seconds("K8STA_DRIFT_SECONDS", "--drift-seconds", "30")
    verify: bool | str = True
    if (get("K8STA_ARGOCD_INSECURE") or "").lower() in ("1", "true", "yes"):
        verify = False
    elif get("K8STA_ARGOCD_CA_FILE"):
        verify = str(get("K8STA_ARGOCD_CA_FILE"))
        if not Path(verify).is_file():  # the install mounts the ConfigMap k8sta-argocd-ca, optional
            raise SettingsError(f"--argocd-ca-file / K8STA_ARGOCD_CA_FILE {verify} does not exist: create the "
                                "ConfigMap k8sta-argocd-ca (key ca.crt: the CA of Argo CD's server certificate; "
                                "docs/operations.md, step 3)")
    metrics_raw = get("K8STA_METRICS_PORT")
    if metrics_raw is not None and not (metrics_raw.isdigit() and 0 < int(metrics_raw) < 65536):
        raise SettingsError(f"--metrics-port / K8STA_METRICS_PORT must be a TCP port, got {metrics_raw!r}")
    lease_raw = get("K8STA_LEASE_SECONDS", "15") or ""
    if not (lease_raw.isdigit() and 3 <= int(lease_raw) <= 3600):
        raise SettingsError(f"--lease-seconds / K8STA_LEASE_SECONDS must be whole seconds from 3 to 3600, "
                            f"got {lease_raw!r}")
    cache = get("K8STA_CACHE")
    namespace = get("K8STA_NAMESPACE")
    key_file = get("K8STA_INPUT_KEY_FILE")  # inputs.KEY_ENV
    key_source: secretfile.SecretFile[bytes | None] | None = None
    try:
        input_key = inputs.read_key({inputs.KEY_ENV: key_file} if key_file else {})
        if key_file:
            key_source = secretfile.SecretFile(key_file, _input_key, what="the input key")
    except (errors.K8staError, secretfile.SecretFileError) as exc:
        raise SettingsError(f"--input-key-file / {exc}") from None
    return Settings(
        kubeconfig=get("K8STA_KUBECONFIG") or environ.get("KUBECONFIG"),
        namespace=namespace,
        argocd_url=url,
        argocd_token=token,
        argocd_verify=verify,
        argocd_namespace=argocd_namespace,
        cache_dir=Path(cache) if cache else default_cache_dir(dict(environ)),
        resync_seconds=resync,
        lease_namespace=get("K8STA_LEASE_NAMESPACE") or namespace or "k8sta",
        identity=environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}",
        default_source_branch=get("K8STA_SOURCE_BRANCH", "main") or "main",
        leader_election=(get("K8STA_NO_LEADER_ELECTION") or "").lower() not in ("1", "true", "yes"),
        metrics_port=int(metrics_raw) if metrics_raw else None,
        drift_seconds=drift_seconds,
        lease_seconds=int(lease_raw),
        input_key=input_key,
        repo_secrets_namespace=get("K8STA_REPO_SECRETS_NAMESPACE") or "k8sta",
        argocd_token_source=token_source.get if token_source is not None else None,
        input_key_source=key_source.get if key_source is not None else None,
    )


def _token(content: bytes | None) -> str:
    """An Argo CD token file's content: one non-empty line (a removed or emptied file is refused)."""
    if content is None:
        raise ValueError("no such file")
    token = content.decode("utf-8", errors="replace").strip()
    if not token:
        raise ValueError("the file is empty")
    return token


def _input_key(content: bytes | None) -> bytes | None:
    """The input key's rules (``inputs.read_key``: none without the file, at least 16 bytes) as a parser."""
    if content is None:
        return None
    key = content[:4096].strip()
    if len(key) < inputs.MIN_KEY_BYTES:
        raise ValueError(f"holds {len(key)} bytes; an input key needs at least {inputs.MIN_KEY_BYTES}")
    return key
