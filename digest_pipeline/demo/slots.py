"""Template slots: filled lazily, once per thread, so a thread keeps talking about the same
part, lot, customer... Each ``{slot}`` a template names is drawn on first use from the
vocabulary in :mod:`digest_pipeline.demo.content`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from random import Random
from typing import Any

from digest_pipeline.demo import content as c

_CHANNEL_REFS = tuple(f"<#{ch.channel_id}|{ch.name}>" for ch in c.CHANNELS if not ch.is_private)


def pick(rng: Random, seq: Sequence[Any]) -> Any:
    return seq[int(rng.random() * len(seq))]


def _ww(rng: Random) -> int:
    return 1 + int(rng.random() * 52)


def _fill_part(s: Slots, rng: Random) -> None:
    part, kind, vendor = pick(rng, c.PARTS)
    s["part"], s["part_kind"], s["vendor"] = part, kind, vendor


def _fill_ww(s: Slots, rng: Random) -> None:
    week = _ww(rng)
    slip = 2 + int(rng.random() * 7)
    s["ww"], s["ww_new"], s["slip"] = f"WW{week}", f"WW{(week + slip - 1) % 52 + 1}", str(slip)


def _fill_yield(s: Slots, rng: Random) -> None:
    target = pick(rng, (97.5, 98.0, 98.5, 99.0))
    fpy = round(60 + rng.random() * (target - 68), 1)
    s["target"], s["fpy"] = f"{target}%", f"{fpy}%"
    s["fallout"] = f"{round(100 - fpy, 1)}%"


def _fill_product(s: Slots, rng: Random) -> None:
    s["product"], s["codename"] = pick(rng, c.PRODUCTS)


def _fill_cm(s: Slots, rng: Random) -> None:
    s["cm"], s["cm_site"] = pick(rng, c.CMS)


def _fill_customer(s: Slots, rng: Random) -> None:
    s["customer"], s["customer_short"] = pick(rng, c.CUSTOMERS)


def _fill_cert(s: Slots, rng: Random) -> None:
    s["standard"] = pick(rng, c.STANDARDS)
    s["lab"] = pick(rng, c.LABS)
    s["freq"] = pick(rng, c.FREQS)
    s["margin"] = f"{1 + rng.random() * 7:.1f}"


def _fill_lead(s: Slots, rng: Random) -> None:
    old = 8 + int(rng.random() * 12)
    s["weeks_old"], s["weeks_new"] = str(old), str(old + 14 + int(rng.random() * 38))


def _fill_sheet(s: Slots, rng: Random) -> None:
    doc = f"{rng.getrandbits(64):016x}"
    s["sheet"] = f"https://docs.google.com/spreadsheets/d/1{doc}/edit|{pick(rng, c.SHEETS)}"


def _fill_meet(s: Slots, rng: Random) -> None:
    a = "".join(pick(rng, "abcdefghijkmnpqrstuvwxyz") for _ in range(10))
    code = f"{a[:3]}-{a[3:7]}-{a[7:]}"
    s["meet"] = f"<https://meet.google.com/{code}|meet.google.com/{code}>"


def _fill_jira(s: Slots, rng: Random) -> None:
    key = f"NPI-{1000 + int(rng.random() * 3000)}"
    s["jira"] = f"<https://{c.TEAM_DOMAIN}.atlassian.net/browse/{key}|{key}>"


def _fill_who(s: Slots, rng: Random) -> None:
    s["who"] = f"<@{pick(rng, s.members)}>"


def _fill_op(s: Slots, rng: Random) -> None:
    # Threads preset "op" to the parent's author; this only serves a template used elsewhere.
    s["op"] = f"<@{pick(rng, s.members)}>"


def _fill_lot(s: Slots, rng: Random) -> None:
    s["lot"] = f"L{24 + int(rng.random() * 3)}{_ww(rng):02d}-{int(rng.random() * 9000) + 1000}"


def _fill_container(s: Slots, rng: Random) -> None:
    prefix = pick(rng, ("MSKU", "EGHU", "TGHU", "OOLU"))
    s["container"] = f"{prefix} {int(rng.random() * 900000) + 100000}-{int(rng.random() * 10)}"


def _fill_awb(s: Slots, rng: Random) -> None:
    s["awb"] = f"AWB 160-{int(rng.random() * 9000) + 1000} {int(rng.random() * 9000) + 1000}"


def _setter(key: str, make: Callable[[Random], str]) -> Callable[[Slots, Random], None]:
    def fill(s: Slots, rng: Random) -> None:
        s[key] = make(rng)

    return fill


_SLOT_FILLERS: dict[str, Callable[[Slots, Random], None]] = {
    **dict.fromkeys(("part", "part_kind", "vendor"), _fill_part),
    **dict.fromkeys(("ww", "ww_new", "slip"), _fill_ww),
    **dict.fromkeys(("target", "fpy", "fallout"), _fill_yield),
    **dict.fromkeys(("product", "codename"), _fill_product),
    **dict.fromkeys(("cm", "cm_site"), _fill_cm),
    **dict.fromkeys(("customer", "customer_short"), _fill_customer),
    **dict.fromkeys(("standard", "lab", "freq", "margin"), _fill_cert),
    **dict.fromkeys(("weeks_old", "weeks_new"), _fill_lead),
    "sheet": _fill_sheet,
    "meet": _fill_meet,
    "jira": _fill_jira,
    "who": _fill_who,
    "op": _fill_op,
    "lot": _fill_lot,
    "container": _fill_container,
    "awb": _fill_awb,
    "alt_part": _setter("alt_part", lambda r: pick(r, c.PARTS)[0]),
    "distributor": _setter("distributor", lambda r: pick(r, c.DISTRIBUTORS)),
    "pct_alloc": _setter("pct_alloc", lambda r: f"{30 + int(r.random() * 40)}%"),
    "pct_increase": _setter("pct_increase", lambda r: f"{6 + int(r.random() * 20)}%"),
    "qty": _setter("qty", lambda r: pick(r, c.QTYS)),
    "qty_small": _setter("qty_small", lambda r: f"{int(r.random() * 2400) + 120:,}"),
    "build": _setter("build", lambda r: pick(r, c.BUILDS)),
    "stage": _setter("stage", lambda r: pick(r, c.STAGES)),
    "competitor": _setter("competitor", lambda r: pick(r, c.COMPETITORS)),
    "deal": _setter("deal", lambda r: pick(r, c.DEALS)),
    "station": _setter("station", lambda r: pick(r, c.STATIONS)),
    "defect": _setter("defect", lambda r: pick(r, c.DEFECTS)),
    "defect_cn": _setter("defect_cn", lambda r: pick(r, c.DEFECTS_CN)),
    "hts": _setter("hts", lambda r: pick(r, c.HTS_CODES)),
    "broker": _setter("broker", lambda r: pick(r, c.BROKERS)),
    "port": _setter("port", lambda r: pick(r, c.PORTS)),
    "carrier": _setter("carrier", lambda r: pick(r, c.CARRIERS)),
    "day": _setter("day", lambda r: pick(r, c.DAYS)),
    "day2": _setter("day2", lambda r: pick(r, c.DAYS)),
    "time": _setter("time", lambda r: pick(r, c.TIMES)),
    "lunch": _setter("lunch", lambda r: pick(r, c.LUNCH)),
    "temp": _setter("temp", lambda r: f"{48 + int(r.random() * 30)}°C"),
    "po": _setter("po", lambda r: f"4500{int(r.random() * 900000) + 100000}"),
    "fw": _setter("fw", lambda r: f"v{1 + r.randrange(3)}.{r.randrange(12)}.{r.randrange(30)}"),
    "chan": _setter("chan", lambda r: pick(r, _CHANNEL_REFS)),
    "quote": _setter("quote", lambda r: pick(r, c.QUOTES)),
}  # fmt: skip


class Slots(dict[str, str]):
    """Template values for one thread; missing ones are drawn on first use."""

    def __init__(self, rng: Random, members: tuple[str, ...]) -> None:
        super().__init__()
        self.rng = rng
        self.members = members

    def __missing__(self, key: str) -> str:
        _SLOT_FILLERS[key](self, self.rng)
        return dict.__getitem__(self, key)
