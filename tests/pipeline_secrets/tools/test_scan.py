"""The hard-coded credential scanner on fixtures: every planted credential is found,
nothing in the good examples (or in the project's own code) is, and no value is shown."""

from __future__ import annotations

from pathlib import Path

from pipeline_secrets.tools.scan import scan_paths, scan_text

FIXTURES = Path(__file__).parent / "scan_fixtures"
ROOT = Path(__file__).resolve().parents[3]
PLANTED = [
    "Wh-9f8s7d6",
    "Sup3rS3cret!",
    "Q7w8e9r0",
    "AKIAQ3EGRMPLXK4TQZ7B",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzKEYabc",
    "Tr0ub4dor3",
    "R3ad0nly2024",
    "pg-pass-123",
    "Hunter2Hunter2",
    "yaml-plain-pw",
    "tok_4f5g6h7j8k",
    "ini-secret-77",
]


def expected() -> set[tuple[str, int, str]]:
    marked = set()
    for path in sorted((FIXTURES / "bad").glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "# FINDING " in line:
                marked.add((path.name, number, line.split("# FINDING ")[1].strip()))
    return marked | {
        ("airflow.env", 1, "uri-password"),
        ("airflow.env", 2, "password-literal"),
        ("config.yaml", 3, "password-literal"),
        ("config.yaml", 4, "password-literal"),
        ("settings.ini", 3, "password-literal"),
    }


def test_every_planted_credential_is_found_without_showing_it() -> None:
    findings, scanned = scan_paths([FIXTURES / "bad"])
    assert scanned == 5
    got = {(Path(f.path).name, f.line, f.kind) for f in findings}
    assert got == expected()
    shown = "\n".join(f.format() for f in findings)
    for value in PLANTED:
        assert value not in shown
    assert all(f.suggestion for f in findings)
    airflow = [f for f in findings if f.path.endswith("dags_etl.py") and f.kind == "uri-password"]
    assert "airflow/connections/" in airflow[0].suggestion
    glue = [f for f in findings if f.path.endswith("glue_job.py") and f.kind == "uri-password"]
    assert "db/cluster0-mongo-internal/reader" in glue[0].suggestion


def test_no_false_positives_on_good_examples_and_the_project() -> None:
    findings, scanned = scan_paths([FIXTURES / "good"])
    assert scanned == 3
    assert findings == [], [f.format() for f in findings]
    # The project's own code and examples (dags/ and glue_jobs/ when present).
    own = [
        ROOT / p
        for p in (
            "pipeline_secrets",
            "airflow_plugin",
            "glue_lib",
            "dags",
            "glue_jobs",
            "docs",
            "devstack",
            "bench",
        )
        if (ROOT / p).exists()
    ]
    findings, scanned = scan_paths(own)
    assert scanned > 20
    assert findings == [], [f.format() for f in findings]


def test_dsn_and_jdbc_properties() -> None:
    text = 'dsn = "host=db user=app password=dsn-pw-1 dbname=x"\n'
    assert [f.kind for f in scan_text(text, "job.cfg")] == ["password-literal"]
    props = "jdbc.url=jdbc:postgresql://db:5432/x\njdbc.password=props-pw-2\n"
    (finding,) = scan_text(props, "conn.properties")
    assert finding.line == 2 and "props-pw-2" not in finding.format()
    assert scan_text("password = getpass.getpass()\n", "x.cfg") == []
    assert scan_text("def f(password: str = None): ...\n", "x.py") == []


def test_labels_and_module_paths_are_not_secrets_but_passphrases_are() -> None:
    labels = [
        '"password": "empty when a secret id is given",',
        '"relabeling": {"login": "AWS access key id", "password": "AWS secret access key"},',
        '"SecretsManagerHook": "airflow_plugin.hooks.secrets_manager",',
        'TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"',
    ]
    for line in labels:
        assert scan_text(line, "dags/x.py") == [], line
    found = scan_text('password = "correct horse battery staple"', "dags/x.py")
    assert [f.kind for f in found] == ["password-literal"]
