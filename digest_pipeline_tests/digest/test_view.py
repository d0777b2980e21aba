"""The view model: what a digest shows is decided once, and every format draws the same lines."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from digest_pipeline.defs.digest.format_html import html_digest
from digest_pipeline.defs.digest.format_markdown import markdown_digest
from digest_pipeline.defs.digest.format_slack import slack_digest
from digest_pipeline.defs.digest.models import (
    ChannelLine,
    Citation,
    DigestContent,
    Question,
    SummarySentence,
    ThreadRisk,
)
from digest_pipeline.defs.digest.view import digest_view

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def _risk(i: int, description: str, level: str = "high", **extra) -> ThreadRisk:
    return ThreadRisk(
        thread_id=f"t{i}",
        level=level,
        message_id=f"m{i}",
        channel_id=f"C{i}",
        channel=f"chan-{i}",
        user="u",
        timestamp=T0,
        description=description,
        category="supply_chain",
        permalink=f"https://x.slack.com/archives/C{i}/p{i}",
        confidence=0.8,
        quote=f"quote {i}",
        **{"requires_attention": True, **extra},
    )


def _minor(i: int) -> ThreadRisk:
    return _risk(i, f"Minor issue {i}", level="medium", requires_attention=False)


def _content(risks: list[ThreadRisk], **extra) -> DigestContent:
    return DigestContent(
        title="Daily digest",
        kind="daily",
        scope="*",
        window_start=T0,
        window_end=T0 + timedelta(days=1),
        message_count=40,
        thread_count=12,
        channel_count=3,
        risks=tuple(risks),
        **extra,
    )


def _slack_text(content: DigestContent) -> str:
    message = slack_digest(digest_view(content))
    texts = []
    for block in [*message.blocks, *message.details]:
        if isinstance(block.get("text"), dict):
            texts.append(block["text"]["text"])
        texts += [e.get("text", "") for e in block.get("elements", [])]
    return "\n".join(texts)


def test_threads_of_one_issue_are_one_line_with_numbered_evidence_and_the_rest_counted():
    risks = [_risk(i, "Lead time jump on PMIC (52 wk)") for i in range(1, 6)]
    (line,) = digest_view(_content(risks)).act_on
    assert line.title == "Lead time jump on PMIC (52 wk)"
    assert line.where == "5 threads in #chan-1, #chan-2, #chan-3, #chan-4"
    assert [e.label for e in line.evidence] == ["1", "2", "3"] and line.more_evidence == 2
    assert [a.label for a in line.also] == ["#chan-2", "#chan-3", "#chan-4", "#chan-5"]
    assert line.link == risks[0].permalink and line.quote == "quote 1"


def test_every_format_draws_the_views_lines_in_the_views_order():
    risks = [
        _risk(1, "Customs hold on sensor lot", level="critical"),
        _risk(2, "Line stop at Penang", level="high"),
        *(_minor(i) for i in range(3, 16)),
    ]
    content = _content(risks)
    view = digest_view(content)
    shown = [line.title for line in view.act_on]
    assert shown[:2] == ["Customs hold on sensor lot", "Line stop at Penang"]
    assert view.others and view.left_out == len(risks) - view.act_on_threads
    drawn = {
        "markdown": markdown_digest(view),
        "html": html_digest(view),
        "slack": _slack_text(content),
    }
    for name, text in drawn.items():
        places = [text.index(title) for title in shown]
        assert places == sorted(places), name
        # Every other medium+ thread is reachable too (Slack: in the thread reply).
        for line in view.others:
            assert line.title in text, (name, line.title)


def test_status_and_update_are_decided_once_for_every_format():
    escalated = _risk(
        1,
        "Allocation cut on MCU",
        level="critical",
        status="escalated",
        previous_level="high",
        update_quote="now a hard stop",
        update_permalink="https://x.slack.com/archives/C1/p9",
        update_level="critical",
    )
    content = _content([escalated], has_previous=True)
    (line,) = digest_view(content).act_on
    assert line.status == "↑ from high"
    assert line.update is not None and line.update.label == "update (critical)"
    assert "↑ from high" in markdown_digest(digest_view(content))
    assert "↑ from high" in html_digest(digest_view(content))
    assert "↑ from high" in _slack_text(content)
    # Without a previous window no format shows a status.
    unknown = replace(content, has_previous=False)
    assert "↑ from high" not in markdown_digest(digest_view(unknown))
    assert "↑ from high" not in _slack_text(unknown)


def test_a_message_cited_twice_keeps_its_first_number_across_the_summary():
    a, b = Citation("m1", "https://x.slack.com/p1"), Citation("m2", "https://x.slack.com/p2")
    content = _content(
        [_risk(1, "Line stop")],
        summary_sentences=(SummarySentence("First.", (a, b)), SummarySentence("Again.", (b,))),
        summary_source="llm",
    )
    view = digest_view(content)
    assert [[c.label for c in s.cites] for s in view.summary] == [["[1]", "[2]"], ["[2]"]]
    assert view.summary_by_llm
    assert "- Again. [[2]](https://x.slack.com/p2)" in markdown_digest(view)


def test_view_text_stays_plain_and_each_format_escapes_it():
    hostile = "<img src=x> & <!channel> [y](javascript:z)"
    content = _content(
        [_risk(1, hostile)],
        questions=(
            Question("m9", "C1", "chan-1", hostile, T0, hostile, "javascript:alert(1)", "@here"),
        ),
        per_channel=(ChannelLine("C1", hostile, 4, {"critical": 0, "high": 1, "medium": 0}),),
    )
    view = digest_view(content)
    assert view.act_on[0].title == hostile and view.questions[0].user == hostile
    assert view.questions[0].at == "09:00 UTC"
    markdown, page, slack = markdown_digest(view), html_digest(view), _slack_text(content)
    for text in (markdown, page, slack):
        assert "<img" not in text and "<!channel>" not in text
    assert "](javascript:" not in markdown
    assert 'href="javascript:' not in page
    assert "<javascript:" not in slack
