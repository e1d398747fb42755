"""The signed input manifest (contract v3): ``.k8sta/inputs``, the daemon's proof that it checked a tree.

The daemon renders every app-branch commit itself, after the full safety checks (safety.py). With an
input key (a Secret only the daemon and the plugin sidecar mount, ``K8STA_INPUT_KEY_FILE``) it writes
``.k8sta/inputs``: the values the plugin needs (Application, ticket, kustomization, renderer, rendered
sha256) and every file of the commit with its sha256, closed by an HMAC-SHA256 over all of it. A branch
writer without the key cannot produce a valid HMAC, so a digest the branch declares proves nothing
unless the key signed it.

The HMAC also binds who the tree is for and when: the Application (namespace and name), the ticket,
the Station and the branch's ``sequence`` (one more on every K8sTA commit of the branch). The plugin
refuses a tree signed for another Application; an old signed commit pushed back (a replay) carries a
lower sequence and is not the head the ticket's status records, which K8sTA repairs as drift
(docs/app-branch-contract.md says why the plugin itself keeps no state). A v2 manifest binds neither the
Station nor the order, so it counts as unsigned.

Keys: ``K8STA_INPUT_KEY_FILE`` is the key the daemon signs with; during a rotation a ``previous-key`` file
next to it (the Secret's second key) is accepted too. ``K8STA_REQUIRE_SIGNED_INPUTS=true`` (sidecar)
refuses everything the key did not sign, instead of running the full checks.

The plugin, holding the same key, then checks that the checkout is exactly the signed tree (every
file hashed: cheap) instead of re-parsing and re-validating the YAML: same bytes, same verdict as the
daemon's full checks. Without a key, or when the HMAC is missing or wrong, the full checks run.

On the plugin's hot path: only ``os``, ``stat`` and CPython's built-in ``_sha256``/``_operator`` are
imported (no YAML). ``hashlib``/``hmac`` would load OpenSSL on every render (~5 ms of CPU, a third of
the plugin's whole budget at 50 resources); HMAC-SHA256 over ``_sha256`` is the RFC 2104
construction, checked against ``hmac.new`` by the tests.

Format (UTF-8 lines, fields separated by one space, the path always last so it may hold spaces)::

    k8sta-inputs 3
    application <namespace>/<name>
    ticket <namespace>/<name>
    station <name>
    sequence <n>                            per branch, one more on every K8sTA commit
    kustomization <path>
    renderer <kustomize version> <scheme>
    rendered <sha256 of the render>
    file <sha256> <path>                   one per regular file, sorted by path
    link <sha256 of the link text> <path>  one per symlink
    hmac-sha256 <hex>                      over every byte before this line
"""

from __future__ import annotations

import os
import stat
from _operator import _compare_digest as compare_digest  # what hmac.compare_digest is

try:
    from _sha256 import sha256  # CPython 3.11 (built in, no OpenSSL)
except ImportError:  # pragma: no cover - other interpreters / versions
    from hashlib import sha256

from k8sta_cmp import errors

MANIFEST_PATH = ".k8sta/inputs"
MAGIC = "k8sta-inputs 3"
OLD_MAGIC = "k8sta-inputs 2"  # contract v2: no Station, no sequence; treated as unsigned
KEY_ENV = "K8STA_INPUT_KEY_FILE"
PREVIOUS_KEY_NAME = "previous-key"  # next to the key file: also accepted while a key is rotated
REQUIRE_ENV = "K8STA_REQUIRE_SIGNED_INPUTS"
MIN_KEY_BYTES = 16
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
# The input cap follows the sidecar's /tmp (kustomize/components/cmp-sidecar: an emptyDir on memory,
# sizeLimit 128Mi, whose pages count against the container's memory limit). Each render holds up to
# three copies of its inputs there: the tarball argocd-cmp-server receives, the tree it unpacks, and
# kustomize's output (no larger than the inputs, which carry the last render). So by default a render
# may read TMP_BYTES / (COPIES x RENDERS): 128 MiB / (3 x 4) = 10.7 MiB for 4 renders at once.
TMP_BYTES_ENV, RENDERS_ENV, MAX_BYTES_ENV, MAX_FILES_ENV = (
    "K8STA_CMP_TMP_BYTES", "K8STA_CMP_RENDERS", "K8STA_MAX_INPUT_BYTES", "K8STA_MAX_INPUT_FILES")
DEFAULT_TMP_BYTES = 128 * 1024 * 1024
DEFAULT_RENDERS = 4
COPIES = 3
DEFAULT_MAX_BYTES = DEFAULT_TMP_BYTES // (COPIES * DEFAULT_RENDERS)
DEFAULT_MAX_FILES = 20_000
# Bumped whenever the renderer's own part of the output changes (the wrapper kustomization).
RENDER_SCHEME = 1
_HMAC_PREFIX = b"hmac-sha256 "
_SKIPPED = {".git", MANIFEST_PATH}  # never part of the signed tree (Argo CD's checkout; the manifest)


_FIELDS = ("application", "ticket", "station", "sequence", "kustomization", "renderer", "rendered")
Refused = errors.RefusedInput  # the checkout differs from the signed tree: the message names the file


class Signed:
    """What a valid manifest says (trusted: the HMAC verified)."""

    __slots__ = ("application", "kustomization", "kustomize", "rendered", "scheme", "sequence", "station", "ticket")

    def __init__(self, fields: dict[str, str]) -> None:
        self.application = fields["application"]
        self.ticket = fields["ticket"]
        self.station = fields["station"]
        self.sequence = int(fields["sequence"])
        self.kustomization = fields["kustomization"]
        self.kustomize, scheme = fields["renderer"].split(" ", 1)
        self.scheme = int(scheme)
        self.rendered = fields["rendered"]


def read_key(environ: dict[str, str] | os._Environ[str]) -> bytes | None:
    """The input key from ``K8STA_INPUT_KEY_FILE``; None when unset or when the file does not exist (the
    install mounts the Secret as optional: no Secret, no signing, full checks). An unreadable or too
    short key is an error: the operator meant to sign, and a silent fallback would hide it."""
    path = environ.get(KEY_ENV)
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            key = handle.read(4096).strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise errors.K8staError(f"{KEY_ENV}: cannot read {path}: {exc.strerror}") from None
    if len(key) < MIN_KEY_BYTES:
        raise errors.K8staError(f"{KEY_ENV}: {path} holds {len(key)} bytes; an input key needs at least "
                        f"{MIN_KEY_BYTES}")
    return key


def read_keys(environ: dict[str, str] | os._Environ[str]) -> tuple[bytes, ...]:
    """Every key the plugin accepts: ``read_key``'s, then ``previous-key`` next to it when present
    (a rotation: the Secret holds the new ``key`` and the old ``previous-key``). Empty: no key."""
    key = read_key(environ)
    if key is None:
        return ()
    previous = read_key({KEY_ENV: os.path.join(os.path.dirname(environ[KEY_ENV]), PREVIOUS_KEY_NAME)})
    return (key,) if previous is None or previous == key else (key, previous)


def require_signed(environ: dict[str, str] | os._Environ[str]) -> bool:
    """``K8STA_REQUIRE_SIGNED_INPUTS`` (sidecar, operator): only branches the input key signed render."""
    raw = environ.get(REQUIRE_ENV, "false").strip().lower()
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no", ""):
        return False
    raise errors.K8staError(f"{REQUIRE_ENV} must be true or false, got {raw!r}")


def limits(environ: dict[str, str] | os._Environ[str]) -> tuple[int, int]:
    """(max bytes, max files): operator settings on the sidecar (and the controller, which refuses to
    write what the plugin would refuse). The byte cap defaults to what fits the sidecar's /tmp
    (``K8STA_CMP_TMP_BYTES`` / (3 x ``K8STA_CMP_RENDERS``)); a ``K8STA_MAX_INPUT_BYTES`` that does not
    fit is an error, since the renders it allows would get the sidecar OOM-killed."""
    values = {TMP_BYTES_ENV: DEFAULT_TMP_BYTES, RENDERS_ENV: DEFAULT_RENDERS, MAX_BYTES_ENV: 0,
              MAX_FILES_ENV: DEFAULT_MAX_FILES}
    for name in values:
        raw = environ.get(name)
        if raw is None:
            continue
        if not raw.isdigit() or int(raw) <= 0:
            raise errors.K8staError(f"{name} must be a positive integer, got {raw!r}")
        values[name] = int(raw)
    tmp_bytes, renders = values[TMP_BYTES_ENV], values[RENDERS_ENV]
    fits = tmp_bytes // (COPIES * renders)
    max_bytes = values[MAX_BYTES_ENV] or fits
    if max_bytes > fits:
        raise errors.K8staError(
            f"{MAX_BYTES_ENV}={max_bytes} does not fit the sidecar's /tmp: {RENDERS_ENV}={renders} renders "
            f"x {COPIES} copies of the inputs need more than {TMP_BYTES_ENV}={tmp_bytes} (at most {fits}); "
            f"raise the emptyDir sizeLimit and {TMP_BYTES_ENV} with it, or lower the cap")
    return max_bytes, values[MAX_FILES_ENV]


def too_large(max_bytes: int) -> str:
    """The refusal of inputs over the byte cap, naming the cap and where it comes from."""
    return (f"refused: inputs larger than {max_bytes} bytes ({max_bytes / 1048576:.1f} MiB, {MAX_BYTES_ENV}; "
            f"by default {TMP_BYTES_ENV} / ({COPIES} x {RENDERS_ENV}), what fits the sidecar's /tmp)")


def too_many(max_files: int) -> str:
    return f"refused: more than {max_files} files in the checkout ({MAX_FILES_ENV})"


# -- writing (the daemon) ---------------------------------------------------------------------------


def entry(kind: str, data: bytes, path: str) -> tuple[str, str, str]:
    """One manifest entry: ``kind`` "file" (``data`` = contents) or "link" (``data`` = link text)."""
    return (kind, sha256(data).hexdigest(), path)


def tree_entries(root: str) -> list[tuple[str, str, str]]:
    """``entry`` for every file and symlink under ``root`` as it lies on disk (tests, tools)."""
    found: list[tuple[str, str, str]] = []
    _walk(root, "", found, None)
    return found


def manifest(*, application: str, ticket: str, station: str, sequence: int, kustomization: str, kustomize: str,
             scheme: int, rendered: str, entries: list[tuple[str, str, str]], key: bytes) -> bytes | None:
    """The signed manifest text, or None if a path cannot be written on one line (then: unsigned)."""
    lines = [MAGIC, f"application {application}", f"ticket {ticket}", f"station {station}", f"sequence {sequence}",
             f"kustomization {kustomization}", f"renderer {kustomize} {scheme}", f"rendered {rendered}"]
    for kind, digest, path in sorted(entries, key=lambda e: e[2]):
        if "\n" in path or "\r" in path:
            return None
        lines.append(f"{kind} {digest} {path}")
    body = ("\n".join(lines) + "\n").encode()
    return body + _HMAC_PREFIX + _mac(key, body).encode() + b"\n"


# -- reading (the plugin) ---------------------------------------------------------------------------


ABSENT = f"{MANIFEST_PATH} is absent"


def verify(root: str, keys: tuple[bytes, ...], max_files: int, max_bytes: int) -> Signed | str:
    """The signed facts if ``root`` is exactly the tree one of ``keys`` signed; else why it carries no
    valid signature (``ABSENT``, no HMAC, a wrong HMAC, a v2 manifest: the caller runs the full checks,
    or refuses under ``K8STA_REQUIRE_SIGNED_INPUTS``). Refused when the signature is valid but the
    checkout differs from it (edited after signing)."""
    path = os.path.join(root, MANIFEST_PATH)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return ABSENT
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MANIFEST_BYTES:
        return f"{MANIFEST_PATH} is not a regular file of at most {MAX_MANIFEST_BYTES} bytes"
    with open(path, "rb") as handle:
        data = handle.read()
    cut = data.rfind(b"\n" + _HMAC_PREFIX)
    if cut < 0 or not data.endswith(b"\n"):
        return f"{MANIFEST_PATH} carries no HMAC"
    body, claimed = data[:cut + 1], data[cut + 1 + len(_HMAC_PREFIX):-1]
    if not any(compare_digest(_mac(key, body).encode(), claimed) for key in keys):
        return f"the HMAC of {MANIFEST_PATH} does not verify with the input key"
    fields: dict[str, str] = {}
    signed: dict[str, tuple[str, str]] = {}
    lines = body.decode().split("\n")
    if lines[0] == OLD_MAGIC:
        return (f"{MANIFEST_PATH} is a contract v2 manifest, which binds neither the Station nor the "
                "branch's order")
    if lines[0] != MAGIC:
        return f"{MANIFEST_PATH} is not a {MAGIC!r} manifest"
    for line in lines[1:-1]:
        name, _, rest = line.partition(" ")
        if name in ("file", "link"):
            digest, _, rel = rest.partition(" ")
            signed[rel] = (name, digest)
        else:
            fields[name] = rest
    missing = [f for f in _FIELDS if f not in fields]
    if missing or not fields["sequence"].isdigit():
        return f"{MANIFEST_PATH} lacks {missing[0] if missing else 'a numeric sequence'}"
    found: list[tuple[str, str, str]] = []
    _walk(root, "", found, [max_files, max_bytes, 0])
    for kind, digest, rel in found:
        expected = signed.pop(rel, None)
        if expected is None:
            raise Refused(f"refused: {rel} is not among the inputs K8sTA signed; the branch was edited "
                          "outside K8sTA")
        if expected != (kind, digest):
            what = "a symlink" if kind == "link" else "a file"
            was = "a symlink" if expected[0] == "link" else "a file"
            change = (f"sha256 {digest}, signed {expected[1]}" if kind == expected[0]
                      else f"now {what}, signed as {was}")
            raise Refused(f"refused: {rel} was changed after K8sTA signed the inputs ({change}); the "
                          "branch was edited outside K8sTA")
    if signed:
        missing = min(signed)
        raise Refused(f"refused: {missing} is signed but missing from the checkout; the branch was "
                      "edited outside K8sTA")
    return Signed(fields)


# -- shared -----------------------------------------------------------------------------------------


_BLOCK = 64  # SHA-256's block size
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def _mac(key: bytes, body: bytes) -> str:
    """HMAC-SHA256 (RFC 2104), hex; equal to ``hmac.new(key, body, hashlib.sha256).hexdigest()``."""
    if len(key) > _BLOCK:
        key = sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = sha256(key.translate(_IPAD))
    inner.update(body)
    outer = sha256(key.translate(_OPAD))
    outer.update(inner.digest())
    return outer.hexdigest()


def sha256_hex(data: bytes) -> str:
    return sha256(data).hexdigest()


def _walk(root: str, prefix: str, out: list[tuple[str, str, str]], caps: list[int] | None) -> None:
    """Every file/symlink below ``root/prefix`` (no symlink followed). With ``caps`` (the plugin's
    [max files, max bytes, bytes so far]): the input limits, and symlinks must stay inside the
    checkout (as safety.check_tree demands)."""
    directory = os.path.join(root, prefix) if prefix else root
    with os.scandir(directory) as it:
        items = list(it)
    for item in items:
        rel = prefix + item.name
        if rel in _SKIPPED:
            continue
        if item.is_symlink():
            target = os.readlink(item.path)
            if caps is not None:
                real, top = os.path.realpath(item.path), os.path.realpath(root)
                if os.path.isabs(target) or not (real == top or real.startswith(top + os.sep)):
                    raise Refused(f"refused: symlink {rel} points outside the checkout")
            out.append(("link", sha256(os.fsencode(target)).hexdigest(), rel))
        elif item.is_dir(follow_symlinks=False):
            _walk(root, rel + "/", out, caps)
        elif item.is_file(follow_symlinks=False):
            with open(item.path, "rb") as handle:
                # Under the caps, a file that would pass them is refused before it is read (into the
                # same memory the sidecar's /tmp already takes).
                if caps is not None and caps[2] + os.fstat(handle.fileno()).st_size > caps[1]:
                    raise Refused(too_large(caps[1]))
                data = handle.read()
            out.append(("file", sha256(data).hexdigest(), rel))
            if caps is not None:
                caps[2] += len(data)
                if len(out) > caps[0]:
                    raise Refused(too_many(caps[0]))
                if caps[2] > caps[1]:
                    raise Refused(too_large(caps[1]))
        else:
            raise Refused(f"refused: {rel} is neither a file, a directory nor a symlink")
