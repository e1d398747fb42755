"""Webhook logic that does no I/O and reads no globals (as ``flask.sansio``): payload parsing,
validation and authentication, called by the thin views in ``web.webhooks``."""
