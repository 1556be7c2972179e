"""The outbound address guard (imsuite/outbound.py): which addresses it refuses, what
OUTBOUND_ALLOWED_NETWORKS lets through, names checked after resolution, and that a refused address
is never connected to. Literal addresses are judged without any traffic; names resolve through
/etc/hosts ("localhost"); the only connections made go to a server of the test's own on 127.0.0.1."""

import asyncio
import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured

from imsuite import outbound

REFUSED = [
    "127.0.0.1",  # loopback
    "127.255.255.254",
    "10.0.0.1",  # RFC 1918
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",  # link-local: the cloud metadata service
    "169.254.0.1",
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "0.0.0.0",  # unspecified
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "::1",
    "::",
    "fc00::1",  # unique local
    "fd00:ec2::254",  # the metadata service over IPv6
    "fe80::1",  # link-local
    "fec0::1",  # site-local
    "ff02::1",  # multicast
    "::ffff:127.0.0.1",  # IPv4-mapped forms
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2001:db8::1",  # documentation
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]


@pytest.fixture
def production(settings: pytest.FixtureRequest) -> None:
    settings.OUTBOUND_ALLOWED_NETWORKS = []


@pytest.mark.parametrize("ip", REFUSED)
def test_non_public_addresses_are_refused(production, ip):
    with pytest.raises(outbound.AddressNotAllowed) as refused:
        outbound.check_host(ip, 80)
    assert (refused.value.reason, refused.value.ip) == ("address_not_allowed", ipaddress.ip_address(ip))
    assert str(refused.value).startswith(f"address_not_allowed: {ip} ")


@pytest.mark.parametrize("ip", PUBLIC)
def test_public_addresses_pass(production, ip):
    assert outbound.check_host(ip, 443) == [ipaddress.ip_address(ip)]


@pytest.mark.parametrize(
    ("allowed", "ip", "passes"),
    [
        (["127.0.0.0/8", "::1/128"], "127.0.0.1", True),
        (["127.0.0.0/8", "::1/128"], "::1", True),
        (["127.0.0.0/8", "::1/128"], "::ffff:127.0.0.1", True),  # mapped counts as its IPv4 address
        (["127.0.0.0/8", "::1/128"], "10.0.0.1", False),
        (["127.0.0.0/8", "::1/128"], "169.254.169.254", False),
        (["10.1.0.0/16"], "10.1.2.3", True),
        (["10.1.0.0/16"], "10.2.0.1", False),
        (["169.254.169.254/32"], "169.254.169.254", True),  # the operator's choice, not a default
        (["fd00::/8"], "fd00:ec2::254", True),
    ],
)
def test_the_setting_lets_networks_through(settings, allowed, ip, passes):
    settings.OUTBOUND_ALLOWED_NETWORKS = allowed
    if passes:
        assert outbound.check_host(ip, 80) == [ipaddress.ip_address(ip)]
    else:
        with pytest.raises(outbound.AddressNotAllowed):
            outbound.check_host(ip, 80)


def test_a_wrong_network_in_the_setting_is_a_configuration_error(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "not-a-network"]
    with pytest.raises(ImproperlyConfigured, match="not-a-network"):
        outbound.check_host("8.8.8.8", 80)


def test_a_name_is_judged_by_what_it_resolves_to(production, settings):
    with pytest.raises(outbound.AddressNotAllowed) as refused:
        outbound.check_host("localhost", 80)
    assert str(refused.value).startswith("address_not_allowed: localhost (")
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    assert {ip.is_loopback for ip in outbound.check_host("localhost", 80)} == {True}


def test_one_refused_answer_refuses_the_name(production):
    with pytest.raises(outbound.AddressNotAllowed) as refused:
        outbound.check("mixed.example", [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.0.0.1")])
    assert refused.value.ip == ipaddress.ip_address("10.0.0.1")
    two = [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("8.8.4.4"), ipaddress.ip_address("8.8.8.8")]
    assert outbound.check("dns.example", two) == two[:2]


async def test_the_async_check_resolves_and_judges_alike(production, settings):
    with pytest.raises(outbound.AddressNotAllowed):
        await outbound.checked_addresses("localhost", 80)
    with pytest.raises(outbound.AddressNotAllowed):
        await outbound.checked_addresses("[::1]", 80)
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    assert {ip.is_loopback for ip in await outbound.checked_addresses("localhost", 80)} == {True}


async def test_a_name_idna_cannot_encode_fails_like_an_unknown_name(production):
    with pytest.raises(OSError, match="not a valid host name") as failed:
        await outbound.checked_addresses("a" * 64 + ".example", 80)
    assert not isinstance(failed.value, outbound.AddressNotAllowed)


class Listener:
    """A TCP server on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.accepted: asyncio.Queue[None] = asyncio.Queue()

    async def on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.accepted.put(None)
        writer.close()


async def test_open_socket_never_connects_to_a_refused_address(production, settings):
    listener = Listener()
    server = await asyncio.start_server(listener.on_connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        for host in ("127.0.0.1", "localhost"):
            with pytest.raises(outbound.AddressNotAllowed):
                await outbound.open_socket(host, port, timeout=5)
        settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
        sock = await outbound.open_socket("localhost", port, timeout=5)
        try:
            assert sock.getpeername()[:2] == ("127.0.0.1", port)
            await asyncio.wait_for(listener.accepted.get(), 5)
        finally:
            sock.close()
    assert listener.accepted.empty()  # the one connection was the allowed one
