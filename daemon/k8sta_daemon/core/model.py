"""The domain model of the daemon: immutable values describing Tracks, Stations, Tickets and Applications.

Callers: ``resources`` builds these from Kubernetes/Argo CD JSON, the controller assembles a ``World``
and ``decide.decide`` reads it. Everything is a frozen dataclass or an enum so a World can be
compared, logged and replayed; no field holds a client, a clock or anything mutable.

Conventions:
- times are float seconds since the epoch (UTC); ``World.now`` is the only "now" the core sees;
- Tracks, Stations and Tickets are namespaced; a Track names its Stations, a Station names its
  junction Tracks, and a Ticket names its Track and parent, all in the object's own namespace;
- enum values are the exact strings used by the CRDs and by the Argo CD API.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from k8sta_cmp.contract import ImagePin
from k8sta_daemon.core.windows import Window

__all__ = [
    "AppCondition", "AppRef", "AppStatus", "Boarding", "Condition", "ConditionReason", "ConditionStatus",
    "ConditionType", "Drift", "HealthStatus", "ImagePin", "JourneyRecord", "JourneyState", "MalformedTicket",
    "OperationPhase", "PushedCommit", "Rerendered", "Snapshot", "StationRef", "StationSpec", "SyncRefusal",
    "SyncStatus", "Ticket", "TicketRef", "TicketState", "TicketStatus", "TrackRef", "TrackSpec", "World",
]


# -- references ---------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class _Ref:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, order=True)
class AppRef(_Ref):
    """An Argo CD Application (namespace is where the Application object lives, e.g. ``argocd``)."""


@dataclass(frozen=True, order=True)
class TicketRef(_Ref):
    """A Ticket object."""


@dataclass(frozen=True, order=True)
class TrackRef(_Ref):
    """A Track object."""


@dataclass(frozen=True, order=True)
class StationRef(_Ref):
    """A Station object."""


# -- Argo CD, as its API reports an Application --------------------------------------------------


class SyncStatus(enum.Enum):
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


class OperationPhase(enum.Enum):
    RUNNING = "Running"
    TERMINATING = "Terminating"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"


class HealthStatus(enum.Enum):
    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    SUSPENDED = "Suspended"
    MISSING = "Missing"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class AppCondition:
    """One of Argo CD's error conditions on an Application (``ComparisonError``, ``SyncError``, ...)."""

    type: str
    message: str


@dataclass(frozen=True)
class SyncRefusal:
    """Argo CD refused K8sTA's latest request to sync ``revision``; ``message`` is its answer (HTTP
    status and Argo CD's own words, e.g. "cannot sync: blocked by sync window")."""

    revision: str
    message: str


@dataclass(frozen=True)
class AppStatus:
    """What Argo CD reports for one Application; only the fields the arrival rule needs.

    ``synced_revision`` is the revision of Argo CD's last comparison (``status.sync.revision``: what the
    Application's ``targetRevision`` resolved to) and ``sync_status`` its verdict; ``operation_revision``
    is the revision the last operation synced (``syncResult.revision``): an operation only counts for a
    ticket when it was for the ticket's own commit. ``automated`` is whether the Application has
    automated sync (None: unknown), ``prune`` whether its own sync policy prunes
    (``syncPolicy.automated.prune``), and ``conditions`` are Argo CD's error conditions, shown in the
    ticket's message while it waits. ``sync_refused`` is not Argo CD's status but the reactor's memory
    of Argo CD's answer to K8sTA's latest sync request, when that answer was a refusal.
    ``repo_url`` and ``target_revision`` are where the spec's K8sTA source points now (None: unknown,
    or no single K8sTA source), so a visit notices an Application re-pointed since its push;
    ``source_position`` is that source's 1-based place in ``spec.sources`` (None: ``spec.source``),
    the index of its revision in Argo CD's ``revisions`` lists and what a sync request names.
    ``authorized_namespaces`` is the raw value of the Application's ``k8sta.io/authorized-namespaces``
    annotation (None: absent): whose Stations may drive it, judged by ``authorization``.
    """

    exists: bool = True
    sync_status: SyncStatus = SyncStatus.UNKNOWN
    synced_revision: str | None = None
    operation_phase: OperationPhase | None = None
    operation_revision: str | None = None
    operation_started_at: float | None = None
    operation_finished_at: float | None = None
    operation_message: str = ""
    reconciled_at: float | None = None
    health: HealthStatus = HealthStatus.UNKNOWN
    health_message: str = ""
    automated: bool | None = None
    prune: bool = False
    conditions: tuple[AppCondition, ...] = ()
    repo_url: str | None = None
    target_revision: str | None = None
    source_position: int | None = None
    sync_refused: SyncRefusal | None = None
    authorized_namespaces: str | None = None

    @property
    def operation_running(self) -> bool:
        return self.operation_phase in (OperationPhase.RUNNING, OperationPhase.TERMINATING)

    @classmethod
    def missing(cls) -> AppStatus:
        """The status of an Application Argo CD does not know (deleted, never created, typo)."""
        return cls(exists=False)


# -- what a Ticket carries ----------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """A complete pinned snapshot (never a delta): the shared-config commit plus every image pin."""

    config_commit: str | None
    images: tuple[ImagePin, ...] = ()


@dataclass(frozen=True)
class PushedCommit:
    """One app-branch commit the git adapter pushed for a ticket at a Station."""

    app: AppRef
    repo_url: str
    branch: str
    commit: str


@dataclass(frozen=True)
class Drift:
    """An app branch whose head is not K8sTA's commit: a hand edit, or an old commit pushed back.

    Reported by the drift watcher (``core.drift.judge_head``); ``head`` is the foreign commit and
    ``restore`` the commit a ticket's status records for the branch (None: none is recorded, a repair
    restores the newest K8sTA commit below ``head``)."""

    app: AppRef
    branch: str
    head: str
    restore: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Rerendered:
    """An app branch whose head is K8sTA's overlay-only re-render (``K8sTA-Rerender`` trailer).

    Reported by the git adapter. A re-render keeps the trailers of the commit it re-rendered, so
    ``ticket``/``station`` name the visit whose content (pins) the head still carries: that visit is
    judged against ``head`` from then on."""

    app: AppRef
    branch: str
    head: str
    ticket: str
    station: str


# -- specs --------------------------------------------------------------------------------------


class Boarding(enum.Enum):
    """Who boards when the first Station frees: snapshots are complete, so skipping loses nothing."""

    NEWEST_SUPERSEDES = "NewestSupersedes"
    EVERY_TICKET_RIDES = "EveryTicketRides"


class ConditionStatus(enum.Enum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(enum.Enum):
    READY = "Ready"  # on a Track: its graph is valid and tickets may move on it
    BLOCKED = "Blocked"  # on a Ticket: present (True) only while something outside it stops it
    MALFORMED = "Malformed"  # on a Ticket: present (True) only while its spec cannot be read


class ConditionReason(enum.Enum):
    VALID = "Valid"
    DISABLED = "Disabled"
    CYCLE_DETECTED = "CycleDetected"
    STATION_NOT_FOUND = "StationNotFound"
    JUNCTION_TRACK_NOT_FOUND = "JunctionTrackNotFound"
    DUPLICATE_STATION = "DuplicateStation"
    STATION_ORDER_CONFLICT = "StationOrderConflict"
    JUNCTION_SHARES_STATION = "JunctionSharesStation"
    APPLICATION_SHARED = "ApplicationShared"
    APPLICATION_NOT_AUTHORIZED = "ApplicationNotAuthorized"  # an Application has not opted in (authorization)
    TRACK_NOT_FOUND = "TrackNotFound"
    TRACK_NOT_READY = "TrackNotReady"
    TRACK_DISABLED = "TrackDisabled"
    STATION_OFF_TRACK = "StationOffTrack"
    INVALID_SPEC = "InvalidSpec"


@dataclass(frozen=True)
class Condition:
    """A Kubernetes-style condition. The transition time does not take part in equality, so an
    unchanged condition never causes a status write."""

    type: ConditionType
    status: ConditionStatus
    reason: ConditionReason
    message: str
    last_transition_time: float | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StationSpec:
    """A stop on a line: Applications deployed and judged together, plus junction Tracks.

    ``degraded_grace_seconds``: how long an Application may stay Degraded (at our revision) before
    the ticket fails; ``timeout_seconds``: how long after entry the Station must be arrived;
    ``self_heal``: restore K8sTA's content on top of a hand edit of one of its app branches.
    """

    namespace: str
    name: str
    applications: tuple[AppRef, ...] = ()
    tracks: tuple[str, ...] = ()
    approval_required: bool = False
    soak_seconds: float = 0
    timeout_seconds: float | None = None
    degraded_grace_seconds: float = 0
    disabled: bool = False
    disabled_applications: frozenset[AppRef] = frozenset()
    self_heal: bool = True
    windows: tuple[Window, ...] = ()  # freeze windows for entering this Station (core.windows)

    @cached_property  # asked ~30 times per ticket per pass; a frozen value
    def ref(self) -> StationRef:
        return StationRef(self.namespace, self.name)

    @property
    def active_applications(self) -> tuple[AppRef, ...]:
        """The Applications a ticket deploys and judges here (disabled ones are skipped)."""
        return tuple(a for a in self.applications if a not in self.disabled_applications)

    @property
    def skipped_applications(self) -> tuple[AppRef, ...]:
        return tuple(a for a in self.applications if a in self.disabled_applications)


@dataclass(frozen=True)
class TrackSpec:
    """An ordered list of Station names; ``conditions`` is what its status currently says."""

    namespace: str
    name: str
    stations: tuple[str, ...]
    boarding: Boarding = Boarding.NEWEST_SUPERSEDES
    disabled: bool = False
    conditions: tuple[Condition, ...] = ()
    hold: str | None = None  # why the Track is held: nothing boards it (None: not held)
    hold_ticket: str | None = None  # the one ticket that may board while held (a rollback's), if any
    windows: tuple[Window, ...] = ()  # freeze windows for entering any of its Stations (core.windows)
    freeze: str | None = None  # the namespace's stop-the-line as this Track carries it (``k8sta freeze``)

    @cached_property  # asked ~30 times per ticket per pass; a frozen value
    def ref(self) -> TrackRef:
        return TrackRef(self.namespace, self.name)


# -- Ticket status ------------------------------------------------------------------------------


class TicketState(enum.Enum):
    WAITING = "Waiting"  # before boarding, or arrived and waiting for the next Station to free
    DEPLOYING = "Deploying"  # at a Station, pushing or waiting for Argo CD to sync and judge
    SUSPENDED = "Suspended"  # at a Station whose Application is Suspended (a paused Rollout)
    SOAKING = "Soaking"  # arrived, staying healthy for the Station's soak time
    AWAITING_APPROVAL = "AwaitingApproval"  # the next Station needs approval before entry
    COMPLETED = "Completed"
    FAILED = "Failed"
    SUPERSEDED = "Superseded"
    ABANDONED = "Abandoned"

    @property
    def terminal(self) -> bool:
        """Terminal tickets hold no Station; only Failed can leave this set (by an operator retry)."""
        return self in _TERMINAL


_TERMINAL = frozenset({TicketState.COMPLETED, TicketState.FAILED, TicketState.SUPERSEDED,
                       TicketState.ABANDONED})


class JourneyState(enum.Enum):
    ENTERED = "Entered"  # the ticket holds the Station; branches pushed or being pushed
    ARRIVED = "Arrived"  # every Application Synced at our commit and Healthy (soak may follow)
    DEPARTED = "Departed"  # left for the next Station, or finished the Track
    SKIPPED = "Skipped"  # the Station was disabled when the ticket passed it
    FAILED = "Failed"
    ABANDONED = "Abandoned"


@dataclass(frozen=True)
class JourneyRecord:
    """One visit of a ticket to one Station (a retry appends a new visit to the same Station).

    ``pushed`` is written by the controller from the git adapter's report; an Application of the
    Station without a PushedCommit here means its push is still pending. The three clocks of a visit:
    ``arrived_at`` is the first arrival (after it the timeout no longer applies), ``healthy_since``
    the start of the current uninterrupted arrival (the soak clock, None while not arrived) and
    ``degraded_since`` when an Application was first seen Degraded at our revision (the grace clock),
    and ``arrival_lost_at`` when an arrived visit stopped being arrived (the timeout counts again from
    there, so a visit that never recovers fails instead of waiting forever). ``entered_at`` is also the
    start of what the visit judges: Argo CD operations that started before it (e.g. the Failed one a
    retry is about) and reconciliations before it are history and never count. ``drift`` lists the
    hand edits of this Station's app branches seen during the visit.
    """

    station: str
    state: JourneyState
    entered_at: float | None = None
    arrived_at: float | None = None
    departed_at: float | None = None
    pushed: tuple[PushedCommit, ...] = ()
    skipped_applications: tuple[AppRef, ...] = ()
    healthy_since: float | None = None
    degraded_since: float | None = None
    arrival_lost_at: float | None = None
    drift: tuple[Drift, ...] = ()
    message: str = ""

    def pushed_commit(self, app: AppRef) -> str | None:
        for pushed in self.pushed:
            if pushed.app == app:
                return pushed.commit
        return None


@dataclass(frozen=True)
class TicketStatus:
    """The ticket's status subresource: where it is, and everything it did on the way.

    ``children`` are the junction children the ticket intends to have (recorded before it departs
    the junction); ``spawned`` those it has seen exist at least once. A child in ``children`` that
    does not exist is created again until it does, unless it is in ``spawned``: then a human deleted
    it on purpose and it stays deleted.
    """

    state: TicketState = TicketState.WAITING
    station: str | None = None
    journey: tuple[JourneyRecord, ...] = ()
    children: tuple[str, ...] = ()
    spawned: tuple[str, ...] = ()
    observed_retry: int = 0
    conditions: tuple[Condition, ...] = ()
    message: str = ""

    @property
    def boarded(self) -> bool:
        return bool(self.journey)

    @property
    def current(self) -> JourneyRecord | None:
        """The record of the Station the ticket is at (None when it holds no Station)."""
        if self.station is None or not self.journey or self.journey[-1].station != self.station:
            return None
        return self.journey[-1]


@dataclass(frozen=True)
class Ticket:
    """One change travelling a Track: spec (what and the operator's requests) plus status.

    ``created`` orders tickets; ties break by name so the order is total (see ``order_key``).
    ``approved_stations``/``retry_count``/``abandon`` are the operator's requests, written in spec.
    """

    namespace: str
    name: str
    uid: str
    created: float
    track: str
    snapshot: Snapshot
    parent: str | None = None
    approved_stations: frozenset[str] = frozenset()
    retry_count: int = 0
    abandon: bool = False
    status: TicketStatus = TicketStatus()
    window_pass: str | None = None  # why an operator let it through freeze windows (``k8sta ticket pass-window``)

    @cached_property  # asked ~30 times per ticket per pass; a frozen value
    def ref(self) -> TicketRef:
        return TicketRef(self.namespace, self.name)

    @cached_property  # asked ~30 times per ticket per pass; a frozen value
    def track_ref(self) -> TrackRef:
        return TrackRef(self.namespace, self.track)

    @property
    def order_key(self) -> tuple[float, str]:
        """Creation order: older tickets sort first."""
        return (self.created, self.name)


@dataclass(frozen=True)
class MalformedTicket:
    """A Ticket object the decoder rejects (``error`` names the field). It still exists, so it keeps
    the Station its status names (``station``, when readable) unless its status says it is terminal:
    nobody may enter that Station until a human fixes or deletes it. ``conditions`` are the conditions
    its status shows (read leniently), so the Malformed condition is written once per change."""

    namespace: str
    name: str
    error: str
    station: str | None = None
    conditions: tuple[Condition, ...] = ()

    @property
    def ref(self) -> TicketRef:
        return TicketRef(self.namespace, self.name)


@dataclass(frozen=True)
class World:
    """Everything ``decide`` may look at. Built fresh by the controller for each decision."""

    now: float
    tracks: Mapping[TrackRef, TrackSpec] = field(default_factory=dict)
    stations: Mapping[StationRef, StationSpec] = field(default_factory=dict)
    tickets: Mapping[TicketRef, Ticket] = field(default_factory=dict)
    apps: Mapping[AppRef, AppStatus] = field(default_factory=dict)
    malformed: Mapping[TicketRef, MalformedTicket] = field(default_factory=dict)
    drift: Mapping[AppRef, Drift] = field(default_factory=dict)
    rerendered: Mapping[AppRef, Rerendered] = field(default_factory=dict)
    frozen: Mapping[str, str] = field(default_factory=dict)  # namespace -> why ``k8sta freeze`` stopped it

    @classmethod
    def build(cls, now: float, tracks: tuple[TrackSpec, ...] | list[TrackSpec] = (),
              stations: tuple[StationSpec, ...] | list[StationSpec] = (),
              tickets: tuple[Ticket, ...] | list[Ticket] = (),
              apps: Mapping[AppRef, AppStatus] | None = None,
              malformed: tuple[MalformedTicket, ...] | list[MalformedTicket] = (),
              drift: tuple[Drift, ...] | list[Drift] = (),
              rerendered: tuple[Rerendered, ...] | list[Rerendered] = (),
              frozen: Mapping[str, str] | None = None) -> World:
        """Index lists of objects by reference (convenient for adapters and tests)."""
        return cls(
            now=now,
            tracks={t.ref: t for t in tracks},
            stations={s.ref: s for s in stations},
            tickets={t.ref: t for t in tickets},
            apps=dict(apps or {}),
            malformed={m.ref: m for m in malformed},
            drift={d.app: d for d in drift},
            rerendered={r.app: r for r in rerendered},
            frozen=dict(frozen or {}),
        )
