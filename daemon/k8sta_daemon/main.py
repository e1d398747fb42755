"""``k8sta-daemon``: run the controller against a kubeconfig and an Argo CD API address/token.

The composition root: the only module that wires adapters, reactor units and the loop together.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

import prometheus_client

from k8sta_cmp import pins, safety
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters import argocd, kube, logs, repo_credentials, settings
from k8sta_daemon.adapters.git import runtime
from k8sta_daemon.adapters.leader import CLAIM_NAME, Holder, LeaderElector, LeaseSettings, NamespaceClaims
from k8sta_daemon.adapters.metrics import Metrics
from k8sta_daemon.core import compat
from k8sta_daemon.ops.store import Store
from k8sta_daemon.reactor import units
from k8sta_daemon.reactor.cache import Cache
from k8sta_daemon.reactor.drift import DriftWatcher
from k8sta_daemon.reactor.execution import Executor
from k8sta_daemon.reactor.health import HealthReasons
from k8sta_daemon.reactor.loop import Controller
from k8sta_daemon.reactor.refresher import Refresher
from k8sta_daemon.watch.poller import Intake

log = logging.getLogger("k8sta.daemon")
# How long the start waits for Argo CD's version before the controller starts without it.
ARGOCD_VERSION_WAIT_SECONDS = 10.0


def build(config: settings.Settings, environ: dict[str, str], metrics: Metrics | None = None) -> Controller:
    controller, _ = build_all(config, environ, metrics)
    return controller


def build_all(config: settings.Settings, environ: dict[str, str],
              metrics: Metrics | None = None) -> tuple[Controller, Intake]:
    """Wire adapters, units and the loop from settings (also used by tests and the bench)."""
    runtime.apply(runtime.Libgit2Settings())
    metrics = metrics or Metrics()
    api = kube.api_client(config.kubeconfig)
    metrics.count_kube_requests(api)  # every request of this process: watches, writes, Leases, intake
    kube_api = kube.Kube(api, config.namespace, instance=config.identity)
    argo = argocd.ArgoCD(argocd.ArgoCDSettings(url=config.argocd_url, token=config.argocd_token,
                                               verify=config.argocd_verify,
                                               token_source=config.argocd_token_source),
                         on_request=metrics.argocd_request)
    cache = Cache()
    git = units.GitSettings(mirrors=config.cache_dir / "mirrors",
                            credentials=repo_credentials.FromRepoSecrets(kube_api, config.repo_secrets_namespace,
                                                                         config.argocd_namespace),
                            kustomize=Kustomize.locate(environ), limits=safety.Limits.from_environ(environ),
                            default_source_branch=config.default_source_branch, input_key=config.input_key,
                            input_key_source=config.input_key_source)
    scope = f"namespace {config.namespace}" if config.namespace else "all namespaces"
    renew = config.lease_seconds / 3
    elector = (LeaderElector(api, LeaseSettings(namespace=config.lease_namespace, identity=config.identity,
                                                lease_seconds=config.lease_seconds, renew_seconds=renew,
                                                scope=scope))
               if config.leader_election else None)

    def yielded(namespace: str, holder: Holder) -> None:
        """Say in the contested namespace who yields to whom (``kubectl get events``)."""
        involved = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "namespace": namespace,
                    "name": CLAIM_NAME, "uid": ""}
        try:
            kube_api.emit_event(involved, "Warning", "ControllerOverlap",
                                f"controller {config.identity} ({scope}) yields namespace {namespace} to controller "
                                f"{holder.identity} ({holder.scope or 'scope unknown'}), which holds its claim; "
                                "run one controller per namespace")
        except kube.KubeError as exc:
            log.warning("recording the overlap failed: %s", exc)

    claims = NamespaceClaims(api, config.identity, scope, lease_seconds=config.lease_seconds, renew_seconds=renew,
                             on_yield=yielded)

    def fence(namespace: str) -> str | None:
        return (elector.fence() if elector is not None else None) or claims.fence(namespace)

    refresher = Refresher(argo, metrics, on_app=lambda app: cache.apply_app("MODIFIED", app))
    executor = Executor(units.Context(kube=kube_api, argo=argo, cache=cache, metrics=metrics, git=git,
                                      identity=config.identity, refresher=refresher), fence=fence)
    drift = DriftWatcher(cache, git, interval=config.drift_seconds, on_change=cache.mark_all)
    executor.repairs.on_repaired = drift.settled
    controller = Controller(kube=kube_api, argo=argo, executor=executor, cache=cache, metrics=metrics,
                            resync_seconds=config.resync_seconds, elector=elector, claims=claims, drift=drift,
                            health=HealthReasons(argo, submit=refresher.run, on_news=cache.app_news),
                            refresher=refresher)
    # The Subscription pollers: the same clients and git settings, acting only while this daemon leads.
    intake = Intake(kube=kube.Kube(api, config.namespace, component="k8sta-intake", instance=config.identity),
                    store=Store(api, component="k8sta-intake"),
                    is_leader=(lambda: True) if elector is None else elector.is_leader.is_set,
                    claimed_by=claims.yielded_to, git=git, argo=argo, on_rerendered=drift.soon)
    return controller, intake


def tested_argocd_versions() -> list[str]:
    """The Argo CD releases CI runs against: the pin and the oldest one still tested (versions.env)."""
    versions = pins.read()
    return [versions[key] for key in ("ARGOCD_VERSION", "ARGOCD_COMPAT_VERSION") if key in versions]


def check_argocd_version(argo: argocd.ArgoCD, stop: threading.Event, *,
                         retry_seconds: float = 10.0) -> compat.ArgoCDVerdict | None:
    """Read the version Argo CD reports, log the verdict (``core.compat``) and return it; while Argo CD
    does not answer, say so and ask again after ``retry_seconds``, twice as long each time up to 5
    minutes (a long outage is not a log line every few seconds). None if stopped before it answered."""
    wait = retry_seconds
    while not stop.is_set():
        try:
            version = argo.version()
        except argocd.ArgoCDError as exc:
            log.warning("cannot read Argo CD's version yet (%s); asking again in %gs", exc, wait)
            stop.wait(wait)
            wait = min(wait * 2, 300.0)
            continue
        verdict = compat.judge_argocd(version, tested_argocd_versions())
        level = {compat.Support.TESTED: logging.INFO, compat.Support.UNTESTED: logging.WARNING,
                 compat.Support.INCOMPATIBLE: logging.ERROR}[verdict.support]
        log.log(level, "%s", verdict.message, extra={"argocd_version": version, "support": verdict.support.value})
        return verdict
    return None


def guard_argocd_version(argo: argocd.ArgoCD, stop: threading.Event, refused: threading.Event) -> None:
    """Judge Argo CD's version once it answers; an incompatible one sets ``refused`` and stops the daemon."""
    verdict = check_argocd_version(argo, stop)
    if verdict is not None and verdict.support is compat.Support.INCOMPATIBLE:
        refused.set()
        stop.set()


def main(argv: Sequence[str] | None = None) -> int:
    environ = dict(os.environ)
    logs.configure(environ.get("K8STA_LOG_LEVEL", "INFO"))
    try:
        config = settings.parse(argv, environ)
    except settings.SettingsError as exc:
        print(f"k8sta-daemon: {exc}", file=sys.stderr)
        return 2
    try:
        controller, intake = build_all(config, environ)
    except Exception as exc:  # kubeconfig, kustomize, cache dir: one clear line instead of a traceback
        print(f"k8sta-daemon: cannot start: {exc}", file=sys.stderr)
        return 1
    if config.metrics_port:
        prometheus_client.start_http_server(config.metrics_port, registry=controller.metrics.registry)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("starting as %s: argocd %s, namespace %s, leader election %s", config.identity, config.argocd_url,
             config.namespace or "(all)", "on" if config.leader_election else "off")
    # Argo CD's version is judged before anything acts when Argo CD answers at once; when it does not
    # (yet), the controller starts (it waits for Argo CD anyway) and an incompatible one stops it later.
    refused = threading.Event()
    guard = threading.Thread(target=guard_argocd_version, args=(controller.argo, stop, refused),
                             name="argocd-version", daemon=True)
    guard.start()
    guard.join(timeout=ARGOCD_VERSION_WAIT_SECONDS)
    if not refused.is_set():
        threading.Thread(target=intake.run, args=(stop,), name="intake", daemon=True).start()
        controller.run(stop)
    if refused.is_set():
        print("k8sta-daemon: stopped: the Argo CD it talks to is not supported (see the log line above)",
              file=sys.stderr)
        return 1
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
