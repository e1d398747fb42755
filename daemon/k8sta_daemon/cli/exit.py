"""The CLI's exit codes (pipx style: a ``NewType`` with named constants); only ``main`` returns them."""

from __future__ import annotations

from typing import NewType

ExitCode = NewType("ExitCode", int)
EXIT_OK = ExitCode(0)
EXIT_FAILURE = ExitCode(1)
EXIT_USAGE = ExitCode(2)
