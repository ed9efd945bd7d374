"""pipeline-secrets core: fetch, cache and parse AWS Secrets Manager secrets, and
reconnect to databases across credential rotations.

Knows nothing of Airflow or Spark, and imports no database driver.
"""

from pipeline_secrets.api import (
    configure,
    connect_with_secret,
    default_cache,
    get_db_credentials,
    get_secret,
    get_secret_json,
    stats,
)
from pipeline_secrets.cache import CachePolicy, SecretCache
from pipeline_secrets.classify import FailureKind, classify_failure, is_authentication_failure
from pipeline_secrets.client import ClientSettings
from pipeline_secrets.credentials import DatabaseCredentials, parse_db_credentials
from pipeline_secrets.errors import (
    AuthenticationFailedError,
    SecretAccessDeniedError,
    SecretDecryptionError,
    SecretDeletedError,
    SecretError,
    SecretFormatError,
    SecretNotFoundError,
    SecretRequestError,
    SecretServiceUnavailableError,
    SecretThrottledError,
)
from pipeline_secrets.jdbc import JdbcTarget, to_jdbc
from pipeline_secrets.model import AWSCURRENT, AWSPENDING, AWSPREVIOUS, SecretValue
from pipeline_secrets.reconnect import Reconnector, ReconnectPolicy
from pipeline_secrets.source import SecretsManagerSource

__all__ = [
    "AWSCURRENT",
    "AWSPENDING",
    "AWSPREVIOUS",
    "AuthenticationFailedError",
    "CachePolicy",
    "ClientSettings",
    "DatabaseCredentials",
    "FailureKind",
    "JdbcTarget",
    "ReconnectPolicy",
    "Reconnector",
    "SecretAccessDeniedError",
    "SecretCache",
    "SecretDecryptionError",
    "SecretDeletedError",
    "SecretError",
    "SecretFormatError",
    "SecretNotFoundError",
    "SecretRequestError",
    "SecretServiceUnavailableError",
    "SecretThrottledError",
    "SecretValue",
    "SecretsManagerSource",
    "classify_failure",
    "configure",
    "connect_with_secret",
    "default_cache",
    "get_db_credentials",
    "get_secret",
    "get_secret_json",
    "is_authentication_failure",
    "parse_db_credentials",
    "stats",
    "to_jdbc",
]
__version__ = "0.1.0"
