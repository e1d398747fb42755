"""A Kubernetes client that acts as the caller: the web part's own connection settings (server, CA, TLS
name, proxy) with the caller's bearer token as the only credential.

Callers: ``web.actions``. The board's actions are written with the user's own token, never the web
part's ServiceAccount, so the web part needs no write verb and no ``impersonate`` (which would let it
become anyone, cluster-admin included); the API server authorizes and audits each write as the user.
Every credential of the base configuration (client certificate, basic auth, the ServiceAccount token
and its refresh hook) is left out, so the request cannot fall back to the web part's identity.
"""

from __future__ import annotations

from kubernetes import client as k8s_client


def client_for(base: k8s_client.ApiClient, token: str) -> k8s_client.ApiClient:
    """A new client to the API server ``base`` talks to, authenticated with ``token`` alone."""
    source = base.configuration
    made = k8s_client.Configuration()
    made.host = source.host
    made.verify_ssl = source.verify_ssl
    made.ssl_ca_cert = source.ssl_ca_cert
    made.ca_cert_data = source.ca_cert_data
    made.assert_hostname = source.assert_hostname
    made.tls_server_name = source.tls_server_name
    made.proxy = source.proxy
    made.no_proxy = source.no_proxy
    made.proxy_headers = source.proxy_headers
    made.cert_file = made.key_file = None
    made.username = made.password = None
    made.refresh_api_key_hook = None
    made.api_key = {"authorization": f"Bearer {token}"}
    made.api_key_prefix = {}
    return k8s_client.ApiClient(made)
