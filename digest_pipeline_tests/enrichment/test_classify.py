from __future__ import annotations

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from digest_pipeline.contract.enumerations import CATEGORIES, LEVELS
from digest_pipeline.defs.enrichment.classify import (
    category,
    category_of,
    channel_category,
    priority_level,
    thread_category,
    urgency,
)
from digest_pipeline.defs.enrichment.sentiment import sentiment_score


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Line 3 is down at Foxconn, stop ship on all SKUs", "critical"),
        ("SMT line went down an hour ago", "critical"),
        ("We cannot ship the Q4 order, all hands please", "critical"),
        ("swollen batteries found in DVT units, safety issue", "critical"),
        ("need the FCC report ASAP", "high"),
        ("TPS65219 is on allocation through Q2", "high"),
        ("new lead time on the PMIC is 52 weeks", "high"),
        ("STM32H743VIT6 EOL notice received", "high"),
        ("please send the budget by EOD", "high"),
        ("FCC radiated emissions failed at the test lab", "high"),
        ("can you review the layout by Friday?", "medium"),
        ("small issue with the gasket color", "medium"),
        ("lunch is here", "low"),
        ("thanks all, great work", "low"),
        # negation, calm wording, resolution
        ("not urgent, but please review the schematic", "low"),
        ("no rush on this", "low"),
        ("Fire drill at 3pm today, please leave the building", "low"),
        ("no shortage after all, we're fine", "low"),
        ("line is back up, yield recovered", "low"),
        ("the line isn't down, just slow", "low"),
        # a sentence boundary ends the negation
        ("No. The line is down.", "critical"),
    ],
)
def test_urgency_from_wording(text: str, expected: str) -> None:
    assert urgency(text) == expected


@pytest.mark.parametrize(
    ("text", "mentions", "reactions", "expected"),
    [
        ("lunch", ["here"], [], "medium"),
        ("PMIC issue", [], ["fire"], "high"),
        ("PMIC blocked", ["channel"], ["rotating_light"], "critical"),
        ("PMIC blocked", ["U01ALICE"], ["eyes"], "high"),
        ("no rush", ["here"], [], "low"),
    ],
)
def test_urgency_from_mentions_and_reactions(
    text: str, mentions: list[str], reactions: list[str], expected: str
) -> None:
    assert urgency(text, mentions=mentions, reactions=reactions) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Murata MLCC lead times are out to 40 weeks, distributor has no stock", "supply_chain"),
        ("DVT slips because the TPS65219 is on allocation", "supply_chain"),
        ("FPY dropped to 91%, 8D opened with the CM for solder voids", "manufacturing_quality"),
        (
            "CE and FCC radiated emissions pre-scan failed at the test lab",
            "certification_compliance",
        ),
        ("PVT build moved out two weeks, launch date at risk", "schedule_launch"),
        ("Customer Acme is threatening to churn after the price change", "customer_commercial"),
        ("Shipment stuck in customs at Long Beach, broker needs the HTS code", "logistics"),
        ("Firmware regression causes resets on rev B, schematic fix needed", "engineering_design"),
        ("PO approved, invoice attached, budget is tight this quarter", "financial"),
        ("lunch is here", "none"),
        ("the line at the cafe is long", "none"),
    ],
)
def test_category(text: str, expected: str) -> None:
    assert category(text) == expected
    assert expected in CATEGORIES


@pytest.mark.parametrize(
    ("text", "channel", "expected"),
    [
        # A channel named for a topic counts as one strong word of it...
        ("lunch is here", "supply-chain", "supply_chain"),
        ("PO approved", "supply-chain", "supply_chain"),  # ...and wins a tie with the words
        ("PO approved", "general", "financial"),
        # ...but not over stronger wording.
        ("Shipment stuck in customs at Long Beach, broker needs the HTS code", "mfg", "logistics"),
        # A cause beats a consequence, except in a channel named for the consequence.
        ("DVT slips because the TPS65219 is on allocation", None, "supply_chain"),
        ("DVT slips because the TPS65219 is on allocation", "npi-launch", "schedule_launch"),
        ("lunch is here", "random", "none"),
    ],
)
def test_category_leans_to_the_channel(text: str, channel: str | None, expected: str) -> None:
    assert category(text, channel) == expected


def test_channel_category_reads_the_channels_name() -> None:
    assert channel_category("Supply-Chain-APAC") == "supply_chain"
    assert channel_category("random") is None
    assert channel_category(None) is None


def test_thread_category_falls_back_to_the_parent() -> None:
    parent = "Shipment stuck in customs at Long Beach, broker needs the HTS code"
    assert thread_category("same here, any update?", "ops", parent) == "logistics"
    # The reply's own category wins over the parent's.
    assert thread_category("invoice for the expedite fee is $4k", "ops", parent) == "financial"
    assert thread_category("same here, any update?", "ops", None) == "none"


@pytest.mark.parametrize(
    ("level", "topic", "kwargs", "expected"),
    [
        ("critical", "manufacturing_quality", {}, 5),
        ("high", "supply_chain", {}, 4),
        ("high", "supply_chain", {"mentions": ["here"]}, 4),
        ("medium", "logistics", {}, 3),
        ("medium", "logistics", {"reaction_count": 6}, 4),
        ("medium", "none", {}, 2),
        ("low", "financial", {}, 2),
        ("low", "none", {}, 1),
        ("low", "none", {"reply_count": 9}, 2),
    ],
)
def test_priority_level(level: str, topic: str, kwargs: dict, expected: int) -> None:
    assert priority_level(level, topic, **kwargs) == expected
    assert level in LEVELS


@pytest.mark.parametrize(
    "text",
    [
        "I love this, thanks team!",
        "This is not good at all",
        "It was good but the yield is terrible",
        "Great news, the build went well",
        "This is awful, everything broke",
        "The report is attached",
    ],
)
def test_sentiment_sign_agrees_with_vader_on_ordinary_text(text: str) -> None:
    vader = SentimentIntensityAnalyzer().polarity_scores(text)["compound"]
    ours = sentiment_score(text)
    assert -1.0 <= ours <= 1.0
    if abs(vader) < 0.05:
        assert abs(ours) < 0.2
    else:
        assert (ours > 0) == (vader > 0)


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("PMIC shortage, DVT slipped again", -1),
        ("line down, stop ship", -1),
        ("FCC passed, shipped 12k units :tada:", 1),
        ("no shortage after all", 1),
        ("new PO for 5k units", 0),
    ],
)
def test_sentiment_knows_hardware_words(text: str, sign: int) -> None:
    score = sentiment_score(text)
    if sign == 0:
        assert abs(score) < 0.2
    else:
        assert score * sign > 0.2


def test_sentiment_of_empty_and_huge_text_is_bounded() -> None:
    assert sentiment_score("") == 0.0
    assert -1.0 <= sentiment_score("terrible awful failure! " * 5000) <= 1.0


def test_without_a_prior_the_engine_is_unchanged() -> None:
    parent = "Shipment stuck in customs at Long Beach, broker needs the HTS code"
    for text, channel, context in [
        ("same here, any update?", "ops", parent),
        ("PO approved", "supply-chain", None),
        ("lunch is here", "random", None),
    ]:
        assert thread_category(text, channel, context, {}) == thread_category(
            text, channel, context
        )


def test_the_models_prior_decides_where_words_and_channel_name_no_topic() -> None:
    prior = {"supply_chain": 0.1, "engineering_design": 0.6, "logistics": 0.3}
    assert category("we are blocked, need an answer today", "general") == "none"
    assert (
        thread_category("we are blocked, need an answer today", "general", None, prior)
        == "engineering_design"
    )


def test_strong_words_make_up_a_small_gap_in_the_prior() -> None:
    text = "Shipment stuck in customs at Long Beach, broker needs the HTS code"
    assert thread_category(text, "general", None, {"logistics": 0.2, "supply_chain": 0.3}) == (
        "logistics"
    )
    # A wide gap is not made up: the model reads more than the topic words.
    assert thread_category(text, "general", None, {"logistics": 0.0, "supply_chain": 2.0}) == (
        "supply_chain"
    )


def test_a_topic_channel_wins_when_the_model_nearly_agrees() -> None:
    near = {"supply_chain": 0.0, "financial": 0.5}
    far = {"supply_chain": 0.0, "financial": 1.0}
    assert thread_category("lunch is here", "supply-chain", None, near) == "supply_chain"
    assert thread_category("lunch is here", "supply-chain", None, far) == "financial"


def test_with_a_prior_the_parents_words_count_at_half_weight() -> None:
    parent = "Shipment stuck in customs at Long Beach, broker needs the HTS code"
    prior = {"logistics": 0.0, "supply_chain": 0.2}
    assert thread_category("same here, any update?", "ops", parent, prior) == "logistics"
    assert thread_category("same here, any update?", "ops", None, prior) == "supply_chain"


def test_enrichment_and_risk_share_one_bounded_scan_per_text() -> None:
    from digest_pipeline.defs.enrichment.analyzer import (
        ANALYSIS_CACHE_SIZE,
        analysis_of,
        default_analyzer,
    )

    text = "PMIC on allocation, 52 wk lead time: DVT slips unless we qualify the alternate"
    first = analysis_of(text)
    assert analysis_of(text) is first  # the second reader gets the first scan
    assert first == default_analyzer().analyze(text)  # and it is the analyzer's own answer
    assert analysis_of.cache_info().maxsize == ANALYSIS_CACHE_SIZE
    assert category(text, "general") == category_of(default_analyzer().analyze(text), "general")
