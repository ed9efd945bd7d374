"""Hosts made of Linux network namespaces, for multi-host runs on one machine.

``HostNetwork`` creates a control namespace and one namespace per worker, joined by a
veth pair per worker (a /30 each from 10.231.0.0/16). Every address lives inside a
namespace created here (nothing is added to the root namespace). The control host
carries two extra addresses on its loopback, routed from every worker through its
veth: ``SERVICES_ADDRESS`` (databases, Redis, the Airflow API) and ``SECRETS_ADDRESS``
(Secrets Manager), so one worker's route to Secrets Manager can fail alone
(``break_route``). Processes run in a host with ``host.command(argv)``: ``ip netns
exec`` plus a UTS namespace whose hostname is the host's name.

``listening_socket(netns, address, port)`` opens a listening TCP socket *inside* a
namespace from a process that stays in the root namespace (``setns`` in a short-lived
thread): the forwarder (devstack/netforward.py) uses it to give the hosts a path to
services that listen on the root namespace's 127.0.0.1.

Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2; ``available()`` says whether
this process may create namespaces, and why not.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass, field

SERVICES_ADDRESS = "10.231.254.1"
SECRETS_ADDRESS = "10.231.255.1"
_CLONE_NEWNET = 0x40000000
_NETNS_DIR = "/var/run/netns"


@dataclass(frozen=True)
class Host:
    """One "machine": its namespace, its name, its address on its link to control."""

    name: str
    netns: str
    address: str  # on the link to control ("" for the control host)
    gateway: str = ""  # control's side of the link

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside this host: its network namespace and hostname."""
        return [
            "ip",
            "netns",
            "exec",
            self.netns,
            "unshare",
            "--uts",
            "sh",
            "-c",
            f'hostname {self.name} && exec "$@"',
            "--",
            *argv,
        ]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def available() -> tuple[bool, str]:
    """(True, "") when network namespaces can be created here, else (False, why)."""
    if shutil.which("ip") is None:
        return False, "iproute2's `ip` is not installed"
    if shutil.which("unshare") is None:
        return False, "util-linux's `unshare` is not installed"
    if os.geteuid() != 0:
        return False, "creating network namespaces needs root"
    probe = f"psmh-probe-{os.getpid()}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return False, f"`ip netns add` is not permitted here: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return True, ""


@dataclass
class HostNetwork:
    """A control host and ``workers`` worker hosts; ``close()`` deletes them all."""

    workers: int = 2
    tag: str = field(default_factory=lambda: str(os.getpid()))
    subnet_base: int = 0  # third octet of the first /30 (10.231.<base+i>.0/30)
    control: Host | None = None
    hosts: list[Host] = field(default_factory=list)
    _created: list[str] = field(default_factory=list)

    def open(self) -> HostNetwork:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def _open(self) -> None:
        base = self.subnet_base or (int(self.tag) % 200) + 1
        ctl_ns = f"psmh{self.tag}-control"
        self._add_namespace(ctl_ns)
        self.control = Host("control", ctl_ns, "")
        for address in (SERVICES_ADDRESS, SECRETS_ADDRESS):
            _ip("-n", ctl_ns, "addr", "add", f"{address}/32", "dev", "lo")
        for i in range(1, self.workers + 1):
            ns = f"psmh{self.tag}-worker{i}"
            self._add_namespace(ns)
            octet = (base + i - 1) % 250
            gateway, address = f"10.231.{octet}.1", f"10.231.{octet}.2"
            ctl_if, host_if = f"mh{self.tag[-6:]}c{i}", f"mh{self.tag[-6:]}w{i}"
            _ip(
                "link", "add", ctl_if, "netns", ctl_ns, "type", "veth",
                "peer", "name", host_if, "netns", ns,
            )  # fmt: skip
            _ip("-n", ctl_ns, "addr", "add", f"{gateway}/30", "dev", ctl_if)
            _ip("-n", ns, "addr", "add", f"{address}/30", "dev", host_if)
            _ip("-n", ctl_ns, "link", "set", ctl_if, "up")
            _ip("-n", ns, "link", "set", host_if, "up")
            host = Host(f"worker{i}", ns, address, gateway)
            for target in (SERVICES_ADDRESS, SECRETS_ADDRESS):
                _ip("-n", ns, "route", "add", f"{target}/32", "via", gateway)
            self.hosts.append(host)

    def _add_namespace(self, name: str) -> None:
        _ip("netns", "del", name, check=False)  # a leftover of a killed run
        _ip("netns", "add", name)
        self._created.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def host(self, name: str) -> Host:
        if self.control is not None and name == self.control.name:
            return self.control
        return next(h for h in self.hosts if h.name == name)

    def host_of_peer(self, address: str) -> str:
        """Which host a connection came from, by its source address."""
        return next((h.name for h in self.hosts if h.address == address), "control")

    def break_route(self, host: Host, target: str = SECRETS_ADDRESS) -> None:
        """Make ``target`` unreachable from ``host`` (connects fail: no route to host)."""
        _ip("-n", host.netns, "route", "replace", "unreachable", f"{target}/32")

    def restore_route(self, host: Host, target: str = SECRETS_ADDRESS) -> None:
        _ip("-n", host.netns, "route", "replace", f"{target}/32", "via", host.gateway)

    def close(self) -> None:
        """Delete every namespace made here (their veth ends go with them)."""
        for name in reversed(self._created):
            _ip("netns", "del", name, check=False)
        self._created.clear()

    def __enter__(self) -> HostNetwork:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _setns(netns: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(os.path.join(_NETNS_DIR, netns), os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({netns}): {os.strerror(errno)}")
    finally:
        os.close(fd)


def run_in_namespace(netns: str, target: object, *args: object) -> threading.Thread:
    """Start ``target(*args)`` in a new thread that lives in ``netns``; threads it starts
    stay there too (Linux gives a new thread its creator's namespaces)."""

    def body() -> None:
        _setns(netns)
        target(*args)  # type: ignore[operator]

    thread = threading.Thread(target=body, name=f"in-{netns}", daemon=True)
    thread.start()
    return thread


def listening_socket(netns: str, address: str, port: int) -> socket.socket:
    """A TCP socket listening on ``address:port`` inside ``netns``; the caller's
    thread stays in its own namespace (the socket keeps the one it was made in)."""
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def make() -> None:
        try:
            _setns(netns)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(256)
            sock.setblocking(False)
            made.append(sock)
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=make, name=f"listen-{netns}")
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return made[0]
