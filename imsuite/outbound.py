"""The one address guard for every connection the server opens for a user or a bot: reverse bot
endpoints today, push endpoints, link previews or fetched avatars tomorrow. Without it whoever
registers an address could make the server reach its own neighbours: the cloud metadata service
(169.254.169.254), a database port on 127.0.0.1, the private network behind it.

A host is resolved once and every answer must be a public address, unless OUTBOUND_ALLOWED_NETWORKS
lets it through. The caller then connects to exactly the address that was checked, keeping the
original name for the Host header and TLS: a second lookup would let a rebinding DNS server answer
differently between the check and the connection. `open_socket` does that for clients that take a
connected socket (websockets: `sock=`); an HTTP client can connect to an address of
`checked_addresses` with the name in its Host header and SNI. Never follow a redirect to an address
that did not pass here."""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

from django.conf import settings

from .ip_networks import IPAddress, address, networks, within

REASON = "address_not_allowed"


class AddressNotAllowed(ConnectionError):
    """The host is, or resolves to, an address outbound connections may not reach."""

    reason = REASON

    def __init__(self, host: str, ip: IPAddress) -> None:
        shown = host if str(ip) == host else f"{host} ({ip})"
        super().__init__(f"{REASON}: {shown} is not a public address (see OUTBOUND_ALLOWED_NETWORKS)")
        self.host, self.ip = host, ip


def is_public(ip: IPAddress) -> bool:
    """Refuses loopback, private (RFC 1918, ULA), link-local (the metadata service), CGNAT,
    unspecified, multicast, reserved and documentation addresses, and IPv6 forms of them
    (IPv4-mapped, 6to4, site-local; Teredo and NAT64 are not global or reserved)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return is_public(ip.ipv4_mapped)
        if ip.is_site_local or (ip.sixtofour is not None and not is_public(ip.sixtofour)):
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


def is_allowed(ip: IPAddress) -> bool:
    return within(ip, networks(settings.OUTBOUND_ALLOWED_NETWORKS)) or is_public(ip)


def check(host: str, answers: Iterable[IPAddress]) -> list[IPAddress]:
    """The distinct addresses of `host`, in order, if all of them are allowed. One refused answer
    refuses the host: a name that resolves partly inward is not trusted with the rest."""
    checked: list[IPAddress] = []
    for ip in answers:
        if not is_allowed(ip):
            raise AddressNotAllowed(host, ip)
        if ip not in checked:
            checked.append(ip)
    return checked


def _answers(host: str, infos: list[tuple]) -> list[IPAddress]:
    return check(host, [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos])


def _invalid_name(host: str, exc: UnicodeError) -> socket.gaierror:
    """A name IDNA cannot encode fails like a name that does not resolve, not as a crash."""
    error = socket.gaierror(socket.EAI_NONAME, f"not a valid host name: {host!r}")
    error.__cause__ = exc
    return error


def check_host(host: str, port: int) -> list[IPAddress]:
    """Blocking form of `checked_addresses`, for validating an address where it is registered.
    Raises AddressNotAllowed, or socket.gaierror for a name that does not resolve."""
    literal = address(host)
    if literal is not None:
        return check(host, [literal])
    try:
        return _answers(host, socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    except UnicodeError as exc:
        raise _invalid_name(host, exc) from exc


async def checked_addresses(host: str, port: int) -> list[IPAddress]:
    """The addresses to connect to for host:port, resolved once and all checked."""
    literal = address(host)
    if literal is not None:
        return check(host, [literal])
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as exc:
        raise _invalid_name(host, exc) from exc
    return _answers(host, infos)


async def open_socket(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP socket connected to a checked address of host:port (the first that answers), for a
    client that takes a ready socket. The caller owns it: close it if the client never takes it."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        failure: OSError | None = None
        for ip in await checked_addresses(host, port):
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, (str(ip), port))
            except OSError as exc:
                sock.close()
                failure = exc
                continue
            except BaseException:
                sock.close()
                raise
            return sock
        raise failure or OSError(f"{host} has no address")
