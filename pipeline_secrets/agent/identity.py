"""Is the listener at an address a genuine agent holding our token? Asked without
sending the token: the listener must answer a random challenge with an HMAC keyed by it
(see :func:`pipeline_secrets.agent.wire.identity_proof`)."""

from __future__ import annotations

import secrets

from pipeline_secrets.agent import wire
from pipeline_secrets.agent.client import AgentClient, AgentUnavailableError


def verify_listener(
    address: str, token: str, *, config_fingerprint: str = "", timeout: float = 2.0
) -> bool | None:
    """True: a verified agent (same token, same configuration). False: something
    answers but cannot prove it. None: nothing answers."""
    challenge = secrets.token_hex(16)
    anonymous = AgentClient(address, None, timeout=timeout)  # never sends the token
    try:
        status, body = anonymous.request(f"{wire.PING_PATH}?{wire.CHALLENGE_PARAM}={challenge}")
    except AgentUnavailableError:
        return None
    return status == 200 and wire.proof_matches(token, challenge, body, config_fingerprint)
