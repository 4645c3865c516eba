"""T-code generation and the Damm check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from booking.tcode import damm_digit, is_well_formed, new_tcode


def test_known_damm_vector() -> None:
    # Worked example from Damm's paper / Wikipedia: 572 -> check digit 4.
    assert damm_digit("572") == "4"
    assert damm_digit("5724") == "0"
    assert is_well_formed("0000005724")  # leading zeros leave the interim digit at 0
    assert not is_well_formed("0000005725")


def test_new_tcode_uses_injected_rng_and_keeps_leading_zeros() -> None:
    code = new_tcode(lambda n: 42)
    assert code[:9] == "000000042"
    assert len(code) == 10 and is_well_formed(code)


def test_default_rng_gives_distinct_well_formed_codes() -> None:
    codes = {new_tcode() for _ in range(200)}
    assert len(codes) > 190
    assert all(is_well_formed(c) for c in codes)


def test_rng_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError):
        new_tcode(lambda n: n)


def test_malformed_inputs() -> None:
    for bad in ["", "123", "12345678901", "12345abcde", "１２３４５６７８９０", None, 1234567890]:
        assert not is_well_formed(bad)  # type: ignore[arg-type]


bodies = st.integers(min_value=0, max_value=10**9 - 1)


@given(bodies, st.integers(0, 9), st.integers(1, 9))
def test_every_single_digit_substitution_is_detected(body: int, pos: int, delta: int) -> None:
    code = new_tcode(lambda n: body)
    changed = str((int(code[pos]) + delta) % 10)
    typo = code[:pos] + changed + code[pos + 1 :]
    assert is_well_formed(code)
    assert not is_well_formed(typo)


@given(bodies, st.integers(0, 8))
def test_every_adjacent_transposition_is_detected(body: int, pos: int) -> None:
    code = new_tcode(lambda n: body)
    if code[pos] == code[pos + 1]:
        return  # swapping equal digits changes nothing
    swapped = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]
    assert not is_well_formed(swapped)


def test_buffered_randbelow_is_uniform_and_in_range() -> None:
    from collections import Counter

    from booking.tcode import BufferedRandbelow, is_well_formed, new_tcode

    draw = BufferedRandbelow(chunk=64)  # refills often
    counts = Counter(draw(10) for _ in range(20000))
    assert set(counts) == set(range(10))
    assert all(1700 < n < 2300 for n in counts.values())  # ~2000 each
    assert all(is_well_formed(new_tcode(draw)) for _ in range(1000))
    with pytest.raises(ValueError):
        draw(0)
