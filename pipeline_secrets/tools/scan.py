"""Find hard-coded credentials in DAG files, Glue scripts, SQL, shell and configuration.

Detects connection URIs with a password (``@`` and ``/`` inside the password
included), ``key = value`` literals whose key names a credential (Python, typed
constants, YAML, JSON, INI, ``.env``, Terraform, JDBC properties and URL parameters,
libpq ``"host=.. password=.."`` strings, Spark ``.option("password", ...)``,
``os.environ["PGPASSWORD"] = ...``), SQL ``PASSWORD '...'`` / ``IDENTIFIED BY '...'``
and AWS access keys; says which secret to use instead.

No part of a found value is ever reported: every finding on a line shares one excerpt
in which the union of all found values is masked from the value's first character to
its closing unescaped quote, or to the end of the line for unquoted values. Suggested
secret names come from the connection's meaning (host, user, key name), never from
the value.

References are not findings: templates (``{{ conn.x.password }}``, ``${VAR}``,
``%(x)s``), lookups (``Variable.get``, ``os.environ[...]``, ``os.getenv``,
Secrets Manager reads), placeholders (``<password>``, ``changeme``, ``***``), paths,
image tags. A line holding ``pipeline-secrets: ignore`` is skipped.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
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
    ".bash",
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
    ".ipynb",
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
MASK = "***"
MAX_EXCERPT = 240

KINDS = {
    "uri-password": "connection URI with a hard-coded password",
    "password-literal": "hard-coded credential value",
    "sql-password": "password in a SQL statement",
    "aws-access-key": "AWS access key id",
    "aws-secret-key": "AWS secret access key",
    "bearer-token": "bearer token in an Authorization header",
}

# -- patterns ------------------------------------------------------------------------------
_URI_START = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*)://")
# A key that names a credential: the keyword must end the key (DB_PASSWORD, api_token,
# jdbc.password, client-secret), so PIPELINE_SECRETS_HOME or secret_id are not keys.
_KEY = re.compile(
    r"""(?P<kq>["'`]?)(?P<key>(?<![\w.\-/$])(?:[A-Za-z_][\w.\-]*?)?
        (?:password|passwd|passwort|pwd|(?<![A-Za-z])pass|secret|token|api[_\-.]?key|apikey|
           secret[_\-.]?access[_\-.]?key|private[_\-.]?key|fernet[_\-.]?key|secret[_\-.]?key|
           client[_\-.]?secret|auth[_\-.]?key|credentials?)
        (?:[_\-]?\d+)?)(?P=kq)(?![\w.\-])""",
    re.IGNORECASE | re.VERBOSE,
)
# What may separate a key from its value.
_SEP = re.compile(
    r"""(?:\\["'])?\]?\s*(?:
        (?P<typed>:\s*[A-Za-z_][\w\[\], .|]*?\s*=(?!=))   # PASSWORD: str = "..."
      | (?P<op>=>|:=|=(?!=)|:(?!:)(?=\s|["'])|:$)          # = : => (not ==, ::)
      | (?P<comma>,)                                      # .option("password", "...")
    )\s*""",
    re.VERBOSE,
)
_WS_SEP = re.compile(r"(?P<typed>(?!))?(?P<op>(?!))?(?P<comma>(?!))?[ \t]+(?=\S)")
_SQL = re.compile(
    r"(?i)\b(?:with\s+(?:encrypted\s+|unencrypted\s+)?password|password|identified\s+by)"
    r"\s+(?=['\"])"
)
_AWS_KEY_ID = re.compile(
    r"(?<![A-Z0-9])(?P<id>(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)"
    r"[A-Z2-7]{16})(?![A-Z0-9])"
)
_AWS_SECRET_VALUE = re.compile(r"^[A-Za-z0-9/+=]{40}$")
_AWS_SECRET_KEY = re.compile(r"(?i)(?:aws)?[_\-.]?secret[_\-.]?(?:access)?[_\-.]?key")

_PLACEHOLDER = re.compile(
    r"""^(?:
        \*+ | x+ | X+ | \.{3} | -+ | _+ | none | null | nil | undefined | true | false | yes | no
      | <[^>]*> | \[[^\]]*\] | \{\{.*\}\} | \$\{[^}]*\}.* | \$[A-Za-z_][A-Za-z0-9_]* | %\([^)]*\)s
      | \{[^}]*\} | %s | \?
      | (?:change_?me|changeit|placeholder|redacted|masked|hidden|secret|secrets|password|passwd|
          example|examples|sample|dummy|fake|test|testing|tests|todo|tbd|literal|fixme|none_?set|unset|
          not_?set|empty|default|string|str|bytes|int|optional|required|value|my_?password|
          (?:your|my|the|some)[_\-\s].*|.*[_\-]here|.*\.\.\.)
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# Code, not a literal: lookups and calls.
_LOOKUP = re.compile(
    r"""(?x)(?:Variable\.get|os\.environ|os\.getenv|getenv|environ\.get|getpass|
        get_secret(?:_value)?|get_db_credentials|get_connection|BaseHook|Variable\b|
        secrets?manager|ssm\.|get_parameter|dbutils\.secrets|conn\.|\{\{|\$\{|%\()""",
)
_CALL = re.compile(r"^[A-Za-z_][\w.]*\s*[(\[]")
_SECRET_NAME = re.compile(
    r"^(?:arn:aws[\w-]*:secretsmanager:\S+|[a-z0-9_.\-!]+(?:/[a-z0-9_.\-]+)+)$"
)
_MODULE_PATH = re.compile(r"^[a-z_][a-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+(?::[A-Za-z_]\w*)?$")
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
_EXAMPLE_HOSTS = {"host", "hostname", "server", "dbhost", "db-host", "localhost.example"}
_EXAMPLE_USERS = {"user", "username", "login", "usr"}
_PY_LIKE = (".py", ".scala", ".java", ".ipynb", ".md", ".rst")
# Where an unquoted value is an expression (a name, a call, var.x, random_password.x.result).
_CODE_LIKE = (*_PY_LIKE, ".tf", ".hcl", ".js", ".ts", ".go", ".kt")
# Airflow reads "<option>_secret" / "<option>_cmd" as the name of a secret / a command.
_AIRFLOW_INDIRECT = re.compile(
    r"(?i)(?:sql_alchemy_conn|fernet_key|broker_url|result_backend|smtp_password|secret_key|"
    r"sentry_dsn|flower_basic_auth|password|jwt_secret)_(?:secret|cmd)$"
)


@dataclass(frozen=True)
class ScanFinding:
    path: str
    line: int
    column: int
    kind: str  # one of KINDS
    message: str
    suggestion: str
    excerpt: str  # the line with every found value on it masked
    fingerprint: str = ""  # stable across line moves; never derived from the value

    def format(self) -> str:
        return (
            f"{self.path}:{self.line}:{self.column}: {self.kind}: {self.message}\n"
            f"    {self.excerpt.strip()}\n    fix: {self.suggestion}"
        )


@dataclass(frozen=True)
class _Hit:
    """One value found on a line: where it starts, where its mask ends, what it means."""

    kind: str
    column: int  # 0-based start of the match (key or URI)
    value_start: int
    mask_end: int
    message: str
    suggestion: str
    key: str = ""


# -- value helpers -------------------------------------------------------------------------
def is_placeholder(value: str) -> bool:
    v = value.strip().strip("\"'")
    return (
        not v
        or len(v) < 4
        or bool(_PLACEHOLDER.match(v))
        or MASK in v
        or v.startswith(("{{", "${", "%(", "<", "os.environ", "env:", "/", "./", "~/", "$"))
    )


def _looks_templated(value: str) -> bool:
    return any(mark in value for mark in ("{{", "}}", "${", "%(", "{", "}")) or value.startswith(
        "$"
    )


def _looks_like_text_not_secret(value: str) -> bool:
    """UI labels and help text ("AWS secret access key") and module paths are not
    secrets. A lower-case passphrase of plain words still counts as one."""
    if _MODULE_PATH.match(value) and not any(_looks_random(p) for p in re.split(r"[.:]", value)):
        return True  # "ab.Xy7Wq2Lm9Pn" is a value with a short prefix, not a module
    words = [w.strip(".,:;!?()").replace("-", "") for w in value.split()]
    if len(words) < 3 or not all(w.isalpha() for w in words):
        return False
    return any(w.lower() in _PROSE_WORDS for w in words) or any(w[:1].isupper() for w in words)


def _looks_random(segment: str) -> bool:
    digits = sum(c.isdigit() for c in segment)
    return len(segment) >= 8 and digits >= 2 and any(c.isalpha() for c in segment)


def _is_secret_name(value: str) -> bool:
    """``db/app/etl`` names a secret; ``ab/Xy7Wq2Lm9`` is a value with a short prefix."""
    if not _SECRET_NAME.match(value):
        return False
    return not any(_looks_random(seg) for seg in re.split(r"[/:]", value))


def quoted_end(line: str, start: int, quote: str) -> int:
    """Index of the closing unescaped ``quote`` for a string whose body starts at
    ``start`` (backslash escapes honoured); ``len(line)`` when it is not closed."""
    i = start
    while i < len(line):
        ch = line[i]
        if ch == "\\":
            i += 2
            continue
        if ch == quote:
            return i
        i += 1
    return len(line)


def _enclosing_quote(line: str, pos: int) -> str | None:
    """The quote character of the string literal ``pos`` is inside, if any."""
    quote: str | None = None
    i = 0
    while i < pos:
        ch = line[i]
        if ch == "\\" and quote:
            i += 2
            continue
        if quote is None and ch in "\"'`":
            quote = ch
        elif ch == quote:
            quote = None
        i += 1
    return quote


def _mask_end_unquoted(line: str, start: int) -> int:
    """An unquoted value is masked to the closing quote of the string it sits in, else
    to the end of the line."""
    enclosing = _enclosing_quote(line, start)
    return quoted_end(line, start, enclosing) if enclosing else len(line)


# -- detectors -----------------------------------------------------------------------------
def _uri_hits(line: str, path: str) -> Iterator[_Hit]:
    for m in _URI_START.finditer(line):
        body_start = m.end()
        enclosing = _enclosing_quote(line, m.start())
        stop = re.compile(r"[\s\"'`<>]" if enclosing is None else rf"[\s{re.escape(enclosing)}]")
        end_match = stop.search(line, body_start)
        token_end = end_match.start() if end_match else len(line)
        token = line[body_start:token_end]
        at = token.rfind("@")
        if at <= 0:
            continue
        userinfo, hostpart = token[:at], token[at + 1 :]
        user, colon, password = userinfo.partition(":")
        if not colon or not password or "/" in user:  # redis://:password@host has no user
            continue
        host = re.split(r"[/:?#]", hostpart, maxsplit=1)[0]
        if is_placeholder(password) or _looks_templated(password):
            continue
        if host.lower() in _EXAMPLE_HOSTS or user.lower() in _EXAMPLE_USERS:
            continue
        if host.lower().endswith((".example", "example.com", "example.org", "example.net")):
            continue
        value_start = body_start + len(user) + 1
        mask_end = quoted_end(line, value_start, enclosing) if enclosing else len(line)
        scheme = m.group("scheme").lower()
        yield _Hit(
            "uri-password",
            m.start(),
            value_start,
            mask_end,
            f"{scheme} connection URI with a hard-coded password",
            _suggest_uri(scheme, host, user, path),
        )


def _kv_hits(line: str, path: str) -> Iterator[_Hit]:
    python_like = path.lower().endswith(_PY_LIKE)
    code_like = path.lower().endswith(_CODE_LIKE)
    whitespace_sep = path.lower().endswith((".conf", ".properties"))
    comment = python_like and line.lstrip().startswith("#")
    for m in _KEY.finditer(line):
        key, key_quote = m.group("key"), m.group("kq")
        if not _key_position(line, m.start(), python_like):
            continue
        if _AIRFLOW_INDIRECT.search(key.split("__")[-1]):
            continue  # names a secret (or a command), Airflow's indirection
        sep = _SEP.match(line, m.end())
        if sep is None and whitespace_sep and not line[: m.start()].strip():
            sep = _WS_SEP.match(line, m.end())  # spark-defaults.conf: "key   value"
        if sep is None:
            continue
        if sep.group("typed") and not python_like:
            continue
        if sep.group("comma") and not (key_quote and _in_call_args(line, m.start())):
            continue
        start = sep.end()
        in_string = _enclosing_quote(line, m.start()) if not key_quote else None
        in_url = m.start() > 0 and line[m.start() - 1] in "?&;"
        escaped_key = line[max(0, m.start() - 2) : m.start()] in ('\\"', "\\'")
        if in_string and sep.group("op") == ":" and not escaped_key:
            continue  # "setSecret: %s" is a message; strings hold key=value settings
        value, value_start, mask_end, quoted = _read_value(line, start, in_string, in_url)
        if value is None:
            continue
        if comment and not quoted:
            continue
        if not quoted and code_like and not (in_string or in_url):
            continue  # a name or a call (password=get_password()), not a literal
        if not _is_literal_secret(value, key, quoted):
            continue
        kind = "password-literal"
        normalized = re.sub(r"[^a-z]", "", key.lower())
        if _AWS_SECRET_KEY.fullmatch(key) or normalized.endswith("secretaccesskey"):
            kind = "aws-secret-key"
            if "EXAMPLE" in value:
                continue  # AWS's documentation key
        yield _Hit(
            kind,
            m.start(),
            value_start,
            mask_end,
            f"hard-coded value for {key!r}"
            if kind == "password-literal"
            else "AWS secret access key in source",
            _suggest_literal(key, path)
            if kind == "password-literal"
            else "use the IAM role of the Airflow worker / Glue job instead of keys",
            key,
        )


def _key_position(line: str, start: int, python_like: bool) -> bool:
    """A key starts a line or an entry; it is not a value (``image: name-secret:tag``),
    a path segment or a shell ``${NAME:-default}``."""
    before = line[:start].rstrip()
    if not before:
        return True
    prev = before[-1]
    if prev in "/@:=" or before.endswith("${"):
        return False
    if prev in "{[(,;?&-" or prev in "\"'`":
        return True
    word = re.search(r"(\w+)$", before)
    if word and word.group(1) in {"export", "set", "setx", "local", "declare", "readonly", "ENV"}:
        return True
    # libpq strings: "host=db user=etl password=..." - a key after another key=value.
    return bool(re.search(r"\w=\S+\s*$", before)) or (
        not python_like and bool(re.match(r"^\s*#?\s*$", before))
    )


_SETTER_CALL = re.compile(
    r"(?:\boption|\bset|setProperty|\bput|setdefault|putenv|setConf|\bconfig)\(\s*$"
)


def _in_call_args(line: str, start: int) -> bool:
    """``.option("password", ...)``, ``conf.set(...)``, ``props.setProperty(...)``: a
    setter call, not a tuple of names or a constructor's label."""
    return bool(_SETTER_CALL.search(line[:start]))


def _read_value(
    line: str, start: int, in_string: str | None, in_url: bool
) -> tuple[str | None, int, int, bool]:
    """The value after a separator: (text, start, mask end, was it quoted)."""
    if line.startswith(('\\"', "\\'"), start):  # JSON inside a JSON string: \"value\"
        close = line.find(line[start : start + 2], start + 2)
        value_end = close if close != -1 else len(line)
        mask_end = _mask_end_unquoted(line, start) if in_string else len(line)
        return line[start + 2 : value_end], start + 2, max(mask_end, value_end), True
    prefix = re.match(r"[rRbBuU]{0,2}(?=[\"'`])", line[start:])
    if prefix is not None and (in_string is None or line[start + prefix.end()] != in_string):
        quote_at = start + prefix.end()
        quote = line[quote_at]
        if line.startswith(quote * 3, quote_at):
            return None, start, start, True  # a docstring / heredoc: not a literal here
        end = quoted_end(line, quote_at + 1, quote)
        return line[quote_at + 1 : end], quote_at + 1, end, True
    if in_string or in_url:
        stop = re.compile(r"[\s&;" + (re.escape(in_string) if in_string else "\"'") + "]")
    else:
        stop = re.compile(r"\s")
    end_match = stop.search(line, start)
    value = line[start : end_match.start() if end_match else len(line)]
    if not value or value.startswith(("#", "//")):
        return None, start, start, False
    return value.rstrip(",;.)}]`\"'"), start, _mask_end_unquoted(line, start), False


def _is_literal_secret(value: str, key: str, quoted: bool) -> bool:
    raw = value.strip()
    if is_placeholder(raw) or _looks_templated(raw) or _LOOKUP.search(raw):
        return False
    if not quoted and _CALL.match(raw):
        return False
    if quoted and _looks_like_text_not_secret(raw):
        return False
    if re.fullmatch(r"[\d.]+", raw) and len(raw) < 6:
        return False  # a number (a count, a port, a version)
    if re.fullmatch(r"[A-Za-z_][\w\-]*:[\w.\-]+", raw) and raw.split(":", 1)[1] in _TAG_WORDS:
        return False  # name:tag
    return not (("secret" in key.lower() or "token" in key.lower()) and _is_secret_name(raw))


_TAG_WORDS = {"latest", "local", "main", "stable", "dev", "edge", "alpine", "slim"}


def _sql_hits(line: str, path: str) -> Iterator[_Hit]:
    for m in _SQL.finditer(line):
        quote = line[m.end()]
        end = quoted_end(line, m.end() + 1, quote)
        value = line[m.end() + 1 : end]
        if is_placeholder(value) or _looks_templated(value):
            continue
        yield _Hit(
            "sql-password",
            m.start(),
            m.end() + 1,
            end,
            "password in a SQL statement",
            "create the user from a rotation secret (pipeline-secrets rotate) instead of "
            "a literal; keep the password only in Secrets Manager",
            "password",
        )


def _aws_key_hits(line: str, path: str) -> Iterator[_Hit]:
    for m in _AWS_KEY_ID.finditer(line):
        if "EXAMPLE" in m.group("id"):
            continue  # AWS's documentation key
        start = m.start("id")
        enclosing = _enclosing_quote(line, start)
        yield _Hit(
            "aws-access-key",
            start,
            start,
            quoted_end(line, start, enclosing) if enclosing else m.end("id"),
            "AWS access key id in source",
            "use the IAM role of the Airflow worker / Glue job instead of keys",
        )


_BEARER = re.compile(r"(?i)\bBearer\s+(?P<tok>[A-Za-z0-9\-._~+/]{16,}=*)")


def _bearer_hits(line: str, path: str) -> Iterator[_Hit]:
    for m in _BEARER.finditer(line):
        start = m.start("tok")
        if is_placeholder(m.group("tok")):
            continue
        yield _Hit(
            "bearer-token",
            m.start(),
            start,
            _mask_end_unquoted(line, start),
            "hard-coded bearer token",
            "keep the token in Secrets Manager (an Airflow connection's password or "
            "'airflow/variables/<name>') and build the header at run time",
            "authorization",
        )


# mysql -u root -p<password> (the password glued to -p); mysqldump, mariadb, mysqladmin
_MYSQL_P = re.compile(r"\b(?:mysql|mysqldump|mysqladmin|mariadb)\b.*?\s-p(?=[^\s-])")


def _mysql_flag_hits(line: str, path: str) -> Iterator[_Hit]:
    m = _MYSQL_P.search(line)
    if m is None:
        return
    start = m.end()
    if line[start] in "\"'":
        end = quoted_end(line, start + 1, line[start])
        value, value_start = line[start + 1 : end], start + 1
    else:
        end = len(line)
        value, value_start = line[start:].split()[0], start
    if is_placeholder(value) or _looks_templated(value):
        return
    yield _Hit(
        "password-literal",
        m.start(),
        value_start,
        end,
        "password on a mysql command line",
        "read it at run time (MYSQL_PWD from Secrets Manager, or --defaults-extra-file "
        "written from pipeline_secrets.get_db_credentials)",
        "mysql -p",
    )


_DETECTORS = (_uri_hits, _kv_hits, _sql_hits, _aws_key_hits, _bearer_hits, _mysql_flag_hits)


# -- scanning ------------------------------------------------------------------------------
def scan_text(text: str, path: str = "<text>", name: str | None = None) -> list[ScanFinding]:
    """Findings in ``text``; ``name`` (default ``path``) is what fingerprints use."""
    findings: list[ScanFinding] = []
    for number, line in enumerate(text.splitlines(), 1):
        if IGNORE_MARK in line:
            continue
        findings.extend(scan_line(line, number, path, name))
    return findings


def scan_line(line: str, number: int, path: str, name: str | None = None) -> list[ScanFinding]:
    hits: list[_Hit] = []
    for detector in _DETECTORS:
        for hit in detector(line, path):
            if any(h.value_start <= hit.value_start < h.mask_end for h in hits):
                continue  # the same value, seen by two detectors
            hits.append(hit)
    if not hits:
        return []
    excerpt = mask_spans(line, [(h.value_start, h.mask_end) for h in hits])
    return [
        ScanFinding(
            path,
            number,
            h.column + 1,
            h.kind,
            h.message,
            h.suggestion,
            excerpt,
            fingerprint(name or path, h.kind, h.key, excerpt),
        )
        for h in sorted(hits, key=lambda h: h.column)
    ]


def mask_spans(line: str, spans: Iterable[tuple[int, int]]) -> str:
    """``line`` with the union of ``spans`` each replaced by ``***`` (overlaps merged)."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        line = line[:start] + MASK + line[end:]
    return line[:MAX_EXCERPT]


def fingerprint(path: str, kind: str, key: str, excerpt: str) -> str:
    """Path, rule, key and the masked line: stable when lines move, never derived from
    the value (a hash of a short password can be reversed)."""
    material = "\0".join((Path(path).as_posix(), kind, key, excerpt.strip()))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


# -- suggestions ---------------------------------------------------------------------------
def _slug(text: str, sep: str = "-") -> str:
    return re.sub(r"[^a-z0-9]+", sep, text.lower()).strip(sep)


def _suggest_uri(scheme: str, host: str, user: str, path: str) -> str:
    where = _where(path)
    name = _slug(host) or _slug(scheme) or "db"
    secret = f"db/{name}/{_slug(user, '_') or 'user'}"
    if where == "airflow":
        conn_id = _slug(host.split(".")[0], "_") or _slug(scheme, "_") or "db"
        return (
            f"create an Airflow connection secret 'airflow/connections/{conn_id}' "
            "(pipeline-secrets migrate) and use the conn_id in the DAG"
        )
    if where == "glue":
        return (
            f"store it as a database secret (e.g. '{secret}') and read it with "
            f"glue_lib / pipeline_secrets.get_db_credentials('{secret}')"
        )
    return (
        f"store it as a database secret (e.g. '{secret}') and read it with "
        "pipeline_secrets.get_db_credentials"
    )


def _suggest_literal(key: str, path: str) -> str:
    name = _slug(key, "_")
    if _where(path) == "airflow":
        return (
            f"put it in 'airflow/variables/{name}' or in a connection "
            "'airflow/connections/<conn_id>' and read it through the secrets backend"
        )
    return (
        f"store it in Secrets Manager (e.g. 'app/{name}') and read it with "
        "pipeline_secrets.get_secret / get_db_credentials"
    )


def _where(path: str) -> str:
    lowered = path.lower()
    if "dag" in lowered or "airflow" in lowered:
        return "airflow"
    if "glue" in lowered or "spark" in lowered:
        return "glue"
    return "other"


# -- files ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScanOptions:
    """Which files to skip (globs on the path relative to the scanned root, or as given)
    and which findings are accepted (baseline fingerprints)."""

    exclude: Sequence[str] = ()
    baseline: frozenset[str] = field(default_factory=frozenset)


def is_excluded(path: Path, root: Path, patterns: Sequence[str]) -> bool:
    if not patterns:
        return False
    candidates = {path.as_posix()}
    try:
        rel = path.relative_to(root).as_posix()
        candidates.add(rel)
        parts = rel.split("/")
        candidates.update("/".join(parts[:i]) for i in range(1, len(parts)))
    except ValueError:
        pass
    for pattern in patterns:
        pat = pattern.rstrip("/")
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, pat) or fnmatch.fnmatchcase(
                candidate, pat.replace("**/", "")
            ):
                return True
    return False


def iter_files(paths: Iterable[str | Path], exclude: Sequence[str] = ()) -> Iterator[Path]:
    for path, _ in iter_files_with_names(paths, exclude):
        yield path


def iter_files_with_names(
    paths: Iterable[str | Path], exclude: Sequence[str] = ()
) -> Iterator[tuple[Path, str]]:
    """Candidate files under ``paths``, each with its name relative to the root it was
    found under (what fingerprints use, so a baseline works from any directory)."""
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            # Named relative to the working directory (pre-commit passes repository
            # paths), so a baseline made with "scan ." matches file-by-file runs.
            name = _relative_to_cwd(path)
            if not is_excluded(Path(name), Path(), exclude):
                yield path, name
        elif path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if any(part in SKIP_DIRS for part in rel.parts[:-1]):
                    continue
                if not child.is_file() or not _is_candidate(child):
                    continue
                if is_excluded(child, path, exclude):
                    continue
                yield child, rel.as_posix()


def _relative_to_cwd(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _is_candidate(path: Path) -> bool:
    name = path.name.lower()
    return (
        path.suffix.lower() in TEXT_SUFFIXES
        or name.startswith(".env")
        or name in {"dockerfile", "airflow.cfg", "docker-compose.yaml", "webserver_config.py"}
    )


@dataclass
class ScanResult:
    findings: list[ScanFinding]
    files_scanned: int
    baselined: int = 0  # findings accepted by the baseline


def scan_paths(
    paths: Iterable[str | Path], options: ScanOptions | None = None
) -> tuple[list[ScanFinding], int]:
    """Findings in every candidate file under ``paths``, and how many files were read."""
    result = scan(paths, options)
    return result.findings, result.files_scanned


def scan(paths: Iterable[str | Path], options: ScanOptions | None = None) -> ScanResult:
    options = options or ScanOptions()
    result = ScanResult([], 0)
    for path, name in iter_files_with_names(paths, options.exclude):
        try:
            if path.stat().st_size > MAX_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\x00" in data[:4096]:
            continue  # binary
        result.files_scanned += 1
        for finding in scan_text(data.decode("utf-8", errors="replace"), str(path), name):
            if finding.fingerprint in options.baseline:
                result.baselined += 1
            else:
                result.findings.append(finding)
    return result
