"""A small RBAC evaluator over rendered objects, and the access table both it and the API server check.

Callers: ``test_kustomize`` (offline, against the rendered RBAC) and ``test_cluster`` (the same table
through SubjectAccessReviews of the real API server, which also proves this evaluator right).
Wildcards are deliberately not understood: the install must not use them (asserted separately).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

NAMESPACE = "k8sta"
ARGOCD_NAMESPACE = "argocd"
CONTROLLER = "k8sta-controller"
WEB = "k8sta-web"
LEASE = "k8sta-controller"
USER_NAMESPACE = "shop"  # any namespace where users keep Tracks, Stations and Tickets


@dataclass(frozen=True)
class Access:
    account: str  # a ServiceAccount in k8sta
    verb: str
    group: str
    resource: str  # plural, optionally "/subresource"
    namespace: str | None
    allowed: bool
    name: str | None = None

    @property
    def id(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        what = f"{self.resource}/{self.name}" if self.name else self.resource
        group = f".{self.group}" if self.group else ""
        return f"{self.account} {'may' if self.allowed else 'may not'} {self.verb} {what}{group}{where}"


def _a(account: str, verb: str, group: str, resource: str, namespace: str | None, allowed: bool,
       name: str | None = None) -> Access:
    return Access(account, verb, group, resource, namespace, allowed, name)


C, W, U, A = CONTROLLER, WEB, USER_NAMESPACE, ARGOCD_NAMESPACE
TABLE: tuple[Access, ...] = (
    # controller: our resources
    *(_a(C, verb, "k8sta.io", "tickets", U, True) for verb in ("get", "list", "watch", "create")),
    *(_a(C, verb, "k8sta.io", "tickets", U, False) for verb in ("update", "patch", "delete", "deletecollection")),
    *(_a(C, verb, "k8sta.io", plural, U, True) for verb in ("get", "list", "watch")
      for plural in ("tracks", "stations")),
    *(_a(C, verb, "k8sta.io", plural, U, False) for verb in ("create", "update", "patch", "delete")
      for plural in ("tracks", "stations")),
    *(_a(C, verb, "k8sta.io", "subscriptions", U, True) for verb in ("get", "list", "watch")),
    *(_a(C, verb, "k8sta.io", "subscriptions", U, False) for verb in ("create", "update", "patch", "delete")),
    _a(C, "update", "k8sta.io", "subscriptions/status", U, True),
    _a(C, "patch", "k8sta.io", "subscriptions/status", U, False),
    _a(C, "update", "k8sta.io", "tickets/status", U, True),
    _a(C, "update", "k8sta.io", "tracks/status", U, True),
    _a(C, "update", "k8sta.io", "stations/status", U, False),
    _a(C, "patch", "k8sta.io", "tickets/status", U, False),
    # controller: Argo CD Applications are only read
    *(_a(C, verb, "argoproj.io", "applications", A, True) for verb in ("get", "list", "watch")),
    *(_a(C, verb, "argoproj.io", "applications", A, False) for verb in ("update", "patch", "delete")),
    _a(C, "get", "argoproj.io", "appprojects", A, False),
    # controller: Events on Tickets (any namespace) and on Applications (Argo CD's namespace)
    *(_a(C, verb, group, "events", ns, True) for verb in ("create", "patch") for group in ("", "events.k8s.io")
      for ns in (U, A)),
    _a(C, "delete", "", "events", U, False),
    # controller: git credentials, only from Argo CD's repository Secrets
    _a(C, "get", "", "secrets", A, True),
    _a(C, "list", "", "secrets", A, True),
    _a(C, "watch", "", "secrets", A, False),
    _a(C, "create", "", "secrets", A, False),
    _a(C, "update", "", "secrets", A, False),
    _a(C, "get", "", "secrets", NAMESPACE, False),
    _a(C, "list", "", "secrets", U, False),
    _a(C, "list", "", "secrets", "kube-system", False),
    # controller: its own Lease, nothing else
    _a(C, "create", "coordination.k8s.io", "leases", NAMESPACE, True),
    _a(C, "get", "coordination.k8s.io", "leases", NAMESPACE, True, LEASE),
    _a(C, "update", "coordination.k8s.io", "leases", NAMESPACE, True, LEASE),
    _a(C, "update", "coordination.k8s.io", "leases", NAMESPACE, False, "someone-else"),
    _a(C, "delete", "coordination.k8s.io", "leases", NAMESPACE, False, LEASE),
    # controller: the claim Lease of every namespace it acts on (k8sta-claim), no other Lease there
    _a(C, "create", "coordination.k8s.io", "leases", U, True),
    _a(C, "get", "coordination.k8s.io", "leases", U, True, "k8sta-claim"),
    _a(C, "update", "coordination.k8s.io", "leases", U, True, "k8sta-claim"),
    _a(C, "update", "coordination.k8s.io", "leases", U, False, "someone-else"),
    _a(C, "delete", "coordination.k8s.io", "leases", U, False, "k8sta-claim"),
    # controller: nothing of the workloads
    _a(C, "create", "", "pods", U, False),
    _a(C, "get", "", "configmaps", A, False),
    # controller: the servers Argo CD trusts (git over SSH and HTTPS), no other ConfigMap of Argo CD's
    _a(C, "get", "", "configmaps", A, True, "argocd-ssh-known-hosts-cm"),
    _a(C, "get", "", "configmaps", A, True, "argocd-tls-certs-cm"),
    _a(C, "get", "", "configmaps", A, False, "argocd-cm"),
    _a(C, "update", "", "configmaps", A, False, "argocd-ssh-known-hosts-cm"),
    # web: reads (and, for the board, watches) our resources and reads Events; its webhooks only nudge
    # Subscriptions, so it creates no Ticket and no Event
    *(_a(W, verb, "k8sta.io", plural, U, True) for verb in ("get", "list", "watch")
      for plural in ("tracks", "stations", "tickets")),
    _a(W, "list", "", "events", U, True),
    *(_a(W, verb, "", "events", U, False) for verb in ("create", "patch", "delete")),
    *(_a(W, verb, "events.k8s.io", "events", U, False) for verb in ("create", "patch")),
    *(_a(W, verb, "k8sta.io", "tickets", U, False) for verb in ("create", "update", "patch", "delete")),
    _a(W, "update", "k8sta.io", "tickets/status", U, False),
    _a(W, "create", "k8sta.io", "tracks", U, False),
    _a(W, "update", "k8sta.io", "subscriptions/status", U, False),
    *(_a(W, verb, "k8sta.io", "subscriptions", U, True) for verb in ("list", "patch")),
    *(_a(W, verb, "k8sta.io", "subscriptions", U, False) for verb in ("create", "delete", "update")),
    _a(W, "get", "", "secrets", A, False),
    _a(W, "list", "", "secrets", NAMESPACE, False),
    _a(W, "create", "coordination.k8s.io", "leases", NAMESPACE, False),
    _a(W, "list", "argoproj.io", "applications", A, False),
    # web: checks its callers (bearer tokens, their RBAC per namespace); reviews are cluster-scoped
    _a(W, "create", "authentication.k8s.io", "tokenreviews", None, True),
    _a(W, "create", "authorization.k8s.io", "subjectaccessreviews", None, True),
    _a(W, "create", "authorization.k8s.io", "localsubjectaccessreviews", U, False),
    _a(W, "create", "", "serviceaccounts/token", NAMESPACE, False),
    _a(W, "impersonate", "", "users", None, False),
    # nobody else reviews tokens: the controller has no callers
    _a(C, "create", "authentication.k8s.io", "tokenreviews", None, False),
    _a(C, "create", "authorization.k8s.io", "subjectaccessreviews", None, False),
)


def _matches(rule: Obj, access: Access) -> bool:
    return (access.verb in rule.get("verbs", []) and access.group in rule.get("apiGroups", [])
            and access.resource in rule.get("resources", [])
            and (not rule.get("resourceNames") or access.name in rule["resourceNames"]))


def _binds(binding: Obj, account: str) -> bool:
    return any(s.get("kind") == "ServiceAccount" and s.get("name") == account and s.get("namespace") == NAMESPACE
               for s in binding.get("subjects", []))


def allowed(objects: list[Obj] | tuple[Obj, ...], access: Access) -> bool:
    """Whether the rendered RBAC lets ServiceAccount k8sta/<account> do ``access``."""
    roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects
             if o["kind"] in ("Role", "ClusterRole")}
    for binding in objects:
        if binding["kind"] not in ("RoleBinding", "ClusterRoleBinding") or not _binds(binding, access.account):
            continue
        where = binding["metadata"].get("namespace")
        if binding["kind"] == "RoleBinding" and where != access.namespace:
            continue
        ref = binding["roleRef"]
        role = roles.get((ref["kind"], where if ref["kind"] == "Role" else None, ref["name"]))
        if role and any(_matches(rule, access) for rule in role.get("rules", [])):
            return True
    return False
