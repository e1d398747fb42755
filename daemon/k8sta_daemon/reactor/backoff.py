"""The reactor's one backoff: exponential with jitter, computed by tenacity's wait strategy.

Callers: ``execution`` (a ticket's push that will be retried on a later pass). The reactor never sleeps:
a pass records "not before" and moves on to the other tickets, so the delay is computed here with the
same strategy the adapters' blocking retries use (``adapters/retry.py``), not by a hand-written loop.
"""

from __future__ import annotations

import tenacity

MAX_DELAY = 300.0
_WAIT = tenacity.wait_exponential_jitter(multiplier=2, max=MAX_DELAY, jitter=2)


def delay(attempt: int, floor: float = 0.0) -> float:
    """Seconds before try number ``attempt + 1`` (attempt 1 is the first failure), at least ``floor``."""
    state = tenacity.RetryCallState(retry_object=tenacity.Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = max(1, attempt)
    return min(MAX_DELAY, max(floor, _WAIT(state)))
