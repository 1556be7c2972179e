"""imsuite.safe_json, the decoder every door uses: what it accepts, and the stable reason of each
refusal (checked before json.loads could recurse or allocate)."""

import pytest

from imsuite.errors import DomainError
from imsuite.safe_json import loads, nesting_depth

LIMIT = 1000
DEPTH = 32  # settings.IMSUITE["JSON_MAX_DEPTH"]'s default


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def refusal(data: str | bytes, max_bytes: int = LIMIT, what: str = "body") -> tuple[str, str, dict]:
    with pytest.raises(DomainError) as refused:
        loads(data, max_bytes, what)
    return refused.value.code, refused.value.message, refused.value.details


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"type": "ping", "payload": {"timestamp": "x"}}', {"type": "ping", "payload": {"timestamp": "x"}}),
        ("[" * DEPTH + "]" * DEPTH, nested(DEPTH)),  # exactly at the limit
        ('{"a": "' + "[" * 500 + '"}', {"a": "[" * 500}),  # brackets inside strings do not nest
        (
            '{"a": "\\"[[[[", "b": [1.5e3, -0.0, 12345678901234567890]}',
            {"a": '"[[[[', "b": [1500.0, -0.0, 12345678901234567890]},
        ),
        (b'{"name": "\xc3\xa9"}', {"name": "é"}),
    ],
)
def test_valid_json_is_decoded(text: str | bytes, value: object) -> None:
    assert loads(text, LIMIT) == value


def test_nesting_deeper_than_the_limit_is_refused_without_recursion() -> None:
    for text in ("[" * (DEPTH + 1) + "]" * (DEPTH + 1), '{"a":' * 100_000 + "1" + "}" * 100_000):
        assert refusal(text, 10**6) == (
            "VALIDATION_ERROR",
            f"JSON nests deeper than {DEPTH} levels.",
            {"reason": "too_deep", "max_depth": DEPTH},
        )


def test_the_depth_scan_stops_past_the_limit_and_ignores_strings() -> None:
    assert nesting_depth("[" * 10_000, 5) == 6
    assert nesting_depth('["[[[[[[[[", {"a": ["]]]]"]}]', 2) == 3
    assert nesting_depth("[[]]", 5) == 0  # few brackets: not scanned


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"x": -Infinity}', "1e999", "[-1e400]"])
def test_non_finite_numbers_are_refused(text: str) -> None:
    assert refusal(text) == (
        "VALIDATION_ERROR",
        "NaN, Infinity and numbers out of range are not JSON.",
        {"reason": "bad_number"},
    )


@pytest.mark.parametrize("data", ['{"a": ', "", "[1,]", b"\xff\xfe{}", "1" * 5000])
def test_what_is_not_json_is_malformed(data: str | bytes) -> None:
    assert refusal(data, 10_000, "frame") == (
        "VALIDATION_ERROR",
        "The frame is not valid JSON.",
        {"reason": "malformed_json"},
    )


@pytest.mark.parametrize("data", ["x" * (LIMIT + 1), "é" * (LIMIT // 2 + 1), b"[" * (LIMIT + 1)])
def test_more_bytes_than_the_limit_are_refused_before_parsing(data: str | bytes) -> None:
    assert refusal(data) == (
        "PAYLOAD_TOO_LARGE",
        f"The body is larger than {LIMIT} bytes.",
        {"reason": "too_large", "max_bytes": LIMIT},
    )
