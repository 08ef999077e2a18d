"""The one-small-file shortcut finds what python-multipart finds, or leaves the body to it."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from python_multipart.multipart import MultipartParser

from servekit.api.uploads import one_part

BOUNDARY = b"----b0undary"


def _parsed(body: bytes) -> list[tuple[list[tuple[bytes, bytes]], bytes]]:
    parts: list[tuple[list[tuple[bytes, bytes]], bytes]] = []
    field = value = b""

    def header_field(data: bytes, start: int, end: int) -> None:
        nonlocal field
        field += data[start:end]

    def header_value(data: bytes, start: int, end: int) -> None:
        nonlocal value
        value += data[start:end]

    def header_end() -> None:
        nonlocal field, value
        parts[-1][0].append((field, value))
        field = value = b""

    def part_data(data: bytes, start: int, end: int) -> None:
        headers, old = parts[-1]
        parts[-1] = (headers, old + data[start:end])

    callbacks: Any = {
        "on_part_begin": lambda: parts.append(([], b"")),
        "on_header_field": header_field,
        "on_header_value": header_value,
        "on_header_end": header_end,
        "on_part_data": part_data,
    }
    parser = MultipartParser(BOUNDARY, callbacks)
    parser.write(body)
    parser.finalize()
    return parts


pieces = st.sampled_from(
    [b"\r\n", b"--", BOUNDARY, b"\r\n--" + BOUNDARY, b":", b" ", b"x", b"\x00\xff", b"\r\n\r\n"]
)
data = st.lists(pieces, max_size=12).map(b"".join)


@given(
    data=data,
    name=st.sampled_from([b"seven.png", b"a b.png", b"", "é.png".encode()]),
    extra=st.sampled_from([b"", b"Content-Type: image/png\r\n", b"X-Odd:  spaced \r\n"]),
    tail=st.sampled_from([b"", b"\r\n"]),
)
def test_a_single_part_is_read_as_the_full_parser_reads_it(
    data: bytes, name: bytes, extra: bytes, tail: bytes
) -> None:
    body = (
        b"--"
        + BOUNDARY
        + b'\r\nContent-Disposition: form-data; name="file"; filename="'
        + name
        + b'"\r\n'
        + extra
        + b"\r\n"
        + data
        + b"\r\n--"
        + BOUNDARY
        + b"--"
        + tail
    )
    found = one_part(body, BOUNDARY)
    if b"\r\n--" + BOUNDARY in b"\r\n" + data:  # another part begins in it: the full parser's
        assert found is None
    else:
        assert found is not None
        assert [found] == _parsed(body)


@given(
    body=st.lists(pieces | st.just(b"Content-Disposition: form-data"), max_size=16).map(b"".join)
)
def test_any_other_body_is_either_read_alike_or_left_to_the_full_parser(body: bytes) -> None:
    found = one_part(body, BOUNDARY)
    if found is not None:
        assert [found] == _parsed(body)
