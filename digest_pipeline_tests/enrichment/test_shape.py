"""Urgency reads a message's shape: cross-posts, FYIs and green status posts are not "act now".

The phrasings below were written after the rule, in several styles, and were not tuned on; the
negatives include the same markers with a real ask, and negated green ("not on track").
"""

import pytest

from digest_pipeline.defs.enrichment.classify import urgency
from digest_pipeline.defs.enrichment.shape import MAX_SHAPE_CHARS, routine_shape

LINK = "https://acme-hw.slack.com/archives/C04MFG123/p1772704860000100"

# (text, mentions, shape kind): routine posts, whose urgency must be low.
ROUTINE = [
    ("x-post from #manufacturing: Line 3 is down since 2am, MES shows 40% scrap", (), "crosspost"),
    (
        "Cross-posting from #supply-chain — PMIC EOL notice, last time buy closes in 6 weeks",
        (),
        "crosspost",
    ),
    ("ICYMI: customs hold on the Osprey shipment, broker expects release Friday", (), "crosspost"),
    ("In case you missed it, the FCC retest FAILED on radiated emissions", (), "crosspost"),
    (f"msg ({LINK})", (), "crosspost"),
    (f"see ({LINK}) @here", ("here",), "crosspost"),
    ("reposting from #npi so the launch team sees it: DVT slipped two weeks", (), "crosspost"),
    ("FYI - supplier moved the PCB lead time to 52 weeks, we are covered through Q3", (), "fyi"),
    ("fyi: critical yield excursion on lot 88 was contained, scrap reworked", (), "fyi"),
    ("F.Y.I. the UL audit found two critical findings, both already closed", (), "fyi"),
    ("For awareness: line 2 was down for an hour this morning. No action needed.", (), "fyi"),
    ("Sharing for visibility — customer escalation from Northwind handled by Sam", (), "fyi"),
    (
        "@channel shipment delayed one day at the port, nothing to do on your side",
        ("channel",),
        "fyi",
    ),
    ("Weekly status: all green ✅", (), "green_status"),
    ("Status: green. EVT builds on track, FCC pre-scan passed.", (), "green_status"),
    (
        "NPI weekly\n✅ EVT build complete\n✅ DVT plan on track\n✅ CE pre-scan passed",
        (),
        "green_status",
    ),
    (
        "Launch checklist: :white_check_mark: packaging done, :white_check_mark: certs done, "
        ":white_check_mark: pricing approved",
        (),
        "green_status",
    ),
    ("Supply update — all workstreams on track, no blockers, no delays", (), "green_status"),
]
# Real urgent messages, including the same markers with an outright ask and negated green.
URGENT = [
    ("Line 3 down, production stopped, all units on hold", ()),
    ("need answer by EOD on the PMIC last time buy or we lose the allocation", ()),
    ("@here customer escalation: Northwind threatens to cancel the 60k PO", ("here",)),
    ("x-post from #mfg: line 3 down — need a decision by EOD on shipping the held lots", ()),
    ("FYI the customs hold is still not cleared, can someone call the broker asap?", ()),
    ("Weekly status: EVT not on track, DVT slipping two weeks, FCC failed", ()),
    ("Status: green except the PMIC shortage which is now critical", ()),
    (
        "NPI weekly\n✅ EVT build complete\n❌ DVT blocked on the enclosure tooling\n✅ CE passed",
        (),
    ),
    ("we are no longer on track for the March launch, critical shortage on the PMIC", ()),
    ("Urgent: stop ship on lot 4471, safety issue reported by a customer", ()),
]


@pytest.mark.parametrize(("text", "mentions", "kind"), ROUTINE)
def test_routine_shapes_are_read_and_never_urgent(text, mentions, kind):
    shape = routine_shape(text)
    assert shape is not None and shape.kind == kind and not shape.asks
    assert urgency(text, mentions=mentions) == "low"
    if kind != "fyi":  # a repost or a green status stays routine whatever reactions it draws
        assert urgency(text, mentions=mentions, reactions=["rotating_light"]) == "low"


@pytest.mark.parametrize(
    ("text", "mentions", "reactions"),
    [
        ("@here FYI: line 2 is down since 6am", ("here",), ()),
        ("fyi the PMIC allocation just got cut to 40%", (), ("rotating_light",)),
    ],
)
def test_an_fyi_someone_broadcast_or_flagged_is_not_calmed(text, mentions, reactions):
    assert urgency(text, mentions=mentions, reactions=reactions) != "low"
    # ... unless it says nobody has to act.
    assert urgency(text + ". No action needed.", mentions=mentions, reactions=reactions) == "low"


@pytest.mark.parametrize(("text", "mentions"), URGENT)
def test_real_urgent_messages_stay_urgent(text, mentions):
    shape = routine_shape(text)
    assert shape is None or shape.asks
    assert urgency(text, mentions=mentions) in ("high", "critical")


@pytest.mark.parametrize(
    "text",
    [
        "lunch at noon?",
        "Quick question about the BOM",
        "Done with the review",  # one green word is not a status post
        "",
    ],
)
def test_plain_messages_have_no_routine_shape(text):
    assert routine_shape(text) is None


def test_a_long_text_is_read_only_up_to_the_bound():
    text = "x " * MAX_SHAPE_CHARS + "fyi"
    assert routine_shape(text) is None
