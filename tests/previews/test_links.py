"""Which links of a text get a preview."""

import pytest

from previews.links import message_urls


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("no links, only words: http and https", []),
        ("see https://example.org/a.", ["https://example.org/a"]),
        ("(at https://example.org/b), then", ["https://example.org/b"]),
        ("https://en.wikipedia.org/wiki/Foo_(bar)!", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
        ('"HTTP://Example.org/x?q=1&r=2"', ["HTTP://Example.org/x?q=1&r=2"]),
        (
            "a https://a.example b http://b.example a https://a.example",
            ["https://a.example", "http://b.example"],
        ),
        (
            "https://1.example https://2.example https://3.example https://4.example",
            ["https://1.example", "https://2.example", "https://3.example"],
        ),
        ("ftp://files.example/x javascript:alert(1) https://", []),
        ("https://long.example/" + "x" * 2100, []),
    ],
)
def test_message_urls(text, urls):
    assert message_urls(text) == urls
