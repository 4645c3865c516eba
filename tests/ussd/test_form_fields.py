"""The gateway form parser (``ussd.wire``) against the standard library's own reader."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote_from_bytes

from hypothesis import given
from hypothesis import strategies as st

from ussd.wire import FORM, GatewayRequest, add_form_pairs


def stdlib(encoded: bytes) -> dict[bytes, list[bytes]]:
    """urllib's reading (``&`` only, blanks kept), bytes kept as bytes through latin-1."""
    out: dict[bytes, list[bytes]] = {}
    text = encoded.decode("latin-1")
    for name, value in parse_qsl(text, keep_blank_values=True, encoding="latin-1"):
        out.setdefault(name.encode("latin-1"), []).append(value.encode("latin-1"))
    return out


def ours(encoded: bytes) -> dict[bytes, list[bytes]]:
    fields: dict[bytes, list[bytes]] = {}
    add_form_pairs(encoded, fields)
    return fields


raw = st.binary(max_size=40)


@given(st.lists(st.tuples(raw, raw), max_size=6), st.booleans())
def test_any_encoded_pairs_read_back_as_the_standard_library_reads_them(
    pairs: list[tuple[bytes, bytes]], plus: bool,
) -> None:
    encoded = "&".join(f"{quote_from_bytes(n)}={quote_from_bytes(v)}" for n, v in pairs)
    if plus:
        encoded = encoded.replace("%20", "+")
    assert ours(encoded.encode()) == stdlib(encoded.encode())


@given(st.text(alphabet="ab=&;%+*#2AD36", max_size=30))
def test_hand_typed_bodies_with_stray_separators_read_as_the_standard_library(body: str) -> None:
    assert ours(body.encode()) == stdlib(body.encode())


def test_an_escaped_ampersand_or_equals_stays_inside_its_value() -> None:
    assert ours(b"text=1%262%3d3%3D&a=%2A") == {b"text": [b"1&2=3="], b"a": [b"*"]}


def test_a_semicolon_is_part_of_the_text_not_a_separator() -> None:
    assert ours(b"text=1;2&sessionId=s") == {b"text": [b"1;2"], b"sessionId": [b"s"]}


def test_query_and_form_body_both_count_and_other_bodies_do_not() -> None:
    form = GatewayRequest(b"POST", b"/ussd/at", b"a=1", {b"content-type": FORM + b"; x"},
                          b"a=2&text=%2A")
    assert form.form_fields() == {b"a": [b"1", b"2"], b"text": [b"*"]}
    other = GatewayRequest(b"POST", b"/ussd/at", b"a=1", {b"content-type": b"text/plain"},
                           b"a=2")
    assert other.form_fields() == {b"a": [b"1"]}
