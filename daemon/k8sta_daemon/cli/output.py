"""Output formats, kept apart from the work: a command hands over data plus a human renderer.

Callers: every command. ``json``/``yaml`` print the data (the same shape as the web API); ``human``
prints what the renderer makes of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml

from .context import Context

FORMATS = ("human", "json", "yaml")


def emit(ctx: Context, data: Any, human: Callable[[Any], str]) -> None:
    if ctx.output == "json":
        text = json.dumps(data, indent=2, sort_keys=False)
    elif ctx.output == "yaml":
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip("\n")
    else:
        text = human(data)
    ctx.stdout.write(text + "\n")
