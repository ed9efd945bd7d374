"""secrets_compliance_report: audit the pipeline's secrets and fail on a policy breach.

Lists every secret under the pipeline's prefixes (``audit_prefixes``; default
``airflow/connections/``, ``airflow/variables/`` and ``pipeline/``) with rotation
enabled or not, last and next rotation, a pending (AWSPENDING, not AWSCURRENT)
version, replicas and resource policy, using :mod:`pipeline_secrets.tools.audit`. The report
goes to the task log and to XCom (JSON). The task fails when a secret breaches the
policy.

The policy is a :class:`pipeline_secrets.tools.audit.PolicySet` given as a mapping, e.g.
``{"kinds": {"database": {"max_days_since_rotation": 30}}, "exclude": ["tag:audit=skip"],
"warn_only": ["rotation-age"]}``: param ``audit_policy``, else the ``audit_policy`` key
of the ``pipeline_example_settings`` Variable, else the defaults per kind (database
credentials: rotation on, at most 90 days old; API tokens: at most 365 days; Variables:
no rotation rule; everywhere: no AWSPENDING older than 30 minutes). The local stack has
no rotation Lambda, so its seeded settings report ``rotation-disabled`` as a warning.

Reads metadata only (ListSecrets, DescribeSecret, ListSecretVersionIds,
GetResourcePolicy), never a secret value; IAM: ``docs/iam/audit.json``.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import Param, dag, task
from pipeline_settings import settings

log = logging.getLogger(__name__)


@dag(
    dag_id="secrets_compliance_report",
    schedule="@daily",
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["pipeline-secrets", "example", "compliance"],
    params={
        "audit_prefixes": Param(None, type=["null", "array"]),
        "audit_policy": Param(None, type=["null", "object"]),
    },
    doc_md=__doc__,
)
def secrets_compliance_report() -> None:
    @task
    def audit(params: dict[str, Any] | None = None) -> dict[str, Any]:
        from airflow.exceptions import AirflowFailException

        from pipeline_secrets import SecretsManagerSource
        from pipeline_secrets.tools.audit import PolicySet, audit_secrets

        cfg = settings(params)
        policy = PolicySet.from_mapping(cfg["audit_policy"] or {})
        prefixes = list(cfg["audit_prefixes"])
        report = audit_secrets(SecretsManagerSource(), prefixes, policy)
        log.info("secrets under %s:\n%s", ", ".join(prefixes), report.to_table())
        result: dict[str, Any] = json.loads(report.to_json())
        if report.errors:
            raise AirflowFailException(f"could not audit: {', '.join(report.errors)}")
        if report.failed:
            failing = [s.name for s in report.secrets if s.failed]
            raise AirflowFailException(
                f"{len(failing)} secret(s) breach the policy: {', '.join(failing)}"
            )
        log.info("%d secret(s) audited, none breaches the policy", len(report.secrets))
        return result

    audit()


secrets_compliance_report()
