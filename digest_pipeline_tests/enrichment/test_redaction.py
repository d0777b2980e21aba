from __future__ import annotations

import pytest

from digest_pipeline.defs.enrichment.redaction import luhn_ok, redact

# Assembled at run time so secret scanners do not flag this file.
SLACK_TOKEN = "xoxb-" + "1234567890-0987654321-" + "AbCdEfGhIjKlMnOpQrStUvWx"
OPENAI_KEY = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail alice.chen+po@acme-hw.com now", "mail [email] now"),
        ("call +1 415 555 0132 or +44 20 7946 0958", "call [phone] or [phone]"),
        (
            "call (415) 555-0132 or 415-555-0132 or 415.555.0132",
            "call [phone] or [phone] or [phone]",
        ),
        ("+86 755 8888 6666 is the Shenzhen office", "[phone] is the Shenzhen office"),
        ("card 4111 1111 1111 1111 exp 12/27", "card [card] exp 12/27"),
        ("card 4111-1111-1111-1111", "card [card]"),
        (f"token {SLACK_TOKEN}", "token [secret]"),
        (f"OPENAI_API_KEY={OPENAI_KEY}", "OPENAI_API_KEY=[secret]"),
        (f"aws {AWS_KEY} leaked", "aws [secret] leaked"),
        (f"gh {GITHUB_TOKEN}", "gh [secret]"),
        ("Authorization: Bearer abcDEF123456ghiJKL789mno", "Authorization: Bearer [secret]"),
        ("api_key=Zx9Qw8Er7Ty6Ui5Op4", "api_key=[secret]"),
        ("password: hunter2", "password: hunter2"),  # short and low-entropy: left alone
    ],
)
def test_redact_replaces_personal_data_and_secrets(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "STM32H743VIT6 and GRM188R71H104KA93D on allocation",
        "lot LOT-2024-118-0042 failed AOI, work order WO-55512-03",
        "date 2024-12-03, WW48, build 2024.11.30",
        "PO 4500012345 for 12,000 pcs at $1,234,567.89",
        "serial SN 1234567890123 (not Luhn-valid)",
        "TPS65219RHBR qty 5000, reel 3000",
        "tracking 1Z999AA10123456784",
        "",
    ],
)
def test_redact_keeps_hardware_identifiers(text: str) -> None:
    assert redact(text) == text


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
