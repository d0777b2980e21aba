"""What a risk puts at stake, read from its text; and the digest's ranking by it."""

import pytest

from digest_pipeline.defs.digest.impact import Impact, read_impact, thread_impact


@pytest.mark.parametrize(
    ("text", "facts"),
    [
        ("Orion has gone quiet on the $340k renewal", ["$340k"]),
        ("leaves us ~12k units short for the DVT build", ["12k units"]),
        ("PO for 5,000 pcs at USD 1.2M", ["$1.2M", "5k units"]),
        ("2.5 million EUR of revenue at risk", ["$2.5M"]),
        ("SMT line L3 is down since 6am", ["stopped"]),
        ("we have to stop-ship the Talon units", ["stopped"]),
        ("final QA 良率低, 已停线排查", ["stopped"]),
        ("a unit caught fire at the customer site", ["safety"]),
        ("two packs swollen in the field", ["safety"]),
        ("launch ships in 3 days and the boxes are not here", ["3 days left"]),
        ("cert slot is 2 weeks away", ["14 days left"]),
    ],
)
def test_the_figures_people_write_are_read(text, facts):
    assert read_impact(text).facts() == facts


@pytest.mark.parametrize(
    "text",
    [
        "no injuries, the line is back up",
        "the line is not down, just slow",
        "burn-in FPY 97% as usual",
        "safety stock is fine for Q3",
        "price up 12% on the 0402 caps",
        "thanks, 3 units looked fine",
        "",
    ],
)
def test_nothing_at_stake_is_not_invented(text):
    assert read_impact(text).points() == 0.0


def test_points_grow_with_orders_of_magnitude_and_a_thread_takes_its_largest_figures():
    assert (
        read_impact("$5k").points() < read_impact("$50k").points() < read_impact("$500k").points()
    )
    combined = thread_impact(["lot held, 400 units", "that's $80k of revenue", None])
    assert combined == Impact(money=80_000, units=400)
    assert combined.points() == pytest.approx(
        read_impact("$80k").points() + read_impact("400 units").points()
    )


def test_a_long_message_is_read_only_up_to_its_cap():
    text = "x " * 10_000 + "$900k"
    assert read_impact(text).money == 0.0
