"""Servers an attacker would run: they speak just enough PostgreSQL or MySQL to ask a
client for its password in clear text, record what they receive, and let it in.

``with capture_server("postgres") as server:`` -> ``server.port``; after the block,
``server.passwords`` (every password a client sent readable) and ``server.users``
(every user that tried). They refuse TLS, so a client either refuses to go on or
downgrades. The server runs in its own process: some driver calls (psycopg2's
``encrypt_password``) hold the GIL while they wait for the server.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class CaptureServer:
    port: int
    passwords: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    record_path: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def saw(self, kind: str, value: str) -> None:
        """Record at once (the process may be killed mid-session)."""
        with self._lock:
            (self.users if kind == "user" else self.passwords).append(value)
            if self.record_path:
                with open(self.record_path, "a") as out:
                    out.write(json.dumps({kind: value}) + "\n")


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


# -- PostgreSQL ------------------------------------------------------------------------
def _pg_msg(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!I", len(payload) + 4) + payload


def _pg_session(conn: socket.socket, server: CaptureServer) -> None:
    while True:
        length = struct.unpack("!I", _recv_exact(conn, 4))[0]
        body = _recv_exact(conn, length - 4)
        code = struct.unpack("!I", body[:4])[0]
        if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest: refuse
            conn.sendall(b"N")
            continue
        break
    params = body[4:].split(b"\0")
    fields = dict(zip(params[::2], params[1::2], strict=False))
    server.saw("user", fields.get(b"user", b"").decode())
    conn.sendall(_pg_msg(b"R", struct.pack("!I", 3)))  # AuthenticationCleartextPassword
    kind = _recv_exact(conn, 1)
    length = struct.unpack("!I", _recv_exact(conn, 4))[0]
    body = _recv_exact(conn, length - 4)
    if kind != b"p":
        return
    server.saw("password", body.rstrip(b"\0").decode(errors="replace"))
    out = _pg_msg(b"R", struct.pack("!I", 0))
    for key, value in (
        (b"server_version", b"15.0"),
        (b"client_encoding", b"UTF8"),
        (b"DateStyle", b"ISO, MDY"),
        (b"integer_datetimes", b"on"),
        (b"standard_conforming_strings", b"on"),
    ):
        out += _pg_msg(b"S", key + b"\0" + value + b"\0")
    out += _pg_msg(b"K", struct.pack("!II", 1, 2)) + _pg_msg(b"Z", b"I")
    conn.sendall(out)
    while True:  # every query fails; Terminate ends the session
        kind = _recv_exact(conn, 1)
        length = struct.unpack("!I", _recv_exact(conn, 4))[0]
        _recv_exact(conn, length - 4)
        if kind == b"X":
            return
        error = b"SERROR\0C42501\0Mpermission denied\0\0"
        conn.sendall(_pg_msg(b"E", error) + _pg_msg(b"Z", b"I"))


# -- MySQL -----------------------------------------------------------------------------
def _my_packet(seq: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def _my_read(conn: socket.socket) -> tuple[int, bytes]:
    header = _recv_exact(conn, 4)
    length = int.from_bytes(header[:3], "little")
    return header[3], _recv_exact(conn, length)


def _my_session(conn: socket.socket, server: CaptureServer) -> None:
    salt = b"abcdefgh" + b"ijklmnopqrst"
    capabilities = 0x00000200 | 0x00008000 | 0x00080000 | 0x00000008 | 0x00000001
    capabilities |= 0x00200000  # PLUGIN_AUTH_LENENC_CLIENT_DATA; no CLIENT_SSL
    handshake = (
        b"\x0a"
        + b"5.7.0-fake\0"
        + struct.pack("<I", 7)
        + salt[:8]
        + b"\0"
        + struct.pack("<H", capabilities & 0xFFFF)
        + b"\x21"
        + struct.pack("<H", 2)
        + struct.pack("<H", capabilities >> 16)
        + bytes([21])
        + b"\0" * 10
        + salt[8:]
        + b"\0"
        + b"mysql_native_password\0"
    )
    conn.sendall(_my_packet(0, handshake))
    seq, response = _my_read(conn)
    user = response[32:].split(b"\0", 1)[0]
    server.saw("user", user.decode(errors="replace"))
    # Ask to switch to mysql_clear_password: a careless client now sends the password.
    conn.sendall(_my_packet(seq + 1, b"\xfe" + b"mysql_clear_password\0"))
    seq, body = _my_read(conn)
    server.saw("password", body.rstrip(b"\0").decode(errors="replace"))
    conn.sendall(_my_packet(seq + 1, b"\x00\x00\x00\x02\x00\x00\x00"))  # OK
    while True:
        seq, body = _my_read(conn)
        if body[:1] == b"\x01":  # COM_QUIT
            return
        conn.sendall(_my_packet(seq + 1, b"\x00\x00\x00\x02\x00\x00\x00"))  # OK, no rows


SESSIONS = {"postgres": _pg_session, "mysql": _my_session}


def serve(protocol: str, record_path: str) -> None:
    """Run a capturing server until killed; print its port; append JSON records."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    server = CaptureServer(port=listener.getsockname()[1], record_path=record_path)
    session = SESSIONS[protocol]

    def handle(conn: socket.socket) -> None:
        conn.settimeout(20)
        try:
            session(conn, server)
        except (OSError, ConnectionError, struct.error):
            pass
        finally:
            conn.close()

    print(server.port, flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


@contextmanager
def capture_server(protocol: str) -> Iterator[CaptureServer]:
    """A capturing server for ``protocol`` ("postgres" | "mysql") on an ephemeral port,
    in a child process; its records are read when the block ends."""
    fd, record_path = tempfile.mkstemp(prefix="capture-", suffix=".jsonl")
    os.close(fd)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.rotation.fake_servers", protocol, record_path],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=root,
    )
    try:
        assert proc.stdout is not None
        server = CaptureServer(port=int(proc.stdout.readline()))
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        with open(record_path) as records:
            for line in records:
                record = json.loads(line)
                if "user" in record:
                    server.users.append(record["user"])
                if "password" in record:
                    server.passwords.append(record["password"])
        os.unlink(record_path)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
