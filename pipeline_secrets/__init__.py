"""pipeline-secrets core: fetch, cache and parse AWS Secrets Manager secrets, and
reconnect to databases across credential rotations.

Knows nothing of Airflow or Spark, and imports no database driver.
"""

from pipeline_secrets.api import (
    configure,
    connect_with_secret,
    get_db_credentials,
    get_secret,
    get_secret_json,
    stats,
)
from pipeline_secrets.cache import CachePolicy, SecretCache
from pipeline_secrets.client import ClientSettings
from pipeline_secrets.credentials import DatabaseCredentials
from pipeline_secrets.errors import (
    AuthenticationFailedError,
    SecretError,
    SecretFormatError,
    SecretNotFoundError,
)
from pipeline_secrets.model import AWSCURRENT, AWSPENDING, AWSPREVIOUS, SecretRef, SecretValue
from pipeline_secrets.reconnect import Reconnector, ReconnectPolicy
from pipeline_secrets.source import SecretsManagerSource

# The public API, small on purpose: the front door (configure, get_secret, ...), the
# parts for those who wire their own (SecretCache, SecretsManagerSource, Reconnector,
# ...), the errors callers catch and the version stages. Everything else is importable
# from its module (pipeline_secrets.errors, .classify, .jdbc, ...) but not promised.
__all__ = [
    "AWSCURRENT",
    "AWSPENDING",
    "AWSPREVIOUS",
    "AuthenticationFailedError",
    "CachePolicy",
    "ClientSettings",
    "DatabaseCredentials",
    "ReconnectPolicy",
    "Reconnector",
    "SecretCache",
    "SecretError",
    "SecretFormatError",
    "SecretNotFoundError",
    "SecretRef",
    "SecretValue",
    "SecretsManagerSource",
    "configure",
    "connect_with_secret",
    "get_db_credentials",
    "get_secret",
    "get_secret_json",
    "stats",
]
__version__ = "0.1.0"
