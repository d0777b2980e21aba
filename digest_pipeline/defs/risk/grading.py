"""Numeric signals graded by their numbers: lead time in weeks, yield against its target, weeks
of stock, dB of margin, a slip in weeks, a drop in percent, a tariff rate.

A handler gets the matched phrase and the whole (lower-cased) text and returns a
:class:`Finding`, or ``None`` when the figure turns out not to be a risk ("lead time 6 weeks").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from digest_pipeline import vocabulary

LOW, MEDIUM, HIGH, CRITICAL = 0, 1, 2, 3

SC, MQ, CC, SL = (
    "supply_chain",
    "manufacturing_quality",
    "certification_compliance",
    "schedule_launch",
)
CU, LO, EN, FI, NONE = "customer_commercial", "logistics", "engineering_design", "financial", "none"

# Patterns run on lower-cased text: IGNORECASE would only make Python's re slower.
_F = 0
_CUES = vocabulary.patterns("risk_rules", "cues")
_WEEKS = vocabulary.patterns("risk_rules", "fragments")["WEEKS"]
_NUM_WORDS: dict[str, int] = dict(vocabulary.load("risk_rules")["number_words"])
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_TARGET = re.compile(_CUES["target"], _F)
_WAS = re.compile(_CUES["was"], _F)
_CJK_POSTPONED_DAYS = re.compile(_CUES["cjk_postponed_days"], _F)
_WEEKS_FIGURE = re.compile(rf"(?<![\w.])(\d+(?:\.\d+)?)\s*{_WEEKS}\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Finding:
    """One signal found in a text: its level, category (``None``: the topic's), label, figure."""

    level: int
    category: str | None
    label: str
    detail: str = ""


def _numbers(text: str) -> list[float]:
    return [float(n) for n in _NUMBER.findall(text)]


def _weeks_value(match_text: str) -> float | None:
    low = match_text.lower()
    for word, value in _NUM_WORDS.items():
        if re.search(rf"\b{word}\b", low):
            return float(value) * (1 / 7 if "day" in low or "tage" in low or "jour" in low else 1)
    nums = _numbers(low)
    if not nums:
        return None
    n = max(nums)
    if re.search(r"days?|tage|jours?", low):
        return n / 7
    return n


def _grade_lead_time(match_text: str, text: str) -> Finding | None:
    # The figure is the number written against a week unit, never digits inside a part number
    # ("TPS65219RHBR now 44 wks" is 44 weeks, not 65219).
    figures = [float(n) for n in _WEEKS_FIGURE.findall(match_text)]
    if not figures:
        return None
    weeks = figures[-1]
    was = re.search(rf"\b(?:was|from)\s+(\d+)\s*{_WEEKS}?", text, _F)
    old = float(was.group(1)) if was else None
    detail = f"{weeks:g} wk" + (f", was {old:g}" if old else "")
    if weeks >= 20 or (old and weeks >= 2 * old and weeks >= 12):
        return Finding(HIGH, SC, "Lead time jump", detail)
    if weeks >= 12 or (old and weeks >= 1.5 * old):
        return Finding(MEDIUM, SC, "Lead time increase", detail)
    return None


def _grade_ww_move(match_text: str, text: str) -> Finding | None:
    weeks = re.findall(r"ww\s?(\d+)", match_text, _F)
    if len(weeks) < 2:
        return None
    if re.search(r"\b(?:not|instead of|rather than)\b", match_text):  # "WW17, not WW15"
        weeks.reverse()
    delta = int(weeks[-1]) - int(weeks[-2])
    if delta <= 0:
        return None
    detail = f"WW{weeks[-2]}→WW{weeks[-1]}"
    return Finding(HIGH if delta >= 3 else MEDIUM, None, "Date moved out", detail)


def _grade_stock_cover(match_text: str, text: str) -> Finding | None:
    nums = _numbers(match_text)
    if not nums:
        return None
    n = nums[0]
    weeks = n / 7 if re.search(r"day", match_text, _F) else n
    detail = f"{n:g} {'days' if weeks != n else 'wk'} of cover"
    if weeks <= 1:
        return Finding(CRITICAL, SC, "Stock about to run out", detail)
    if weeks <= 3:
        return Finding(HIGH, SC, "Low stock cover", detail)
    if weeks <= 5:
        return Finding(MEDIUM, SC, "Low stock cover", detail)
    return None


def _grade_yield(match_text: str, text: str) -> Finding | None:
    nums = _numbers(match_text)
    if not nums:
        return None
    value = nums[-1]
    target_match = _TARGET.search(text)
    target = float(target_match.group(1)) if target_match else None
    if target is not None and target <= value:
        target = None
    if target is not None:
        detail = f"{value:g}% vs target {target:g}%"
        if target - value >= 3:
            return Finding(HIGH, MQ, "Yield excursion", detail)
        return Finding(MEDIUM, MQ, "Yield below target", detail)
    if value < 90:
        return Finding(HIGH, MQ, "Possible yield excursion", f"{value:g}%")
    if value < 95:
        return Finding(MEDIUM, MQ, "Yield below typical", f"{value:g}%")
    return None


def _grade_fallout(match_text: str, text: str) -> Finding | None:
    nums = _numbers(match_text)
    if not nums:
        return None
    if nums[-1] >= 5:
        return Finding(HIGH, MQ, "Yield excursion", f"fallout {nums[-1]:g}%")
    if nums[-1] >= 2:
        return Finding(MEDIUM, MQ, "Yield below target", f"fallout {nums[-1]:g}%")
    return None


def _grade_cpk(match_text: str, text: str) -> Finding | None:
    nums = _numbers(match_text)
    if nums and nums[-1] < 1.33:
        return Finding(MEDIUM, MQ, "Process capability below target", f"Cpk {nums[-1]:g}")
    return None


def _grade_db_margin(match_text: str, text: str) -> Finding | None:
    nums = _numbers(match_text)
    if nums and nums[0] <= 3:
        return Finding(MEDIUM, CC, "Thin compliance margin", f"{nums[0]:g} dB")
    return None


def _grade_slip(match_text: str, text: str) -> Finding | None:
    if not any(ch.isascii() for ch in match_text):  # 延期 / 推迟 …: a stated postponement
        if _CJK_POSTPONED_DAYS.search(text):
            return Finding(MEDIUM, None, "Delay", "a few days")
        return Finding(HIGH, None, "Delay")
    weeks = _weeks_value(match_text)
    if weeks is None:
        return None
    detail = f"{weeks:g} wk" if weeks >= 1 else f"{round(weeks * 7)} days"
    return Finding(HIGH if weeks >= 3 else MEDIUM, None, "Delay", detail)


def _grade_big_drop(match_text: str, text: str) -> Finding | None:
    low = match_text.lower()
    if "half" in low or "halved" in low:
        return Finding(HIGH, None, "Sharp drop", "halved")
    nums = _numbers(low)
    if not nums:
        return None
    value = nums[0]
    if re.search(r"\bto\s+\d", low):  # "dropped to 28%": compare with the earlier value
        was = _WAS.search(text)
        if not was:
            return Finding(MEDIUM, None, "Drop", f"to {value:g}%")
        before = float(was.group(1))
        drop = (before - value) / before * 100 if before else 0
        if drop <= 0:
            return None
        return Finding(HIGH if drop >= 25 else MEDIUM, None, "Sharp drop", f"{before:g}→{value:g}%")
    return Finding(HIGH if value >= 30 else MEDIUM, None, "Sharp drop", f"-{value:g}%")


def _grade_tariff(match_text: str, text: str) -> Finding | None:
    to = re.search(r"\bto\s+(\d+(?:\.\d+)?)\s*%", text, _F)
    if to and float(to.group(1)) >= 20:
        return Finding(HIGH, FI, "Tariff increase", f"to {float(to.group(1)):g}%")
    return Finding(MEDIUM, FI, "Tariff change")


HANDLERS: dict[str, Callable[[str, str], Finding | None]] = {
    "lead_time": _grade_lead_time,
    "ww_move": _grade_ww_move,
    "stock_cover": _grade_stock_cover,
    "yield": _grade_yield,
    "fallout": _grade_fallout,
    "cpk": _grade_cpk,
    "db_margin": _grade_db_margin,
    "slip": _grade_slip,
    "big_drop": _grade_big_drop,
    "tariff": _grade_tariff,
}
