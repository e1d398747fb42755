"""Certificates and keys for kube-apiserver: a throw-away CA, its serving cert, an admin client cert.

The admin identity is a client certificate in group ``system:masters`` (what envtest does), so
kube-apiserver can run with real RBAC authorization. Keys are written 0600 and live only in the
stack's state directory.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=30)


@dataclass(frozen=True)
class Pki:
    """Paths of everything kube-apiserver and its clients need."""

    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    service_account_key: Path  # RSA private key: signs tokens and (its public half) verifies them
    ca_key: Path  # signs further certificates (the real node's kubelet and its client identity)


def _write(path: Path, data: bytes, private: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + _VALIDITY))


def _new_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Name, x509.Certificate]:
    """A self-signed CA: its key, its name and its certificate."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(common_name)
    ca = (_builder(ca_name, ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    return ca_key, ca_name, ca


def generate(directory: Path, extra_ips: Sequence[str] = ()) -> Pki:
    """Create a CA, a serving cert for loopback (and ``extra_ips``: the real node's address), an admin
    client cert and a service-account key."""
    ca_key, ca_name, ca = _new_ca("k8sta-devstack-ca")

    serving_key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName("localhost"), x509.DNSName("kubernetes"), x509.DNSName("kubernetes.default.svc"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
            *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in extra_ips)]
    serving = (_builder(_name("kube-apiserver"), ca_name, serving_key.public_key())
               .add_extension(x509.SubjectAlternativeName(sans), critical=False)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
               .sign(ca_key, hashes.SHA256()))

    admin_key = ec.generate_private_key(ec.SECP256R1())
    admin = (_builder(_name("k8sta-devstack-admin", "system:masters"), ca_name, admin_key.public_key())
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
             .sign(ca_key, hashes.SHA256()))

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = serialization.Encoding.PEM
    return Pki(
        ca_cert=_write(directory / "ca.crt", ca.public_bytes(pem)),
        serving_cert=_write(directory / "apiserver.crt", serving.public_bytes(pem)),
        serving_key=_write(directory / "apiserver.key", _key_pem(serving_key), private=True),
        admin_cert=_write(directory / "admin.crt", admin.public_bytes(pem)),
        admin_key=_write(directory / "admin.key", _key_pem(admin_key), private=True),
        service_account_key=_write(directory / "service-account.key", _key_pem(sa_key), private=True),
        ca_key=_write(directory / "ca.key", _key_pem(ca_key), private=True),
    )


def issue(pki: Pki, name: str, common_name: str, *, organization: str | None = None,
          ips: Sequence[str] = (), dns: Sequence[str] = (), server: bool = False) -> tuple[Path, Path]:
    """A certificate signed by the stack's CA, next to it as ``<name>.crt``/``<name>.key``: a client
    identity (``common_name`` in group ``organization``) or, with ``server``, a serving cert for
    ``ips``/``dns``."""
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    builder = _builder(_name(common_name, organization), ca.subject, key.public_key())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    directory = pki.ca_cert.parent
    return (_write(directory / f"{name}.crt", cert.public_bytes(serialization.Encoding.PEM)),
            _write(directory / f"{name}.key", _key_pem(key), private=True))


@dataclass(frozen=True)
class ServerPki:
    """A CA of its own and one serving certificate it signed (for a server other than kube-apiserver)."""

    ca_cert: Path
    serving_cert: Path
    serving_key: Path


def generate_server(directory: Path, name: str, addresses: Sequence[str], dns_names: Sequence[str] = ()) -> ServerPki:
    """A throw-away CA and a serving cert for ``addresses`` (IP SANs, so a client dialling the bind
    address verifies it) and ``dns_names``; written as ``ca.crt``, ``<name>.crt``, ``<name>.key``."""
    ca_key, ca_name, ca = _new_ca(f"k8sta-devstack-{name}-ca")
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    sans += [x509.DNSName(d) for d in dns_names]
    cert = (_builder(_name(name), ca_name, key.public_key())
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return ServerPki(ca_cert=_write(directory / "ca.crt", ca.public_bytes(pem)),
                     serving_cert=_write(directory / f"{name}.crt", cert.public_bytes(pem)),
                     serving_key=_write(directory / f"{name}.key", _key_pem(key), private=True))
