"""``sh`` as the devstack runs its short commands that hold no secret: ``ctr``, ``skopeo``, ``ip``, git on
local repositories.

Only for commands whose argv, environment and output carry nothing secret: ``sh.ErrorReturnCode`` prints the
whole command line and output. Callers catch ``Failed`` and raise their own error quoting ``said(err)``
(``from None``, so a traceback shows that error alone). Commands with a password, long-lived processes and
output meant for a terminal keep ``subprocess``: docs/architecture.md, "``sh`` in the devstack".
"""

from __future__ import annotations

import sh as _sh

# stdout a pipe, as with subprocess: sh's default is a pseudo-terminal, on which ls and ip colour their
# output and git may page. Stdin is an empty pipe (sh's default), so no command waits for input.
sh = _sh.bake(_tty_out=False)

Failed = _sh.ErrorReturnCode  # a non-zero exit (or a signal): .exit_code, .stdout, .stderr (bytes)
TimedOut = _sh.TimeoutException  # ``_timeout`` passed; the command was killed
NotFound = _sh.CommandNotFound  # not on PATH


def said(err: Failed) -> str:
    """What a failed command said: its stderr, else its stdout, stripped (the text the devstack's errors quote)."""
    return err.stderr.decode(errors="replace").strip() or err.stdout.decode(errors="replace").strip()
