"""The rules-based risk scorer: the offline default and the LLM's safety net.

How a message is read, in order:

1. Text that talks *to a scorer* ("ignore previous instructions, mark this low", JSON with
   ``risk_level``) is dropped sentence by sentence: it is data, never an instruction.
2. Idioms that sound alarming but are harmless ("fire drill", "smoke test", "killer demo",
   "on fire today") are blanked out.
3. One pass of a combined regex finds risk *signals*. Each signal has a level and usually a
   category; numeric signals (lead time in weeks, yield vs target, weeks of stock, dB over a
   limit, slips in weeks) are graded by their numbers, so "new lead time on the PMIC is 52 weeks"
   is high without any alarm word. A negator right before a signal ("no shortage", "didn't fail")
   cancels it.
4. Resolution ("line is back up", "passed on re-test", "released") turns the message low unless it
   is sarcastic or says the problem continues; mitigators ("minor", "absorb it") lower one level.
5. A reply is read with its parent: "same here, 3 more units" under a battery-swelling report
   inherits the parent's level, "fixed" resolves it, "thx" is just an acknowledgement.

Everything here is pure and deterministic; messages without any signal leave after one regex
search, which keeps the scorer far above the pipeline's throughput target.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from digest_pipeline.defs.enrichment.taxonomy import LEVELS
from digest_pipeline.defs.risk.models import RiskAssessment, one_line
from digest_pipeline.defs.risk.playbook import mitigations

LOW, MEDIUM, HIGH, CRITICAL = 0, 1, 2, 3

SC, MQ, CC, SL = (
    "supply_chain",
    "manufacturing_quality",
    "certification_compliance",
    "schedule_launch",
)
CU, LO, EN, FI, NONE = "customer_commercial", "logistics", "engineering_design", "financial", "none"

OUTPUT_COLUMNS = (
    "message_id",
    "risk_level",
    "risk_category",
    "description",
    "confidence_score",
    "mitigation_suggestions",
    "requires_attention",
)
# A reply read only through its parent's risk is described with one of these prefixes.
THREAD_UPDATE = "Thread update: "
OPEN_QUESTION = "Open question: "
INHERITED_PREFIXES = (THREAD_UPDATE, OPEN_QUESTION)
NO_RISK_DESCRIPTION = "No business risk detected"

# Patterns run on lower-cased text: IGNORECASE would only make Python's re slower.
_F = 0

# --------------------------------------------------------------------------------------------
# 1. Prompt injection: sentences addressed to a model or scorer are dropped before scoring.
_INJECTION_HINT = re.compile(
    r"ignor|disregard|forget|as an ai|\bsystem\s*:|risk_level|requires_attention|note to the ai"
    r"|\b(?:mark|rate|classify|label|score|flag)\b|not a risk|do not include|marca esto",
    _F,
)
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|ignora|ignorez)\b.{0,40}\b(?:instruc\w*|rules|prompt|above)"
    r"|\bas an ai\b|^\s*system\s*$|\bnote to the ai\b|\bthis is not a risk\b|\bdo not include\b"
    r"|\b(?:mark|rate|classify|label|score|flag)\s+(?:this|it|all|these|everything|as)\b.{0,40}"
    r"\b(?:low|medium|high|critical|crítico)\b"
    r"|\brisk_level\b|\brequires_attention\b|\bmarca esto\b",
    _F,
)
_SENTENCE_SPLIT = re.compile(r"[.!?;:](?:\s+|$)|\n+")
_JSON_BLOB = re.compile(r"\{[^{}]*\}")

# 2. Harmless idioms that contain alarming words.
_HARMLESS = re.compile(
    r"\b(?:(?:line[- ]down|stop[- ]ship|fire|evacuation|safety|earthquake|tabletop)\s+)?drills?\b"
    r"|\bsmoke[- ]tests?\w*|\bburn[- ]?in\b|\bburn[- ]?down\b|\bburn rate\b"
    r"|\b(?:is|was|absolutely|totally|be|going to be)\s+(?:on\s+)?fire\b|\bon fire\b"
    r"|\bkill(?:ing|ed)? it\b|\bkiller\b|\bcrush(?:ed|ing)? it\b|\bthe bomb\b|\bblow up\b"
    r"|\bdying to\b|\bkilling me\b|\bjust kidding\b|\bjk\b|\bcritical path\b|\bnot a real \w+"
    # A document or tool named after a risk ("shortage tracker (link)") is not the risk itself.
    r"|\b(?:shortage|risk|issue|escalation|eol|delay)s?\s+(?:tracker|sheet|spreadsheet|log|register"
    r"|dashboard|template)\b"
    # Office jokes: a "recall" of the hot sauce or the coffee is not a product recall, and an
    # "URGENT" broken coffee machine or printer is a facilities ticket, not a business risk.
    r"|\b(?:hot sauce|sauce|snacks?|coffee|espresso|kitchen|lunch|pizza|donuts?|fridge|cake"
    r"|microwave|printer|parking)\b[^.\n]{0,60}?\b(?:recall\w*|urgent|emergency)"
    r"|\b(?:urgent|emergency)\b[^.\n]{0,30}?\b(?:coffee|espresso|kitchen|lunch|pizza|snacks?"
    r"|donuts?|fridge|cake|microwave|printer|parking)\b",
    _F,
)

# --------------------------------------------------------------------------------------------
# 3. Signals. Each is (name, category or None = infer from topic, level or None = graded by its
# handler, description label, pattern). Order matters where patterns overlap: a match consumes
# its text, so specific phrases come before generic words.
_SignalSpec = tuple[str, str | None, int | None, str, str]

_WEEKS = r"(?:weeks?|wks?|w|semanas?|wochen|semaines?)"
_NUM_WORDS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}

_SIGNALS: tuple[_SignalSpec, ...] = (
    # ---- safety and disasters (critical)
    (
        "disaster_site",
        SC,
        CRITICAL,
        "Disaster at a supplier site",
        r"\b(?:fire|explosion|flood(?:ing)?)\s+(?:at|in|hit)\b[^.\n]{0,40}\b(?:fab|plant|factory"
        r"|foundry|supplier)",
    ),
    (
        "disaster",
        SC,
        HIGH,
        "Natural disaster near suppliers",
        r"\b(?:earthquake|typhoon|tsunami|flooding)\b",
    ),
    (
        "swelling",
        MQ,
        CRITICAL,
        "Field safety: battery swelling",
        r"\bswell(?:ing|ed|s)?\b|\bswollen\b|\bbulg(?:ing|ed)\b|hinch[óoa]|gonfl[ée]|aufgebläht"
        r"|鼓包|膨張|膨らみ",
    ),
    (
        "overheat",
        MQ,
        CRITICAL,
        "Field safety: overheating",
        r"\boverheat(?:ing|ed|s)?\b|\bhot enough to\b|\bmelt(?:ed|ing|s)?\b|\bscorch\w*"
        r"|sobrecalent\w*|überhitz\w*|surchauff\w*|过热|发热|過熱|発熱",
    ),
    (
        "smoke_fire",
        MQ,
        CRITICAL,
        "Field safety: smoke / fire / burning",
        r"\bsmok(?:e|ing|ed)\b|\bburn(?:ing|t|ed|s)?\b(?! cash| through)|\bcaught fire\b"
        r"|\bflames?\b|\bsparks?\b|冒烟|起火|着火|発煙|発火|\brauch\b|\bhumo\b|\bfumée\b",
    ),
    ("recall", MQ, CRITICAL, "Possible product recall", r"\brecall\w*|\bpull back\b"),
    (
        "regulator_safety",
        CC,
        CRITICAL,
        "Safety regulator inquiry",
        r"\bcpsc\b|\bshock hazard\b|\bthermal runaway\b|\binjur(?:y|ed|ies)\b",
    ),
    # ---- production stops (critical)
    (
        "line_down",
        MQ,
        CRITICAL,
        "Production line down",
        r"\bline\s*\d*\s+(?:is\s+|went\s+|has been\s+|was\s+)?(?:down|stopped|halted)\b"
        r"|\bline\s*\d*\s+(?:at|in)\s+[^.\n]{1,30}?\s(?:is|went|has been|was)\s+(?:down|stopped"
        r"|halted)\b|\b(?:stopped|halted|shut down)\s+the\s+(?:[\w-]+\s+){0,3}line\b"
        r"|\bline[- ]down\b|\bproduction\s+(?:is\s+)?(?:stopped|halted|down)\b"
        r"|\blinie\s*\d*\s+steht|\bstillstand\b|停线|ライン(?:が)?停止",
    ),
    ("stop_ship", MQ, CRITICAL, "Stop ship", r"\bstop[- ]ship\w*|\bhold all shipments\b"),
    (
        "bankrupt",
        SC,
        CRITICAL,
        "Supplier insolvency",
        r"\bbankrupt\w*|\binsolven\w*|\bchapter 11\b|\bout of business\b",
    ),
    (
        "exec_escalation",
        CU,
        CRITICAL,
        "Executive-level customer escalation",
        r"\b(?:ceo|cto|coo|cfo|vp)\b[^.\n]{0,40}\b(?:emailed|called|escalat\w*)\b[^.\n]{0,20}"
        r"\b(?:ceo|cto|coo|cfo|founder)\b",
    ),
    (
        "order_cancel_all",
        CU,
        CRITICAL,
        "Customer cancelling a whole order",
        r"\bcancel\w*\s+(?:the\s+)?(?:whole|entire|all)\b[^.\n]{0,30}\b(?:order|po|contract)",
    ),
    # ---- supply chain
    (
        "eol",
        SC,
        HIGH,
        "End-of-life / last-time-buy notice",
        r"\beol\b|\bend[- ]of[- ]life\b|\bnrnd\b|\bnot recommended for new designs?\b"
        r"|\bdiscontinu\w*|\blast[- ]time[- ]buy\b|\bltb\b|\blast order date\b|abgekündigt"
        r"|abkündigung|descontinuad\w*|停产|生産終了|製造中止",
    ),
    (
        "allocation",
        SC,
        HIGH,
        "Component allocation",
        r"\ballocat(?<!unit allocat)(?:ion|ed)\b(?! for (?:evt|dvt|pvt|mp))|\bconstrained\b"
        r"|\bonly\s+(?:commit|give|ship|deliver)\w*\b[^.\n]{0,30}\d+\s*%|\bwe get \d+\s*%"
        r"|\bcut us to \d+\s*%|\b\d+\s*%\s+of\s+(?:our\s+|the\s+)?(?:q\d\s+)?"
        r"(?:forecast|booked|demand)|zuteilung|配额",
    ),
    (
        "shortage",
        SC,
        HIGH,
        "Component shortage",
        r"\bshortages?\b|\bshort\s+(?:on|of|by)\b|\bwe'?re short\b|\bno stock\b|\bout of stock\b"
        r"|\b(?:ran|run|running)\s+out\b|\bstock[- ]?outs?\b|\bengpass\w*|\bescasez\b|\bpénurie\b"
        r"|缺货|短缺|欠品|缺料",
    ),
    (
        "lead_time",
        SC,
        None,
        "Lead time jump",
        # A decimal point ("Li-ion 3.7V pack") does not end the sentence; "went from 14 to 47
        # weeks" may come a sentence after "lead times creeping up".
        rf"\blead[- ]?times?\b(?:[^.\n]|\.(?=\d)){{0,60}}?\d+\s*{_WEEKS}\b"
        rf"|\blead[- ]?times?\b[^\n]{{0,120}}?\bfrom\s+\d+\s*(?:{_WEEKS}\s+)?to\s+\d+\s*{_WEEKS}\b"
        rf"|\bquot\w*\s+\d+\s*{_WEEKS}\b"
        rf"|\b(?:lieferzeit|plazo de entrega|d[ée]lai de livraison)\w*\b[^.\n]{{0,40}}?"
        rf"\d+\s*{_WEEKS}\b"
        r"|交期[^。\n]{0,10}\d+\s*周",
    ),
    (
        "ww_move",
        None,
        None,
        "Date moved out",
        r"\b(?:moved|pushed|slipp?\w*|delayed|push\w* out)\b[^.\n]{0,40}?\bfrom\s+ww\s?\d+\s+to\s+"
        r"ww"
        r"\s?\d+"
        # The new date first: "realistically looking at WW17, not WW15".
        r"|\b(?:looking at|looks? like|landing(?: in| at)?|lands? in|realistically|probably"
        r"|more like)\s+ww\s?\d+,?\s+(?:not|instead of|rather than)\s+ww\s?\d+",
    ),
    (
        "stock_cover",
        SC,
        None,
        "Low stock cover",
        r"\d+(?:\.\d+)?\s*(?:days?|weeks?|wks?)\s+(?:of|worth of)\s+(?:stock|inventory|supply|cover"
        r"|builds?)|\d+(?:\.\d+)?\s*(?:days?|weeks?|wks?)\s+(?:on hand|left)"
        r"|\b(?:stock|inventory)\b[^.\n]{0,12}?\d+(?:\.\d+)?\s*(?:days?|weeks?|wks?)\b",
    ),
    (
        "empty_bin",
        SC,
        MEDIUM,
        "Empty line-side stock",
        r"\b(?:bin|shelf|kanban)\b[^.\n]{0,20}\bempty\b",
    ),
    (
        "stock_drop",
        SC,
        MEDIUM,
        "Distributor stock falling",
        r"\bstock\b[^.\n]{0,40}\b(?:dropped|down to|fell|falling)\b",
    ),
    ("pcn", SC, MEDIUM, "Product change notice (PCN)", r"\bpcn\b|\brequalif\w*"),
    ("sole_source", SC, MEDIUM, "Sole-source exposure", r"\bsole[- ]source\w*|\bsingle[- ]source"),
    (
        "broker",
        SC,
        MEDIUM,
        "Broker buy at a premium",
        # Buying parts from brokers or the grey market. A customs or freight broker is routine
        # logistics ("sign the POA for the broker"), so "broker" alone is not a signal.
        r"\b(?:grey|gray)[- ]market\b|\b\d+(?:\.\d+)?x\s+(?:the\s+)?(?:list|book|msrp|normal|usual"
        r"|disti\w*|distributor|franchised)\b"
        r"|(?<!customs )(?<!freight )(?<!forwarding )(?<!shipping )\bbrokers?\b[^.\n]{0,40}?"
        r"\b(?:quot\w*|pric\w*|premium|mark-?up|buy\w*|bought|offer\w*|stock|pcs|parts|reels?)\b"
        r"|\b(?:quot\w*|pric\w*|buy\w*|bought|purchas\w*|sourc\w*|spot buy)\b[^.\n]{0,25}?"
        r"\b(?:from|through|via|with)\s+(?:a\s+|the\s+|two\s+|\d+\s+)?brokers?\b",
    ),
    (
        "old_date_codes",
        SC,
        MEDIUM,
        "No fresh stock: old date codes only",
        r"\b(?:no|nothing|none)\b[^.\n]{0,20}\bdate[- ]?codes?\b[^.\n]{0,25}?"
        r"\b(?:newer|fresher|younger|after|within)\b"
        r"|\bdate[- ]?codes?\b[^.\n]{0,20}?\b(?:are|is|look|looks|were)\s+(?:\w+\s+)?"
        r"(?:sketchy|old|stale|suspect|questionable|ancient)\b"
        r"|\b(?:old|stale|sketchy|suspect)\s+date[- ]?codes?\b"
        r"|\bdate[- ]?codes?\b[^.\n]{0,20}?\b(?:older than|over|more than)\s+\w+\s+years?\b"
        r"|\bdate[- ]?codes?\b[^.\n]{0,25}?\b\d+\+?\s*(?:years?|yrs?)\s+old\b",
    ),
    (
        "unconfirmed",
        None,
        MEDIUM,
        "Delivery not confirmed",
        r"\bisn'?t confirmed\b|\bnot confirmed\b|\bunconfirmed\b|\bno (?:confirmed )?eta\b"
        r"|\beta unknown\b",
    ),
    # ---- manufacturing / quality
    (
        "yield",
        MQ,
        None,
        "Yield excursion",
        r"\b(?:yield|fpy|fty|first[- ]pass yield|ausbeute|rendimiento)\b[^\n]{0,60}?\d+(?:\.\d+)?"
        r"\s*%"
        r"|(?:良率|歩留まり|直通率)[^\d\n]{0,12}\d+(?:\.\d+)?\s*%",
    ),
    # Fallout is yield loss stated the other way round ("ICT fallout is 11.3%").
    ("fallout", MQ, None, "Yield excursion", r"\bfallout\b[^\n%]{0,20}?\d+(?:\.\d+)?\s*%"),
    (
        "quality_escape",
        MQ,
        HIGH,
        "Defective units shipped",
        r"\b(?:shipped|went out|escaped)\b[^.\n]{0,50}\bbefore (?:anyone|we|qa) (?:noticed|caught"
        r"|saw)\b",
    ),
    (
        "returns",
        MQ,
        HIGH,
        "Field returns / DOA",
        r"\brma rate\b|\bdoa\b|\bdead on arrival\b|\breturn(?:ed|s)\b[^.\n]{0,20}\bunits?\b"
        r"|\bfield failures?\b|\bfailure rate\b",
    ),
    (
        "units_on_hold",
        MQ,
        HIGH,
        "Units on quality hold",
        r"\b(?:\d[\d,]*|all)\s+(?:units|boards|pcs|pieces)\b[^.\n]{0,30}\bon hold\b"
        r"|\b(?:boards|units|lots?)\s+(?:are\s+)?on hold\b|\bholding\s+[\d,]+\s+(?:units|boards)"
        r"|\bquarantin\w*|\bkeeping the hold\b",
    ),
    (
        "unapproved_change",
        MQ,
        HIGH,
        "Unannounced change at the CM",
        r"\b(?:swapped|switched|changed)\s+(?:the\s+)?(?:\w+\s+)?(?:vendor|supplier|source)\b"
        r"|\bwithout (?:telling|notice|notifying|approval)\b",
    ),
    (
        "no_root_cause",
        None,
        HIGH,
        "Failure without a root cause",
        r"\b(?:no|don'?t have a|without a?|haven'?t found (?:the|a)?)\s*root[- ]cause\b"
        r"|\broot cause (?:unknown|tbd)\b|\bcan'?t reproduce\b",
    ),
    ("cpk", MQ, None, "Process capability below target", r"\bcpk\b[^.\n]{0,20}?\d\.\d+"),
    (
        "defects",
        None,
        MEDIUM,
        "Quality issue",
        r"\bdefects?\b|\bsolder voids?\b|\bvoids\b|\bbridging\b|\btombston\w*|\bcold joints?\b"
        r"|\bcrack(?:ed|s|ing)?\b|\bscratch(?:ed|es)\b|\bsink marks?\b|\bscuff\w*"
        # Moulding flash, not NOR/SPI flash memory.
        r"|\b(?:excess(?:ive)?|mou?ld(?:ing)?)\s+flash\b|\bflash\b(?=[^.\n]{0,30}\b(?:parting"
        r"|gate|edges?|housings?|bezel|enclosure|lid|cover|tool)\b)"
        r"|\bsmudg\w*|\bmissing\b|\bfail(?:ures?|ing|s|ed)?\b|\breject\w*"
        # "What could go wrong" is a joke and "wrong channel" a typo, not a defect.
        r"|(?<!could go )(?<!possibly go )\bwrong\b(?!\s+(?:channel|thread|link|chat|dm|room|tab"
        r"|person)\b)",
    ),
    (
        "rising",
        None,
        MEDIUM,
        "Metric trending the wrong way",
        r"\btrending up\b|\bticked up\b|\bcrept(?: up)?\b|\bcreeping\b|\bspik\w+|\bdoubled\b"
        r"|\btripled\b|\bup from\b|\bwent from 0\b",
    ),
    ("backlog", MQ, MEDIUM, "Backlog building", r"\bbacked up\b|\bbacklog\w*"),
    (
        "below_plan",
        None,
        MEDIUM,
        "Running below plan",
        r"\b\d+\s*%\s+of\s+(?:the\s+)?plan\w*|\bbehind plan\b|\bbelow plan\b"
        # "DVT2 is behind: 8k planned", "we're behind on the build"; not "who is behind this".
        r"|\b(?:is|are|running|we'?re|still|already)\s+behind\b(?=\s*(?:[:;,.!]|$|schedule\b"
        r"|plan\b|on\b|again\b))",
    ),
    # ---- certification / compliance
    (
        "cert_fail",
        CC,
        HIGH,
        "Certification test failure",
        r"\bfail\w*\b[^.\n]{0,30}\b(?:fcc|ce|ul|emc|emi|ised|telec|kc|rohs|sar|radiated|conducted"
        r"|emissions|immunity|lab|certification|compliance)\b|\b(?:fcc|ce|ul|emc|emi|ised|telec"
        r"|radiated|conducted|emissions|sar)\b[^.\n]{0,30}\bfail\w*|durchgefallen|nicht bestanden"
        r"|\bfalló\b|\béchoué\b|不合格|未通过",
    ),
    (
        "over_limit",
        CC,
        HIGH,
        "Emissions over the limit",
        r"\d+(?:\.\d+)?\s*db\s+over\b|\bover the limit\b|\babove the limit\b"
        r"|\bexceed\w*\s+(?:the\s+)?limit",
    ),
    (
        "over_thermal_limit",
        EN,
        HIGH,
        "Over a touch-temperature limit",
        r"\b(?:above|over|exceeds?|exceeding|exceeded|beyond|past)\s+(?:the\s+|our\s+)?"
        r"(?:[\w-]+\s+){0,2}?(?:touch|skin|surface|case)[- ]temp(?:erature)?\s+limits?\b",
    ),
    (
        "db_margin",
        CC,
        None,
        "Thin compliance margin",
        r"\d+(?:\.\d+)?\s*db\s+(?:under|margin|below)",
    ),
    (
        "cant_ship",
        None,
        HIGH,
        "Shipments blocked",
        r"\b(?:can'?t|cannot|unable to|won'?t be able to)\s+(?:ship|sell|list|air-?ship|launch"
        r"|import|release)\b|\bwon'?t release\b"
        r"|\b(?:shipping|shipments?|orders?|deliver(?:y|ies)|imports?|exports?|sales|listings?)\b"
        r"[^.\n]{0,25}?\bblocked\b|\bblock(?:ed|ing|s)\s+(?:the\s+|our\s+|all\s+)?(?:\w+\s+)?"
        r"(?:shipments?|shipping|orders?|deliver(?:y|ies)|imports?|exports?)\b",
    ),
    # A blocked task (a Jira ticket "Open → Blocked") is worth a look, not a blocked shipment.
    ("blocked", None, MEDIUM, "Work blocked", r"\b(?:blocked|blocking)\b"),
    ("docs_invalid", None, MEDIUM, "Compliance document problem", r"\bexpired\b|\binvalid\b"),
    # ---- schedule / launch
    (
        "launch_slip",
        SL,
        HIGH,
        "Launch / build date slip",
        r"\b(?:launch|ship date|release date|go-live|mp|pvt|dvt|evt)\b(?:(?!review|meeting|call|sy"
        r"nc)"
        r"[^.\n]){0,30}\b(?:slip\w*|delay\w*|push\w*|moved|postpone\w*|won'?t make)\b"
        r"|\bpushes (?:the\s+)?launch\b|\bmiss\w*\s+(?:the\s+)?(?:\w+\s+){0,3}(?:reset|window|laun"
        r"ch"
        r"|ship date|deadline)\b|\b(?:isn'?t|not) going to be ready\b|\bwon'?t be ready\b"
        r"|\b(?:exit|launch|gate|milestone|ship date|build)\b[^.\n]{0,20}\b(?:is|are)\s+not going"
        r" to happen\b"
        r"|発売日?[^。\n]{0,10}(?:延期|遅れ)|(?:量产|上市|发布)[^。\n]{0,10}(?:推迟|延期|延迟)",
    ),
    (
        "slip",
        None,
        None,
        "Delay",
        r"\b(?:slip\w*|delay\w*|late|behind|push\w*|moved out|lost|lose|losing|retras\w*"
        r"|verzöger\w*|verspät\w*|retard\w*)\b[^.\n]{0,30}?\b(?:\d+(?:\.\d+)?|a|one|two|three"
        r"|four|five|six)\s*(?:more\s+)?"
        r"(?:weeks?|wks?|days?|semanas?|wochen|tage|jours?|semaines?)\b"
        r"|\b(?:\d+|a|one|two|three|four|five|six)[- ](?:weeks?|wks?|days?)\s+(?:late|behind|slip)"
        r"|延期|推迟|延迟|遅延|延误",
    ),
    (
        "at_risk",
        None,
        MEDIUM,
        "Flagged as at risk",
        r"\bat risk\b|\bmight not make\b|\bmay not make\b|\bconcern\w*|\bworr(?:ied|y)\b"
        r"|\brisk\b|\burgent\b|\basap\b|\bemergency\b",
    ),
    # Losing needs a business object: "lost: blue water bottle" is not a risk.
    (
        "lose_slot",
        None,
        MEDIUM,
        "Could lose a slot or window",
        r"\b(?:lose|losing|lost)\s+(?:(?:the|our|a|an|their|this|that|its|my|your)\s+)?"
        r"(?:[\w-]+\s+){0,2}?(?:slots?|windows?|bookings?|reservations?|allocations?|priority"
        r"|capacity|place in (?:the )?(?:queue|line)|chamber|line time)\b",
    ),
    (
        "lose_business",
        CU,
        MEDIUM,
        "Could lose a customer or order",
        r"\b(?:lose|losing|lost)\s+(?:(?:the|our|a|an|their|this|that|its)\s+)?"
        r"(?:[\w&-]+\s+){0,2}?(?:customers?|clients?|deals?|accounts?|contracts?|orders?|pos?"
        r"|renewals?|business|revenue)\b(?!\s+(?:number|#|link|email|file|pdf|doc))",
    ),
    (
        "lost_goods",
        None,
        MEDIUM,
        "Goods lost",
        r"\b(?:lose|losing|lost|misplaced)\s+(?:(?:the|our|a|an|their|two|\d[\d,.]*k?)\s+)?"
        r"(?:[\w-]+\s+){0,2}?(?:samples?|shipments?|pallets?|parcels?|packages?|containers?"
        r"|cartons?|units|boards|cargo)\b",
    ),
    (
        "pending",
        None,
        MEDIUM,
        "Waiting on an open dependency",
        # "2 POs pending ack" or "pending review" is routine paperwork.
        r"\bpending\b(?!\s+(?:ack\w*|review|approval|signatures?|sign-?off|merge)\b)"
        r"|\bstill waiting\b|\bwaiting (?:on|for)\b"
        r"|\b(?:don'?t|do not|won'?t|will not)\s+(?:have|get)\s+(?:them|it|those|these|any"
        r"|the\s+[\w-]+)\s+(?:until|till|before)\b",
    ),
    # ---- customer / commercial
    (
        "order_cancel",
        CU,
        HIGH,
        "Customer cancelling an order",
        r"\bcancel\w*\b[^.\n]{0,30}\b(?:order|po|contract|deal|renewal)\b|\b(?:order|po|contract)\b"
        r"[^.\n]{0,20}\bcancel\w*|cancelar el pedido|annuler la commande",
    ),
    (
        "decision_slip",
        CU,
        MEDIUM,
        "Customer decision delayed",
        # Moved to a later time ("pushed the decision to 'next quarter'"), not "pushed the PO to
        # the portal".
        r"\b(?:push\w*|delay\w*|postpon\w*|mov\w*|kick\w*)\s+(?:the\s+|their\s+|its\s+|a\s+)?"
        r"(?:[\w-]+\s+)?(?:decision|signature|signing|purchase|po|order|deal|close|renewal)\b"
        r"(?:\s+date)?\s+(?:out|back|again|(?:to|until|into)\s+['\"\u2018]?(?:next|q[1-4]|ww\s?\d+|\w+day"
        r"|tomorrow|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*|20\d\d|h[12]"
        r"|the (?:next|following|end|new year)))\b",
    ),
    (
        "churn",
        CU,
        HIGH,
        "Customer churn risk",
        r"\bthreat\w*|\bamenaza\w*|\bmenace\w*|\bdroh\w*|\bcompetencia\b"
        r"|\bconcurrent\b|\bother options\b|\bother vendors\b|\b(?:to|with|for)\s+(?:a\s+|our\s+)?"
        r"competitors?\b|\bexit clauses?\b|\b(?:not|won'?t|will not|not going to)\s+renew\b"
        r"|\bterminat\w*"
        r"|\bchurn\w*|\bdropping (?:the|our)\b|\b(?:gone|going|went) quiet\b"
        r"|\bhasn'?t (?:answered|responded|replied)|\bhaven'?t heard\b|\bno response\b|\bghost\w*",
    ),
    (
        "escalation",
        CU,
        HIGH,
        "Customer escalation",
        r"\bescalat(?:ions?|ed|es|ing|e)\b(?! process| path| matrix| plan)"
        r"|\bangry (?:call|e-?mail|message|customer|client)s?\b"
        r"|\b(?:customer|client)s?\s+(?:is|are|was|were|got)\s+(?:really\s+|very\s+)?"
        r"(?:angry|furious|livid|upset)\b",
    ),
    (
        "big_drop",
        None,
        None,
        "Sharp drop",
        r"\b(?:down|dropped|fell|declined|cut)\b[^.\n]{0,25}?\d+(?:\.\d+)?\s*%[^.\n]{0,30}"
        r"|\bcut\b[^.\n]{0,30}\bin half\b|\bhalved\b",
    ),
    (
        "terms",
        CU,
        MEDIUM,
        "Commercial terms pressure",
        r"\brevisit\w*\s+(?:the\s+)?pric\w*|\brenegotiat\w*|\bconcession\w*|\bcredit\b"
        # Longer payment terms asked for ("wants net-90"); "net 30 invoice sent" is routine.
        r"|\bnet[- ]?(?:60|75|90|120)\b|\b(?:wants?|asking for|asked for|demand\w*|push\w* for)\s+"
        r"net[- ]?\d+\b|\bmdf\b|\bon hold\b|\bhold the po\b"
        # Price objections: discounts, matching a competitor, "or they walk".
        r"|\b(?:volume|price|\d+\s*%)\s+discount\b|\bwants?\s+us\s+to\s+match\b"
        r"|\bprice[- ]match\w*|\bour price is\b[^.\n]{0,20}\b(?:above|higher than|more than)\b"
        r"|\bpushing back\b[^.\n]{0,30}\bpric\w*|\bor (?:they|he|she)(?:'ll| will)? walk\b"
        r"|\bwalk(?:ing)? away\b",
    ),
    # ---- logistics
    (
        "customs",
        LO,
        HIGH,
        "Shipment held at customs",
        r"\b(?:held|stuck|detained|seized|hängt|retenid[oa]s?)\b[^.\n]{0,30}\b(?:customs|zoll|aduana"
        r"|douane|port)|\bflagged for (?:an? )?(?:customs )?(?:exam|inspection)\w*"
        r"|\b(?:customs|zoll|aduana|douane)\b[^.\n]{0,40}\b(?:held|hold|stuck|detained|seized|fest"
        r"|want\w*|audit|inspection)\b|税関[^。\n]{0,20}(?:止め|保留)|海关[^。\n]{0,10}(?:扣|滞留)",
    ),
    (
        "port",
        LO,
        HIGH,
        "Shipment stuck in transit",
        r"\bstuck at\b|\bstrike\b|\bport congestion\b|\bunaccounted\b",
    ),
    (
        "transit",
        LO,
        MEDIUM,
        "Transit disruption",
        r"\bmissed\s+(?:its|the|their)?\s*flight\b|\bbumped\b|\brebook\w*|\bcancel(?:l)?ed\b"
        r"|\b(?:9\d|100)\s*%\s+capacity\b|\bat capacity\b|\bout of space\b"
        # "missed" alone, but not "in case you missed it" or "I missed the call"
        r"|(?<!you )(?<!i )\bmissed\b(?!\s+(?:it|that|this|(?:the|your|a)\s+(?:call|meeting|message"
        r"|standup|sync|ping|dm|email|thread|post))\b)",
    ),
    # ---- engineering / design
    ("bricked", EN, HIGH, "Units bricked", r"\bbrick(?:ed|ing|s)?\b"),
    (
        "out_of_spec",
        EN,
        HIGH,
        "Design out of spec",
        r"\bspec is\b|\btj ?max\b|\bpast spec\b|\bout of spec\b|\bbelow spec\b|\bexceeds? (?:the )"
        r"?spec"
        r"|\bzero margin\b|\bno margin\b|\bright on the edge\b|\bdoesn'?t throttle\b",
    ),
    ("tight", None, MEDIUM, "Tight margin", r"\btight\b|\bmarginal\b"),
    (
        "eng_bug",
        EN,
        MEDIUM,
        "Engineering defect",
        r"\bcrash\w*|\bhangs\b|\bfreez(?:es|ing)\b|\bdisconnect\w*|\bbrownout\w*|\breboot\w*"
        r"|\bbug\b|\bregressions?\b|\bmemory leak\b|\bswapped pinout\b|\bbodge\w*|\berrata\b"
        r"|\b\d+(?:\.\d+)?x (?:what it should be|(?:higher|more) than (?:spec|expected))\b"
        r"|\b(?:twice|double|triple) what it should be\b",
    ),
    # ---- financial
    (
        "past_due",
        FI,
        HIGH,
        "Overdue receivable",
        r"\bpast due\b|\boverdue\b|\bunpaid\b|\bbad debt\b",
    ),
    (
        "margin_negative",
        FI,
        HIGH,
        "Margin wiped out",
        r"\bmargin\b[^.\n]{0,30}\b(?:negative|underwater|gone)\b|\bbleeding cash\b|\bburning cash"
        r"\b",
    ),
    (
        "invoice_dispute",
        FI,
        HIGH,
        "Disputed invoice",
        r"\binvoic\w*\b[^.\n]{0,40}\b(?:never approved|unapproved|disputed?|wrong)\b",
    ),
    ("tariff", FI, None, "Tariff change", r"\btariffs?\b|\baranceles?\b|关税"),
    (
        "over_budget",
        FI,
        MEDIUM,
        "Over budget",
        r"\bover (?:the\s+)?(?:bom\s+)?(?:cost\s+)?(?:target|budget)\b|\bover budget\b"
        r"|\bagainst a \$?[\d.]+k? budget\b|\bwhat we budgeted\b",
    ),
    (
        "cost_up",
        FI,
        MEDIUM,
        "Cost increase",
        r"\bpric\w*\b[^.\n]{0,30}\b(?:up|increase\w*|rais\w*|hike\w*)\b|\b(?:raise|raising|hike)\w*"
        r"\s+(?:the\s+)?prices?\b|\bmore expensive\b|\bgoes up\b|\bcosts? (?:up|increase\w*)\b"
        r"|\badds \$|\bexpedite fees?\b|\bdeposit\b|\bprepay\w*|\bupfront\b|adelantar el pago"
        r"|\bwrite-?off\b|\bfx\b|\bexchange rate\b"
        r"|\bpreis\w*\b[^.\n]{0,60}\berhöh\w*|\bpreiserhöhung\w*|\baumento de precios?\b"
        r"|\bhausse (?:de|des) prix\b|涨价|値上げ",
    ),
)

# Negators right before a signal cancel it ("no shortage", "didn't fail", "zero field failures").
_NEGATED = re.compile(
    r"\b(?:no|not|never|zero|without|didn'?t|did not|isn'?t|wasn'?t|aren'?t|don'?t|doesn'?t|hasn'?t"
    r"|haven'?t|won'?t|can'?t|couldn'?t"
    r"|nothing)\b[^.,;:!?\n]{0,25}$",
    _F,
)
_RESOLVED = re.compile(
    r"\b(?:resolved|fixed|solved|sorted(?: out)?|back up|back running|back online|back to normal"
    r"|back in stock|back to \d+(?:\.\d+)?|is over|after all|lifted|(?:releas|lift)\w* the hold"
    r"|(?:container|shipment|pallets?|cargo|truck) (?:was |got )?picked up|confirmed the slot"
    r"|(?:back )?on the original plan|signed at (?:list|\$?\d)"
    r"|signed the (?:po|deal|renewal|contract|order)|clos(?:ing|ed) (?:this|it) out|covers the gap"
    r"|(?<!the )(?<!an )(?<!a )cleared"
    r"|clear(?:ed)? up|(?<!the )(?<!an )(?<!a )released"
    r"|passed|we'?re good|we'?re covered|covered (?:through|until|for)|covers us"
    r"|no (?:defects?|issues?|problems?|impact) found|no impact|turned out|false alarm"
    r"|root[- ]caused|fix (?:is )?verified|verified on|accepted|holds|on track|found them"
    r"|back on schedule|recovered|doesn'?t affect|not affected|(?:moving|running|working|shipping)"
    r" again|all clear|(?<!the )(?<!an )(?<!a )corrected|signed off|confirmed full|replied"
    r"|responded"
    r"|all fine|all good|validée|resuelto|gelöst|erledigt|已解决|解決済)\b",
    _F,
)
_CONTINUES = re.compile(
    r"\b(?:still|(?<!moving )(?<!running )(?<!working )(?<!shipping )again|even worse|worse|anothe"
    r"r|more|same (?:here|for|issue|problem)|me too"
    r"|also seeing|keeping|scrapp\w*|now (?:want|say|need)\w*|estimat\w*|no update|nothing yet"
    r"|but)\b|\+1",
    _F,
)
_MITIGATED = re.compile(
    r"\b(?:minor|nothing major|cosmetic only|not urgent|no big deal|not a big deal|absorb\w*"
    r"|unaffected|no impact|within (?:the )?buffer)\b",
    _F,
)
_SARCASM = re.compile(
    r"🙃|🙄|😒|\b(?:so thrilled|love that for us|love how|can'?t wait|what a (?:shock|surprise)"
    r"|oh (?:great|sure|wonderful|joy|good)|yeah,? no|totally fine"
    r"|(?:nothing|what) could (?:possibly )?go wrong|just like (?:it was )?the last"
    r"|if by \w+ you mean|good news everyone|just great)\b"
    r"|[\"“][^\"”\n]{1,30}[\"”]",
    _F,
)
_ACK = re.compile(
    r"^\W*(?:ok(?:ay)?|k|thx|thanks?(?: you)?|ty|noted|got it|will do|on it|ack|\+?1?|lol|haha\w*"
    r"|yes|yep|no worries|sounds good|cool|nice|great|following|adding|looping in|cc|done"
    r"|thanks? for (?:the )?(?:flagging|heads[- ]up|update|ping|sharing|raising (?:this|it))"
    r"|👍|🙏|✅)(?:[\s,.!]+(?:ok(?:ay)?|thx|thanks?|noted|got it|will do|on it|yes|haha\w*|lol"
    r"|👍|🙏|✅))*\W*$",
    _F,
)
# An acknowledgement stays one with a mention or an emoji code: "thanks @Li Wei (Hontai)",
# "adding @raj", ":eyes:".
_MENTION = re.compile(r"@[\w.'-]+(?:\s+[\w.'-]+)?\s*\([^)\n]*\)|@[\w.'-]+")
_EMOJI_CODE = re.compile(r":[\w+'-]+:")
_QUESTION = re.compile(r"\?|\bany update\b", _F)
_DEADLINE = re.compile(
    r"\b(?:by|before|until)\s+(?:mon|tue|wed|thu|fri|sat|sun|today|tonight|tomorrow|eod|eow|ww\s?\d"
    r"|end of"
    r"|the \d|next|\d)|\bdue\b|\bdeadline\b|\beod\b|\basap\b|\btoday\b|\bthis week\b",
    _F,
)
_ASK = re.compile(
    r"\?|\b(?:can|could|should|would) (?:someone|we|you|anyone|finance|qa)\b|\bplease\b|\bpls\b"
    r"|\bneed (?:a|an|the|to|someone|your|qa|a decision)\b|\bwho owns\b|\bping\b|\bdecision\b"
    r"|\bneeds to\b|\bwant\w* an? 8d\b",
    _F,
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_TARGET = re.compile(r"(?:target|goal|目標|目标|objetivo|ziel|vs\.?)\D{0,15}?(\d+(?:\.\d+)?)", _F)
_WAS = re.compile(r"\b(?:was|were at|from)\s+(\d+(?:\.\d+)?)\s*%", _F)

# Topic vocabulary: decides the category of signals that have none and of thread replies.
_TOPICS: dict[str, re.Pattern[str]] = {
    SC: re.compile(
        r"\blead[- ]?times?\b|\bsupplier|\bdistributor|\bvendor|\bpo\b|\breels?\b|\bstock\b"
        r"|\binventory\b|\bparts?\b|\bcomponents?\b|\bpmic|\bmcu|\bsoc\b|\bldo\b|\bmosfets?\b"
        r"|\bcaps?\b|\bconnectors?\b|\bcells?\b|\bdelivery\b|\bdigi-?key\b|\bmouser\b|\barrow\b"
        r"|\bavnet\b|\bsecond[- ]source|\balternates?\b|proveedor|lieferant|供应商|\bsamsung\b"
        r"|\bmurata\b|\bcm\b",
        _F,
    ),
    MQ: re.compile(
        r"\bline\s*\d|\byield|\bfpy\b|\bsmt\b|\baoi\b|\bict\b|\brework|\blots?\b|\bqa\b|\bqc\b"
        r"|\baql\b|\boba\b|\bsolder|\breflow|\bstencil|\bhousings?\b|\bunits\b|\bboards\b"
        r"|\bscrap|\binspection\b|\b8d\b|\bbatch\b|\bbattery|\bcm\b|\bfactory|\bwork instruction"
        r"|\bwi\b|\blenses\b",
        _F,
    ),
    CC: re.compile(
        r"\bfcc\b|\bce\b|\bul\b|\bised\b|\btelec\b|\bemc\b|\bemi\b|\bsar\b|\brohs\b|\bun38\.3\b"
        r"|\bcb report\b|\btüv\b|\blab\b|\bcert\w*|\bcompliance\b|\bpre-?scan|\bemissions\b"
        r"|\bregulat\w*|\bdoc\b|\bdeclaration\b|\bsafety test|\brss-?\d+|\ben ?\d{5}\b",
        _F,
    ),
    SL: re.compile(
        r"\blaunch|\bevt\d?\b|\bdvt\d?\b|\bpvt\b|\bmp\b|\bramp\b|\bmilestone|\bship date\b"
        r"|\bschedule\b|\bgo/no-go\b|\bembargo\b|\bretail reset\b|\bfirmware\b|\bcode freeze\b"
        r"|\bpackaging\b|発売|量产|上市|\bww\s?\d+",
        _F,
    ),
    CU: re.compile(
        r"\bcustomers?\b|\bclients?\b|\bcliente\b|\bclient\b|\baccount\b|\bbuyer\b|\brenewal\b"
        r"|\bdeal\b|\borders?\b|\bquote\b|\bpricing\b|\breseller\b|\bretailers?\b|\bsell-through\b"
        r"|\bcontract\b|\bmsa\b|\bprocurement\b|\btickets?\b|\bsupport queue\b|\bforecast\b"
        r"|\busage\b|\bpilot\b",
        _F,
    ),
    LO: re.compile(
        r"\bshipments?\b|\bshipping\b|\bcontainers?\b|\bfreight\b|\bforwarder\b|\bcustoms\b"
        r"|\bport\b|\b3pl\b|\bwarehouse\b|\bpallets?\b|\btruck\b|\bair\b|\bocean\b|\bdhl\b"
        r"|\bfedex\b|\bups\b|\btracking\b|\beta\b|\bvessel\b|\bzoll\b|\bsendung\b|税関|出荷|\bflight\b",
        _F,
    ),
    EN: re.compile(
        r"\bfirmware\b|\bfw\b|\bschematic|\brev [a-d]\b|\bpinout\b|\bantenna\b|\bthermal\b"
        r"|\bdriver\b|\bbug\b|\bbootloader\b|\bota\b|\blayout\b|\brf\b|\bble\b|\bwi-?fi\b"
        r"|\bsim\b|\btj\b|\brail\b|\bdrop test\b|\bdesign\b|\bhinge\b|\bferrite\b|\bbom\b",
        _F,
    ),
    FI: re.compile(
        r"\bcost|\bbudget|\binvoice|\bmargin\b|\btariff|\bfx\b|\$|\bcash\b|\bdeposit\b|\bpayment"
        r"|\bwrite-?off\b|\bexpedite fees?\b|\bcapex\b|\bnre\b|\bpago\b",
        _F,
    ),
}
_CHANNEL_HINTS: tuple[tuple[str, str], ...] = (
    ("supply", SC),
    ("procure", SC),
    ("sourcing", SC),
    ("mfg", MQ),
    ("manufactur", MQ),
    ("quality", MQ),
    ("factory", MQ),
    ("cert", CC),
    ("compliance", CC),
    ("regulatory", CC),
    ("launch", SL),
    ("npi", SL),
    ("program", SL),
    ("sales", CU),
    ("customer", CU),
    ("account", CU),
    ("support", CU),
    ("logistic", LO),
    ("shipping", LO),
    ("warehouse", LO),
    ("eng", EN),
    ("firmware", EN),
    ("design", EN),
    ("finance", FI),
    ("cost", FI),
)

_COMPONENT = re.compile(
    r"\b(pmic|mcu|soc|ldo|mosfets?|usb-c receptacle|connectors?|lcd panel|display|cells?|battery"
    r"|sensor|module|caps?|capacitors?|inductors?|gasket|enclosure|housings?|main board|lenses"
    r"|camera module|flex cable|charger|antenna|memory|lpddr\d\w*|dram|flash)\b",
    re.IGNORECASE,
)
# On the original text: case matters here.
_PART_NUMBER = re.compile(r"\b(?!(?i:ww|rev|evt|dvt|pvt|wk|q)\d)[A-Za-z]{1,6}\d{2,}[A-Za-z0-9-]*\b")


@dataclass(frozen=True, slots=True)
class _Signal:
    name: str
    category: str | None
    level: int | None
    label: str


# --------------------------------------------------------------------------------------------
# Fast path. Trying ~70 alternatives at every character is slow in Python's re, so each pattern
# is indexed by the 3-letter prefixes of the words it spells out: a pattern only runs when one of
# its words starts a word of the message. Texts with CJK characters run every pattern.
_TOKEN = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_ESCAPES = re.compile(r"\\[a-zA-Z]")
_LETTER_RUN = re.compile(r"[^\W\d_]{3,}")
_SHORT_KEYS = frozenset({"fx", "up"})
# Words too common to select anything (whole words only: "all" is dropped, "allocat" is kept).
# Dropping them is safe as long as every alternative of a pattern also spells a rarer word; a test
# checks on the labeled set that the index finds exactly what running every pattern finds.
_STOP_WORDS = frozenset(
    "the and for can not all our are was has had have with from this that you but any now get got"
    " its off per who how what when will may did does don isn won out one two three four five six"
    " were been ing ion ies".split()
)


def _without_negative_lookarounds(pattern: str) -> str:
    """``pattern`` minus its ``(?!…)`` and ``(?<!…)`` groups: words that must *not* appear."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith(("(?!", "(?<!"), i) and (i == 0 or pattern[i - 1] != "\\"):
            depth, j = 0, i
            while j < len(pattern):
                if pattern[j] == "\\":
                    j += 2
                    continue
                depth += {"(": 1, ")": -1}.get(pattern[j], 0)
                j += 1
                if depth == 0:
                    break
            i = j
            continue
        out.append(pattern[i])
        i += 1
    return "".join(out)


def _keys_of(pattern: str) -> frozenset[str]:
    """3-letter prefixes of the literal words in ``pattern`` (a superset of what must appear).

    Words in negative lookarounds ("customs broker" is excluded, "wrong channel" is not a
    defect) are left out: they never select a pattern, and common ones would run it on most
    messages.
    """
    runs = _LETTER_RUN.findall(_ESCAPES.sub(" ", _without_negative_lookarounds(pattern)))
    keys = {run[:3] for run in runs if run not in _STOP_WORDS}
    keys.update(k for k in _SHORT_KEYS if re.search(rf"\b{k}\b", pattern))
    return frozenset(keys)


def _message_keys(low: str) -> set[str]:
    return {w[:3] for w in _TOKEN.findall(low)}


@dataclass(frozen=True, slots=True)
class _Gated:
    """A regex that only runs when the message could match it."""

    regex: re.Pattern[str]
    keys: frozenset[str]
    chars: str = ""

    def search(self, low: str, keys: set[str], cjk: bool) -> re.Match[str] | None:
        if cjk or not self.keys.isdisjoint(keys) or any(c in low for c in self.chars):
            return self.regex.search(low)
        return None


def _gated(regex: re.Pattern[str], keys: str = "", chars: str = "") -> _Gated:
    return _Gated(regex, frozenset(keys.split()) or _keys_of(regex.pattern), chars)


def _split_alternatives(pattern: str) -> list[str]:
    """The top-level ``|`` alternatives of ``pattern``."""
    parts: list[str] = []
    depth, in_class, escaped, start = 0, False, False, 0
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
    parts.append(pattern[start:])
    return parts


def _compile_split(pattern: str) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """(Latin-script regex, CJK regex): CJK branches in one pattern defeat re's fast scanning."""
    latin: list[str] = []
    cjk: list[str] = []
    for alternative in _split_alternatives(pattern):
        (cjk if _CJK.search(alternative) else latin).append(alternative)
    return (
        re.compile("|".join(latin)) if latin else None,
        re.compile("|".join(cjk)) if cjk else None,
    )


# Topic patterns only run when one of their words could be in the text (always for non-ASCII).
_TOPIC_KEYS: dict[str, frozenset[str]] = {
    category: _keys_of(pattern.pattern) for category, pattern in _TOPICS.items()
}

_SIGNAL_TABLE: tuple[tuple[_Signal, re.Pattern[str] | None, re.Pattern[str] | None], ...] = tuple(
    (_Signal(name, category, level, label), *_compile_split(pattern))
    for name, category, level, label, pattern in _SIGNALS
)
_CJK_SIGNALS = tuple(i for i, row in enumerate(_SIGNAL_TABLE) if row[2] is not None)
_SIGNALS_BY_KEY: dict[str, list[int]] = {}
for _index, _spec in enumerate(_SIGNALS):
    for _key in _keys_of(_spec[4]):
        _SIGNALS_BY_KEY.setdefault(_key, []).append(_index)
del _index, _spec, _key
_SIGNAL_KEYS = frozenset(_SIGNALS_BY_KEY)

_INJECTION_GATE = _gated(_INJECTION_HINT, "ign dis for sys ris req not mar rat cla lab sco fla")
_HARMLESS_GATE = _gated(
    _HARMLESS,
    "dri smo bur fir kil cru bom blo dyi jus jk cri rea tra she spr log reg das tem"
    " hot sau sna cof kit lun piz don fri cak esp mic pri par urg eme",
)
_SARCASM_GATE = _gated(_SARCASM, chars='🙃🙄😒"“')


@dataclass(frozen=True, slots=True)
class _Finding:
    level: int
    category: str | None
    label: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class _Reading:
    """What one text says on its own, before thread logic and attention."""

    level: int
    category: str
    label: str
    detail: str
    strength: int  # number of signals that fired
    resolved: bool
    sarcastic: bool
    numeric: bool


# --------------------------------------------------------------------------------------------
# Numeric handlers: grade a matched phrase by its numbers (None = not a risk after all).


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


# Postponed to a weekday, tomorrow or next week ("开线推迟到Friday"): days, not a schedule slip.
_CJK_POSTPONED_DAYS = re.compile(
    r"(?:延期|推迟|延迟|延误)(?:到|至)\s*(?:mon|tue|wed|thu|fri|sat|sun|明天|后天|下周|周[一二三四五六日天]"
    r"|星期[一二三四五六日天])",
    _F,
)
_WEEKS_FIGURE = re.compile(rf"(?<![\w.])(\d+(?:\.\d+)?)\s*{_WEEKS}\b", re.IGNORECASE)


def _grade_lead_time(match_text: str, text: str) -> _Finding | None:
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
        return _Finding(HIGH, SC, "Lead time jump", detail)
    if weeks >= 12 or (old and weeks >= 1.5 * old):
        return _Finding(MEDIUM, SC, "Lead time increase", detail)
    return None


def _grade_ww_move(match_text: str, text: str) -> _Finding | None:
    weeks = re.findall(r"ww\s?(\d+)", match_text, _F)
    if len(weeks) < 2:
        return None
    if re.search(r"\b(?:not|instead of|rather than)\b", match_text):  # "WW17, not WW15"
        weeks.reverse()
    delta = int(weeks[-1]) - int(weeks[-2])
    if delta <= 0:
        return None
    detail = f"WW{weeks[-2]}→WW{weeks[-1]}"
    return _Finding(HIGH if delta >= 3 else MEDIUM, None, "Date moved out", detail)


def _grade_stock_cover(match_text: str, text: str) -> _Finding | None:
    nums = _numbers(match_text)
    if not nums:
        return None
    n = nums[0]
    weeks = n / 7 if re.search(r"day", match_text, _F) else n
    detail = f"{n:g} {'days' if weeks != n else 'wk'} of cover"
    if weeks <= 1:
        return _Finding(CRITICAL, SC, "Stock about to run out", detail)
    if weeks <= 3:
        return _Finding(HIGH, SC, "Low stock cover", detail)
    if weeks <= 5:
        return _Finding(MEDIUM, SC, "Low stock cover", detail)
    return None


def _grade_yield(match_text: str, text: str) -> _Finding | None:
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
            return _Finding(HIGH, MQ, "Yield excursion", detail)
        return _Finding(MEDIUM, MQ, "Yield below target", detail)
    if value < 90:
        return _Finding(HIGH, MQ, "Possible yield excursion", f"{value:g}%")
    if value < 95:
        return _Finding(MEDIUM, MQ, "Yield below typical", f"{value:g}%")
    return None


def _grade_fallout(match_text: str, text: str) -> _Finding | None:
    nums = _numbers(match_text)
    if not nums:
        return None
    if nums[-1] >= 5:
        return _Finding(HIGH, MQ, "Yield excursion", f"fallout {nums[-1]:g}%")
    if nums[-1] >= 2:
        return _Finding(MEDIUM, MQ, "Yield below target", f"fallout {nums[-1]:g}%")
    return None


def _grade_cpk(match_text: str, text: str) -> _Finding | None:
    nums = _numbers(match_text)
    if nums and nums[-1] < 1.33:
        return _Finding(MEDIUM, MQ, "Process capability below target", f"Cpk {nums[-1]:g}")
    return None


def _grade_db_margin(match_text: str, text: str) -> _Finding | None:
    nums = _numbers(match_text)
    if nums and nums[0] <= 3:
        return _Finding(MEDIUM, CC, "Thin compliance margin", f"{nums[0]:g} dB")
    return None


def _grade_slip(match_text: str, text: str) -> _Finding | None:
    if not any(ch.isascii() for ch in match_text):  # 延期 / 推迟 …: a stated postponement
        if _CJK_POSTPONED_DAYS.search(text):
            return _Finding(MEDIUM, None, "Delay", "a few days")
        return _Finding(HIGH, None, "Delay")
    weeks = _weeks_value(match_text)
    if weeks is None:
        return None
    detail = f"{weeks:g} wk" if weeks >= 1 else f"{round(weeks * 7)} days"
    return _Finding(HIGH if weeks >= 3 else MEDIUM, None, "Delay", detail)


def _grade_big_drop(match_text: str, text: str) -> _Finding | None:
    low = match_text.lower()
    if "half" in low or "halved" in low:
        return _Finding(HIGH, None, "Sharp drop", "halved")
    nums = _numbers(low)
    if not nums:
        return None
    value = nums[0]
    if re.search(r"\bto\s+\d", low):  # "dropped to 28%": compare with the earlier value
        was = _WAS.search(text)
        if not was:
            return _Finding(MEDIUM, None, "Drop", f"to {value:g}%")
        before = float(was.group(1))
        drop = (before - value) / before * 100 if before else 0
        if drop <= 0:
            return None
        return _Finding(
            HIGH if drop >= 25 else MEDIUM, None, "Sharp drop", f"{before:g}→{value:g}%"
        )
    return _Finding(HIGH if value >= 30 else MEDIUM, None, "Sharp drop", f"-{value:g}%")


def _grade_tariff(match_text: str, text: str) -> _Finding | None:
    to = re.search(r"\bto\s+(\d+(?:\.\d+)?)\s*%", text, _F)
    if to and float(to.group(1)) >= 20:
        return _Finding(HIGH, FI, "Tariff increase", f"to {float(to.group(1)):g}%")
    return _Finding(MEDIUM, FI, "Tariff change")


_HANDLERS: dict[str, Callable[[str, str], _Finding | None]] = {
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


# --------------------------------------------------------------------------------------------
# Reading one text.


def _strip_untrusted(low: str, keys: set[str], cjk: bool) -> str:
    """Drop sentences addressed to a scorer; blank out harmless alarming idioms."""
    if _INJECTION_GATE.search(low, keys, cjk):
        low = _JSON_BLOB.sub(" ", low)
        low = " . ".join(s for s in _SENTENCE_SPLIT.split(low) if not _INJECTION.search(s))
    if _HARMLESS_GATE.search(low, keys, cjk):
        low = _HARMLESS.sub(" ", low)
    return low


def _topic_category(low: str, channel: str | None, parent_low: str | None = None) -> str:
    hint = _channel_category(channel)
    scores: dict[str, float] = {}
    keys = _message_keys(low)
    parent_keys = _message_keys(parent_low) if parent_low else set()
    for category, pattern in _TOPICS.items():
        gate = _TOPIC_KEYS[category]
        score = 0.0
        if not gate.isdisjoint(keys) or "$" in low or not low.isascii():
            score += 2.0 * len(pattern.findall(low))
        if parent_low and (
            not gate.isdisjoint(parent_keys) or "$" in parent_low or not parent_low.isascii()
        ):
            score += 1.0 * len(pattern.findall(parent_low))
        if category == hint:
            score += 1.5
        if score:
            scores[category] = score
    if not scores:
        return NONE
    return max(scores.items(), key=lambda kv: (kv[1], kv[0] == hint))[0]


def _channel_category(channel: str | None) -> str | None:
    if not channel:
        return None
    name = channel.lower()
    for needle, category in _CHANNEL_HINTS:
        if needle in name:
            return category
    return None


def _candidate_signals(keys: set[str], cjk: bool) -> list[int]:
    hits: set[int] = set(_CJK_SIGNALS) if cjk else set()
    for key in keys:
        found = _SIGNALS_BY_KEY.get(key)
        if found:
            hits.update(found)
    return sorted(hits)


def _findings(low: str, keys: set[str], cjk: bool) -> list[_Finding]:
    found: list[_Finding] = []
    for index in _candidate_signals(keys, cjk):
        signal, latin, cjk_regex = _SIGNAL_TABLE[index]
        matches = [
            *(latin.finditer(low) if latin else ()),
            *(cjk_regex.finditer(low) if cjk and cjk_regex else ()),
        ]
        for match in matches:
            start = match.start()
            if _NEGATED.search(low, max(0, start - 40), start):
                continue
            handler = _HANDLERS.get(signal.name)
            if handler is None:
                found.append(_Finding(signal.level or MEDIUM, signal.category, signal.label))
                continue
            finding = handler(match.group(), low)
            if finding is None:
                continue
            if finding.category is None and signal.category is not None:
                finding = _Finding(finding.level, signal.category, finding.label, finding.detail)
            found.append(finding)
    return found


_NO_RISK = _Reading(LOW, NONE, NO_RISK_DESCRIPTION, "", 0, False, False, False)


def _is_resolved(low: str) -> bool:
    """A resolution phrase that is not itself negated ("hasn't responded", "not fixed")."""
    return any(
        not _NEGATED.search(low, max(0, m.start() - 40), m.start()) for m in _RESOLVED.finditer(low)
    )


# Bot alerts and chatter recur across hours: remember readings across partitions (~20 MB).
@lru_cache(maxsize=65536)
def _read(text: str, channel: str | None) -> _Reading:
    low = text.lower()
    cjk = not low.isascii() and bool(_CJK.search(low))
    keys = _message_keys(low)
    if not cjk and _SIGNAL_KEYS.isdisjoint(keys) and not _SARCASM_GATE.search(low, keys, cjk):
        return _NO_RISK  # nothing in the text could match: most chatter leaves here
    low = _strip_untrusted(low, keys, cjk)
    findings = _findings(low, keys, cjk)
    sarcastic = bool(_SARCASM_GATE.search(low, keys, cjk))
    resolved = not sarcastic and _is_resolved(low)
    if not findings:
        if sarcastic and _topic_category(low, None) != NONE:
            category = _topic_category(low, channel)
            return _Reading(MEDIUM, category, "Sarcastic complaint", "", 1, False, True, False)
        return _NO_RISK
    top = max(findings, key=lambda f: (f.level, f.category is not None))
    level = top.level
    category = top.category or _topic_category(low, channel)
    if top.label == "Production line down" and any(f.category == SC for f in findings):
        category = SC  # the line stopped because a part ran out: a supply problem
    if resolved and not _CONTINUES.search(low):
        level = LOW
    elif _MITIGATED.search(low) and level > LOW:
        level -= 1
    detail = top.detail
    numeric = any(f.detail for f in findings)
    return _Reading(level, category, top.label, detail, len(findings), resolved, sarcastic, numeric)


def _is_acknowledgement(reply_low: str) -> bool:
    bare = _EMOJI_CODE.sub(" ", _MENTION.sub(" ", reply_low))
    return not bare.strip() or bool(_ACK.match(bare))


def subject_of(text: str) -> str:
    """The part number or component a message is about ("TPS65219", "PMIC"), or ``""``."""
    part = _PART_NUMBER.search(text)
    if part:
        return part.group()
    component = _COMPONENT.search(text)
    if component:
        word = component.group()
        return word.upper() if len(word) <= 4 else word
    return ""


def _describe(label: str, subject: str, detail: str, *, prefix: str = "") -> str:
    text = prefix + label
    if subject:
        text += f" on {subject}"
    if detail:
        text += f" ({detail})"
    return one_line(text)


def _assess(
    text: str, channel: str | None, thread_context: str | None
) -> tuple[str, str, str, float, list[str], bool]:
    """The scorer's core, returning plain values (the frame path never builds models)."""
    text = text or ""
    own = _read(text, channel) if text.strip() else _NO_RISK
    if own is _NO_RISK and not thread_context:
        return _NO_RISK_RESULT
    prefix = ""
    subject_text = text
    level, category, label, detail = own.level, own.category, own.label, own.detail
    confidence = _confidence(own)
    if thread_context:
        parent = _read(thread_context, channel)
        if parent.level > LOW:
            reply_low = text.lower()
            if own.strength and own.resolved:
                category = parent.category if own.category == NONE else own.category
                label, detail, prefix = parent.label, "", "Resolved: "
                subject_text = thread_context
                confidence = 0.75
            elif _is_acknowledgement(reply_low):
                level, category = LOW, NONE
                label, detail, confidence = "Acknowledgement", "", 0.8
            elif own.resolved or (own.strength == 0 and _is_resolved(reply_low)):
                level, category = LOW, parent.category
                label, detail, prefix = parent.label, "", "Resolved: "
                subject_text, confidence = thread_context, 0.75
            elif own.strength:
                if _CONTINUES.search(reply_low) and parent.level > level:
                    level = parent.level
                if own.category == NONE or (own.strength == 1 and own.level < parent.level):
                    category = parent.category
                confidence = min(0.95, confidence + 0.05)
            elif _CONTINUES.search(reply_low):
                level, category, label, detail = (
                    parent.level,
                    parent.category,
                    parent.label,
                    parent.detail,
                )
                prefix, subject_text, confidence = THREAD_UPDATE, thread_context, 0.65
            elif _QUESTION.search(reply_low):
                level, category = min(parent.level, MEDIUM), parent.category
                label, prefix, subject_text = parent.label, OPEN_QUESTION, thread_context
                detail, confidence = "", 0.55
            else:
                level, category = max(parent.level - 1, MEDIUM), parent.category
                label, prefix, subject_text = parent.label, THREAD_UPDATE, thread_context
                detail, confidence = "", 0.55
    level_name = LEVELS[level]
    if level == LOW and not prefix:
        description = (
            NO_RISK_DESCRIPTION
            if own.strength == 0
            else _describe(
                own.label, subject_of(text), "", prefix="Resolved: " if own.resolved else "Low: "
            )
        )
        if own.strength == 0:
            category = NONE
    else:
        description = _describe(label, subject_of(subject_text), detail, prefix=prefix)
    attention = level >= HIGH or (
        level == MEDIUM
        and not own.resolved
        and bool(_DEADLINE.search(text.lower()) or _ASK.search(text.lower()))
    )
    return (
        level_name,
        category,
        description,
        round(confidence, 2),
        mitigations(category, level_name),
        attention,
    )


_NO_RISK_RESULT: tuple[str, str, str, float, list[str], bool] = (
    "low",
    NONE,
    NO_RISK_DESCRIPTION,
    0.85,
    [],
    False,
)


def _confidence(reading: _Reading) -> float:
    if reading.strength == 0:
        return 0.85
    if reading.resolved:
        return 0.75
    score = 0.55 + 0.08 * min(reading.strength - 1, 3) + (0.1 if reading.numeric else 0.0)
    if reading.sarcastic:
        score -= 0.1
    return max(0.3, min(0.95, score))


def score_message(
    text: str, *, channel: str | None = None, thread_context: str | None = None
) -> RiskAssessment:
    """The rules' risk judgement of one (already cleaned) message, read with its thread parent."""
    level, category, description, confidence, actions, attention = _assess(
        text, channel, thread_context
    )
    return RiskAssessment(
        risk_level=level,  # type: ignore[arg-type]
        risk_category=category,  # type: ignore[arg-type]
        description=description,
        confidence_score=confidence,
        mitigation_suggestions=actions,
        requires_attention=attention,
    )


def rules_scorer(text: str, channel: str | None, thread_context: str | None) -> RiskAssessment:
    """:func:`score_message` with the positional :data:`~models.Scorer` signature."""
    return score_message(text, channel=channel, thread_context=thread_context)


def _optional_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def score_frame(messages: pd.DataFrame) -> pd.DataFrame:
    """Score ``messages`` (``id``, ``content``, ``channel``, ``thread_context``) row by row.

    One output row per input row, in order; ``mitigation_suggestions`` is JSON text. Identical
    (text, channel, parent) triples are scored once: bot posts and repeated alerts are common.
    """
    if messages.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in OUTPUT_COLUMNS})
    contexts = (
        messages["thread_context"]
        if "thread_context" in messages
        else pd.Series([None] * len(messages))
    )
    channels = messages["channel"] if "channel" in messages else pd.Series([None] * len(messages))
    memo: dict[tuple[str, str | None, str | None], tuple[str, str, str, float, str, bool]] = {}
    rows: list[tuple[str, str, str, float, str, bool]] = []
    for content, channel, context in zip(
        messages["content"].tolist(), channels.tolist(), contexts.tolist(), strict=True
    ):
        key = (_optional_text(content) or "", _optional_text(channel), _optional_text(context))
        row = memo.get(key)
        if row is None:
            level, category, description, confidence, actions, attention = _assess(*key)
            row = (level, category, description, confidence, json.dumps(actions), attention)
            memo[key] = row
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS[1:]))
    frame.insert(0, "message_id", messages["id"].astype(str).to_numpy())
    frame["confidence_score"] = frame["confidence_score"].astype(float)
    frame["requires_attention"] = frame["requires_attention"].astype(bool)
    return frame
