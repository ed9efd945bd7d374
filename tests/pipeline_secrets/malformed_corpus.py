"""A corpus of malformed (and tricky but valid) database-credential secrets.

Each case is a secret as stored (JSON text, a URI, bytes for SecretBinary, or a dict
handed over directly) and what parsing must do: raise SecretFormatError naming
``field`` (None: the whole value), or succeed with ``expect``-ed values. Every
password in here contains ``MARK`` so tests can check that no error echoes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any
from urllib.parse import quote

MARK = "CorpusPw9"
PW = f"{MARK}-x"
URI_SPECIAL = "!#$%&'()*+,/:;=?@[]~ \"<>\\^`{|}"  # RFC 3986 reserved + unsafe characters


@dataclass(frozen=True)
class Case:
    name: str
    secret: Any  # str, bytes (SecretBinary) or dict
    field: str | None = None  # expected SecretFormatError.field ...
    ok: bool = False  # ... unless ok
    expect: dict[str, Any] = dc_field(default_factory=dict)


def _j(**kwargs: Any) -> str:
    return json.dumps(kwargs)


BASE = {"username": "app", "password": PW}
HUGE_NUMBER = '{"username": "u", "password": "' + PW + '", "port": ' + "9" * 5000 + "}"
UNICODE_PW = "p\u00e4\u00df-\u5bc6\u7801-\U0001f511" + PW
RTL_USER = "\u05de\u05e9\u05ea\u05de\u05e9\u0301"

CASES: list[Case] = [
    # -- not JSON, not a URI ---------------------------------------------------------
    Case("open-brace", "{", None),
    Case("trailing-comma", '{"username": "u", "password": "' + PW + '",}', None),
    Case("single-quotes", "{'username': 'u', 'password': '" + PW + "'}", None),
    Case("missing-comma", '{"username": "u" "password": "' + PW + '"}', None),
    Case("truncated", '{"username": "u", "password": "' + PW, None),
    Case("bad-escape", '{"username": "u", "password": "' + PW + '\\x41"}', None),
    Case("trailing-garbage", _j(**BASE) + " and more", None),
    Case("json-array", json.dumps([BASE]), None),
    Case("json-string", json.dumps(PW), None),
    Case("json-number", "12345", None),
    Case("json-null", "null", None),
    Case("json-true", "true", None),
    Case("empty", "", None),
    Case("whitespace", " \n\t ", None),
    Case("deep-nesting", '{"a":' * 50_000 + "1" + "}" * 50_000, None),
    Case("key-value-text", f"username=app password={PW}", None),
    Case("jdbc-url", f"jdbc:postgresql://h:5432/db?user=app&password={PW}", "username"),
    Case(
        "huge-json-number",
        '{"username": "u", "password": "' + PW + '", "port": ' + "9" * 5000 + "}",
        None,
    ),
    # -- wrong types ---------------------------------------------------------------------
    Case("nan-password", '{"username": "u", "password": NaN}', "password"),
    Case("username-bool", {"username": True, "password": PW}, "username"),
    Case("username-list", {"username": ["a"], "password": PW}, "username"),
    Case("username-object", {"username": {"a": 1}, "password": PW}, "username"),
    Case("password-list", {"username": "u", "password": [PW]}, "password"),
    Case("password-float", {"username": "u", "password": 1.5}, "password"),
    Case("password-object", {"username": "u", "password": {"v": PW}}, "password"),
    Case("port-word", {**BASE, "port": "five"}, "port"),
    Case("port-negative", {**BASE, "port": -1}, "port"),
    Case("port-zero", {**BASE, "port": 0}, "port"),
    Case("port-too-big", {**BASE, "port": 70000}, "port"),
    Case("port-fraction", {**BASE, "port": 5432.5}, "port"),
    Case("port-bool", {**BASE, "port": True}, "port"),
    Case("port-list", {**BASE, "port": [5432]}, "port"),
    Case("port-superscript", {**BASE, "port": "\u00b2"}, "port"),
    Case("port-arabic-digits", {**BASE, "port": "\u0665\u0664\u0663\u0662"}, "port"),
    Case("port-5000-digits", {**BASE, "port": "9" * 5000}, "port"),
    Case("port-infinity", '{"username": "u", "password": "' + PW + '", "port": Infinity}', "port"),
    Case("host-list", {**BASE, "host": ["h"]}, "host"),
    Case("host-empty", {**BASE, "host": ""}, "host"),
    Case("dbname-object", {**BASE, "dbname": {}}, "dbname"),
    Case("engine-list", {**BASE, "engine": ["postgres"]}, "engine"),
    Case("ssl-word", {**BASE, "ssl": "maybe"}, "ssl"),
    Case("ssl-number", {**BASE, "ssl": 2}, "ssl"),
    Case("extra-not-json", {**BASE, "extra": "{not json"}, "extra"),
    Case("extra-array", {**BASE, "extra": "[1, 2]"}, "extra"),
    Case("extra-number", {**BASE, "extra": 5}, "extra"),
    Case("extra-bad-sslmode", {**BASE, "extra": json.dumps({"sslmode": "bogus"})}, "ssl"),
    Case("nul-in-password", {"username": "u", "password": MARK + "\x00x"}, "password"),
    Case("nul-in-username", {"username": "u\x00", "password": PW}, "username"),
    # -- missing fields ------------------------------------------------------------------
    Case("empty-object", {}, "username"),
    Case("only-password", {"password": PW}, "username"),
    Case("only-username", {"username": "u"}, "password"),
    Case("only-login", {"login": "u"}, "password"),
    Case("null-username", {"username": None, "password": PW}, "username"),
    Case("null-password", {"username": "u", "password": None}, "password"),
    Case(
        "rds-managed-shape",
        {"username": "admin", "password": PW},
        ok=True,
        expect={"username": "admin", "password": PW, "host": None, "port": None},
    ),
    # -- huge values -----------------------------------------------------------------------
    Case(
        "huge-password",
        {"username": "u", "password": PW + "p" * 1_000_000},
        ok=True,
        expect={"password": PW + "p" * 1_000_000},
    ),
    Case(
        "huge-username",
        {"username": "u" * 100_000, "password": PW},
        ok=True,
        expect={"username": "u" * 100_000},
    ),
    Case(
        "ten-thousand-keys",
        {**BASE, **{f"k{i}": i for i in range(10_000)}},
        ok=True,
        expect={"password": PW},
    ),
    # -- binary ------------------------------------------------------------------------------
    Case("binary-not-utf8", b"\xff\xfe" + PW.encode(), None),
    Case("binary-latin1", ("p\u00e4ss" + PW).encode("latin-1"), None),
    Case("binary-json", json.dumps(BASE).encode(), ok=True, expect={"password": PW}),
    Case("binary-empty", b"", None),
    Case("binary-random", bytes(range(256)), None),
    # -- unicode -------------------------------------------------------------------------------
    Case(
        "unicode-password",
        {"username": "u", "password": UNICODE_PW},
        ok=True,
        expect={"password": UNICODE_PW},
    ),
    Case(
        "unicode-username-rtl",
        {"username": RTL_USER, "password": PW},
        ok=True,
        expect={"username": RTL_USER},
    ),
    Case(
        "lone-surrogate",
        '{"username": "u", "password": "\\ud800' + PW + '"}',
        ok=True,
        expect={"password": "\ud800" + PW},
    ),
    Case("bom-prefixed", "\ufeff" + _j(**BASE), ok=True, expect={"password": PW}),
    Case(
        "duplicate-keys",
        '{"username": "u", "password": "x", "password": "' + PW + '"}',
        ok=True,
        expect={"password": PW},
    ),
    Case("numeric-username", {"username": 42, "password": PW}, ok=True, expect={"username": "42"}),
    # -- URIs --------------------------------------------------------------------------------
    Case("uri-no-password", "postgres://app@h/db", "password"),
    Case("uri-empty-user", f"postgres://:{PW}@h/db", "username"),
    Case("uri-port-word", f"postgres://app:{PW}@h:port/db", "port"),
    Case("uri-port-too-big", f"postgres://app:{PW}@h:99999/db", "port"),
    Case("uri-port-zero", f"postgres://app:{PW}@h:0/db", "port"),
    Case("uri-broken-ipv6", f"postgres://app:{PW}@[::1/db", "host"),
    Case("uri-encoded-nul", f"postgres://app:{MARK}%00@h/db", "password"),
    Case("uri-bad-sslmode", f"postgres://app:{PW}@h/db?sslmode=bogus", "sslmode"),
    # Unencoded '#' or '/' ends the authority: the password is read as a port.
    Case("uri-raw-hash", f"postgres://app:{MARK}#x@h/db", "port"),
    Case("uri-raw-slash", f"postgres://app:{MARK}/x@h/db", "port"),
    Case(
        "uri-raw-at",
        f"postgres://app:{MARK}@x@h/db",
        ok=True,
        expect={"password": f"{MARK}@x", "host": "h"},
    ),
    Case(
        "uri-raw-colon",
        f"mysql://app:{MARK}:x@h:3306/db",
        ok=True,
        expect={"password": f"{MARK}:x", "port": 3306},
    ),
    Case(
        "uri-every-special-encoded",
        f"postgresql://app:{quote(MARK + URI_SPECIAL, safe='')}@h:5432/d%2Fb?sslmode=require",
        ok=True,
        expect={"password": MARK + URI_SPECIAL, "dbname": "d/b", "ssl_mode": "require"},
    ),
    Case(
        "uri-bad-percent-kept-literally",
        f"postgres://app:{MARK}%ZZ@h/db",
        ok=True,
        expect={"password": f"{MARK}%ZZ"},
    ),
    Case(
        "json-every-special",
        {"username": "a@b:c", "password": MARK + URI_SPECIAL},
        ok=True,
        expect={"username": "a@b:c", "password": MARK + URI_SPECIAL},
    ),
]
