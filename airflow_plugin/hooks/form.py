"""Connection form fields, declared once and rendered two ways.

* ``conn_fields(...)``: the declarative ``conn-fields`` mapping of provider info that
  Airflow 3.2+ reads (a JSON schema per field, stored in ``Connection.extra``).
* ``form_widgets(...)``: the older ``get_connection_form_widgets`` form (WTForms,
  present where Flask-AppBuilder is installed: Airflow 2.x, or 3.x with the FAB
  provider). Without WTForms it returns ``{}``; the declarative form is used instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    description: str
    type: str = "string"  # string | integer | number | boolean
    password: bool = False


SECRET_ID = FormField(
    "secret_id",
    "Secret id",
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
