"""Document ids in the IDv6 shape (convex-semantics §2.2), checked against an independent model."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.values.errors import InvalidIdError
from runtime.values.ids import ALPHABET, decode_id, encode_id, id_table_number, new_id

table_numbers = st.one_of(
    st.integers(1, 2**32 - 1),
    st.sampled_from([1, 127, 128, 10001, 16383, 16384, 2**21 - 1, 2**21, 2**28 - 1, 2**28, 2**32 - 1]),
)
internal_ids = st.binary(min_size=16, max_size=16)


# --- an independent model of the format ----------------------------------------------------------


def model_vint(number: int) -> bytes:
    out = []
    while number >= 0x80:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    return bytes([*out, number])


def model_fletcher16(data: bytes) -> int:
    c0 = c1 = 0
    for byte in data:
        c0 = (c0 + byte) & 0xFF
        c1 = (c1 + c0) & 0xFF
    return c1 << 8 | c0


def model_base32(data: bytes) -> str:
    bits = "".join(f"{byte:08b}" for byte in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(ALPHABET[int(bits[i : i + 5], 2)] for i in range(0, len(bits), 5))


def model_id(vint: bytes, internal: bytes, footer: int | None = None) -> str:
    body = vint + internal
    checksum = model_fletcher16(body) if footer is None else footer
    return model_base32(body + checksum.to_bytes(2, "little"))


def expected_length(table_number: int) -> int:
    byte_count = len(model_vint(table_number)) + 16 + 2
    return byte_count // 5 * 8 + [0, 2, 4, 5, 7][byte_count % 5]


SAMPLE = encode_id(10001, bytes(range(16)))


# --- encoding -----------------------------------------------------------------------------------


def test_matches_the_backend_stability_vector() -> None:
    internal = [251]
    for _ in range(15):
        internal.append(internal[-1] * 251 % 256)
    assert encode_id(1017, bytes(internal)) == "z43zp6c3e75gkmz1kfwj6mbbx5sw281h"
    assert decode_id("z43zp6c3e75gkmz1kfwj6mbbx5sw281h") == (1017, bytes(internal))


@given(table_numbers, internal_ids)
def test_encoding_matches_the_model(table_number: int, internal: bytes) -> None:
    assert encode_id(table_number, internal) == model_id(model_vint(table_number), internal)


@given(table_numbers, internal_ids)
def test_round_trip(table_number: int, internal: bytes) -> None:
    text = encode_id(table_number, internal)
    assert decode_id(text) == (table_number, internal)
    assert id_table_number(text) == table_number
    assert set(text) <= set(ALPHABET)
    assert len(text) == expected_length(table_number)


@pytest.mark.parametrize(
    ("table_number", "length"),
    [(1, 31), (127, 31), (128, 32), (10001, 32), (16383, 32), (16384, 34), (2**21, 36), (2**28, 37), (2**32 - 1, 37)],
)
def test_lengths(table_number: int, length: int) -> None:
    assert len(encode_id(table_number, bytes(16))) == length
    assert len(encode_id(table_number, b"\xff" * 16)) == length


@given(st.integers(128, 16383), internal_ids)
def test_user_tables_get_32_character_ids(table_number: int, internal: bytes) -> None:
    assert len(encode_id(table_number, internal)) == 32


@pytest.mark.parametrize(
    ("table_number", "internal"), [(0, bytes(16)), (-1, bytes(16)), (2**32, bytes(16)), (1, bytes(15)), (1, bytes(17))]
)
def test_encode_rejects_bad_parts(table_number: int, internal: bytes) -> None:
    with pytest.raises(ValueError):
        encode_id(table_number, internal)


# --- decoding rejects everything that is not a canonical id --------------------------------------


def assert_invalid(text: object) -> None:
    with pytest.raises(InvalidIdError, match=r"^Unable to decode ID: "):
        decode_id(text)  # type: ignore[arg-type]
    assert id_table_number(text) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [0, 1, 30, 38, 100])
def test_rejects_wrong_lengths(length: int) -> None:
    assert_invalid((SAMPLE * 4)[:length])


@pytest.mark.parametrize("bad", ["i", "l", "o", "u", "I", "L", "O", "U", "A", "Z", "-", "_", " ", "=", "\x00", "é"])
def test_rejects_characters_outside_the_alphabet(bad: str) -> None:
    for position in (0, 15, len(SAMPLE) - 1):
        assert_invalid(SAMPLE[:position] + bad + SAMPLE[position + 1 :])


def test_rejects_upper_case_ids() -> None:
    assert_invalid(SAMPLE.upper())


@given(st.integers(0, 31), st.integers(1, 31))
def test_rejects_a_corrupted_character(position: int, delta: int) -> None:
    corrupted = SAMPLE[:position] + ALPHABET[(ALPHABET.index(SAMPLE[position]) + delta) % 32] + SAMPLE[position + 1 :]
    assert_invalid(corrupted)


def test_rejects_a_bad_footer() -> None:
    internal = bytes(range(16))
    good = model_fletcher16(model_vint(10001) + internal)
    assert decode_id(model_id(model_vint(10001), internal, good)) == (10001, internal)
    for footer in (good ^ 1, good ^ 0x100, 0, 0xFFFF):
        assert_invalid(model_id(model_vint(10001), internal, footer))


def test_rejects_table_number_zero() -> None:
    assert_invalid(model_id(model_vint(0), bytes(16)))
    assert_invalid(model_id(b"\x80\x00", bytes(16)))  # zero, padded to two bytes


def test_rejects_table_numbers_above_32_bits() -> None:
    assert_invalid(model_id(b"\xff\xff\xff\xff\x7f", bytes(16)))  # 2**35 - 1
    assert_invalid(model_id(b"\x80\x80\x80\x80\x10", bytes(16)))  # exactly 2**32


def test_rejects_vints_longer_than_five_bytes() -> None:
    assert_invalid(model_base32(b"\x81" * 6 + b"\x01" + bytes(16)))


def test_rejects_non_minimal_vints() -> None:
    # 1 written in two bytes decodes to table 1, but re-encoding gives a different (shorter) string.
    assert_invalid(model_id(b"\x81\x00", bytes(16)))
    assert_invalid(model_id(b"\x90\x80\x00", bytes(16)))


def test_rejects_trailing_or_missing_bytes() -> None:
    vint = model_vint(10001)
    body = vint + bytes(16)
    footer = model_fletcher16(body).to_bytes(2, "little")
    assert_invalid(model_base32(body + footer + b"\x00"))  # 21 bytes: 34 characters
    assert_invalid(model_base32(body[:-1] + footer))  # a 15-byte internal id


def test_rejects_non_canonical_padding_bits() -> None:
    # 19 bytes are 152 bits in 31 characters (155 bits): the last 3 bits must be zero.
    short = encode_id(5, bytes(16))
    assert len(short) == 31
    last = ALPHABET.index(short[-1])
    for low_bits in (1, 2, 4):
        assert_invalid(short[:-1] + ALPHABET[last | low_bits])


@pytest.mark.parametrize("length", [33, 35])
def test_rejects_lengths_no_byte_string_produces(length: int) -> None:
    assert_invalid((SAMPLE + "0" * 8)[:length])


@pytest.mark.parametrize("text", [None, 1, b"z43zp6c3e75gkmz1kfwj6mbbx5sw281h", ["x"]])
def test_rejects_non_strings(text: object) -> None:
    assert_invalid(text)


def test_backend_regression_string_is_rejected_cleanly() -> None:
    assert_invalid("sssswsgggggggggsgcsssfafffsffks")


@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes(text: str) -> None:
    try:
        table_number, internal = decode_id(text)
    except InvalidIdError:
        return
    assert encode_id(table_number, internal) == text


@settings(max_examples=300)
@given(st.binary(min_size=19, max_size=23))
def test_arbitrary_binary_never_crashes(raw: bytes) -> None:
    text = model_base32(raw)
    try:
        table_number, internal = decode_id(text)
    except InvalidIdError:
        return
    assert encode_id(table_number, internal) == text


@settings(max_examples=100)
@given(st.text(ALPHABET, min_size=31, max_size=37))
def test_arbitrary_alphabet_strings_never_crash(text: str) -> None:
    try:
        table_number, internal = decode_id(text)
    except InvalidIdError:
        return
    assert encode_id(table_number, internal) == text


# --- fresh ids ----------------------------------------------------------------------------------


def test_new_ids_never_repeat() -> None:
    ids = [new_id(10001) for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(text) == 32 for text in ids)


def test_new_id_decodes_to_its_table_and_carries_the_day() -> None:
    text = new_id(10042)
    table_number, internal = decode_id(text)
    assert table_number == 10042
    today = int(time.time()) // 86_400
    assert int.from_bytes(internal[14:], "big") in (today % 65_536, (today + 1) % 65_536)
