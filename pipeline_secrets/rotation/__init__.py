"""Secrets Manager rotation functions for PostgreSQL, MySQL, MariaDB and Redshift.

The same code runs as an AWS Lambda (:func:`lambda_handler`) and locally against any
endpoint (:func:`rotate_secret`, ``pipeline-secrets rotate``). No Airflow or Spark
import; database drivers are imported only when a step connects.
"""

from pipeline_secrets.rotation.checks import STEPS
from pipeline_secrets.rotation.errors import (
    RotationConfigError,
    RotationError,
    RotationProtocolError,
)
from pipeline_secrets.rotation.handler import lambda_handler
from pipeline_secrets.rotation.passwords import PasswordOptions
from pipeline_secrets.rotation.runner import RotationResult, rotate_secret, run_step
from pipeline_secrets.rotation.strategies import ALTERNATING, SINGLE

__all__ = [
    "ALTERNATING",
    "SINGLE",
    "STEPS",
    "PasswordOptions",
    "RotationConfigError",
    "RotationError",
    "RotationProtocolError",
    "RotationResult",
    "lambda_handler",
    "rotate_secret",
    "run_step",
]
