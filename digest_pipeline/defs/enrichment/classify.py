"""Rules for ``urgency``, ``category`` and ``priority_level`` of a message.

Wording lists are regex fragments matched case-insensitively, except acronyms that are ordinary
words in lower case (``CE``, ``UL``, ``PO``, ``CM``, ``MP``...), which are wrapped in ``(?-i:…)``.
Each of the two classifiers is one compiled alternation scanned once over the text; the named
group that matched says which list the hit came from.

Urgency is negation-aware: a trigger preceded within three words by "no", "not", "never",
"without"… does not count ("not urgent", "no shortage after all"); calm wording ("no rush",
"fire drill", "whenever") lowers it by a level and caps it at medium, and resolution wording ("line is back up",
"resolved", "false alarm") lowers it by two levels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from digest_pipeline.defs.enrichment.taxonomy import CATEGORIES, LEVELS

# --- urgency -------------------------------------------------------------------------------

_CALM = (
    r"no rush",
    r"no hurry",
    r"not (?:an? )?(?:urgent|emergency|blocker|big deal)",
    r"non[- ]?urgent",
    r"nothing urgent",
    r"low[- ]priority",
    r"whenever(?: you(?: can|'re free| have time))?",
    r"when you (?:get a chance|have (?:a sec|time|a minute))",
    r"no action (?:needed|required)",
    r"(?-i:FYI)|fyi",
    r"fire drill",
    r"fire alarm test",
    r"false alarm",
    r"just (?:a )?(?:test|checking)",
    r"not time[- ]sensitive",
)
_RESOLVED = (
    r"(?:is|are|was|were|now) (?:resolved|fixed|sorted|closed|cleared|released)",
    r"(?:line|lines|production|factory|site|smt) (?:is |are )?back (?:up|online|running)",
    r"back up and running",
    r"back online",
    r"all good now",
    r"all clear",
    r"no longer (?:an issue|a problem|blocked|needed|at risk)",
    r"after all",
    r"issue (?:is )?gone",
    r"unblocked",
    r"recovered",
    r"resolved",
    r"root[- ]caused and fixed",
)
_CRITICAL = (
    r"lines? (?:is |are |went |going )?down",
    r"(?:line|lines|production|factory|smt|assembly) (?:is |are |has |have )?"
    r"(?:stopped|halted|shut ?down)",
    r"stop[- ]ship",
    r"ship[- ]hold",
    r"(?:product |field |safety )?recall",
    r"safety (?:issue|hazard|incident|risk)",
    r"(?:battery |cell )?(?:fire|smoke|thermal runaway|explod\w*|swelling|swollen)",
    r"(?-i:SEV ?[01]|P0)|sev ?[01]\b",
    r"customers? (?:is |are )?(?:down|dead in the water)",
    r"(?:cannot|can't|won't|unable to) ship",
    r"miss(?:ing)? (?:the )?(?:launch|ship date|holiday|christmas)",
    r"(?:launch|ship date) (?:is )?(?:at risk|in jeopardy|slipping|blown)",
    r"(?:zero|no) (?:inventory|stock|parts) left",
    r"all hands",
    r"emergency",
    r"hard down",
    r":sos:",
)
_HIGH = (
    r"urgent(?:ly)?",
    r"asap",
    r"immediately",
    r"right (?:away|now)",
    r"blocker",
    r"blocking",
    r"blocked",
    r"escalat\w+",
    r"critical",
    r"(?:by |before )?(?:eod|cob|end of (?:the )?day)",
    r"(?:by|before) (?:today|tonight|noon|this afternoon|this evening)",
    r"shortages?",
    r"(?:on |under )allocation",
    r"(?-i:EOL|NRND|LTB)",
    r"end[- ]of[- ]life",
    r"last[- ]time[- ]buy",
    r"fail(?:ed|s|ing|ure|ures)?",
    r"slip(?:ped|ping|s|page)?",
    r"missed",
    r"(?:quality|qa|ship(?:ment)?|customs|credit) hold",
    r"stuck in customs",
    r"(?-i:SEV ?2|P1)",
    r"(?:5[0-9]|[6-9][0-9]) ?(?:weeks?|wks?)",
    r"yield (?:drop|crash|tank|dip|is down|fell)\w*",
    r"churn\w*",
    r"cancel(?:led|ed|ing|s)? (?:the |their |our )?(?:order|po|contract|deal)",
    r":rotating_light:|:fire:|:bangbang:|:red_circle:|:siren:|:alert:|:rotating-light:",
)
_MEDIUM = (
    r"soon",
    r"this week",
    r"(?:by|before|until|on|next) (?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)"
    r"(?:day)?",
    r"tomorrow",
    r"today",
    r"tonight",
    r"deadline",
    r"due",
    r"risk\w*",
    r"concern\w*",
    r"issues?",
    r"problems?",
    r"delay\w*",
    r"behind",
    r"late",
    r"lead[- ]?times?",
    r"please (?:review|confirm|check|advise|approve)",
    r"need (?:to|a|an|the|your)",
    r"heads[- ]up",
    r"priority",
    r"defects?",
    r"rework",
    r"(?-i:WW) ?\d{1,2}",
    r":warning:|:exclamation:|:eyes:",
)
_NEGATION_RE = re.compile(
    r"(?:\b(?:no|not|never|without|zero|nothing|none|isn't|wasn't|aren't|weren't|don't|"
    r"doesn't|didn't|won't|isnt|wasnt|dont|doesnt|didnt|wont|hardly)|n't)\W+(?:[\w'-]+\W+){0,2}$",
    re.I,
)


def _group(name: str, patterns: Iterable[str]) -> str:
    return f"(?P<{name}>" + "|".join(f"(?:{p})" for p in patterns) + ")"


# Calm and resolution first: at the same position "fire drill" must win over "fire".
_URGENCY_RE = re.compile(
    r"(?<![\w-])(?:"
    + "|".join(
        (
            _group("calm", _CALM),
            _group("resolved", _RESOLVED),
            _group("critical", _CRITICAL),
            _group("high", _HIGH),
            _group("medium", _MEDIUM),
        )
    )
    + r")(?![\w-])",
    re.I,
)
_RANK = {"medium": 1, "high": 2, "critical": 3}
BROADCAST_MENTIONS = frozenset({"here", "channel", "everyone"})
ALARM_REACTIONS = frozenset(
    {
        "rotating_light",
        "rotating-light",
        "fire",
        "sos",
        "bangbang",
        "exclamation",
        "red_circle",
        "siren",
        "alert",
        "warning",
        "rotating_light_red",
        "this-is-fine-fire",
        "scream",
    }
)


def urgency(
    text: str,
    *,
    mentions: Sequence[str] = (),
    reactions: Iterable[str] = (),
) -> str:
    """One of :data:`LEVELS` from the wording, @here/@channel mentions and alarm reactions."""
    score = 0
    calm = resolved = False
    for m in _URGENCY_RE.finditer(text):
        kind = m.lastgroup
        if kind == "calm":
            calm = True
            continue
        if kind == "resolved":
            resolved = True
            continue
        start = m.start()
        if start and _NEGATION_RE.search(text, max(0, start - 40), start):
            continue
        rank = _RANK[kind]  # type: ignore[index]
        if rank > score:
            score = rank
    boosts = 0
    if mentions and not BROADCAST_MENTIONS.isdisjoint(mentions):
        boosts += 1
    if reactions and not ALARM_REACTIONS.isdisjoint(reactions):
        boosts += 1
    if boosts:
        # Attention signals raise a level but alone never reach critical, except when a
        # high-wording message is both broadcast and flagged with alarm reactions.
        score = 3 if score == 2 and boosts == 2 else max(score, min(score + 1, 2))
    if calm:
        score = max(0, min(score, 2) - 1)
    if resolved:
        score = max(0, score - 2)
    return LEVELS[score]


# --- category ------------------------------------------------------------------------------

# category → (strong wording, weight 2; weak wording, weight 1)
_CATEGORY_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "supply_chain": (
        (
            r"shortages?",
            r"allocation",
            r"lead[- ]?times?",
            r"(?-i:EOL|PCN|NRND|LTB|MOQ|EOL'd)",
            r"end[- ]of[- ]life",
            r"last[- ]time[- ]buy",
            r"(?:sole|single|second|alternate|alt)[- ]sourced?",
            r"alternates?(?: parts?)?",
            r"distributors?",
            r"disti",
            r"back[- ]?order(?:ed|s)?",
            r"out of stock",
            r"suppliers?",
            r"vendors?",
            r"procurement",
            r"sourcing",
            r"obsolete|obsolescence",
            r"decommit(?:ted)?",
            r"min(?:imum)? order(?: quantity)?",
            r"fab capacity",
            r"wafer (?:starts|capacity)",
        ),
        (
            r"parts?",
            r"components?",
            r"(?-i:BOM)",
            r"inventory",
            r"stock",
            r"reels?",
            r"wafers?",
            r"(?:Digi-?Key|Mouser|Arrow|Avnet|LCSC|WPG)",
            r"(?-i:PMIC|MCU|SoC|DRAM|MLCC|LPDDR\w*)",
            r"capacitors?|resistors?|connectors?|inductors?|crystals?",
            r"buffer stock|safety stock",
        ),
    ),
    "manufacturing_quality": (
        (
            r"yields?",
            r"defects?|defective",
            r"(?-i:FA|8D|DPPM|PPM|SMT|AOI|ICT|FCT|NCR|CAPA|CM|EMS|OQC|IQC|FPY)",
            r"failure analysis",
            r"lines? (?:is |are )?down",
            r"stop[- ]ship",
            r"rework(?:ed)?",
            r"scrap(?:ped)?",
            r"reflow",
            r"solder\w*",
            r"voids?|voiding",
            r"tombstoning",
            r"x-?ray",
            r"contract manufacturer",
            r"fallout",
            r"root cause",
            r"quality hold|qa hold",
            r"cosmetic",
            r"cracks?|cracked",
            r"drop test",
            r"burn-?in",
            r"reliability",
            r"field failures?",
            r"production line",
            r"(?:Foxconn|Pegatron|Jabil|Celestica|Sanmina|Luxshare|Wistron|Compal|Quanta)",
        ),
        (
            r"line",
            r"factory",
            r"production",
            r"assembly",
            r"fixtures?",
            r"stations?",
            r"quality",
            r"(?-i:QA|QC)",
            r"units? failed",
            r"(?-i:Flex)",
        ),
    ),
    "certification_compliance": (
        (
            r"(?-i:FCC|CE|UL|ISED|RoHS|ROHS|REACH|PSE|TELEC|KC|CCC|SRRC|NCC|BIS|ANATEL|RCM|UKCA"
            r"|WEEE|SAR|EMC|EMI|ESD|TCB|PTCRB|BQB|GCF|SVHC|DoC)",
            r"rohs",
            r"ic (?:id|cert\w*)",
            r"emissions?",
            r"test lab",
            r"certif\w*",
            r"compliance|compliant|non-?compliant",
            r"regulatory",
            r"homologation",
            r"radiated|conducted",
            r"pre-?scan",
            r"notified body",
            r"declaration of conformity",
            r"prop(?:osition)? 65",
            r"un ?38\.3",
            r"62368(?:-1)?",
            r"safety (?:test|testing|standard)",
            r"giteki",
        ),
        (r"labs?", r"test reports?", r"grants?", r"submission", r"approvals?"),
    ),
    "schedule_launch": (
        (
            r"(?-i:EVT|DVT|PVT|MP|NPI|GA)\d?",
            r"launch\w*",
            r"slip(?:s|ped|page|ping)?",
            r"schedules?|scheduled",
            r"milestones?",
            r"gate review",
            r"ship date",
            r"go-?live",
            r"ramp(?:ing)?",
            r"build plan",
            r"pull[- ]in",
            r"push(?:ed)? out",
            r"timeline",
            r"mass production",
            r"(?:pilot|engineering) (?:run|build)",
        ),
        (
            r"delay\w*",
            r"dates?",
            r"deadlines?",
            r"(?-i:WW) ?\d{1,2}",
            r"roadmap",
            r"on track",
            r"behind",
            r"release",
        ),
    ),
    "customer_commercial": (
        (
            r"customers?",
            r"clients?",
            r"deals?",
            r"pricing",
            r"quotes?",
            r"churn\w*",
            r"(?-i:RMA)s?",
            r"contracts?",
            r"renewals?",
            r"opportunit(?:y|ies)",
            r"design[- ]wins?",
            r"competitors?",
            r"discounts?",
            r"(?-i:SOW|LOI|RFQ|RFP)",
            r"account (?:manager|team|review)",
            r"(?:lost|won|closed) the (?:deal|account|order)",
            r"escalat\w+",
        ),
        (r"price", r"sales", r"pipeline", r"orders?", r"demo", r"accounts?", r"returns?"),
    ),
    "logistics": (
        (
            r"shipments?",
            r"shipping",
            r"customs",
            r"freight",
            r"ports?",
            r"(?-i:HTS|FOB|DDP|EXW|DAP|AWB|BOL|3PL)",
            r"tariffs?",
            r"(?:customs )?broker",
            r"containers?",
            r"forwarders?",
            r"(?-i:DHL|FedEx|UPS|Maersk|Kuehne|Expeditors)",
            r"tracking (?:number|no)",
            r"warehouses?",
            r"incoterms?",
            r"dut(?:y|ies)",
            r"clearance",
            r"bill of lading",
            r"pallets?",
            r"in transit",
            r"deliver(?:y|ies|ed)",
        ),
        (r"ship(?:ped|s)?", r"trucks?", r"carriers?", r"(?:air|ocean|sea)"),
    ),
    "engineering_design": (
        (
            r"schematics?",
            r"layout",
            r"firmware",
            r"(?-i:FW|ECO|ECN|DFM|DFT|BSP|CAD|SI|PI)",
            r"thermals?",
            r"bring-?up",
            r"re-?spin|board spin",
            r"design review",
            r"simulations?",
            r"signal integrity|power integrity",
            r"drivers?",
            r"bugs?",
            r"regressions?",
            r"mechanical",
            r"tolerances?",
            r"stack-?up",
            r"impedance",
            r"datasheet",
            r"errata",
            r"rev [a-z]\d?",
            r"overheating|overheats?",
            r"brown-?outs?|resets?",
        ),
        (r"design", r"engineering", r"spec\w*", r"prototypes?", r"tests?", r"testing"),
    ),
    "financial": (
        (
            r"budgets?",
            r"costs?",
            r"(?-i:PO|POs|COGS|NRE|OPEX|CAPEX|opex|capex)",
            r"purchase orders?",
            r"invoices?",
            r"margins?",
            r"payments?",
            r"spend",
            r"accruals?",
            r"write-?offs?",
            r"cash",
            r"revenue",
            r"credit hold",
            r"net ?(?:30|45|60|90)",
            r"overdue",
            r"prepay(?:ment)?",
            r"price increase",
        ),
        (r"[$€£¥] ?\d[\d,.]*\s?[km]?", r"expenses?", r"finance", r"forecast\w*"),
    ),
}
_CONSEQUENCES = frozenset({"schedule_launch", "customer_commercial"})
_CATEGORY_ORDER = {c: i for i, c in enumerate(CATEGORIES)}
_CATEGORY_GROUPS: dict[str, tuple[str, int]] = {}
_parts: list[str] = []
for _category, (_strong, _weak) in _CATEGORY_WORDS.items():
    for _weight, _patterns in ((2, _strong), (1, _weak)):
        _name = f"{_category}__{_weight}"
        _CATEGORY_GROUPS[_name] = (_category, _weight)
        _parts.append(_group(_name, _patterns))
_CATEGORY_RE = re.compile(r"(?<![\w-])(?:" + "|".join(_parts) + r")(?![\w-])", re.I)
del _parts


def category(text: str) -> str:
    """One of :data:`CATEGORIES`: the most-weighted topic; ties go to the earlier category.

    Schedule and customer wording usually describes a consequence: when a cause category
    (supply, manufacturing, certification, logistics, engineering, financial) has strong wording
    too, the cause wins, so "DVT slips because the PMIC is on allocation" is supply chain.
    A message with only weak wording ("the line", "a test") must reach weight 2.
    """
    scores: dict[str, int] = {}
    for m in _CATEGORY_RE.finditer(text):
        cat, weight = _CATEGORY_GROUPS[m.lastgroup]  # type: ignore[index]
        scores[cat] = scores.get(cat, 0) + weight
    if not scores:
        return "none"
    candidates = scores
    if not _CONSEQUENCES.isdisjoint(scores):
        causes = {c: s for c, s in scores.items() if c not in _CONSEQUENCES and s >= 2}
        if causes:
            candidates = causes
    best = max(candidates.items(), key=lambda kv: (kv[1], -_CATEGORY_ORDER[kv[0]]))
    return best[0] if best[1] >= 2 else "none"


# --- priority ------------------------------------------------------------------------------

_BASE_PRIORITY = {"low": 1, "medium": 3, "high": 4, "critical": 5}


def priority_level(
    urgency_level: str,
    category_name: str,
    *,
    mentions: Sequence[str] = (),
    reaction_count: int = 0,
    reply_count: int = 0,
) -> int:
    """1 (ignore) … 5 (act now).

    Urgency sets the base (low 1, medium 3, high 4, critical 5). A low-urgency message on a
    business topic is 2, so it ranks above chatter; a medium one with no topic drops to 2.
    Engagement — a broadcast mention, five or more reactions, or five or more replies — adds one
    to low and medium messages: the team itself is telling us it matters.
    """
    level = _BASE_PRIORITY.get(urgency_level, 1)
    has_topic = category_name != "none"
    if urgency_level == "low" and has_topic:
        level = 2
    elif urgency_level == "medium" and not has_topic:
        level = 2
    if level < 4 and (
        reaction_count >= 5
        or reply_count >= 5
        or (mentions and not BROADCAST_MENTIONS.isdisjoint(mentions))
    ):
        level += 1
    return min(5, max(1, level))
