"""Which path values kustomize would fetch instead of reading from the checkout.

The plugin renders with kustomize v5.7.1 (api v0.20.1). Two places there decide that a path is remote:

- ``internal/loader/fileloader.go`` ``IsRemoteFile``: any path Go's ``url.Parse`` gives the scheme
  ``http``/``https`` (case-insensitive) is downloaded by ``Load``; that is every file field (resources,
  patches, crds, openapi, generator files, builtin plugin configs' paths).
- ``internal/git/repospec.go`` ``NewRepoSpecFromURL``, tried by ``FileLoader.New`` *before* the local
  directory: a ``git::`` prefix (stripped, case-insensitive); the schemes ``ssh://``, ``https://``,
  ``http://``, ``file://`` (``file://`` clones a repository from anywhere on the host); a user name
  (``^[a-zA-Z][a-zA-Z0-9-]*@``, so ``deploy@host:org/repo`` and ``deploy@host/org/repo``); and the
  ``github.com/`` or ``github.com:`` shorthand (case-insensitive).

``remote_form`` refuses a superset, so a newer kustomize that widens its rules does not slip through:
anything with a colon before the first ``/`` (a URL scheme of any kind, or git's scp-like ``host:path``),
a leading ``//`` (a network-path reference), the other well-known git hosts' shorthands and git's
query parameters. A local path never needs any of these, so the only price is that a file or directory
whose first path segment holds a ``:`` or starts like ``name@`` must be renamed.

Pure string work, no imports: the daemon's checks and the plugin's share it.
"""

from __future__ import annotations

_GIT_HOSTS = ("github.com/", "github.com:", "gitlab.com/", "bitbucket.org/")
_GIT_QUERIES = ("?ref=", "?version=", "?timeout=", "?submodules=")
_USER_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_USER_REST = _USER_FIRST | frozenset("0123456789-")


def remote_form(value: str) -> str | None:
    """What kind of remote reference ``value`` is (for the refusal message), or None for a local path."""
    lowered = value.lower()
    if lowered.startswith("git::"):
        return "a go-getter git:: URL"
    first = value.split("/", 1)[0]
    scheme, sep, _ = first.partition(":")
    if sep:
        if value[len(scheme):].startswith("://"):
            return f"a {scheme.lower()}:// URL"
        if "@" in scheme:
            return "an scp-like user@host:path git remote"
        return "a URL or scp-like host:path git remote"
    user, at, _ = first.partition("@")
    if at and user and user[0] in _USER_FIRST and all(c in _USER_REST for c in user):
        return "a user@host git remote"
    if value.startswith("//"):
        return "a //host network-path reference"
    if lowered.startswith(_GIT_HOSTS):
        return f"a {lowered.split('/', 1)[0].split(':', 1)[0]} shorthand git remote"
    if any(query in lowered for query in _GIT_QUERIES):
        return "a git remote (ref/version query)"
    return None
