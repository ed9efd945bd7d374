"""A host-level secret cache shared by every process on the machine.

``server`` runs the agent (``pipeline-secrets agent``): it keeps secrets in memory only
(a :class:`~pipeline_secrets.cache.SecretCache`) and answers the same HTTP protocol as
AWS's Secrets Manager Agent (``GET /secretsmanager/get?secretId=...``). ``client`` is
the source processes use to read through it, falling back to direct calls when it is
unreachable; ``launcher`` starts one on demand.
"""

from pipeline_secrets.agent.client import AgentClient, AgentSource, AgentUnavailableError
from pipeline_secrets.agent.wire import DEFAULT_PORT, TOKEN_HEADER

__all__ = ["DEFAULT_PORT", "TOKEN_HEADER", "AgentClient", "AgentSource", "AgentUnavailableError"]
