"""The reactor (kopf's ``_core/reactor``): watch cache, loop and the action units.

``cache`` holds what the watches delivered; ``loop`` builds a ``core.model.World`` from it, calls
``core.decide`` and hands each ticket's actions to ``execution``, which runs one unit per action
(``units/``) and turns every adapter error into a ``core.outcomes`` value. The reactor never imports
the operator services (``ops``) or the front ends (``cli``, ``web``).
"""
