"""Remove personal data and secrets from text before it leaves the pipeline.

Used on anything sent to an LLM and anything posted to Slack. Replacements are fixed markers
(``[email]``, ``[phone]``, ``[card]``, ``[secret]``) so a reader still sees that something was
there. The patterns are anchored so that hardware identifiers survive: part numbers
(``STM32H743VIT6``), lot and work-order numbers (``LOT-2024-118-0042``), ISO dates and work weeks
are not phone or card numbers.
"""

from __future__ import annotations

import math
import re
from collections import Counter

# Well-known token formats: always secrets, whatever their surroundings.
_SECRET_RE = re.compile(
    r"""
    -----BEGIN[ A-Z]*PRIVATE\ KEY-----.*?(?:-----END[ A-Z]*PRIVATE\ KEY-----|\Z)
    | \bxox[abposre]-[A-Za-z0-9-]{10,}
    | \bxapp-\d-[A-Za-z0-9-]{10,}
    | \bsk-(?:proj-|ant-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}
    | \b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b
    | \bgh[pousr]_[A-Za-z0-9]{30,}
    | \bgithub_pat_[A-Za-z0-9_]{40,}
    | \bglpat-[A-Za-z0-9_-]{20,}
    | \bAIza[0-9A-Za-z_-]{35}
    | \beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}
    | \bhooks\.slack\.com/services/[A-Za-z0-9/]+
    """,
    re.X | re.S,
)
# "Authorization: Bearer <token>" and "api_key=<value>": redact the value, keep the label.
_BEARER_RE = re.compile(r"(?i)\b(bearer|basic)\s+([A-Za-z0-9._~+/=-]{16,})")
_KEY_VALUE_RE = re.compile(
    r"""(?ix)
    \b((?:[a-z0-9_]*[_-])?(?:api[_-]?key|secret|token|password|passwd|pwd|access[_-]?key|
        client[_-]?secret|private[_-]?key|auth)(?:[_-][a-z0-9_]*)?)
    (\s*[:=]\s*["']?)
    ([^\s"',;]{8,})
    """
)
_EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# Card numbers: 13-19 digits, optionally grouped by spaces or dashes; Luhn decides.
_CARD_RE = re.compile(r"(?<![\w-])(?:\d[ -]?){12,18}\d(?![\w-])")
# Phones: "+" international numbers, or US numbers with separators or a parenthesized area code.
# Digit groups must not touch letters, digits or dashes on either side, so part and lot
# numbers (which embed digit runs) do not match; ISO dates have 4-2-2 groups and never match.
_PHONE_RE = re.compile(
    r"""
    (?<![\w+])\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}(?![\w-])
    | (?<![\w-])(?:\(\d{3}\)\ ?|\d{3}[.-])\d{3}[.-]\d{4}(?![\w-])
    | (?<![\w-])\d{3}\ \d{3}\ \d{4}(?![\w-])
    """,
    re.X,
)


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` passes the Luhn checksum used by payment cards."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _looks_random(value: str) -> bool:
    """Generic secrets: long, mixed letters and digits, high entropy (not ``password=changeme``)."""
    if len(value) < 12:
        return len(value) >= 8 and any(c.isdigit() for c in value) and _entropy(value) >= 2.8
    return _entropy(value) >= 3.0


def _card(m: re.Match[str]) -> str:
    raw = m.group(0)
    digits = raw.replace(" ", "").replace("-", "")
    if 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits):
        return "[card]"
    return raw


def _key_value(m: re.Match[str]) -> str:
    value = m.group(3)
    if value.startswith("[") or not _looks_random(value):
        return m.group(0)
    return f"{m.group(1)}{m.group(2)}[secret]"


def redact(text: str) -> str:
    """Replace e-mail addresses, phone and card numbers, and secrets with markers."""
    if not text:
        return text
    text = _SECRET_RE.sub("[secret]", text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} [secret]", text)
    if "=" in text or ":" in text:
        text = _KEY_VALUE_RE.sub(_key_value, text)
    if "@" in text:
        text = _EMAIL_RE.sub("[email]", text)
    text = _CARD_RE.sub(_card, text)
    return _PHONE_RE.sub("[phone]", text)
