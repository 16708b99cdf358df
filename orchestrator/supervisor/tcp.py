"""Is a client's TCP connection to us still established? Read from the kernel's socket tables.

Clients of the stateless (2026-07-28) HTTP protocol have no MCP session and no back-channel to
ping, but each keeps a TCP connection open between requests; its state in /proc/net/tcp is a
real, cheap probe of whether the client is still there.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

ESTABLISHED = "01"


def _encode(host: str, port: int) -> str:
    address = ipaddress.ip_address(host)
    raw = address.packed
    if address.version == 4:
        hexed = raw[::-1].hex().upper()
    else:
        hexed = "".join(raw[i : i + 4][::-1].hex().upper() for i in range(0, 16, 4))
    return f"{hexed}:{port:04X}"


def established(server_port: int, client_host: str, client_port: int) -> bool:
    """True if the kernel has an ESTABLISHED connection from client_host:client_port to our port."""
    try:
        remote = _encode(client_host, client_port)
    except ValueError:
        return False
    suffix = f":{server_port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[1].endswith(suffix) and fields[2] == remote and fields[3] == ESTABLISHED:
                return True
    return False
