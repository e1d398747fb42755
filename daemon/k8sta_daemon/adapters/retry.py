"""The one retry mechanism of the daemon's blocking calls: tenacity, exponential backoff with jitter.

Callers: the adapters' reconnect loops (Kubernetes watches, Argo CD's stream), ``appbranch``'s
re-plan after a lost push race, and ``ops``' compare-and-swap writes. The reactor's per-ticket backoff
(``reactor/backoff.py``) uses the same wait strategy without sleeping. Refusals that retrying cannot
cure (refused credentials, validation) are never passed to ``retrying``: they are final.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import tenacity

T = TypeVar("T")


def jittered(initial: float = 0.5, maximum: float = 30.0) -> tenacity.wait.wait_base:
    """Exponential from ``initial`` up to ``maximum`` seconds, plus up to ``initial`` of random jitter."""
    return tenacity.wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial)


def retrying(call: Callable[[], T], *, on: type[BaseException] | tuple[type[BaseException], ...],
             attempts: int, initial: float = 0.05, maximum: float = 2.0) -> T:
    """``call()`` until it does not raise ``on`` (at most ``attempts`` times); the last error propagates."""
    retryer = tenacity.Retrying(retry=tenacity.retry_if_exception_type(on), stop=tenacity.stop_after_attempt(attempts),
                                wait=jittered(initial, maximum), reraise=True)
    return retryer(call)


def pauses(initial: float = 1.0, maximum: float = 30.0) -> Callable[[int], float]:
    """For loops that never give up (a watch reconnecting): the pause before reconnection number ``n``."""
    wait = jittered(initial, maximum)

    def pause(n: int) -> float:
        state = tenacity.RetryCallState(retry_object=tenacity.Retrying(), fn=None, args=(), kwargs={})
        state.attempt_number = max(1, n)
        return float(wait(state))

    return pause
