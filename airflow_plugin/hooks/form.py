"""Connection form fields and UI behaviour, declared once and rendered two ways.

* ``conn_fields(...)``: the declarative ``conn-fields`` mapping of provider info that
  Airflow 3.2+ reads (a JSON schema per field, stored in ``Connection.extra``).
* ``form_widgets(...)``: the older ``get_connection_form_widgets`` form (WTForms,
  present where Flask-AppBuilder is installed: Airflow 2.x, or 3.x with the FAB
  provider). Without WTForms it returns ``{}``; the declarative form is used instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    description: str
    type: str = "string"  # string | integer | number | boolean
    password: bool = False


# Not "secret_id": Airflow hides every extra whose name contains "secret" (UI, API,
# connections list). The legacy name is still read (airflow_plugin.masking).
SECRET_ID = FormField(
    "credentials_id",
    "Credentials secret id",
    "Secrets Manager secret (name or ARN) holding the credentials; it wins over "
    "Login/Password, and its host/port/dbname (if any) over the fields above.",
)
SECRETS_CONN_ID = FormField(
    "secrets_conn_id",
    "Secrets Manager connection id",
    "A pipeline_secrets_aws connection used to reach Secrets Manager (region, endpoint, "
    "role). Empty: the environment's AWS settings.",
)
SQL_FIELDS = (SECRET_ID, SECRETS_CONN_ID)

AWS_FIELDS = (
    FormField("region_name", "Region", "AWS region of the secrets, e.g. eu-west-1."),
    FormField("endpoint_url", "Endpoint URL", "Custom Secrets Manager endpoint (VPC, tests)."),
    FormField("profile_name", "Profile", "Named AWS profile."),
    FormField("role_arn", "Role ARN", "Role to assume; comma-separated for a chain of roles."),
    FormField("fallback_regions", "Fallback regions", "Replica regions, comma-separated."),
    FormField("aws_session_token", "Session token", "Temporary session token.", password=True),
    FormField("cache_ttl_seconds", "Cache TTL (seconds)", "How long values stay cached.", "number"),
)


@dataclass(frozen=True)
class UiBehaviour:
    """Which standard fields a connection form hides, relabels and annotates."""

    relabeling: Mapping[str, str]
    placeholders: Mapping[str, str]
    hidden_fields: tuple[str, ...] = field(default=())

    def hook_form(self) -> dict[str, Any]:
        """What a hook's ``get_ui_field_behaviour`` returns."""
        return {
            "hidden_fields": list(self.hidden_fields),
            "relabeling": dict(self.relabeling),
            "placeholders": dict(self.placeholders),
        }

    def provider_form(self) -> dict[str, Any]:
        """The ``ui-field-behaviour`` entry of provider info."""
        out: dict[str, Any] = {}
        if self.hidden_fields:
            out["hidden-fields"] = list(self.hidden_fields)
        out["relabeling"] = dict(self.relabeling)
        out["placeholders"] = dict(self.placeholders)
        return out


_SECRET_ID_PLACEHOLDERS = {
    "login": "empty when a secret id is given",
    "password": "empty when a secret id is given",
}
SQL_BEHAVIOUR = UiBehaviour({"schema": "Database"}, _SECRET_ID_PLACEHOLDERS)
REDSHIFT_BEHAVIOUR = UiBehaviour({"login": "User", "schema": "Database"}, _SECRET_ID_PLACEHOLDERS)
AWS_BEHAVIOUR = UiBehaviour(
    {"login": "AWS access key id", "password": "AWS secret access key"},
    {
        "login": "empty: the default credential chain",
        "password": "empty: the default credential chain",
    },
    hidden_fields=("host", "schema", "port"),
)


def conn_fields(fields: tuple[FormField, ...]) -> dict[str, Any]:
    """The declarative ``conn-fields`` mapping (Airflow 3.2+ provider info)."""
    out: dict[str, Any] = {}
    for f in fields:
        schema: dict[str, Any] = {"type": [f.type, "null"]}
        if f.password:
            schema["format"] = "password"
        out[f.name] = {"label": f.label, "description": f.description, "schema": schema}
    return out


def form_widgets(fields: tuple[FormField, ...]) -> dict[str, Any]:
    """The WTForms widgets of ``get_connection_form_widgets`` ({} without WTForms)."""
    try:
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import FloatField, PasswordField, StringField
        from wtforms.validators import Optional
    except ImportError:
        return {}
    widgets: dict[str, Any] = {}
    for f in fields:
        if f.password:
            widgets[f.name] = PasswordField(
                lazy_gettext(f.label),
                widget=BS3PasswordFieldWidget(),
                description=f.description,
            )
        elif f.type == "number":
            widgets[f.name] = FloatField(
                lazy_gettext(f.label),
                widget=BS3TextFieldWidget(),
                validators=[Optional()],
                description=f.description,
            )
        else:
            widgets[f.name] = StringField(
                lazy_gettext(f.label), widget=BS3TextFieldWidget(), description=f.description
            )
    return widgets
