"""How rotation connections use TLS, and why no password is ever sent readable.

The mode of a connection made with a user's credentials comes from that secret's
``ssl`` key; the master's from the master secret's ``ssl`` key, else
``PIPELINE_SECRETS_ROTATION_MASTER_SSL``, else ``verify-full``: the user's secret never
chooses how the master connects.

=======================  ===========================================================
``ssl``                  behaviour
=======================  ===========================================================
absent / unrecognised    user connections: ``auto`` (verified TLS when the server
                         offers TLS; without TLS only when the server offers none).
                         Master connections: ``verify-full``.
``true`` / ``"true"``    ``verify-full``: TLS required, certificate and host verified.
``false`` / ``"false"``  ``disable``: no TLS.
a libpq mode             ``require`` (TLS, not verified), ``verify-ca``, ``verify-full``,
                         ``prefer`` (TLS if offered, not verified), ``disable``.
=======================  ===========================================================

Two rules no value can lower:

* Hosts under ``rds.amazonaws.com`` or ``redshift.amazonaws.com`` (and
  ``redshift-serverless``, and the China partition) always get a verified mode
  (``verify-full`` unless ``verify-ca`` was asked for).
* Without verified TLS (every mode but ``verify-ca``/``verify-full``), the drivers may
  not send a password readable: libpq gets ``require_auth=!password`` (libpq 16+;
  older libpq refuses such a connection), PyMySQL refuses ``mysql_clear_password``,
  ``dialog``, ``sha256_password`` and the full (RSA) exchange of
  ``caching_sha2_password`` (:data:`NO_CLEARTEXT_MYSQL_PLUGINS` in the MySQL engine).

Local servers without TLS (tests, development): set ``"ssl": false`` in the user's
secret and in the master secret (or ``PIPELINE_SECRETS_ROTATION_MASTER_SSL=disable``).
Passwords still travel only as challenge responses (SCRAM, MD5, mysql_native_password).

The CA bundle comes from the secret's ``sslrootcert`` key, else
``PIPELINE_SECRETS_ROTATION_CA_BUNDLE``, else a ``ca-bundle.pem`` shipped next to this
module (``pipeline-secrets build-lambda --ca-bundle``), else the system bundle.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MODES = ("auto", "disable", "prefer", "require", "verify-ca", "verify-full")
VERIFIED_MODES = frozenset({"verify-ca", "verify-full"})
CA_BUNDLE_ENV = "PIPELINE_SECRETS_ROTATION_CA_BUNDLE"
MASTER_SSL_ENV = "PIPELINE_SECRETS_ROTATION_MASTER_SSL"
AWS_DATABASE_DOMAINS = (
    ".rds.amazonaws.com",
    ".rds.amazonaws.com.cn",
    ".redshift.amazonaws.com",
    ".redshift.amazonaws.com.cn",
    ".redshift-serverless.amazonaws.com",
    ".redshift-serverless.amazonaws.com.cn",
)
SHIPPED_CA_BUNDLE = Path(__file__).with_name("ca-bundle.pem")
SYSTEM_CA_BUNDLES = (
    "/etc/pki/tls/certs/ca-bundle.crt",  # Amazon Linux (the Lambda runtimes)
    "/etc/pki/tls/cert.pem",
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu
    "/etc/ssl/cert.pem",  # macOS, Alpine
)


@dataclass(frozen=True)
class TlsPolicy:
    mode: str
    ca_file: str | None = None

    @property
    def verifies(self) -> bool:
        return self.mode in {"auto", "verify-ca", "verify-full"}

    @property
    def checks_host(self) -> bool:
        return self.mode in {"auto", "verify-full"}

    @property
    def required(self) -> bool:
        return self.mode in {"require", "verify-ca", "verify-full"}

    @property
    def server_proven(self) -> bool:
        """Only then may a driver send a password readable (inside verified TLS)."""
        return self.mode in VERIFIED_MODES


def is_aws_database_host(host: str | None) -> bool:
    name = (host or "").strip().rstrip(".").lower()
    return any(name.endswith(domain) for domain in AWS_DATABASE_DOMAINS)


def tls_policy(
    secret: Mapping[str, Any], *, host: str | None = None, master: bool = False
) -> TlsPolicy:
    """The TLS policy for connections made with this secret's credentials to ``host``.

    ``master=True``: the secret is a master secret; without an ``ssl`` key the mode is
    ``PIPELINE_SECRETS_ROTATION_MASTER_SSL``, else ``verify-full``."""
    raw = secret.get("ssl", secret.get("sslmode"))
    if raw is None and master:
        raw = os.environ.get(MASTER_SSL_ENV) or "verify-full"
    mode = _mode(raw)
    if master and mode == "auto":
        mode = "verify-full"
    if is_aws_database_host(host) and mode not in VERIFIED_MODES:
        if raw is not None:
            log.warning("an AWS database endpoint always gets verified TLS; 'ssl' ignored")
        mode = "verify-full"
    ca = secret.get("sslrootcert")
    return TlsPolicy(mode, str(ca) if ca else (find_ca_bundle() if mode != "disable" else None))


def _mode(raw: Any) -> str:
    if raw is None:
        return "auto"
    if isinstance(raw, bool):
        return "verify-full" if raw else "disable"
    if isinstance(raw, str):
        lowered = raw.strip().lower().replace("_", "-")
        if lowered == "true":
            return "verify-full"
        if lowered == "false":
            return "disable"
        if lowered == "allow":
            return "prefer"
        if lowered in MODES:
            return lowered
    log.warning("unrecognised 'ssl' value in the secret; using verified TLS when offered")
    return "auto"


def find_ca_bundle() -> str | None:
    env = os.environ.get(CA_BUNDLE_ENV)
    if env:
        return env
    if SHIPPED_CA_BUNDLE.exists():
        return str(SHIPPED_CA_BUNDLE)
    for path in SYSTEM_CA_BUNDLES:
        if os.path.exists(path):
            return path
    return None
