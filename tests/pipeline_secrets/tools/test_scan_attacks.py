"""Issue #16's attacks on the scanner: values shown in excerpts or suggested names,
common pipeline patterns missed, harmless lines flagged."""

from __future__ import annotations

import pytest

from pipeline_secrets.tools.scan import scan_text


def shown(findings: list) -> str:  # type: ignore[type-arg]
    return "\n".join(f.format() for f in findings)


def assert_hidden(text: str, path: str, value_parts: list[str]) -> None:
    findings = scan_text(text, path)
    assert findings, f"nothing found in {path}"
    out = shown(findings)
    for part in value_parts:
        assert part not in out, f"{part!r} shown for {path}"


def test_two_secrets_on_one_line_neither_shown() -> None:
    line = 'conf = {"password": "Fz8qLw2mXc", "api_token": "Tk9vBn3sRq"}\n'
    assert_hidden(line, "dags/x.py", ["Fz8qLw2mXc", "Tk9vBn3sRq"])
    uri = 'a = "postgres://u:Pq7rWx2z@db:5432/x"; b = "mysql://v:Mn4bVc8x@db2/y"\n'
    assert_hidden(uri, "glue/x.py", ["Pq7rWx2z", "Mn4bVc8x"])


def test_at_sign_inside_uri_password_not_shown_nor_named() -> None:
    text = 'URL = "postgresql://etl:Kp9@Zx7wq2@warehouse.internal:5432/dw"\n'
    findings = scan_text(text, "glue_jobs/load.py")
    assert findings
    out = shown(findings)
    for part in ("Kp9", "Zx7wq2", "zx7wq2"):
        assert part not in out


@pytest.mark.parametrize(
    "value",
    ["Ab3#Cd5;Ef7", "Gh2;Jk4#Lm6", "Qz8&Wx2,Yv5"],
)
def test_env_value_with_hash_or_semicolon_fully_masked(value: str) -> None:
    assert_hidden(f"DB_PASSWORD={value}\n", "deploy/.env", [p for p in value.split("#")[1:]])
    findings = scan_text(f"DB_PASSWORD={value}\n", "deploy/.env")
    out = shown(findings)
    for piece in ("Cd5", "Ef7", "Jk4", "Lm6", "Wx2", "Yv5"):
        assert piece not in out


def test_escaped_quote_does_not_cut_the_mask() -> None:
    text = 'password = "Rt5\\"Yu7Io9"\n'
    assert_hidden(text, "dags/x.py", ["Rt5", "Yu7Io9"])
    single = "password = 'Rt6\\'Yu8Io0'\n"
    assert_hidden(single, "dags/x.py", ["Rt6", "Yu8Io0"])


def test_uri_password_with_slash_found_and_hidden() -> None:
    text = 'SRC = "postgresql://etl:Vb6/Nm2Kl8@db.internal:5432/dw"\n'
    assert_hidden(text, "glue/job.py", ["Vb6", "Nm2Kl8"])


@pytest.mark.parametrize(
    ("text", "path", "parts"),
    [
        (
            'df = spark.read.format("jdbc").option("password", "Sp4rkPw9x").load()\n',
            "glue/j.py",
            ["Sp4rkPw9x"],
        ),
        ('    .option("password", "Sp4rkPw8y")\n', "glue/j.py", ["Sp4rkPw8y"]),
        (
            'conn = psycopg2.connect("host=db user=etl password=LibPq7Zz dbname=dw")\n',
            "dags/a.py",
            ["LibPq7Zz"],
        ),
        ('os.environ["PGPASSWORD"] = "EnvPw3Qr"\n', "dags/a.py", ["EnvPw3Qr"]),
        ('DB_PASSWORD: str = "Typed9Kx"\n', "dags/settings.py", ["Typed9Kx"]),
        ('DB_PASSWORD: Final[str] = "Typed8Kw"\n', "dags/settings.py", ["Typed8Kw"]),
        ("CREATE USER etl WITH PASSWORD 'SqlPw5Tg';\n", "sql/users.sql", ["SqlPw5Tg"]),
        ("ALTER ROLE etl PASSWORD 'SqlPw6Th';\n", "sql/users.sql", ["SqlPw6Th"]),
        ('api_token = "sk_Xy7Wq2Lm9Pn4"\n', "dags/a.py", ["Xy7Wq2Lm9Pn4"]),
        ('password = "ab:Xy7Wq2Lm"\n', "dags/a.py", ["Xy7Wq2Lm"]),
        ('token = "ab.Xy7Wq2Lm9Pn"\n', "dags/a.py", ["Xy7Wq2Lm9Pn"]),
        ('client_secret = "ab/Xy7Wq2Lm9Pn"\n', "dags/a.py", ["Xy7Wq2Lm9Pn"]),
        ("mysql -h db -u root -pXq7Wz2Lm9Pn orders < dump.sql\n", "ci/load.sh", ["Xq7Wz2Lm9Pn"]),
        ('AWS_ACCESS_KEY_ID = "ASIAZ3EGRMPLXK4TQZ7C"\n', "glue/a.py", ["Z3EGRMPLXK4TQZ7C"]),
        (
            "export AWS_SECRET_ACCESS_KEY=Zq9yXw8vUt7sRq6pOn5mLk4jIh3gFe2dCb1aZy0x\n",
            "ci/run.sh",
            ["Zq9yXw8vUt7sRq6pOn5mLk4jIh3gFe2dCb1aZy0x"],
        ),
    ],
)
def test_pipeline_patterns_found_and_hidden(text: str, path: str, parts: list[str]) -> None:
    assert_hidden(text, path, parts)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("    image: pipeline-secrets-airflow:local\n", "docker-compose.yaml"),
        ("    image: postgres:16-alpine\n", "docker-compose.yaml"),
        ("      - ./pipeline_secrets:/opt/airflow/pipeline_secrets:ro\n", "docker-compose.yaml"),
        ("      - pg_password_data:/var/lib/postgresql/data\n", "docker-compose.yaml"),
        ('password = Variable.get("etl_password")\n', "dags/a.py"),
        ('token = os.environ["API_TOKEN"]\n', "dags/a.py"),
        ('password = os.getenv("DB_PASSWORD", "")\n', "dags/a.py"),
        ('creds = get_secret_value(SecretId="prod/db")["SecretString"]\n', "glue/a.py"),
        ("DB_PASSWORD=${DB_PASSWORD:?set it}\n", ".env"),
        ("password: <your-password>\n", "config.yaml"),
        ('password: "{{ conn.warehouse.password }}"\n', "config.yaml"),
        ("aws_secretsmanager_caching==1.1.3\n", "constraints.txt"),
        ('pipeline-secrets = "pipeline_secrets.tools.cli:main"\n', "pyproject.toml"),
        ("HOME_DIR=${PIPELINE_SECRETS_HOME:-$HOME/.cache}\n", "scripts/x.sh"),
    ],
)
def test_harmless_lines_are_not_findings(text: str, path: str) -> None:
    assert scan_text(text, path) == [], shown(scan_text(text, path))


def test_suggested_names_come_from_meaning_never_the_value() -> None:
    text = 'WAREHOUSE = "postgresql://etl:Hq5Warehouse@warehouse.internal:5432/dw"\n'
    (finding,) = scan_text(text, "glue_jobs/load.py")
    assert "hq5warehouse" not in finding.suggestion.lower()
    assert "warehouse" in finding.suggestion
