"""Detectors of personal identifiers in free text.

Each detector finds candidates with a regular expression, then keeps only those that pass the identifier's
own check (a checksum, a valid date, an allowed range), so an invoice number or a phone number is not
taken for a bank account. A match gives the detector's kind and where it is in the text, never the value.

The checks are written here rather than taken from python-stdnum: its IBAN module reads its registry file
at import, which this package must not do, and each check below is a few lines of arithmetic pinned by tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import NamedTuple


class DetectorMatch(NamedTuple):
    kind: str
    span: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Detector:
    name: str
    description: str
    find: Callable[[str], tuple[DetectorMatch, ...]]


# A number must not continue into a digit, even across one separator.
_NOT_AFTER_DIGIT = r"(?<![0-9A-Za-z])(?<![0-9][ ./-])"
_NOT_BEFORE_DIGIT = r"(?![0-9A-Za-z])(?![ ./-][0-9])"

# --- IBAN (ISO 13616): length per country, then mod-97 == 1 -------------------------------------------
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
_IBAN_START = re.compile(r"(?<![0-9A-Za-z])([A-Z]{2})[0-9]{2}")


def iban_is_valid(compact: str) -> bool:
    compact = compact.upper()
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _find_iban(text: str) -> tuple[DetectorMatch, ...]:
    found: list[DetectorMatch] = []
    for start in _IBAN_START.finditer(text):
        length = _IBAN_LENGTHS.get(start.group(1))
        if length is None:
            continue
        chars, end = 0, start.start()
        while end < len(text) and chars < length:
            if text[end].isascii() and text[end].isalnum():
                chars += 1
            elif not (text[end] == " " and end + 1 < len(text) and text[end + 1].isalnum()):
                break
            end += 1
        if chars != length or (end < len(text) and text[end].isascii() and text[end].isalnum()):
            continue
        if iban_is_valid(text[start.start() : end].replace(" ", "")):
            found.append(DetectorMatch("iban", (start.start(), end)))
    return tuple(found)


# --- payment cards: 13-19 digits, Luhn, issuer prefix 2-6 ---------------------------------------------
_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9]+(?:[ -][0-9]+)*(?![0-9])")


def luhn_is_valid(digits: str) -> bool:
    total = 0
    for position, ch in enumerate(reversed(digits)):
        value = int(ch)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card_candidates(run: re.Match[str]) -> Iterator[tuple[int, int]]:
    """Every span of whole digit groups in a run, longest first, so "ref 12 4111 1111 1111 1111" works."""
    groups = [(g.start() + run.start(), g.end() + run.start()) for g in re.finditer(r"[0-9]+", run.group())]
    spans = [
        (groups[i][0], groups[j][1], sum(e - s for s, e in groups[i : j + 1]))
        for i in range(len(groups))
        for j in range(i, len(groups))
    ]
    for start, end, count in sorted(spans, key=lambda s: -s[2]):
        if 13 <= count <= 19:
            yield start, end


def _find_payment_card(text: str) -> tuple[DetectorMatch, ...]:
    found: list[DetectorMatch] = []
    for run in _DIGIT_RUN.finditer(text):
        taken: list[tuple[int, int]] = []
        for start, end in _card_candidates(run):
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            digits = re.sub(r"[ -]", "", text[start:end])
            if digits[0] in "23456" and len(set(digits)) > 1 and luhn_is_valid(digits):
                taken.append((start, end))
        found.extend(DetectorMatch("payment_card", span) for span in sorted(taken))
    return tuple(found)


# --- French NIR (numéro de sécurité sociale): 13 characters + key 97 - (n mod 97) -------------------
_NIR = re.compile(_NOT_AFTER_DIGIT + r"[1-478](?:[ .]?[0-9AaBb]){14}" + _NOT_BEFORE_DIGIT)


def nir_is_valid(compact: str) -> bool:
    compact = compact.upper()
    if len(compact) != 15:
        return False
    department = compact[5:7]
    body = compact[:5] + {"2A": "19", "2B": "18"}.get(department, department) + compact[7:13]
    if not (body.isdigit() and compact[13:].isdigit()):
        return False
    month = int(compact[3:5])
    if month == 0 or 13 <= month <= 19:
        return False
    return 97 - int(body) % 97 == int(compact[13:])


def _find_nir(text: str) -> tuple[DetectorMatch, ...]:
    return tuple(
        DetectorMatch("fr.nir", m.span())
        for m in _NIR.finditer(text)
        if nir_is_valid(re.sub(r"[ .]", "", m.group()))
    )


# --- German Steuer-Identifikationsnummer: 11 digits, ISO 7064 MOD 11,10, repetition rule ---------------
_STEUERID = re.compile(_NOT_AFTER_DIGIT + r"[1-9](?:[ /]?[0-9]){10}" + _NOT_BEFORE_DIGIT)


def steuerid_is_valid(digits: str) -> bool:
    if len(digits) != 11 or not digits.isdigit() or digits[0] == "0":
        return False
    first_ten = digits[:10]
    repeated = [d for d in set(first_ten) if first_ten.count(d) > 1]
    if len(repeated) != 1 or first_ten.count(repeated[0]) not in (2, 3):
        return False
    if repeated[0] * 3 in first_ten:
        return False
    product = 10
    for ch in first_ten:
        total = (int(ch) + product) % 10 or 10
        product = total * 2 % 11
    return (11 - product) % 10 == int(digits[10])


def _find_steuerid(text: str) -> tuple[DetectorMatch, ...]:
    return tuple(
        DetectorMatch("de.steuerid", m.span())
        for m in _STEUERID.finditer(text)
        if steuerid_is_valid(re.sub(r"[ /]", "", m.group()))
    )


# --- US Social Security Number: AAA-GG-SSSS with the ranges never issued --------------------------------
_SSN = re.compile(r"(?<![0-9-])([0-9]{3})([- ])([0-9]{2})\2([0-9]{4})(?![0-9]|-[0-9])")
_SSN_ADVERTISED = frozenset({"078051120", "219099999"})


def ssn_is_valid(area: str, group: str, serial: str) -> bool:
    if area in ("000", "666") or area.startswith("9") or group == "00" or serial == "0000":
        return False
    return area + group + serial not in _SSN_ADVERTISED


def _find_ssn(text: str) -> tuple[DetectorMatch, ...]:
    return tuple(
        DetectorMatch("us.ssn", m.span())
        for m in _SSN.finditer(text)
        if ssn_is_valid(m.group(1), m.group(3), m.group(4))
    )


# --- Chinese resident identity card: 18 characters, birth date, ISO 7064 MOD 11-2 ---------------------
_CN_ID = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
_CN_WEIGHTS = tuple(2 ** (17 - i) % 11 for i in range(17))


def cn_resident_id_is_valid(value: str) -> bool:
    value = value.upper()
    if len(value) != 18 or not value[:17].isdigit():
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900:
        return False
    check = (12 - sum(int(d) * w for d, w in zip(value[:17], _CN_WEIGHTS, strict=True)) % 11) % 11
    return value[17] == ("X" if check == 10 else str(check))


def _find_cn_resident_id(text: str) -> tuple[DetectorMatch, ...]:
    return tuple(
        DetectorMatch("cn.resident_id", m.span())
        for m in _CN_ID.finditer(text)
        if cn_resident_id_is_valid(m.group())
    )


# --- e-mail addresses and phone numbers (no checksum: shape only) -------------------------------------
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
_PHONES = (
    re.compile(r"(?<![0-9+])\+[1-9][0-9]{0,2}(?:[ .-]?\(?[0-9]{1,4}\)?){2,6}(?![0-9])"),  # +33 6 12 34 56 78
    re.compile(r"(?<![0-9])0[1-9](?:[ .-]?[0-9]{2}){4}(?![0-9])"),  # 06 12 34 56 78
    re.compile(r"(?<![0-9])\(?[2-9][0-9]{2}\)?[ .-][0-9]{3}[ .-][0-9]{4}(?![0-9])"),  # (415) 555-0134
    re.compile(r"(?<![0-9])0[1-9][0-9]{1,4}[ /-][0-9]{4,8}(?![0-9])"),  # 030 12345678
    re.compile(r"(?<![0-9])1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])"),  # 138 0013 8000
)


def _find_email(text: str) -> tuple[DetectorMatch, ...]:
    return tuple(DetectorMatch("email", m.span()) for m in _EMAIL.finditer(text))


def _find_phone(text: str) -> tuple[DetectorMatch, ...]:
    spans: list[tuple[int, int]] = []
    for pattern in _PHONES:
        for m in pattern.finditer(text):
            digits = sum(ch.isdigit() for ch in m.group())
            overlaps = any(m.start() < end and start < m.end() for start, end in spans)
            if 8 <= digits <= 15 and not overlaps:
                spans.append(m.span())
    return tuple(DetectorMatch("phone", span) for span in sorted(spans))


DETECTORS: Mapping[str, Detector] = MappingProxyType(
    {
        d.name: d
        for d in (
            Detector("iban", "International bank account number (mod-97 checked)", _find_iban),
            Detector("payment_card", "Payment card number (Luhn checked)", _find_payment_card),
            Detector("fr.nir", "French social security number (NIR, key checked)", _find_nir),
            Detector("de.steuerid", "German tax identification number (check digit)", _find_steuerid),
            Detector("us.ssn", "US Social Security number (AAA-GG-SSSS)", _find_ssn),
            Detector("cn.resident_id", "Chinese resident identity card number", _find_cn_resident_id),
            Detector("email", "E-mail address", _find_email),
            Detector("phone", "Telephone number (international or national form)", _find_phone),
        )
    }
)


def scan(text: str, names: tuple[str, ...] | None = None) -> tuple[DetectorMatch, ...]:
    """Run the named detectors (all when None) and return their matches in text order."""
    chosen = DETECTORS.values() if names is None else (DETECTORS[n] for n in names)
    return tuple(sorted((m for d in chosen for m in d.find(text)), key=lambda m: m.span))
