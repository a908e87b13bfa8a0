"""Which TCP ports the local stack's processes listen on, and on which address (Linux /proc).
Every listener of the stack must be on loopback; `tests/stack/test_services.py` checks it."""

from __future__ import annotations

import os
import re
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


@dataclass(frozen=True)
class Listener:
    pid: int
    address: str
    port: int

    @property
    def on_loopback(self) -> bool:
        return self.address in LOOPBACK


def _address(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, struct.pack("<I", int(hex_addr, 16)))
    # /proc prints an IPv6 address as four host-order 32-bit words.
    return socket.inet_ntop(socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))


def _listening_sockets(proc: Path) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for table in ("tcp", "tcp6"):
        path = proc / "net" / table
        if not path.is_file():
            continue
        for line in path.read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A":  # TCP_LISTEN
                addr, port = parts[1].split(":")
                out[parts[9]] = (_address(addr), int(port, 16))
    return out


def _children(proc: Path) -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def of_processes(roots: list[int], proc: Path = Path("/proc")) -> list[Listener]:
    """Listening sockets of `roots` and every descendant (a start script's JVM, a worker pool)."""
    tree = _children(proc)
    pids, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in pids:
            pids.add(pid)
            todo += tree.get(pid, [])
    sockets = _listening_sockets(proc)
    found: list[Listener] = []
    for pid in sorted(pids):
        try:
            fds = os.listdir(proc / str(pid) / "fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(proc / str(pid) / "fd" / fd)
            except OSError:
                continue
            match = re.fullmatch(r"socket:\[(\d+)\]", target)
            if match and match.group(1) in sockets:
                address, port = sockets[match.group(1)]
                found.append(Listener(pid, address, port))
    return sorted(set(found), key=lambda x: (x.port, x.pid))
