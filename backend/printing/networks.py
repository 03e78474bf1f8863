"""Where printers may be: the networks of `WES_PRINTER_NETWORKS` (default: the private networks and loopback).

A printer's host is an IP address or a name. It is checked when a printer is created or changed
(`backend.printing.service.upsert_printer`: a host outside is a 422 `printer_host_not_allowed`) and again before
every connection (`backend.printing.delivery.PrinterLink.open`): the name is resolved, and the spool connects
only to a resolved address inside the networks — to that address itself, so a name that resolves elsewhere
later (DNS rebinding) does not carry the connection out. Without this, a supervisor could aim a printer at any
host and port and read from its status whether the port is open.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Resolution:
    """A host's addresses: those inside the allowed networks (in resolver order) and those outside."""

    allowed: tuple[Address, ...]
    refused: tuple[Address, ...]
    error: str = ""  # the name did not resolve


def _in_networks(address: Address, networks: Sequence[Network]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.5 is 10.0.0.5
    return any(address.version == network.version and address in network for network in networks)


def resolve(host: str, networks: Sequence[Network]) -> Resolution:
    """Every address `host` stands for, split by `networks`; an IP literal is not looked up."""
    try:
        addresses: list[Address] = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            return Resolution((), (), error=f"{host!r} does not resolve: {getattr(exc, 'strerror', None) or exc}")
        addresses = []
        for info in infos:
            address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
    allowed = tuple(a for a in addresses if _in_networks(a, networks))
    return Resolution(allowed, tuple(a for a in addresses if a not in allowed))
