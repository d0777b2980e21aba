from __future__ import annotations

from typing import Any

import pytest

from digest_pipeline.defs.enrichment.mrkdwn import MrkdwnCleaner, message_mrkdwn

USERS = {"U01ALICE": "Alice Chen", "U02BOB": "Bob"}
CHANNELS = {"C01SUPPLY": "supply-chain"}


@pytest.fixture
def cleaner() -> MrkdwnCleaner:
    return MrkdwnCleaner(USERS, CHANNELS)


@pytest.mark.parametrize(
    ("text", "expected", "mentions"),
    [
        ("plain words", "plain words", []),
        ("<@U01ALICE> can you check?", "@Alice Chen can you check?", ["U01ALICE"]),
        ("<@U01ALICE|alice> hi", "@Alice Chen hi", ["U01ALICE"]),
        ("<@U09GONE|gone.user> hi", "@gone.user hi", ["U09GONE"]),
        ("<@U09GONE> hi", "@U09GONE hi", ["U09GONE"]),
        ("see <#C01SUPPLY|supply-chain>", "see #supply-chain", []),
        ("see <#C01SUPPLY>", "see #supply-chain", []),
        ("see <#C09OTHER|old-name>", "see #old-name", []),
        ("<https://x.io/a|the doc>", "the doc (https://x.io/a)", []),
        ("<https://x.io/a>", "https://x.io/a", []),
        ("<https://x.io/a|x.io/a>", "https://x.io/a", []),
        ("<mailto:a@b.com|a@b.com>", "a@b.com", []),
        ("<mailto:a@b.com|Alice>", "Alice (a@b.com)", []),
        ("<!here> line down", "@here line down", ["here"]),
        ("<!channel|channel> heads up", "@channel heads up", ["channel"]),
        ("<!everyone>", "@everyone", ["everyone"]),
        ("<!subteam^S01HW|@hw-team> please", "@hw-team please", ["subteam:S01HW"]),
        ("<!subteam^S01HW> please", "@S01HW please", ["subteam:S01HW"]),
        ("due <!date^1700000000^{date_short}|Nov 14>", "due Nov 14", []),
        ("due <!date^1700000000^{date_short}>", "due 2023-11-14 22:13 UTC", []),
        ("R&amp;D &lt;3 &gt; ops", "R&D <3 > ops", []),
        ("&lt;@U01ALICE&gt; literal", "<@U01ALICE> literal", []),
        (":fire: :+1::skin-tone-3:", ":fire: :+1:", []),
        (
            "run `<@U01ALICE>` then\n```x &lt; 3 && <!here>```",
            "run `<@U01ALICE>` then\n```x < 3 && <!here>```",
            [],
        ),
        ("<@U01ALICE> <@U01ALICE> <!here>", "@Alice Chen @Alice Chen @here", ["U01ALICE", "here"]),
        ("a\x00b\x07c\u202ed\r\ne", "abcd\ne", []),
        ("", "", []),
    ],
)
def test_clean_turns_slack_markup_into_text(
    cleaner: MrkdwnCleaner, text: str, expected: str, mentions: list[str]
) -> None:
    assert cleaner.clean(text) == (expected, mentions)


def test_clean_keeps_hostile_html_as_inert_text(cleaner: MrkdwnCleaner) -> None:
    text, _ = cleaner.clean("&lt;script&gt;alert(1)&lt;/script&gt; <img src=x onerror=alert(1)>")
    assert text.startswith("<script>alert(1)</script>")


RICH_BLOCKS: list[dict[str, Any]] = [
    {
        "type": "rich_text",
        "block_id": "b1",
        "elements": [
            {
                "type": "rich_text_section",
                "elements": [
                    {"type": "user", "user_id": "U02BOB"},
                    {"type": "text", "text": " PMIC lead time is "},
                    {"type": "text", "text": "52 weeks", "style": {"bold": True}},
                    {"type": "text", "text": " see "},
                    {"type": "link", "url": "https://ti.com/x", "text": "PCN"},
                    {"type": "text", "text": " a<b & c "},
                    {"type": "emoji", "name": "rotating_light"},
                    {"type": "broadcast", "range": "channel"},
                ],
            },
            {
                "type": "rich_text_list",
                "style": "bullet",
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": "one"}]},
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": "two"}]},
                ],
            },
            {
                "type": "rich_text_preformatted",
                "elements": [{"type": "text", "text": "<@U01ALICE> x"}],
            },
            {"type": "rich_text_quote", "elements": [{"type": "text", "text": "quoted"}]},
        ],
    }
]


def test_rich_text_blocks_are_used_when_text_is_empty(cleaner: MrkdwnCleaner) -> None:
    text, mentions = cleaner.clean(message_mrkdwn({"text": "", "blocks": RICH_BLOCKS}))
    assert text == (
        "@Bob PMIC lead time is 52 weeks see PCN (https://ti.com/x) a<b & c :rotating_light:"
        "@channel\n- one\n- two\n```<@U01ALICE> x```\n> quoted"
    )
    assert mentions == ["U02BOB", "channel"]


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        ({"text": "hello", "blocks": RICH_BLOCKS}, "hello"),
        (
            {
                "text": "",
                "attachments": [
                    {"fallback": "fb", "pretext": "Alert", "title": "Yield", "text": "FPY 91%"},
                    {"fallback": "only fallback"},
                    {"fields": [{"title": "Site", "value": "Foxconn"}]},
                ],
            },
            "Alert\nYield\nFPY 91%\nonly fallback\nSite: Foxconn",
        ),
        (
            {"files": [{"name": "8D_report.pdf", "title": "8D report"}, {"name": "x.png"}]},
            "[file] 8D report\n[file] x.png",
        ),
        (
            {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Build* ok"}}]},
            "*Build* ok",
        ),
        ({"text": None, "blocks": "not-a-list", "attachments": [None, 3]}, ""),
        ({}, ""),
    ],
)
def test_message_text_falls_back_from_text_to_blocks_attachments_files(
    msg: dict[str, Any], expected: str
) -> None:
    assert message_mrkdwn(msg) == expected


def test_deeply_nested_rich_text_does_not_recurse_forever(cleaner: MrkdwnCleaner) -> None:
    element: dict[str, Any] = {
        "type": "rich_text_section",
        "elements": [{"type": "text", "text": "x"}],
    }
    for _ in range(500):
        element = {"type": "rich_text_list", "elements": [element]}
    text, _ = cleaner.clean(
        message_mrkdwn({"blocks": [{"type": "rich_text", "elements": [element]}]})
    )
    assert isinstance(text, str)
