from __future__ import annotations

import pytest

from server.policy.detectors import DETECTORS, scan


def kinds(name: str, text: str) -> list[tuple[str, str]]:
    return [(m.kind, text[m.span[0] : m.span[1]]) for m in DETECTORS[name].find(text)]


@pytest.mark.parametrize(
    "text",
    [
        "FR1420041010050500013M02606",
        "FR14 2004 1010 0505 0001 3M02 606",
        "DE89 3704 0044 0532 0130 00",
        "GB82WEST12345698765432",
    ],
)
def test_iban_found_with_valid_check_digits(text: str) -> None:
    assert kinds("iban", f"Virement sur {text} merci") == [("iban", text)]


@pytest.mark.parametrize(
    "text",
    [
        "DE89 3704 0044 0532 0130 01",  # mod-97 fails
        "FR1420041010050500013M02607",
        "DE89370400440532013",  # too short for DE
        "ZZ89370400440532013000",  # no such country
    ],
)
def test_iban_with_wrong_checksum_or_shape_is_ignored(text: str) -> None:
    assert kinds("iban", f"ref {text} end") == []


@pytest.mark.parametrize(
    "text", ["4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005", "6011111111111117"]
)
def test_payment_card_found_when_luhn_holds(text: str) -> None:
    assert kinds("payment_card", f"card: {text}.") == [("payment_card", text)]


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # Luhn fails
        "0000 0000 0000 0000",  # passes Luhn, but no issuer starts with 0
        "4111 1111 1111",  # 12 digits
        "9111 1111 1111 1116",
    ],
)
def test_payment_card_rejects_invalid_numbers(text: str) -> None:
    assert kinds("payment_card", f"card: {text}.") == []


def test_payment_card_found_inside_a_longer_run_of_digit_groups() -> None:
    text = "ticket 12 4111 1111 1111 1111 thanks"
    assert kinds("payment_card", text) == [("payment_card", "4111 1111 1111 1111")]


@pytest.mark.parametrize(
    "text",
    [
        "185057800608491",
        "1 85 05 78 006 084 91",
        "185122A01234594",  # Corse-du-Sud
        "2 85 12 2B 012 345 71",  # Haute-Corse
    ],
)
def test_fr_nir_found_when_key_matches(text: str) -> None:
    assert kinds("fr.nir", f"NIR : {text}") == [("fr.nir", text)]


@pytest.mark.parametrize(
    "text",
    [
        "185057800608492",  # key off by one
        "185122A01234595",
        "185122B01234594",  # the 2A key does not fit 2B
        "585057800608491",  # first digit is not a sex code
        "1850578006084",  # no key
    ],
)
def test_fr_nir_with_wrong_key_is_ignored(text: str) -> None:
    assert kinds("fr.nir", f"NIR : {text}") == []


@pytest.mark.parametrize("text", ["86095742719", "47 036 892 816", "65929970489"])
def test_de_steuerid_found_when_check_digit_and_repetition_hold(text: str) -> None:
    assert kinds("de.steuerid", f"Steuer-ID {text}") == [("de.steuerid", text)]


@pytest.mark.parametrize(
    "text",
    [
        "86095742718",  # check digit wrong
        "12345678903",  # every digit once: the repetition rule fails
        "26888107948",  # check digit right, but one digit three times in a row
        "06095742719",  # leading zero
    ],
)
def test_de_steuerid_rejects_invalid_numbers(text: str) -> None:
    assert kinds("de.steuerid", f"Steuer-ID {text}") == []


@pytest.mark.parametrize("text", ["536-22-1234", "123 45 6789", "772-01-0001"])
def test_us_ssn_found_in_issued_ranges(text: str) -> None:
    assert kinds("us.ssn", f"SSN {text}") == [("us.ssn", text)]


@pytest.mark.parametrize(
    "text",
    ["000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456", "123-00-4567", "123-45-0000", "078-05-1120"],
)
def test_us_ssn_never_issued_ranges_are_ignored(text: str) -> None:
    assert kinds("us.ssn", f"SSN {text}") == []


@pytest.mark.parametrize("text", ["11010519491231002X", "11010519491231002x", "440524198001010013"])
def test_cn_resident_id_found_with_valid_check_character(text: str) -> None:
    assert kinds("cn.resident_id", f"身份证号码{text}。") == [("cn.resident_id", text)]


@pytest.mark.parametrize(
    "text",
    [
        "110105194912310021",  # check character wrong
        "110105194913310028",  # month 13
        "11010519491231002",  # 17 characters
    ],
)
def test_cn_resident_id_rejects_invalid_numbers(text: str) -> None:
    assert kinds("cn.resident_id", f"号码 {text} 。") == []


def test_email_found_and_near_misses_ignored() -> None:
    text = "Write to jean.dupont+rse@example.co.uk, not to jean@ or @example.com"
    assert kinds("email", text) == [("email", "jean.dupont+rse@example.co.uk")]


@pytest.mark.parametrize(
    "text", ["+33 6 12 34 56 78", "06 12 34 56 78", "(415) 555-0134", "+49 30 12345678", "138 0013 8000"]
)
def test_phone_found_in_common_formats(text: str) -> None:
    assert kinds("phone", f"Call {text} today") == [("phone", text)]


@pytest.mark.parametrize("text", ["in 2026", "room 12 34", "version 1.2.3"])
def test_phone_ignores_short_numbers(text: str) -> None:
    assert kinds("phone", text) == []


def test_scan_reports_kinds_and_positions_in_text_order() -> None:
    text = "mail a@b.fr then card 4111 1111 1111 1111"
    assert [m.kind for m in scan(text)] == ["email", "payment_card"]
    assert all(isinstance(m.span, tuple) for m in scan(text))


def test_registry_names_match_their_kinds() -> None:
    for name, detector in DETECTORS.items():
        assert detector.name == name
