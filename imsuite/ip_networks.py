"""IP networks named in settings (comma-separated CIDRs): parsed once per value, matched by address."""

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.core.exceptions import ImproperlyConfigured

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def _parse(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)
    except ValueError as exc:
        raise ImproperlyConfigured(f"Not a network in CIDR notation: {exc}") from exc


def networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The networks of a setting such as ["10.0.0.0/8", "::1/128"]; a wrong one is a configuration error."""
    return _parse(tuple(cidrs))


def address(text: str) -> IPAddress | None:
    """The address written in `text` ("203.0.113.7", "::1", "[::1]"), or None if it is not one."""
    try:
        return ipaddress.ip_address(text.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def within(ip: IPAddress, nets: Iterable[IPNetwork]) -> bool:
    """Whether `ip` lies in one of `nets`; an IPv4-mapped IPv6 address counts as its IPv4 address."""
    plain = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
    return any(ip in net or plain in net for net in nets)


def client_key(text: str) -> str:
    """What counts as one client address for throttling: an IPv4 address as such (an IPv4-mapped
    IPv6 one too), an IPv6 address by its /64 (one subscriber's whole prefix, which they can walk
    through at will), "unknown" for anything else."""
    ip = address(text or "")
    if ip is None:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
