"""X-Forwarded-For through a real daphne started like `serve` starts it (no --proxy-headers): a
spoof from a peer that is not in TRUSTED_PROXIES changes nothing; from a trusted one it is believed."""

import http.client
import json
from urllib.parse import urlsplit

import pytest

SPOOF = {"X-Forwarded-For": "1.2.3.4, 198.51.100.20", "X-Forwarded-Proto": "https", "X-Real-IP": "5.6.7.8"}


def seen(base_url: str, headers: dict[str, str]) -> dict[str, str]:
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request("GET", "/", headers=headers)
        response = connection.getresponse()
        assert response.status == 200
        return json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [
        ("", {"client": "127.0.0.1", "scheme": "http"}),  # the default: nobody is believed
        ("10.0.0.0/8", {"client": "127.0.0.1", "scheme": "http"}),  # a proxy, but not this peer
        ("127.0.0.1/32", {"client": "198.51.100.20", "scheme": "https"}),  # the right-most hop
    ],
    ids=["unset", "other proxy", "trusted peer"],
)
def test_forwarded_for_is_believed_only_from_a_trusted_peer(plain_env, start_daphne, trusted, expected):
    base_url = start_daphne({**plain_env, "TRUSTED_PROXIES": trusted}, "tests.e2e.proxy_echo:application")
    assert seen(base_url, SPOOF) == expected
    assert seen(base_url, {}) == {"client": "127.0.0.1", "scheme": "http"}
