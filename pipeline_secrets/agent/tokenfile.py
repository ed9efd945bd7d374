"""Agent access tokens: strength rules, and token files nobody else can plant or read.

A token file is opened with ``O_NOFOLLOW`` (a symlink is refused, dangling or not),
created with ``O_EXCL`` (never truncating or reusing a file someone else made), and
accepted only if it is a regular file owned by us, mode 0600 or stricter, at most
:data:`MAX_TOKEN_FILE_BYTES`, holding a token that passes :func:`check_token`.
"""

from __future__ import annotations

import errno
import math
import os
import secrets
import stat
from collections import Counter

MIN_TOKEN_LENGTH = 16
MIN_TOKEN_BITS = 64.0  # length x per-character Shannon entropy
MAX_TOKEN_FILE_BYTES = 4096


class WeakTokenError(ValueError):
    """The token is empty, whitespace, too short or too predictable."""


class UnsafeTokenFileError(PermissionError):
    """The token file is a symlink, not ours, readable by others, or too large."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_bits(token: str) -> float:
    """A rough entropy estimate: length times the per-character Shannon entropy."""
    if not token:
        return 0.0
    counts = Counter(token)
    n = len(token)
    per_char = -sum(c / n * math.log2(c / n) for c in counts.values())
    return per_char * n


def check_token(token: str | None, *, what: str = "agent token") -> str:
    """``token`` if strong enough; raises :class:`WeakTokenError` (never showing it)."""
    if token is None or not token.strip():
        raise WeakTokenError(f"the {what} is empty or whitespace only")
    if token != token.strip() or any(ch.isspace() or not ch.isprintable() for ch in token):
        raise WeakTokenError(f"the {what} contains whitespace or control characters")
    if len(token) < MIN_TOKEN_LENGTH:
        raise WeakTokenError(f"the {what} is shorter than {MIN_TOKEN_LENGTH} characters")
    if token_bits(token) < MIN_TOKEN_BITS:
        raise WeakTokenError(
            f"the {what} is too predictable (under {MIN_TOKEN_BITS:.0f} bits); "
            "use e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    return token


def read_token_file(path: str) -> str:
    """The token in ``path`` after the ownership/mode/size/strength checks."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeTokenFileError(f"token file {path} is a symlink; refused") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeTokenFileError(f"token file {path} is not a regular file")
        if info.st_uid != os.getuid():
            raise UnsafeTokenFileError(
                f"token file {path} is owned by uid {info.st_uid}, not {os.getuid()}"
            )
        if info.st_mode & 0o077:
            raise UnsafeTokenFileError(
                f"token file {path} has mode {stat.S_IMODE(info.st_mode):04o}; it must be 0600"
            )
        if info.st_size > MAX_TOKEN_FILE_BYTES:
            raise UnsafeTokenFileError(f"token file {path} is larger than {MAX_TOKEN_FILE_BYTES} B")
        raw = os.read(fd, MAX_TOKEN_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > MAX_TOKEN_FILE_BYTES:
        raise UnsafeTokenFileError(f"token file {path} is larger than {MAX_TOKEN_FILE_BYTES} B")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WeakTokenError(f"token file {path} is not UTF-8 text") from None
    return check_token(text.strip(), what=f"token in {path}")


def read_or_create_token_file(path: str) -> str:
    """The token in ``path``; if the file does not exist, create it (0600, exclusively)."""
    for _ in range(3):
        try:
            return read_token_file(path)
        except FileNotFoundError:
            pass
        token = new_token()
        try:
            fd = os.open(
                path,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
            )
        except FileExistsError:
            continue  # another process created it (or it is a dangling symlink): read it
        try:
            os.write(fd, token.encode("ascii"))
        finally:
            os.close(fd)
        return token
    return read_token_file(path)
