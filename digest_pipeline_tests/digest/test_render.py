"""Rendering: Block Kit within Slack's limits, HTML escaped, Markdown charts."""

import json
from datetime import UTC, datetime, timedelta

import pandas as pd

from digest_pipeline.defs.digest.build import DigestInputs, build_digests
from digest_pipeline.defs.digest.render import (
    MAX_BLOCKS,
    bar_chart,
    render_blocks,
    render_html,
    risk_counts_markdown,
    sparkline,
)

T0 = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
CHANNELS = pd.DataFrame(
    [
        {"channel_id": f"C{i}", "name": f"chan-{i}", "is_private": False, "topic": "",
         "purpose": ""}
        for i in range(30)
    ]
)  # fmt: skip


def _huge_day(n: int = 400, text_chars: int = 5000) -> DigestInputs:
    rows = []
    for i in range(n):
        rows.append(
            {
                "id": f"C{i % 30}:{i}",
                "channel_id": f"C{i % 30}",
                "channel": f"chan-{i % 30}",
                "user": "<@U1> & <b>friends</b>",
                "timestamp": T0 + timedelta(minutes=3 * i),
                "content": "x" * text_chars + " <script>alert(1)</script> & more",
                "permalink": f"https://x.slack.com/archives/C{i % 30}/p{i}",
                "is_reply": False,
                "parent_id": None,
                "risk_level": ("critical", "high", "medium")[i % 3],
                "risk_category": "supply_chain",
                "description": f"Risk {i} " + "d" * 300 + " <|> & *bold*",
                "confidence_score": 0.7,
                "requires_attention": True,
                "urgency": "high",
                "content_question": None,
            }
        )
        if i % 5 == 0:
            rows[-1]["content"] += " can someone approve this?"
    frame = pd.DataFrame(rows).drop(columns=["content_question"])
    return DigestInputs(T0, T0 + timedelta(days=1), frame, CHANNELS, previous=frame.head(10))


def _texts(blocks: list[dict]) -> list[str]:
    out = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            out.append(block["text"]["text"])
        out += [e.get("text", "") for e in block.get("elements", [])]
    return out


def test_a_huge_digest_stays_within_slack_limits():
    _, content, _ = build_digests(_huge_day(), "Daily digest", kind="daily", trend_freq="h")
    message = render_blocks(content)
    for blocks in (message.blocks, message.details):
        assert 0 < len(blocks) <= MAX_BLOCKS
        for block in blocks:
            text = block.get("text")
            if block["type"] == "section":
                assert len(text["text"]) <= 3000
            if block["type"] == "header":
                assert text["type"] == "plain_text" and len(text["text"]) <= 150
            if block["type"] == "context":
                assert len(block["elements"]) <= 10
    assert len(message.text) <= 40_000
    assert len(json.dumps(message.blocks)) < 50_000


def test_slack_text_escapes_control_characters_and_links_every_risk():
    _, content, _ = build_digests(_huge_day(20, 50), "Daily digest", kind="daily")
    message = render_blocks(content)
    risk_sections = [t for t in _texts(message.blocks) if t.startswith(("🔴", "🟠", "🟡"))]
    assert risk_sections
    for text in risk_sections:
        assert "<https://x.slack.com/archives/" in text  # the source message
        assert "<script>" not in text and "&lt;script&gt;" in text


def test_html_is_escaped_and_self_contained():
    _, content, _ = build_digests(_huge_day(20, 50), "Daily <digest>", kind="daily")
    page = render_html(content)
    assert page.startswith("<!doctype html>")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "Daily &lt;digest&gt;" in page


def test_charts_show_zero_buckets_and_scale_to_the_peak():
    lines = bar_chart([("00:00", 0), ("01:00", 10), ("02:00", 5)], width=10)
    assert lines == ["00:00            0", "01:00 ██████████ 10", "02:00 █████      5"]
    assert sparkline([("a", 0), ("b", 8), ("c", 1)]) == " █▁"


def test_risk_counts_metadata_has_a_table_and_a_chart():
    _, content, _ = build_digests(_huge_day(30, 50), "Daily digest", kind="daily", trend_freq="h")
    text = risk_counts_markdown(content)
    assert "| 🔴 critical | 10 |" in text
    assert "critical █" in text


def _risk(i: int, description: str, level: str = "high", category: str = "supply_chain"):
    from digest_pipeline.defs.digest.models import ThreadRisk

    return ThreadRisk(
        thread_id=f"t{i}",
        level=level,
        message_id=f"m{i}",
        channel_id="C1",
        channel="supply-chain",
        user="u",
        timestamp=T0,
        description=description,
        category=category,
        permalink=f"https://x.slack.com/p{i}",
        requires_attention=True,
        confidence=0.8,
    )


def test_only_one_issue_shares_a_line_never_different_subjects_or_causes():
    from digest_pipeline.defs.digest.render import group_risks

    risks = [
        _risk(1, "Lead time jump on PMIC (52 wk)"),
        _risk(2, "Lead time jump on MCU (44 wk)"),
        _risk(3, "Customs hold on Sensor"),
        _risk(4, "Lead time jump on PMIC (52 wk)"),  # the same part, another thread
        _risk(6, "Lead time jump on PMIC (52 wk)", level="critical"),
        # The same issue in a channel that leans to another category: still one issue.
        _risk(7, "Lead time jump on PMIC (52 wk)", category="logistics"),
        _risk(12, "Logistics risk on PMIC", category="logistics"),  # another cause
        _risk(13, "Supply chain risk on PMIC", category="supply_chain"),
        _risk(8, "Date moved out (WW33→WW37)"),
        _risk(9, "Date moved out (WW11→WW16)"),
        _risk(10, "Impact on launch date"),
        _risk(11, "Impact on launch date"),  # no subject to tell: its own line
    ]
    groups = group_risks(risks)
    assert [g.description for g in groups] == [
        "Lead time jump on PMIC (52 wk)",
        "Lead time jump on MCU (44 wk)",
        "Customs hold on Sensor",
        "Lead time jump on PMIC (52 wk)",  # another level
        "Logistics risk on PMIC",
        "Supply chain risk on PMIC",
        "Date moved out (WW33→WW37)",
        "Date moved out (WW11→WW16)",
        "Impact on launch date",
        "Impact on launch date",
    ]
    assert [r.message_id for r in groups[0].risks] == ["m1", "m4", "m7"]


def test_the_extractive_summary_opens_the_digest_with_its_cited_lines_only():
    from digest_pipeline.defs.digest.render import render_markdown

    _, content, _ = build_digests(_huge_day(20, 50), "Daily digest", kind="daily")
    assert content.summary.startswith("Daily digest: 20 messages in 20 channels;")
    markdown = render_markdown(content)
    opening = markdown.split("**In short**", 1)[1].split("Risk threads:", 1)[0]
    assert "20 messages in 20 channels" not in opening  # the counts are in the headline
    # three critical issues, the high ones in one line, and the unanswered questions
    assert opening.count("\n- ") == 5
    assert "[[1]](https://x.slack.com/archives/" in opening
    assert "AI-written" not in markdown
    blocks = render_blocks(content).blocks
    assert any(t.startswith("*In short*") for t in _texts(blocks))


def test_a_recurring_message_is_one_line_whatever_its_figures():
    from dataclasses import replace

    from digest_pipeline.defs.digest.render import group_risks

    def pickup(i: int, units: str, channel: str = "C1", quote: str = "") -> object:
        text = (
            quote or f"3PL missed the pickup again. {units} units still sitting at the warehouse."
        )
        return replace(
            _risk(i, "Transit disruption", level="critical"), quote=text, channel_id=channel
        )

    risks = [
        pickup(1, "120k"),
        pickup(2, "40k"),
        pickup(3, "4.8k"),
        pickup(4, "8k", channel="C2"),  # another channel: another line
        pickup(5, "", quote="Line down!"),  # too short to tell: its own line
        pickup(6, "", quote="Line down!"),
    ]
    assert [[r.message_id for r in g.risks] for g in group_risks(risks)] == [
        ["m1", "m2", "m3"],
        ["m4"],
        ["m5"],
        ["m6"],
    ]
