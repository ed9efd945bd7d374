"""Find hard-coded credentials in DAG files, Glue scripts and configuration.

Looks for connection URIs with a password, ``password=``-style literals (Python,
YAML, JSON, INI, .env, JDBC properties) and AWS access keys, and says which secret to
use instead. Values are never reported: a finding shows the line with the value
replaced by ``***``.

References are not findings: ``{{ conn.x.password }}``, ``${VAR}``, ``%(x)s``,
``os.environ[...]``, ``***``, ``<password>``, ``changeme``-style placeholders, empty
strings. A line holding ``pipeline-secrets: ignore`` is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

IGNORE_MARK = "pipeline-secrets: ignore"
TEXT_SUFFIXES = {
    ".py",
    ".yaml",
    ".yml",
    ".json",
    ".cfg",
    ".ini",
    ".conf",
    ".env",
    ".toml",
    ".properties",
    ".sh",
    ".txt",
    ".sql",
    ".scala",
    ".java",
    ".tf",
    ".tfvars",
    ".hcl",
    ".jinja",
    ".j2",
    ".md",
}
SKIP_DIRS = {
    ".git",
    "__pycache__",
    ".venv",
    "venv",
    "node_modules",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "build",
    "dist",
    ".tox",
}
MAX_BYTES = 2_000_000

_URI = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*)://(?P<user>[^\s:/@'\"`]+):(?P<pw>[^\s@/'\"`]+)@"
    r"(?P<host>[^\s/:?'\"`]*)"
)
_KV = re.compile(
    r"""(?P<key>\b[\w.\-]*(?:password|passwd|pwd|secret|token|api_key|apikey|access_key)[\w\-]*)
        (?P<sep>["']?\s*(?:=|:|=>)\s*)
        (?:(?P<q>["'])(?P<quoted>(?:(?!(?P=q)).)*)(?P=q)|(?P<bare>[^\s,;&'"#)\]}]+))""",
    re.IGNORECASE | re.VERBOSE,
)
_AWS_KEY_ID = re.compile(r"\b(?P<id>(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16})\b")
_AWS_SECRET = re.compile(
    r"(?i)aws_?secret_?access_?key\W{0,4}(?P<q>[\"']?)(?P<v>[A-Za-z0-9/+=]{40})(?P=q)"
)

_PLACEHOLDER = re.compile(
    r"""^(?:
        \*+ | x+ | \.{3} | -+ | none | null | nil | undefined | true | false
      | <[^>]*> | \{\{.*\}\} | \$\{[^}]*\} | \$[A-Z_][A-Z0-9_]* | %\([^)]*\)s | \{[^}]*\}
      | (?:change_?me|changeit|placeholder|redacted|secret|password|example|dummy|your[_\-].*)
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# Values that are code, not literals: os.environ[...], Variable.get(...), getpass(), etc.
_CALL = re.compile(r"^[A-Za-z_][\w.]*\s*[(\[]")
_SECRET_NAME = re.compile(r"^(?:arn:aws[\w-]*:secretsmanager:\S+|[\w.\-]+(?:/[\w.\-]+)+)$")
_NOT_SECRET_KEYS = re.compile(
    r"(?i)(?:_?(?:file|path|arn|id|name|prefix|key_id|length|policy|stage|type|field|env|"
    r"var|variable|mode|manager|backend|secret_id|secretid|kwargs|rotation|hook|operator|"
    r"sensor|header|specials|chars|characters|url|path_info|region|endpoint|timeout)s?$)"
)


@dataclass(frozen=True)
class ScanFinding:
    path: str
    line: int
    column: int
    kind: str  # "uri-password", "password-literal", "aws-access-key", "aws-secret-key"
    message: str
    suggestion: str
    excerpt: str  # the line with the value replaced by ***

    def format(self) -> str:
        return (
            f"{self.path}:{self.line}:{self.column}: {self.kind}: {self.message}\n"
            f"    {self.excerpt.strip()}\n    fix: {self.suggestion}"
        )


def is_placeholder(value: str) -> bool:
    v = value.strip()
    return (
        not v
        or len(v) < 4
        or bool(_PLACEHOLDER.match(v))
        or "***" in v
        or v.startswith(("{{", "${", "%(", "<", "os.environ", "env:"))
    )


def scan_text(
    text: str, path: str = "<text>", *, bare_is_name: bool | None = None
) -> list[ScanFinding]:
    # In Python (and prose: Markdown, reST) an unquoted value after "password=" or
    # "secret:" is a name or a word, not a literal; in config files it is the value.
    bare_is_name = path.endswith((".py", ".md", ".rst")) if bare_is_name is None else bare_is_name
    findings: list[ScanFinding] = []
    for number, line in enumerate(text.splitlines(), 1):
        if IGNORE_MARK in line:
            continue
        findings.extend(_scan_line(line, number, path, bare_is_name))
    return findings


def _scan_line(line: str, number: int, path: str, bare_is_name: bool) -> Iterator[ScanFinding]:
    spans: list[tuple[int, int]] = []
    for m in _URI.finditer(line):
        pw = m.group("pw")
        if is_placeholder(pw) or _looks_templated(pw) or _is_doc_example(m):
            continue
        spans.append(m.span("pw"))
        scheme, host = m.group("scheme").lower(), m.group("host") or "host"
        yield ScanFinding(
            path,
            number,
            m.start() + 1,
            "uri-password",
            f"{scheme} connection URI with a hard-coded password",
            _suggest_uri(scheme, host, m.group("user"), path),
            _mask(line, [m.span("pw")]),
        )
    comment = bare_is_name and line.lstrip().startswith("#")
    for m in _KV.finditer(line if not comment else ""):
        key = m.group("key")
        raw = m.group("quoted") if m.group("q") else m.group("bare")
        span = m.span("quoted") if m.group("q") else m.span("bare")
        if raw is None or any(a <= span[0] < b for a, b in spans):
            continue
        if _NOT_SECRET_KEYS.search(key) or is_placeholder(raw) or _looks_templated(raw):
            continue
        if m.group("q") and _looks_like_text_not_secret(raw):
            continue
        if "access_key" in key.lower() or "accesskey" in key.lower():
            continue  # AWS keys: see the patterns below
        if "secret" in key.lower() and _SECRET_NAME.match(raw):
            continue  # password_secret: db/app/etl names a secret, it is not one
        in_url = m.start() > 0 and line[m.start() - 1] in "?&;"
        if not m.group("q") and not in_url and (bare_is_name or _CALL.match(raw)):
            continue  # a name or call (password=get_password()), not a literal
        if bare_is_name and m.group("sep").strip() == ":" and not m.group("q"):
            continue  # type annotations: password: str
        yield ScanFinding(
            path,
            number,
            m.start() + 1,
            "password-literal",
            f"hard-coded value for {key!r}",
            _suggest_literal(key, path),
            _mask(line, [span]),
        )
    for m in _AWS_KEY_ID.finditer(line):
        if "EXAMPLE" in m.group("id"):
            continue  # AWS's documentation key
        yield ScanFinding(
            path,
            number,
            m.start() + 1,
            "aws-access-key",
            "AWS access key id in source",
            "use the IAM role of the Airflow worker / Glue job instead of keys",
            _mask(line, [m.span("id")]),
        )
    for m in _AWS_SECRET.finditer(line):
        if "EXAMPLE" in m.group("v"):
            continue
        yield ScanFinding(
            path,
            number,
            m.start() + 1,
            "aws-secret-key",
            "AWS secret access key in source",
            "use the IAM role of the Airflow worker / Glue job instead of keys",
            _mask(line, [m.span("v")]),
        )


_EXAMPLE_HOSTS = {"host", "hostname", "server", "dbhost", "db-host", "localhost.example"}
_EXAMPLE_USERS = {"user", "username", "login", "usr"}


def _is_doc_example(m: re.Match[str]) -> bool:
    """``scheme://user:pass@host/...`` in documentation: placeholder user or host."""
    host = (m.group("host") or "").lower()
    return (
        host in _EXAMPLE_HOSTS
        or host.endswith((".example", "example.com", "example.org", "example.net"))
        or m.group("user").lower() in _EXAMPLE_USERS
    )


_PROSE_WORDS = {
    "a",
    "an",
    "the",
    "is",
    "of",
    "when",
    "if",
    "empty",
    "given",
    "enter",
    "leave",
    "optional",
    "default",
    "your",
    "use",
    "for",
    "to",
    "here",
}
_MODULE_PATH = re.compile(r"^[a-z_][a-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$")


def _looks_like_text_not_secret(value: str) -> bool:
    """UI labels and help text ("AWS secret access key", "empty when a secret id is
    given") and Python module paths are not secrets. A lower-case passphrase of plain
    words ("correct horse battery staple") still counts as one."""
    if _MODULE_PATH.match(value):
        return True
    words = [w.strip(".,:;!?()") for w in value.split()]
    if len(words) < 3 or not all(w.isalpha() for w in words):
        return False
    return any(w.lower() in _PROSE_WORDS for w in words) or any(w[:1].isupper() for w in words)


def _looks_templated(value: str) -> bool:
    return any(mark in value for mark in ("{{", "}}", "${", "%(", "{", "}"))


def _mask(line: str, spans: Iterable[tuple[int, int]]) -> str:
    for start, end in sorted(spans, reverse=True):
        line = line[:start] + "***" + line[end:]
    return line[:240]


def _suggest_uri(scheme: str, host: str, user: str, path: str) -> str:
    where = _where(path)
    slug = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-") or "db"
    if where == "airflow":
        return (
            "create an Airflow connection secret 'airflow/connections/<conn_id>' "
            "(pipeline-secrets migrate) and use the conn_id in the DAG"
        )
    if where == "glue":
        return (
            f"store it as a database secret (e.g. 'db/{slug}/{user}') and read it with "
            f"glue_lib / pipeline_secrets.get_db_credentials('db/{slug}/{user}')"
        )
    return (
        f"store it as a database secret (e.g. 'db/{slug}/{user}') and read it with "
        f"pipeline_secrets.get_db_credentials"
    )


def _suggest_literal(key: str, path: str) -> str:
    where = _where(path)
    name = re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")
    if where == "airflow":
        return (
            f"put it in 'airflow/variables/{name}' or in a connection "
            f"'airflow/connections/<conn_id>' and read it through the secrets backend"
        )
    return (
        f"store it in Secrets Manager (e.g. 'app/{name}') and read it with "
        f"pipeline_secrets.get_secret / get_db_credentials"
    )


def _where(path: str) -> str:
    lowered = path.lower()
    if "dag" in lowered or "airflow" in lowered:
        return "airflow"
    if "glue" in lowered or "spark" in lowered:
        return "glue"
    return "other"


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            yield path
        elif path.is_dir():
            for child in sorted(path.rglob("*")):
                if any(part in SKIP_DIRS for part in child.relative_to(path).parts[:-1]):
                    continue
                if child.is_file() and _is_candidate(child):
                    yield child


def _is_candidate(path: Path) -> bool:
    name = path.name.lower()
    return (
        path.suffix.lower() in TEXT_SUFFIXES
        or name.startswith(".env")
        or name in {"dockerfile", "airflow.cfg", "docker-compose.yaml"}
    )


def scan_paths(paths: Iterable[str | Path]) -> tuple[list[ScanFinding], int]:
    """Findings in every candidate file under ``paths``, and how many files were read."""
    findings: list[ScanFinding] = []
    count = 0
    for path in iter_files(paths):
        try:
            if path.stat().st_size > MAX_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\x00" in data[:4096]:
            continue  # binary
        count += 1
        findings.extend(scan_text(data.decode("utf-8", errors="replace"), str(path)))
    return findings, count
