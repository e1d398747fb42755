"""The app-branch contract (v3; v1 and v2 still read): what one commit of an app branch ``env/<name>`` holds.

Written only by K8sTA's daemon, read by the plugin. This module is the single owner of the format:
file locations, the metadata schema, its validation (errors name the exact field) and its
deterministic serialisation. See docs/app-branch-contract.md for the prose version.

A commit of an app branch holds:
- the kustomize inputs: shared config (everything outside ``env/``) at the ticket's pinned config
  commit, and the Application's own overlay ``env/<name>/`` at the newest source commit touching it;
- ``.k8sta/metadata.yaml``: ticket, track, station, Application, pins, renderer versions and the
  sha256 of the rendered YAML;
- ``.k8sta/rendered.yaml``: the rendered manifests, the paper trail a reviewer diffs;
- ``.k8sta/kustomization.yaml``: the wrapper kustomization that is built (pins over the overlay);
- ``.k8sta/inputs`` (v2, when the daemon holds the input key): the HMAC-signed list of every file
  (inputs.py), which lets the plugin skip re-validating inputs the daemon already checked;
- v3 adds ``sequence`` to the metadata: per branch, one more on every K8sTA commit, signed with the
  Station in ``.k8sta/inputs``, so each K8sTA commit's tree is unique and its order is signed.

Records are ``typing.NamedTuple``s rather than dataclasses: immutable and hashable all the same, and
the plugin (a process per render) does not pay for importing ``dataclasses``/``inspect``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from k8sta_cmp import errors, fields, inputs, patterns

API_VERSION = "k8sta.io/branch/v3"  # what the daemon writes (v3: a signed, per-branch sequence)
# v1/v2 branches still render with the full checks (a v2 signature binds no Station or order: unsigned).
READABLE_VERSIONS = ("k8sta.io/branch/v1", "k8sta.io/branch/v2", API_VERSION)
INPUTS_PATH = inputs.MANIFEST_PATH
KIND = "AppBranch"
METADATA_PATH = ".k8sta/metadata.yaml"
RENDERED_PATH = ".k8sta/rendered.yaml"
# What kustomize builds: the branch's kustomization as the only resource, plus the image pins. A pure
# function of the metadata (wrapper_kustomization), committed so the plugin can start kustomize at once
# and so `kustomize build .k8sta` reproduces the render by hand; the plugin refuses one that differs.
WRAPPER_PATH = ".k8sta/kustomization.yaml"
RENDER_SCHEME = inputs.RENDER_SCHEME  # the renderer's own output scheme (the wrapper kustomization)
MAX_METADATA_BYTES = 256 * 1024

_KNOWN_TOP_LEVEL = {
    "apiVersion", "kind", "ticket", "track", "station", "application", "source",
    "kustomization", "images", "renderer", "rendered",
}
_SINCE_V3 = {"sequence"}


class ObjectRef(NamedTuple):
    """A namespaced Kubernetes object name (a Ticket, an Argo CD Application)."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


class ImagePin(NamedTuple):
    """One image the render pins: every reference to ``name`` becomes ``name:tag[@digest]``."""

    name: str
    tag: str
    digest: str | None = None

    @property
    def reference(self) -> str:
        return f"{self.name}:{self.tag}" + (f"@{self.digest}" if self.digest else "")


class Source(NamedTuple):
    """Where the inputs came from on the source branch (K8sTA never writes that branch)."""

    branch: str
    config_commit: str
    overlay_commit: str


class RendererVersions(NamedTuple):
    """What produced the recorded digest; verification is exact only when these match."""

    k8sta: str
    kustomize: str
    scheme: int = RENDER_SCHEME


class BranchMetadata(NamedTuple):
    """The parsed, validated ``.k8sta/metadata.yaml`` of one app-branch commit."""

    ticket: ObjectRef
    track: str
    station: str
    application: ObjectRef
    source: Source
    kustomization: str
    images: tuple[ImagePin, ...]
    renderer: RendererVersions
    rendered_sha256: str
    sequence: int = 1  # per branch, one more on every K8sTA commit (v3; read as 0 from v1/v2 branches)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- validation -------------------------------------------------------------------------------


def _fields(data: Any) -> fields.Fields:
    """The metadata document; every error is a ContractError naming the field path."""
    return fields.Fields(data, METADATA_PATH, error=errors.ContractError, root="document", blank_is_missing=False)


def _object_ref(ref: fields.Fields) -> ObjectRef:
    return ObjectRef(
        namespace=ref.required("namespace", patterns.DNS_LABEL, "a DNS-1123 label"),
        name=ref.required("name", patterns.DNS_SUBDOMAIN, "a DNS-1123 subdomain"),
    )


def _kustomization_path(top: fields.Fields) -> str:
    value = top.required("kustomization")
    parts = value.split("/")
    if value != "." and (value.startswith("/") or any(p in ("", ".", "..") for p in parts)):
        raise top.fail("kustomization", f"must be a relative path inside the branch, got {value!r}")
    if value == ".k8sta" or value.startswith(".k8sta/"):
        raise top.fail("kustomization", "must not point into .k8sta/")
    return value


def _images(top: fields.Fields) -> tuple[ImagePin, ...]:
    pins: list[ImagePin] = []
    seen: set[str] = set()
    for image in top.mappings("images"):
        pin = ImagePin(
            name=image.required("name", patterns.IMAGE_NAME, "an image name without tag or digest"),
            tag=image.required("tag", patterns.TAG, "a valid image tag"),
            digest=image.string("digest", pattern=patterns.DIGEST, what="sha256:<64 lowercase hex>"),
        )
        if pin.name in seen:
            raise image.fail("name", f"{pin.name!r} is pinned twice")
        seen.add(pin.name)
        pins.append(pin)
    return tuple(pins)


def parse_metadata(text: str | bytes) -> BranchMetadata:
    """Parse and validate metadata; every problem is a ContractError naming the field."""
    if len(text) > MAX_METADATA_BYTES:
        raise errors.ContractError(f"{METADATA_PATH}: larger than {MAX_METADATA_BYTES} bytes")
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise errors.ContractError(f"{METADATA_PATH}: not valid YAML ({_one_line(exc)})") from None
    top = _fields(data)
    api_version = top.required("apiVersion")
    if api_version not in READABLE_VERSIONS:
        raise top.fail("apiVersion", f"must be one of {', '.join(map(repr, READABLE_VERSIONS))} (this plugin "
                                     f"reads contracts v1 to v3), got {api_version!r}")
    if top.required("kind") != KIND:
        raise top.fail("kind", f"must be {KIND!r}")
    unknown = sorted(set(data) - _KNOWN_TOP_LEVEL - (_SINCE_V3 if api_version == API_VERSION else set()))
    if unknown:
        raise top.fail(unknown[0], f"is not a field of contract {api_version.rsplit('/', 1)[-1]}")
    source = top.nested("source", required=True)
    renderer = top.nested("renderer", required=True)
    scheme = renderer.data.get("scheme")
    if not isinstance(scheme, int) or isinstance(scheme, bool) or scheme < 1:
        raise renderer.fail("scheme", "must be a positive integer")
    sequence = data.get("sequence", 0)
    if api_version == API_VERSION and (not isinstance(sequence, int) or isinstance(sequence, bool)
                                       or sequence < 1):
        raise top.fail("sequence", f"must be a positive integer, got {sequence!r}")
    return BranchMetadata(
        ticket=_object_ref(top.nested("ticket", required=True)),
        track=top.required("track", patterns.DNS_SUBDOMAIN, "a DNS-1123 subdomain"),
        station=top.required("station", patterns.DNS_SUBDOMAIN, "a DNS-1123 subdomain"),
        application=_object_ref(top.nested("application", required=True)),
        source=Source(
            branch=source.required("branch"),
            config_commit=source.required("configCommit", patterns.COMMIT, "a full git commit id"),
            overlay_commit=source.required("overlayCommit", patterns.COMMIT, "a full git commit id"),
        ),
        kustomization=_kustomization_path(top),
        images=_images(top),
        renderer=RendererVersions(
            k8sta=renderer.required("k8sta"),
            kustomize=renderer.required("kustomize"),
            scheme=scheme,
        ),
        rendered_sha256=top.nested("rendered", required=True).required("sha256", patterns.SHA256,
                                                                       "64 lowercase hex digits"),
        sequence=sequence,
    )


def metadata_to_yaml(meta: BranchMetadata) -> str:
    """Serialise deterministically (fixed key order); parse_metadata(metadata_to_yaml(m)) == m."""
    images = []
    for pin in meta.images:
        entry: dict[str, str] = {"name": pin.name, "tag": pin.tag}
        if pin.digest:
            entry["digest"] = pin.digest
        images.append(entry)
    doc = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "ticket": {"namespace": meta.ticket.namespace, "name": meta.ticket.name},
        "track": meta.track,
        "station": meta.station,
        "application": {"namespace": meta.application.namespace, "name": meta.application.name},
        "source": {
            "branch": meta.source.branch,
            "configCommit": meta.source.config_commit,
            "overlayCommit": meta.source.overlay_commit,
        },
        "kustomization": meta.kustomization,
        "images": images,
        "renderer": {
            "k8sta": meta.renderer.k8sta,
            "kustomize": meta.renderer.kustomize,
            "scheme": meta.renderer.scheme,
        },
        "rendered": {"sha256": meta.rendered_sha256},
        "sequence": meta.sequence,
    }
    text = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)
    parse_metadata(text)  # never write what we could not read back
    return text


def wrapper_kustomization(kustomization: str, images: tuple[ImagePin, ...] | list[ImagePin]) -> str:
    """The wrapper's text; a pure function of the pins, so byte-identical everywhere."""
    lines = [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "resources:",
        f"- ../{kustomization}" if kustomization != "." else "- ..",
    ]
    if images:
        lines.append("images:")
        for pin in images:
            lines.append(f"- name: {pin.name}")
            lines.append(f'  newTag: "{pin.tag}"')  # quoted: tags such as 1.20 stay strings
            if pin.digest:
                lines.append(f"  digest: {pin.digest}")
    return "\n".join(lines) + "\n"


def branch_files(meta: BranchMetadata, rendered: bytes, *, input_entries: list[tuple[str, str, str]] | None = None,
                 key: bytes | None = None) -> dict[str, bytes]:
    """The files K8sTA adds to an app-branch commit next to the kustomize inputs.

    With ``key`` and ``input_entries`` (``inputs.entry`` for every file of the commit's inputs, i.e.
    everything but these files), also the signed ``.k8sta/inputs``: the caller vouches that it ran
    the full safety checks on exactly those inputs. It is left out when a path cannot be listed.
    """
    if sha256_hex(rendered) != meta.rendered_sha256:
        raise errors.ContractError("rendered manifests do not match metadata rendered.sha256")
    files = {METADATA_PATH: metadata_to_yaml(meta).encode(), RENDERED_PATH: rendered,
             WRAPPER_PATH: wrapper_kustomization(meta.kustomization, meta.images).encode()}
    if key is not None and input_entries is not None:
        ours = {path for _, _, path in input_entries} & set(files)
        if ours or INPUTS_PATH in {path for _, _, path in input_entries}:
            raise errors.ContractError(f"inputs must not hold K8sTA's own files: {sorted(ours)}")
        entries = input_entries + [inputs.entry("file", data, path) for path, data in files.items()]
        signed = inputs.manifest(application=str(meta.application), ticket=str(meta.ticket),
                                 station=meta.station, sequence=meta.sequence, kustomization=meta.kustomization,
                                 kustomize=meta.renderer.kustomize, scheme=meta.renderer.scheme,
                                 rendered=meta.rendered_sha256, entries=entries, key=key)
        if signed is not None:
            files[INPUTS_PATH] = signed
    return files


def read_metadata(root: Path) -> BranchMetadata:
    """Read the metadata of a checked-out app branch."""
    path = root / METADATA_PATH
    if path.is_symlink() or not path.is_file():
        raise errors.ContractError(
            f"{METADATA_PATH} not found: this is not a K8sTA app branch (written only by K8sTA's daemon)"
        )
    with path.open("rb") as handle:
        return parse_metadata(handle.read(MAX_METADATA_BYTES + 1))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
