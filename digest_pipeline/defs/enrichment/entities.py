"""Hardware go-to-market entities in message text: regexes and lexicons, no models.

Each kind comes back as a list of distinct strings in order of appearance. Lexicon hits are
canonicalized (``TI`` → ``Texas Instruments``, ``smt`` → none, ``ce mark`` → ``CE``) so analysts
can group on them; free-form kinds (parts, dates, quantities, amounts, customers) keep the text
as written, with part numbers upper-cased.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ENTITY_KINDS: tuple[str, ...] = (
    "parts",
    "components",
    "suppliers",
    "build_stages",
    "certifications",
    "dates",
    "quantities",
    "amounts",
    "customers",
)

# --- lexicons ------------------------------------------------------------------------------

# canonical name → spellings. Matched case-sensitively: these are proper nouns, and short ones
# ("TI", "ST", "Flex") are ordinary words in lower case.
SUPPLIERS: dict[str, tuple[str, ...]] = {
    "Texas Instruments": ("Texas Instruments", "TI"),
    "STMicroelectronics": ("STMicroelectronics", "STMicro", "ST Micro", "ST"),
    "NXP": ("NXP",),
    "Infineon": ("Infineon",),
    "Microchip": ("Microchip",),
    "Analog Devices": ("Analog Devices", "ADI"),
    "onsemi": ("onsemi", "ON Semi", "ON Semiconductor"),
    "Renesas": ("Renesas",),
    "Nordic Semiconductor": ("Nordic Semiconductor", "Nordic"),
    "Qualcomm": ("Qualcomm",),
    "MediaTek": ("MediaTek", "Mediatek"),
    "Broadcom": ("Broadcom",),
    "Marvell": ("Marvell",),
    "Realtek": ("Realtek",),
    "Espressif": ("Espressif",),
    "Silicon Labs": ("Silicon Labs", "SiLabs"),
    "Maxim": ("Maxim Integrated", "Maxim"),
    "Monolithic Power Systems": ("Monolithic Power", "MPS"),
    "Vishay": ("Vishay",),
    "Rohm": ("Rohm", "ROHM"),
    "Toshiba": ("Toshiba",),
    "Nexperia": ("Nexperia",),
    "Diodes Inc": ("Diodes Inc", "Diodes Incorporated"),
    "Samsung": ("Samsung",),
    "SK hynix": ("SK hynix", "SK Hynix", "Hynix"),
    "Micron": ("Micron",),
    "Kioxia": ("Kioxia",),
    "Western Digital": ("Western Digital",),
    "Winbond": ("Winbond",),
    "Macronix": ("Macronix",),
    "GigaDevice": ("GigaDevice",),
    "Murata": ("Murata",),
    "TDK": ("TDK",),
    "Taiyo Yuden": ("Taiyo Yuden",),
    "Yageo": ("Yageo", "YAGEO"),
    "KEMET": ("KEMET", "Kemet"),
    "AVX": ("AVX", "Kyocera AVX"),
    "Würth Elektronik": ("Würth Elektronik", "Würth", "Wurth"),
    "Panasonic": ("Panasonic",),
    "Bourns": ("Bourns",),
    "Littelfuse": ("Littelfuse",),
    "TE Connectivity": ("TE Connectivity", "TE"),
    "Molex": ("Molex",),
    "Amphenol": ("Amphenol",),
    "Hirose": ("Hirose",),
    "JST": ("JST",),
    "Samtec": ("Samtec",),
    "Foxconn": ("Foxconn", "Hon Hai"),
    "Pegatron": ("Pegatron",),
    "Quanta": ("Quanta",),
    "Compal": ("Compal",),
    "Wistron": ("Wistron",),
    "Luxshare": ("Luxshare",),
    "Jabil": ("Jabil",),
    "Flex": ("Flex", "Flextronics"),
    "Celestica": ("Celestica",),
    "Sanmina": ("Sanmina",),
    "Benchmark Electronics": ("Benchmark Electronics",),
    "Plexus": ("Plexus",),
    "Kimball Electronics": ("Kimball Electronics",),
    "BYD Electronics": ("BYD Electronics", "BYD"),
    "TSMC": ("TSMC",),
    "GlobalFoundries": ("GlobalFoundries",),
    "UMC": ("UMC",),
    "SMIC": ("SMIC",),
    "Digi-Key": ("Digi-Key", "DigiKey", "Digikey"),
    "Mouser": ("Mouser",),
    "Arrow": ("Arrow Electronics", "Arrow"),
    "Avnet": ("Avnet",),
    "Future Electronics": ("Future Electronics",),
    "WPG": ("WPG",),
    "LCSC": ("LCSC",),
}

COMPONENTS: dict[str, tuple[str, ...]] = {
    "PMIC": ("pmic", "pmics"),
    "MCU": ("mcu", "mcus", "microcontroller", "microcontrollers"),
    "SoC": ("soc", "socs"),
    "CPU": ("cpu",),
    "GPU": ("gpu",),
    "FPGA": ("fpga", "fpgas"),
    "ASIC": ("asic", "asics"),
    "DRAM": ("dram", "lpddr", "lpddr4", "lpddr4x", "lpddr5", "ddr4", "ddr5", "memory"),
    "flash": ("nand", "nor flash", "emmc", "ufs", "flash", "spi flash"),
    "connector": ("connector", "connectors", "usb-c", "usb-c connector", "fpc connector"),
    "capacitor": ("capacitor", "capacitors", "cap", "caps", "mlcc", "mlccs"),
    "resistor": ("resistor", "resistors"),
    "inductor": ("inductor", "inductors", "ferrite", "ferrite bead"),
    "crystal": ("crystal", "crystals", "oscillator", "oscillators", "xtal", "tcxo"),
    "regulator": ("regulator", "regulators", "ldo", "ldos", "buck", "boost converter", "dc-dc"),
    "MOSFET": ("mosfet", "mosfets", "fet", "fets"),
    "diode": ("diode", "diodes", "tvs", "tvs diode", "esd diode"),
    "battery": ("battery", "batteries", "cell", "cells", "battery pack"),
    "charger": ("charger", "charger ic", "charging ic"),
    "display": ("display", "displays", "lcd", "oled", "panel", "touch panel", "touchscreen"),
    "sensor": ("sensor", "sensors", "imu", "accelerometer", "gyro", "thermistor"),
    "camera module": ("camera module", "camera", "image sensor"),
    "antenna": ("antenna", "antennas"),
    "radio module": ("wifi module", "wi-fi module", "ble module", "modem", "lte module", "radio"),
    "PCB": ("pcb", "pcbs", "pcba", "pcbas", "board", "boards", "hdi", "substrate"),
    "FPC": ("fpc", "flex cable", "flex pcb"),
    "enclosure": ("enclosure", "housing", "chassis", "bezel", "cover glass", "gasket"),
    "power supply": ("power supply", "psu", "adapter", "power adapter"),
    "cable": ("cable", "cables", "harness", "wire harness"),
    "thermal": ("heatsink", "heat sink", "fan", "fans", "thermal pad"),
    "speaker": ("speaker", "speakers", "microphone", "mic", "mems mic"),
    "LED": ("led", "leds"),
    "motor": ("motor", "motors", "actuator"),
    "switch": ("switch", "button", "relay"),
    "fuse": ("fuse", "fuses", "ptc"),
    "transformer": ("transformer", "transformers"),
    "packaging": ("packaging", "gift box", "carton", "cartons"),
}

# canonical → spellings; matched case-sensitively where the spelling is upper-case.
CERTIFICATIONS: dict[str, tuple[str, ...]] = {
    "FCC": ("FCC",),
    "CE": ("CE", "CE mark", "CE marking", "RED"),
    "UKCA": ("UKCA",),
    "UL": ("UL", "UL listing", "cUL", "UL 62368", "ETL"),
    "IC": ("ISED", "IC ID", "IC certification", "Industry Canada"),
    "RoHS": ("RoHS", "ROHS", "rohs"),
    "REACH": ("REACH", "SVHC"),
    "WEEE": ("WEEE",),
    "PSE": ("PSE",),
    "TELEC": ("TELEC", "MIC", "Giteki", "giteki"),
    "KC": ("KC",),
    "CCC": ("CCC",),
    "SRRC": ("SRRC",),
    "NCC": ("NCC",),
    "BIS": ("BIS",),
    "ANATEL": ("ANATEL", "Anatel"),
    "RCM": ("RCM",),
    "IEC 62368": ("IEC 62368", "IEC 62368-1", "62368-1"),
    "IEC 60950": ("IEC 60950",),
    "EMC": ("EMC", "emissions", "EMI", "radiated emissions", "conducted emissions"),
    "SAR": ("SAR",),
    "UN38.3": ("UN38.3", "UN 38.3"),
    "PTCRB": ("PTCRB",),
    "GCF": ("GCF",),
    "Bluetooth SIG": ("Bluetooth SIG", "BQB", "Bluetooth qualification"),
    "Wi-Fi Alliance": ("Wi-Fi Alliance", "WFA"),
    "Qi": ("Qi", "WPC"),
    "MFi": ("MFi",),
    "Energy Star": ("Energy Star", "ENERGY STAR"),
    "Prop 65": ("Prop 65", "Proposition 65"),
    "ISO 13485": ("ISO 13485",),
    "IP67": ("IP67", "IP68", "IP54", "IP65"),
}

_BUILD_STAGE_RE = re.compile(
    r"\b(?:(EVT|DVT|PVT)(?:\s?\d{1,2}(?:\.\d)?)?|(MP)\d?|(?i:(mass production|ramp to MP)))\b"
)

# Words that look like part numbers but are not.
_NOT_PARTS_RE = re.compile(
    r"""(?x)^(?:
        (?:EVT|DVT|PVT|MP|WW|Q|FY|H|CW|KW|P|SEV|REV|V|R|PO|SO|RMA|ECO|ECN|PCN|LOT|WO)[-]?\d+[A-Z]?
        | (?:USB|PCIE|LPDDR|DDR|GDDR|HDMI|SHA|MD|UTF|IPV|IEEE|ISO|IEC|EN|IP|UN|CAT|COVID|WIFI|BT)\d*
        | \d+[A-Z]{0,3}
        | [A-Z]+
        | MP\d | H26\d | X86 | A\d{1,2} | M\d{1,2} | S\d{1,2}
    )$"""
)
# Upper-case tokens with letters and digits (TPS65219, STM32H743VIT6, GRM188R71H104KA93D,
# LPDDR4X, BQ24075RGTR); lower-case ones need two letters then three digits (tps65219).
_PART_RE = re.compile(
    r"(?<![\w/.-])(?:[A-Z][A-Z0-9]*\d[A-Z0-9]*(?:[-/+#][A-Z0-9]+)*|[a-z]{2,}\d{3,}[a-z0-9]*)(?![\w/])"
)
_URL_RE = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+")

_DATE_RE = re.compile(
    r"""(?ix)
    \b(?:
        WW\s?\d{1,2}(?:\.\d)?
      | \d{4}-\d{2}-\d{2}
      | \d{1,2}/\d{1,2}(?:/\d{2,4})?
      | (?:by|before|until|till|on|due|this|next|by\ end\ of)\s+
        (?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\.?
      | (?:jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?
        (?:,?\s+\d{4})?
      | \d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)[a-z]*
      | (?-i:EO[DWMQY]|COB)
      | end\ of\ (?:the\ )?(?:day|week|month|quarter|year)
      | (?:this|next)\ (?:week|month|quarter)
      | tomorrow | tonight | today
      | (?-i:Q[1-4])(?:\s?(?:FY)?'?\d{2,4})?
      | (?-i:CNY|Golden\ Week)
    )\b""",
)
_QUANTITY_RE = re.compile(
    r"""(?ix)
    (?<![\w$€£¥.])\d[\d,]*(?:\.\d+)?\s?(?:k|m|kk)?\s?
    (?:units?|pcs|pieces?|boards?|reels?|wafers?|kpcs|ea|sets?|pallets?|cartons?|trays?|
       devices?|modules?|samples?|chips?|panels?|containers?)\b
    """
)
_AMOUNT_RE = re.compile(
    r"""(?ix)
    (?:US)?[$€£¥]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|m|mm|b|bn|million|billion|thousand)\b)?
    | \b\d[\d,]*(?:\.\d+)?\s?(?:k|m|mm)?\s?(?:USD|EUR|GBP|JPY|RMB|CNY|TWD|dollars|euros)\b
    """
)
_CORP_SUFFIX = (
    r"Inc|Corp|Corporation|Ltd|LLC|GmbH|AG|SA|Co|Robotics|Motors|Health|Medical|Systems|Labs|"
    r"Energy|Automotive|Technologies|Networks|Devices|Home|Mobility|Aerospace|Industries"
)
_NAME = r"[A-Z][\w&'.-]*[\w&](?:\s+(?:[A-Z][\w&'.-]*[\w&]|&))*"
_CUSTOMER_RE = re.compile(
    rf"(?:\b(?i:customers?|clients?|accounts?|OEMs?)(?::|\s+(?:is|at|from|like))?\s+({_NAME}))"
    rf"|(?:\b(?:for|at|from|with|to)\s+({_NAME}\s+(?:{_CORP_SUFFIX}))\b)"
)
_NOT_CUSTOMER = frozenset(
    "The A An This That Our Their We I It They He She EOD EOW Monday Tuesday Wednesday Thursday "
    "Friday Saturday Sunday Mon Tue Wed Thu Fri Sat Sun Jan Feb Mar Apr May Jun Jul Aug Sep Sept "
    "Oct Nov Dec EVT DVT PVT MP Q1 Q2 Q3 Q4 Slack Team All Any".split()
)


def _alternation(lexicon: dict[str, tuple[str, ...]]) -> str:
    spellings = sorted({s for names in lexicon.values() for s in names}, key=len, reverse=True)
    return "|".join(re.escape(s) for s in spellings)


def _lexicon_regex(lexicon: dict[str, tuple[str, ...]], *, fold: bool) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-])(?:{_alternation(lexicon)})(?![\w-])", re.I if fold else 0)


def _lookup(lexicon: dict[str, tuple[str, ...]], *, fold: bool) -> dict[str, str]:
    return {
        (s.lower() if fold else s): canonical for canonical, names in lexicon.items() for s in names
    }


# Listed names, plus "<Name> Electronics / Semiconductor / Manufacturing ..." patterns.
_SUPPLIER_RE = re.compile(
    rf"(?<![\w-])(?:(?:[A-Z][\w&]+\s){{1,2}}(?:Electronics|Semiconductors?|Microelectronics"
    rf"|Manufacturing|Components|Precision|Industrial)|{_alternation(SUPPLIERS)})(?![\w-])"
)
_SUPPLIER_NAMES = _lookup(SUPPLIERS, fold=False)
_COMPONENT_RE = _lexicon_regex(COMPONENTS, fold=True)
_COMPONENT_NAMES = _lookup(COMPONENTS, fold=True)
_CERT_RE = _lexicon_regex(CERTIFICATIONS, fold=False)
_CERT_NAMES = _lookup(CERTIFICATIONS, fold=False)
# Acronyms that are also common words or other things: require a certification context.
_AMBIGUOUS_CERTS = frozenset({"RED", "MIC", "EMC", "Qi", "TE"})
_CERT_CONTEXT_RE = re.compile(
    r"(?i)\b(?:cert|certification|certified|approval|compliance|test|testing|lab|mark|directive"
    r"|submission|report|grant|filing|listed|listing)"
)
_FLEX_NOT_CM_RE = re.compile(r"(?i)\s*(?:cable|pcb|circuit|board|connector|tail)")


def _distinct(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


class EntityExtractor:
    """Finds hardware-GTM entities; ``known_customers`` adds names matched anywhere."""

    def __init__(self, known_customers: Iterable[str] = ()) -> None:
        names = sorted({c.strip() for c in known_customers if c and c.strip()}, key=len)[::-1]
        self._known_customers: re.Pattern[str] | None = (
            re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(n) for n in names) + r")(?![\w-])")
            if names
            else None
        )

    def extract(self, text: str) -> dict[str, list[str]]:
        """All entity kinds of :data:`ENTITY_KINDS` for one text (empty lists when absent)."""
        if not text:
            return {kind: [] for kind in ENTITY_KINDS}
        if "://" in text or "www." in text:
            text = _URL_RE.sub(" ", text)
        has_digit = any(c.isdigit() for c in text)
        return {
            "parts": self.parts(text) if has_digit else [],
            "components": _distinct(
                _COMPONENT_NAMES.get(m.lower(), "") for m in _COMPONENT_RE.findall(text)
            ),
            "suppliers": self.suppliers(text),
            "build_stages": self.build_stages(text),
            "certifications": self.certifications(text),
            "dates": _distinct(m.group(0) for m in _DATE_RE.finditer(text)),
            "quantities": _distinct(_QUANTITY_RE.findall(text)) if has_digit else [],
            "amounts": _distinct(_AMOUNT_RE.findall(text)) if has_digit else [],
            "customers": self.customers(text),
        }

    @staticmethod
    def parts(text: str) -> list[str]:
        found = []
        for token in _PART_RE.findall(text):
            upper = token.upper()
            if len(upper) < 5 or _NOT_PARTS_RE.match(upper):
                continue
            letters = sum(c.isalpha() for c in upper)
            if letters < 2:
                continue
            found.append(upper)
        return _distinct(found)

    @staticmethod
    def suppliers(text: str) -> list[str]:
        found = []
        for m in _SUPPLIER_RE.finditer(text):
            name = m.group(0)
            if name == "Flex" and _FLEX_NOT_CM_RE.match(text, m.end()):
                continue
            found.append(_SUPPLIER_NAMES.get(name, name))
        return _distinct(found)

    @staticmethod
    def certifications(text: str) -> list[str]:
        found = []
        context: bool | None = None
        for m in _CERT_RE.finditer(text):
            name = m.group(0)
            if name in _AMBIGUOUS_CERTS:
                if context is None:
                    context = bool(_CERT_CONTEXT_RE.search(text))
                if not context:
                    continue
            found.append(_CERT_NAMES[name])
        return _distinct(found)

    @staticmethod
    def build_stages(text: str) -> list[str]:
        found = []
        for m in _BUILD_STAGE_RE.finditer(text):
            found.append(m.group(1) or m.group(2) or "MP")
        return _distinct(found)

    def customers(self, text: str) -> list[str]:
        found = []
        for m in _CUSTOMER_RE.finditer(text):
            name = (m.group(1) or m.group(2) or "").rstrip(".")
            first = name.split(maxsplit=1)[0] if name else ""
            if not name or first in _NOT_CUSTOMER or name in _SUPPLIER_NAMES:
                continue
            found.append(name)
        if self._known_customers is not None:
            found.extend(self._known_customers.findall(text))
        return _distinct(found)


_DEFAULT = EntityExtractor()


def extract_entities(text: str) -> dict[str, list[str]]:
    """Entities of one text with the default (no known customers) extractor."""
    return _DEFAULT.extract(text)
