"""A real OCI registry for tests and the demo: Debian's ``docker-registry`` (distribution v2) on 127.0.0.1,
optionally with TLS and htpasswd basic auth, and tiny test images pushed to it with ``skopeo``.

Images are written as an OCI image layout by hand (one small layer, a config with ``created``, one
manifest per platform, an image index when several platforms are asked for), so no base image, no
build tool and no network is needed; ``skopeo copy --all`` pushes them and reports the digest.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import ssl
import subprocess
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import pki, processes

USERNAME = "k8sta"
PASSWORD = "registry-secret"  # a throw-away registry's password, for tests only
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass(frozen=True)
class Registry:
    """A running registry: ``host`` is ``127.0.0.1:<port>``; ``ca_cert`` is set when it speaks TLS."""

    host: str
    ca_cert: Path | None = None
    username: str | None = None
    password: str | None = None

    @property
    def insecure(self) -> bool:
        return self.ca_cert is None

    def dockerconfigjson(self) -> str:
        """The ``.dockerconfigjson`` of a pull secret for this registry."""
        auth = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return json.dumps({"auths": {self.host: {"username": self.username, "password": self.password,
                                                 "auth": auth}}})


def _ready(url: str, context: ssl.SSLContext | None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as answer:
            return answer.status == 200
    except urllib.error.HTTPError as exc:
        return exc.code == 401  # up, and asking for credentials
    except OSError:
        return False


def start(directory: Path, supervisor: processes.Supervisor, *, auth: bool, name: str = "docker-registry",
          token: Callable[[pki.Pki], dict[str, str]] | None = None) -> Registry:
    """Start ``docker-registry serve`` on a free port with storage in ``directory``.

    ``auth``: TLS (a throw-away CA, see ``pki``) and htpasswd basic auth, as a registry with
    credentials must be; otherwise plain HTTP and anonymous. ``token``: instead of htpasswd, bearer
    tokens (distribution's ``auth.token``: realm, service, issuer, rootcertbundle), from a token
    server the caller starts with the registry's serving certificate (passed in).
    """
    binary = shutil.which("docker-registry")
    if binary is None:
        raise processes.StartError("docker-registry not found: run toolchain/debian-deps.sh")
    directory.mkdir(parents=True, exist_ok=True)
    port = processes.free_port()
    config: dict[str, object] = {
        "version": 0.1, "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(directory / "data")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "k8sta-devstack"},
    }
    registry = Registry(host=f"127.0.0.1:{port}")
    context = None
    if auth:
        keys = pki.generate(directory / "pki")
        # subprocess, not sh: the password is on the command line, which sh's errors print.
        htpasswd = subprocess.run(["htpasswd", "-Bbn", USERNAME, PASSWORD], check=True, capture_output=True,
                                  text=True).stdout
        (directory / "htpasswd").write_text(htpasswd)
        config["http"]["tls"] = {"certificate": str(keys.serving_cert), "key": str(keys.serving_key)}  # type: ignore[index]
        config["auth"] = ({"token": token(keys)} if token is not None else
                          {"htpasswd": {"realm": "k8sta-devstack", "path": str(directory / "htpasswd")}})
        registry = Registry(host=registry.host, ca_cert=keys.ca_cert, username=USERNAME, password=PASSWORD)
        context = ssl.create_default_context(cafile=str(keys.ca_cert))
    (directory / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    scheme = "http" if registry.insecure else "https"
    supervisor.start(name, [binary, "serve", directory / "config.yml"], env={"PATH": "/usr/bin:/bin"},
                     cwd=directory, ready=lambda: _ready(f"{scheme}://{registry.host}/v2/", context), timeout=30)
    return registry


# -- test images ---------------------------------------------------------------------------------


def _blob(layout: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _layer(content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("content.txt")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _image(layout: Path, content: bytes, created: str, platform: str) -> dict[str, object]:
    os_, arch, *variant = platform.split("/")
    layer = _layer(content)
    layer_blob = _blob(layout, layer)
    config = {"created": created, "os": os_, "architecture": arch, **({"variant": variant[0]} if variant else {}),
              "config": {}, "rootfs": {"type": "layers", "diff_ids": [layer_blob["digest"]]}}
    config_blob = _blob(layout, json.dumps(config, sort_keys=True).encode())
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_blob},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer_blob}]}
    return {"mediaType": OCI_MANIFEST, **_blob(layout, json.dumps(manifest, sort_keys=True).encode())}


def write_layout(layout: Path, tag: str, content: bytes, created: str,
                 platforms: Sequence[str] = ("linux/amd64",)) -> None:
    """An OCI image layout holding ``tag``: one image, or an image index when several platforms."""
    entries = []
    for platform in platforms:
        entry = _image(layout, content + platform.encode(), created, platform)
        os_, arch, *variant = platform.split("/")
        entries.append({**entry, "platform": {"os": os_, "architecture": arch,
                                              **({"variant": variant[0]} if variant else {})}})
    if len(platforms) == 1:
        top = {k: v for k, v in entries[0].items() if k != "platform"}
    else:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        top = {"mediaType": OCI_INDEX, **_blob(layout, json.dumps(index, sort_keys=True).encode())}
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))


def push(registry: Registry, repository: str, tag: str, *, content: bytes | None = None,
         created: str = "2026-01-01T00:00:00Z", platforms: Sequence[str] = ("linux/amd64",)) -> str:
    """Push a tiny image as ``<host>/<repository>:<tag>`` with skopeo; returns its digest."""
    with tempfile.TemporaryDirectory(prefix="k8sta-image-") as tmp:
        layout = Path(tmp) / "layout"
        write_layout(layout, tag, content if content is not None else f"{repository}:{tag}".encode(), created,
                     platforms)
        argv = ["skopeo", "copy", "--quiet", "--all", "--digestfile", f"{tmp}/digest"]
        if registry.insecure:
            argv.append("--dest-tls-verify=false")
        else:
            certs = Path(tmp) / "certs"
            certs.mkdir()
            shutil.copy(registry.ca_cert, certs / "ca.crt")  # type: ignore[arg-type]
            argv += ["--dest-cert-dir", str(certs), "--dest-creds", f"{registry.username}:{registry.password}"]
        argv += [f"oci:{layout}:{tag}", f"docker://{registry.host}/{repository}:{tag}"]
        # subprocess, not sh: ``--dest-creds`` carries the password, which sh's errors would print.
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"skopeo copy to {registry.host}/{repository}:{tag} failed: {done.stderr.strip()}")
        return (Path(tmp) / "digest").read_text().strip()
