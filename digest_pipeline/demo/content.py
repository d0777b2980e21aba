"""What the simulated workspace talks about: the company, its people, channels and scenarios.

The content is data, in ``data/`` beside this module; this module loads it once into typed,
frozen objects and :mod:`digest_pipeline.demo.generate` turns it into Slack-shaped messages.

* ``workspace.json``: the company, people, bots, and channels with their traffic mix;
* ``scenarios.json``: the situations (their parents, replies and closers) and their ground truth;
* ``chatter.json``: routine chatter, filler and late replies, bot posts, reactions, file kinds;
* ``vocabulary.json``: the values ``{slot}`` fields are drawn from (parts, vendors, lots, ...).

Text is Slack mrkdwn: ``&``, ``<`` and ``>`` are already escaped where they are meant literally,
and ``{slot}`` fields are filled per thread so a thread stays about one part, one lot, one
customer. Template prefixes pick who may write a line: ``cm|`` someone at the contract
manufacturer (who sometimes writes in Mandarin), ``de|`` the German supplier's rep, ``es|`` the
Mexican broker / 3PL contact. Lines without a prefix come from any member of the channel.

Scenario names are the ground truth (``DemoWorkspace.scenario_of``): :data:`SCENARIOS` maps each
to the category and level a careful reader would give it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import files
from typing import Any


def _load(name: str) -> dict[str, Any]:
    text = files("digest_pipeline.demo").joinpath("data", name).read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"demo data {name}: expected a JSON object")
    return data


def _strings(values: list[Any]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


_WORKSPACE = _load("workspace.json")
COMPANY: str = _WORKSPACE["company"]
TEAM_ID: str = _WORKSPACE["team_id"]
TEAM_DOMAIN: str = _WORKSPACE["team_domain"]
# Each group's mail domain: us is the company's own.
EMAIL_DOMAINS: dict[str, str] = dict(_WORKSPACE["email_domains"])
EMAIL_DOMAIN = EMAIL_DOMAINS["us"]


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str
    real_name: str
    title: str
    group: str = "us"  # us | cm | de | es: who they are and which language they sometimes use
    tz: str = "America/Los_Angeles"
    deleted: bool = False

    @property
    def display_name(self) -> str:
        return self.real_name.split(" ")[0].lower() if self.group == "us" else self.real_name

    @property
    def email(self) -> str:
        return f"{self.name}@{EMAIL_DOMAINS[self.group]}"


@dataclass(frozen=True)
class Bot:
    key: str
    user_id: str
    bot_id: str
    app_id: str
    name: str
    username: str
    real_name: str


@dataclass(frozen=True)
class Scenario:
    """A kind of situation: how it starts, how people reply, how it ends."""

    name: str
    category: str
    level: str
    parents: tuple[str, ...]
    replies: tuple[str, ...] = ()
    closers: tuple[str, ...] = ()
    # The label a closing reply carries ("resolution" when it says the risk is gone).
    closer_scenario: str | None = None
    thread_p: float = 0.6
    mean_replies: float = 4.0

    @classmethod
    def of(cls, data: dict[str, Any]) -> Scenario:
        texts = {k: _strings(data[k]) for k in ("parents", "replies", "closers") if k in data}
        return cls(**{**data, **texts})


@dataclass(frozen=True)
class Channel:
    channel_id: str
    name: str
    topic: str
    purpose: str
    created: datetime
    rate: float  # top-level messages in a busy weekday hour at scale 1
    members: tuple[str, ...]  # person names; repeated names post more often
    mix: dict[str, float] = field(default_factory=dict)  # kind -> weight (per mille)
    is_private: bool = False
    is_member: bool = True
    archived_at: datetime | None = None
    asia_share: float = 0.0  # part of the traffic that follows the CM's working day
    bots: tuple[str, ...] = ()

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @classmethod
    def of(cls, data: dict[str, Any], mixes: dict[str, dict[str, float]]) -> Channel:
        mix = data.get("mix", {})
        return cls(
            **{
                **data,
                "created": _moment(data["created"]),
                "archived_at": _moment(data.get("archived_at")),
                "members": _strings(data["members"]),
                "bots": _strings(data.get("bots", [])),
                # Mix weights are per mille of top-level messages; a name is a shared mix.
                "mix": mixes[mix] if isinstance(mix, str) else mix,
            }
        )


PEOPLE: tuple[Person, ...] = tuple(Person(**p) for p in _WORKSPACE["people"])
BOTS: tuple[Bot, ...] = tuple(Bot(**b) for b in _WORKSPACE["bots"])
DIGEST_BOT: Bot = next(b for b in BOTS if b.key == _WORKSPACE["digest_bot"])
CHANNELS: tuple[Channel, ...] = tuple(
    Channel.of(ch, _WORKSPACE["mixes"]) for ch in _WORKSPACE["channels"]
)

# Scenarios. Parents start a situation; replies keep talking about it; closers end the thread.
_SCENARIOS = _load("scenarios.json")
RESOLUTION: str = _SCENARIOS["resolution"]  # the label of a scenario's closing reply
SCENARIO_LIST: tuple[Scenario, ...] = tuple(Scenario.of(s) for s in _SCENARIOS["scenarios"])
SCENARIOS: dict[str, Scenario] = {s.name: s for s in SCENARIO_LIST}
# Bot alerts that carry risk are labelled too (the MES posts real yield alarms): name ->
# (category, level).
BOT_SCENARIOS: dict[str, tuple[str, str]] = {
    name: (v["category"], v["level"]) for name, v in _SCENARIOS["bot_scenarios"].items()
}


# Every labelled situation's ground truth, name -> (category, level); people's scenarios come
# before bot alerts of the same name.
_TRUTH: dict[str, tuple[str, str]] = {
    **BOT_SCENARIOS,
    **{s.name: (s.category, s.level) for s in SCENARIO_LIST},
}


def scenario_level(name: str | None) -> str | None:
    """The ground-truth risk level of a scenario name (``None`` for routine chatter)."""
    return None if name is None else _TRUTH[name][1]


def scenario_category(name: str | None) -> str | None:
    return None if name is None else _TRUTH[name][0]


# Routine chatter, replies that carry no risk, bot posts and the bits messages are dressed in.
_CHATTER = _load("chatter.json")
GENERIC_ROUTINE = _strings(_CHATTER["generic_routine"])
ROUTINE: dict[str, tuple[str, ...]] = {k: _strings(v) for k, v in _CHATTER["routine"].items()}
ROUTINE_REPLIES = _strings(_CHATTER["routine_replies"])
FILLER_REPLIES = _strings(_CHATTER["filler_replies"])
LATE_REPLIES = _strings(_CHATTER["late_replies"])
# Bot posts by bot key: (title, text, color, scenario or None)
BOT_POSTS: dict[str, tuple[tuple[str, str, str, str | None], ...]] = {
    key: tuple((p["title"], p["text"], p["color"], p["scenario"]) for p in posts)
    for key, posts in _CHATTER["bot_posts"].items()
}
SYSTEM_TOPICS = _strings(_CHATTER["system_topics"])
REACTIONS_ROUTINE = _strings(_CHATTER["reactions_routine"])
REACTIONS_RISK = _strings(_CHATTER["reactions_risk"])
# (name, filetype, pretty type, mimetype)
FILE_KINDS: tuple[tuple[str, str, str, str], ...] = tuple(
    (f["name"], f["filetype"], f["pretty_type"], f["mimetype"]) for f in _CHATTER["file_kinds"]
)

# What {slot} fields are drawn from.
_VOCABULARY = _load("vocabulary.json")


def _words(name: str) -> tuple[str, ...]:
    return _strings(_VOCABULARY[name])


def _rows(name: str) -> tuple[tuple[str, ...], ...]:
    return tuple(_strings(row) for row in _VOCABULARY[name])


PARTS: tuple[tuple[str, ...], ...] = _rows("parts")  # (part, kind, vendor)
PRODUCTS: tuple[tuple[str, ...], ...] = _rows("products")  # (product, codename)
CMS: tuple[tuple[str, ...], ...] = _rows("cms")  # (contract manufacturer, site)
CUSTOMERS: tuple[tuple[str, ...], ...] = _rows("customers")  # (name, short name)
DISTRIBUTORS = _words("distributors")
STATIONS = _words("stations")
DEFECTS = _words("defects")
DEFECTS_CN = _words("defects_cn")
BUILDS = _words("builds")
STAGES = _words("stages")
STANDARDS = _words("standards")
LABS = _words("labs")
FREQS = _words("freqs")
COMPETITORS = _words("competitors")
DEALS = _words("deals")
HTS_CODES = _words("hts_codes")
BROKERS = _words("brokers")
PORTS = _words("ports")
CARRIERS = _words("carriers")
QTYS = _words("qtys")
DAYS = _words("days")
TIMES = _words("times")
LUNCH = _words("lunch")
SHEETS = _words("sheets")
QUOTES = _words("quotes")
