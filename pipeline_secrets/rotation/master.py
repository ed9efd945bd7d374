"""Where the master secret's user logs in: never where the user's secret says.

A master secret that names its ``host`` is used as it is (its writer controls the
master anyway). An RDS-managed master secret (``rds!db-...``, ``rds!cluster-...``)
holds only ``username`` and ``password``; its endpoint comes, in this order, from:

1. the runner's or Lambda's configuration: ``PIPELINE_SECRETS_ROTATION_MASTER_HOST``
   and ``PIPELINE_SECRETS_ROTATION_MASTER_PORT`` (optional; default: the engine's);
2. RDS: the master secret's ``aws:rds:primaryDBInstanceArn`` tag (DescribeDBInstances)
   or ``aws:rds:primaryDBClusterArn`` tag (DescribeDBClusters, the writer endpoint),
   as RDS sets them on the secrets it manages.

Nothing else: with neither, the rotation stops with a configuration error. The user's
secret only has to name the same host and port, or the rotation is refused.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from pipeline_secrets.rotation.store import SecretStore, region_of_arn

log = logging.getLogger(__name__)

MASTER_HOST_ENV = "PIPELINE_SECRETS_ROTATION_MASTER_HOST"
MASTER_PORT_ENV = "PIPELINE_SECRETS_ROTATION_MASTER_PORT"
INSTANCE_TAG = "aws:rds:primaryDBInstanceArn"
CLUSTER_TAG = "aws:rds:primaryDBClusterArn"

#: ``rds_client(region)`` -> a boto3 RDS client
RdsClients = Callable[[str | None], Any]


class MasterEndpointError(Exception):
    """The master's endpoint cannot be found (message names what was tried)."""


def master_connection_value(
    master_value: Mapping[str, Any],
    master_store: SecretStore,
    rds_clients: RdsClients,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The master secret's value with ``host``/``port``/``engine`` filled in when it
    has no host (see the module docstring). Raises :class:`MasterEndpointError`."""
    value = dict(master_value)
    if value.get("host"):
        return value
    env = os.environ if environ is None else environ
    if env.get(MASTER_HOST_ENV):
        value["host"] = env[MASTER_HOST_ENV]
        if env.get(MASTER_PORT_ENV):
            value["port"] = env[MASTER_PORT_ENV]
        log.info("master endpoint from %s", MASTER_HOST_ENV)
        return value
    tags = master_store.tags()
    endpoint = None
    if tags.get(INSTANCE_TAG):
        endpoint = _instance_endpoint(tags[INSTANCE_TAG], rds_clients)
    elif tags.get(CLUSTER_TAG):
        endpoint = _cluster_endpoint(tags[CLUSTER_TAG], rds_clients)
    if endpoint is None:
        raise MasterEndpointError(
            "the master secret has no host, no "
            f"{INSTANCE_TAG}/{CLUSTER_TAG} tag, and {MASTER_HOST_ENV} is not set"
        )
    value.update({k: v for k, v in endpoint.items() if v is not None and not value.get(k)})
    value["host"], value["port"] = endpoint["host"], endpoint["port"]
    return value


def _identifier(arn: str) -> str:
    """``arn:aws:rds:REGION:ACCOUNT:db:NAME`` -> ``NAME``."""
    return arn.rsplit(":", 1)[-1]


def _instance_endpoint(arn: str, rds_clients: RdsClients) -> dict[str, Any]:
    rds = rds_clients(region_of_arn(arn))
    found = rds.describe_db_instances(DBInstanceIdentifier=_identifier(arn))["DBInstances"]
    if not found or not found[0].get("Endpoint", {}).get("Address"):
        raise MasterEndpointError(f"RDS instance {arn} has no endpoint yet")
    db = found[0]
    log.info("master endpoint from RDS instance %s", _identifier(arn))
    return {
        "host": db["Endpoint"]["Address"],
        "port": db["Endpoint"].get("Port"),
        "engine": db.get("Engine"),
    }


def _cluster_endpoint(arn: str, rds_clients: RdsClients) -> dict[str, Any]:
    rds = rds_clients(region_of_arn(arn))
    found = rds.describe_db_clusters(DBClusterIdentifier=_identifier(arn))["DBClusters"]
    if not found or not found[0].get("Endpoint"):
        raise MasterEndpointError(f"RDS cluster {arn} has no endpoint yet")
    cluster = found[0]
    log.info("master endpoint from RDS cluster %s", _identifier(arn))
    return {
        "host": cluster["Endpoint"],
        "port": cluster.get("Port"),
        "engine": cluster.get("Engine"),
    }
