"""Mitigation playbook: the first concrete actions an operations lead takes per risk category."""

from __future__ import annotations

PLAYBOOK: dict[str, tuple[str, ...]] = {
    "supply_chain": (
        "Confirm on-hand stock, open POs and weeks of cover against the build plan",
        "Qualify or pull in an alternate / second source; check broker stock only as a bridge",
        "Get a committed delivery schedule in writing and escalate with the supplier's account "
        "team",
    ),
    "manufacturing_quality": (
        "Contain: hold affected lots and stop further shipments until disposition",
        "Open an 8D with the CM and get a root cause with a verified fix",
        "Quantify exposure (units built, shipped, in the field) and decide rework vs scrap",
    ),
    "certification_compliance": (
        "Book the next lab slot now and line up a pre-scan to verify the fix",
        "Assess which markets and ship dates are blocked and tell sales and launch owners",
        "Engage the test lab / certification body on the fastest path to a grant",
    ),
    "schedule_launch": (
        "Re-baseline the schedule and identify the critical-path owner",
        "Tell marketing, sales and channel partners the new date before it leaks",
        "Look for parallel paths (phased launch, partial quantities) that protect the date",
    ),
    "customer_commercial": (
        "Have the account owner call the customer this week and confirm the real issue",
        "Prepare a concrete offer (schedule, credit, terms) approved by sales leadership",
        "Review the account's forecast and renewal exposure in the pipeline",
    ),
    "logistics": (
        "Get the forwarder / broker's written status, missing documents and a new ETA",
        "Prepare the missing paperwork (HTS, CoO, compliance declarations) today",
        "Tell the receiving customers or sites and consider expediting a partial shipment",
    ),
    "engineering_design": (
        "Assign an owner to root-cause and reproduce on a defined sample",
        "Decide fix path and whether it blocks the next build gate",
        "Add a regression test or check to the build and release process",
    ),
    "financial": (
        "Quantify the impact on unit cost, margin and cash for the quarter",
        "Review with finance and decide approve, dispute or renegotiate",
        "Update the cost model and forecast so the next decisions use the new numbers",
    ),
    "none": (),
}


def mitigations(category: str, level: str) -> list[str]:
    """Suggested actions for a risk: none for low, two for medium, three from high up."""
    actions = PLAYBOOK.get(category, ())
    if level == "low" or not actions:
        return []
    return list(actions[:2] if level == "medium" else actions[:3])
