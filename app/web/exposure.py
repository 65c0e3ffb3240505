"""Without API keys, serve this machine only: checked on the sockets bound, and per request.

``PIXY_HOST`` says where ``python -m app`` listens, but any other server (``uvicorn app.main:app
--host 0.0.0.0``, gunicorn) binds where its own command line says. So once the process listens,
its listening sockets are read from ``/proc`` (Linux): one on a non-loopback address, without
keys, stops the process. Under uvicorn the lifespan runs before the sockets are bound, so they are
watched for a few seconds after start; under gunicorn they exist already. Until then, and
wherever ``/proc`` cannot tell, ``require_local_peer`` refuses private requests that did not
arrive over loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import structlog
from starlette.types import Scope

from app.core.exceptions import NotAuthenticated
from app.core.settings import Settings

log = structlog.get_logger(__name__)

_LISTEN = "0A"  # the TCP state column of /proc/net/tcp for a listening socket
_PROC = Path("/proc")
EXIT_REFUSED = 3  # what uvicorn and gunicorn workers exit with when start-up fails


def listening_addresses(proc: Path = _PROC) -> list[tuple[str, int]] | None:
    """The (address, port) of every TCP socket this process listens on; None without /proc."""
    try:
        inodes = set(_socket_inodes(proc / "self" / "fd"))
    except OSError:
        return None
    found: list[tuple[str, int]] = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            lines = (proc / "self" / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue  # no IPv6 in this kernel, or no /proc/self/net
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN and fields[9] in inodes:
                found.append(_address(fields[1], family))
    return found


def _socket_inodes(fd_dir: Path) -> Iterator[str]:
    for entry in fd_dir.iterdir():
        try:
            target = os.readlink(entry)
        except OSError:
            continue  # closed since the listing
        if target.startswith("socket:["):
            yield target[len("socket:[") : -1]


def _address(field: str, family: socket.AddressFamily) -> tuple[str, int]:
    """``0100007F:1F40`` -> ``("127.0.0.1", 8000)``: 32-bit words in the host's byte order."""
    hex_address, hex_port = field.split(":")
    raw = bytes.fromhex(hex_address)
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(family, raw), int(hex_port, 16)


def exposed_addresses(addresses: list[tuple[str, int]]) -> list[str]:
    """The bound addresses, as ``host:port``, that accept connections from other machines."""
    return [
        f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        for host, port in addresses
        if _remote_ip(host)
    ]


def _remote_ip(host: str) -> bool:
    """Whether ``host`` is an IP address beyond loopback (an IPv4-mapped one included).

    Anything else, a Unix socket's path or an in-process test client's name, is no network peer.
    """
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_loopback


async def watch_listening_sockets(settings: Settings, *, seconds: float = 10.0) -> None:
    """Stop the process if it listens beyond loopback without keys; done once sockets exist."""
    if settings.api_keys:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        addresses = listening_addresses()
        if addresses is None:
            log.warning("exposure_unchecked", reason="no /proc: private routes take loopback only")
            return
        if exposed := exposed_addresses(addresses):
            refuse(exposed)
        if addresses:
            return
        await asyncio.sleep(0.02)


def refuse(exposed: list[str]) -> None:
    """Say why on the log and stderr, then exit now: a graceful stop would go on serving."""
    reason = (
        f"refusing to listen on {', '.join(exposed)} without PIXY_API_KEYS: "
        "set API keys, or bind to 127.0.0.1 for local use"
    )
    log.error("exposed_without_keys", detail=reason)
    print(f"pixyproxy: {reason}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(EXIT_REFUSED)


def require_local_peer(scope: Scope) -> None:
    """Refuse a request that reached an open (keyless) service from another machine.

    The local address the connection arrived on is the socket's own, which no header can
    change; the client address too, when a trusted proxy on this machine forwarded the request.
    """
    for peer in (scope.get("server"), scope.get("client")):
        if peer and _remote_ip(str(peer[0])):
            raise NotAuthenticated(
                "this service runs without API keys and takes private requests from this "
                "machine only; its operator must set PIXY_API_KEYS"
            )
