"""A TCP forwarder from inside network namespaces to the root namespace.

    python -m devstack.netforward < routes.json      # prints "ready", runs until stdin closes

Each route listens on ``address:port`` inside ``netns`` (devstack.netns opens the
socket there) and forwards every connection, byte for byte, to ``upstream`` on the
root namespace's loopback. ``by_peer`` picks another upstream by the connection's
source address: the multi-host run sends each host's Secrets Manager traffic to its
own counting proxy that way. The process exits when its standard input closes (its
parent died or stopped it) or on SIGTERM, so it never outlives the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from devstack.netns import listening_socket


@dataclass(frozen=True)
class Route:
    netns: str
    address: str
    port: int
    upstream: str  # "host:port" in the root namespace
    by_peer: dict[str, str] = field(default_factory=dict)

    def upstream_for(self, peer: str) -> tuple[str, int]:
        host, _, port = self.by_peer.get(peer, self.upstream).rpartition(":")
        return host, int(port)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Route:
        return cls(
            data["netns"],
            data["address"],
            int(data["port"]),
            data["upstream"],
            dict(data.get("by_peer") or {}),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "netns": self.netns,
            "address": self.address,
            "port": self.port,
            "upstream": self.upstream,
            "by_peer": self.by_peer,
        }


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _serve(route: Route) -> asyncio.base_events.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = (writer.get_extra_info("peername") or ("", 0))[0]
        host, port = route.upstream_for(peer)
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        sock = up_writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    sock = listening_socket(route.netns, route.address, route.port)
    return await asyncio.start_server(handle, sock=sock)


async def _main(routes: list[Route]) -> None:
    servers = [await _serve(r) for r in routes]
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    def watch_stdin() -> None:  # parent gone or done: stdin closes
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    await stop.wait()
    for server in servers:
        server.close()


def main() -> int:
    routes = [Route.from_json(r) for r in json.loads(sys.stdin.readline())]
    asyncio.run(_main(routes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
