"""Shapes and check digits of the identifiers in customs and shipping data.

Scalar checks serve the contract (one event at a time, on the decoding hot path, so they are kept
allocation-light); the vectorised ``*_array`` helpers serve the synthetic world, which mints millions of
identifiers at once.

- ISO 6346 container numbers: owner code (3 letters) + category (U, J or Z) + 6-digit serial + check digit.
- IMO ship numbers: 7 digits, the last a weighted check digit.
- IATA air waybills: 3-digit airline prefix + 8-digit serial whose last digit is the first seven mod 7.
- IATA ULD ids (air cargo "containers"): 3-letter type + 4-5 digit serial + 2-character owner code.
- UN/LOCODE: ISO 3166 country + 3 letters or digits 2-9.
- EORI-like party ids: ISO country + up to 15 letters or digits.
- HS codes: 6 digits, chapter 01-97.
"""

from __future__ import annotations

import re

import numpy as np

# ISO 6346 letter values: A=10 upwards, skipping multiples of 11 (11, 22, 33).
_LETTER_VALUES: dict[str, int] = {}
_value = 10
for _letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    if _value % 11 == 0:
        _value += 1
    _LETTER_VALUES[_letter] = _value
    _value += 1
_CHAR_VALUES = {**_LETTER_VALUES, **{str(d): d for d in range(10)}}
_WEIGHTS = tuple(2**i for i in range(10))

CONTAINER_ID_RE = re.compile(r"^[A-Z]{3}[UJZ]\d{7}$")
# Size/type code (ISO 6346:1995): length, height/width, type group, detail digit.
CONTAINER_TYPE_RE = re.compile(r"^[1-4A-P][0-9A-Z][GVBSRHUPTAK][0-9]$")
ULD_ID_RE = re.compile(r"^[A-Z]{3}\d{4,5}[A-Z0-9]{2}$")
ULD_TYPE_RE = re.compile(r"^[A-Z]{3}$")
AWB_RE = re.compile(r"^\d{3}-\d{8}$")
IMO_RE = re.compile(r"^\d{7}$")
LOCODE_PATTERN = r"^[A-Z]{2}[A-Z2-9]{3}$"
EORI_PATTERN = r"^[A-Z]{2}[A-Z0-9]{1,15}$"
HS_CODE_PATTERN = r"^(0[1-9]|[1-8]\d|9[0-7])\d{4}$"


def iso6346_check_digit(first_ten: str) -> int:
    """The check digit of the first ten characters (owner code, category, serial) of a container id."""
    total = sum(_CHAR_VALUES[c] * w for c, w in zip(first_ten, _WEIGHTS, strict=True))
    return total % 11 % 10


def is_valid_container_id(value: str) -> bool:
    """True when ``value`` is an ISO 6346 container number whose check digit matches, e.g. CSQU3054383."""
    if not CONTAINER_ID_RE.match(value):
        return False
    return iso6346_check_digit(value[:10]) == ord(value[10]) - 48


def imo_check_digit(first_six: str) -> int:
    """The IMO check digit: digits weighted 7..2, sum mod 10."""
    return sum(int(c) * w for c, w in zip(first_six, (7, 6, 5, 4, 3, 2), strict=True)) % 10


def is_valid_imo(value: str) -> bool:
    """True when ``value`` is a 7-digit IMO ship number with a valid check digit, e.g. 9074729."""
    return bool(IMO_RE.match(value)) and imo_check_digit(value[:6]) == ord(value[6]) - 48


def is_valid_awb(value: str) -> bool:
    """True for an IATA air waybill number 'PPP-SSSSSSSC' where C is the 7-digit serial mod 7."""
    if not AWB_RE.match(value):
        return False
    return int(value[4:11]) % 7 == ord(value[11]) - 48


def is_valid_uld_id(value: str) -> bool:
    """True for an IATA ULD id such as AKE12345KL (type, serial, owner)."""
    return bool(ULD_ID_RE.match(value))


# ---- vectorised helpers for the synthetic world --------------------------------------------------


def zero_pad(numbers: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded strings of ``width`` digits (empty arrays welcome)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if numbers.size == 0:
        return np.empty(0, dtype=f"U{width}")
    return np.char.zfill(numbers.astype(f"U{width}"), width)


def container_ids_array(owner_codes: np.ndarray, serials: np.ndarray) -> np.ndarray:
    """ISO 6346 ids with check digits for 4-letter owner+category codes and integer serials (< 10**6)."""
    owners = np.asarray(owner_codes, dtype="U4")
    serials = np.asarray(serials, dtype=np.int64)
    letters = owners.view(np.uint32).reshape(-1, 4) - ord("A")
    lut = np.array([_LETTER_VALUES[c] for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"], dtype=np.int64)
    total = (lut[letters] * np.array(_WEIGHTS[:4], dtype=np.int64)).sum(axis=1)
    digits = serials[:, None] // (10 ** np.arange(5, -1, -1, dtype=np.int64)) % 10
    total += (digits * np.array(_WEIGHTS[4:], dtype=np.int64)).sum(axis=1)
    check = total % 11 % 10
    number = serials * 10 + check
    return np.char.add(owners, zero_pad(number, 7))


def awb_numbers_array(prefixes: np.ndarray, serials: np.ndarray) -> np.ndarray:
    """Air waybill numbers 'PPP-SSSSSSSC' for integer airline prefixes and 7-digit serials."""
    serials = np.asarray(serials, dtype=np.int64)
    full = serials * 10 + serials % 7
    head = np.char.add(zero_pad(prefixes, 3), "-")
    return np.char.add(head, zero_pad(full, 8))


def imo_number(first_six: int) -> str:
    """A valid IMO number from a 6-digit stem (100000-999999)."""
    stem = f"{first_six:06d}"
    return stem + str(imo_check_digit(stem))
