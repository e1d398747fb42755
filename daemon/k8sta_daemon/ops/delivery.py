"""The delivery figures of a namespace (or of all), read from the API: what ``/metrics`` and the board's
delivery page share.

Callers: ``web.deliverymetrics`` (per scrape, cached) and ``web.delivery`` (per page view). Three lists
(Tracks, Stations, Tickets) and the pure ``core.delivery.figures``; nothing is kept between calls.
"""

from __future__ import annotations

from k8sta_daemon.core import delivery

from .store import Store


def read(store: Store, namespace: str | None) -> delivery.Figures:
    """Every delivery the tickets in ``namespace`` (None: every namespace) show, with their totals."""
    return delivery.figures(store.rides(namespace), store.tracks(namespace), store.stations(namespace))
