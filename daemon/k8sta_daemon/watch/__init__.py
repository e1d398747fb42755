"""Intake: pollers that read what Subscriptions watch (image registries, the config repository) and
turn each new change into tickets through ``ops`` (the same ticket creation as ``k8sta ticket create``).

A front end of the operator services, like ``cli`` and ``web``: it uses ``ops`` and ``adapters``, never
``reactor``; ``main`` runs it next to the controller, only while the daemon holds the Lease.
"""
