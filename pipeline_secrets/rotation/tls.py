"""How rotation connections use TLS, decided from the secret's ``ssl`` key.

=======================  ===========================================================
``ssl`` in the secret    behaviour
=======================  ===========================================================
absent / unrecognised    ``auto``: verified TLS (CA + host name) when the server
                         offers TLS; plain text only when the server offers no TLS at
                         all. A certificate that fails verification is an error, not a
                         reason to fall back (the AWS templates fall back on any
                         failure; we do not).
``true`` / ``"true"``    ``verify-full``: TLS required, certificate and host verified.
``false`` / ``"false"``  ``disable``: plain text.
a libpq mode             ``require`` (TLS, not verified), ``verify-ca``, ``verify-full``,
                         ``prefer`` (TLS if offered, not verified), ``disable``.
=======================  ===========================================================

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
CA_BUNDLE_ENV = "PIPELINE_SECRETS_ROTATION_CA_BUNDLE"
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


def tls_policy(secret: Mapping[str, Any]) -> TlsPolicy:
    """The TLS policy for connections made with this secret's credentials."""
    raw = secret.get("ssl", secret.get("sslmode"))
    mode = _mode(raw)
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
