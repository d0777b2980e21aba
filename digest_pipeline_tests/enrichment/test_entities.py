from __future__ import annotations

import pytest

from digest_pipeline.defs.enrichment.entities import (
    ENTITY_KINDS,
    TextAnalyzer,
    entities_of,
    extract_entities,
)


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("TPS65219 and STM32H743VIT6 on allocation", "parts", ["TPS65219", "STM32H743VIT6"]),
        ("Murata GRM188R71H104KA93D, LPDDR4X", "parts", ["GRM188R71H104KA93D", "LPDDR4X"]),
        ("swap to tps65219rhbr", "parts", ["TPS65219RHBR"]),
        ("DVT2 in WW48 of 2024, Q4, USB3, ISO9001, COVID19, P0, SEV1", "parts", []),
        ("see https://acme.slack.com/archives/C0123ABCD/p1700", "parts", []),
        ("PMIC, two MLCCs and a USB-C connector", "components", ["PMIC", "capacitor", "connector"]),
        ("the board-to-board connector and LDO", "components", ["connector", "regulator"]),
        ("TI and Texas Instruments", "suppliers", ["Texas Instruments"]),
        (
            "Würth, Murata, Foxconn and Flex",
            "suppliers",
            ["Würth Elektronik", "Murata", "Foxconn", "Flex"],
        ),
        ("Shenzhen Kaifa Electronics quoted", "suppliers", ["Shenzhen Kaifa Electronics"]),
        ("flex cable and the ti datasheet", "suppliers", []),
        ("EVT done, DVT2 next, then PVT and MP", "build_stages", ["EVT", "DVT", "PVT", "MP"]),
        ("mass production starts", "build_stages", ["MP"]),
        ("mp3 player", "build_stages", []),
        ("FCC, CE marking, UL and RoHS", "certifications", ["FCC", "CE", "UL", "RoHS"]),
        (
            "TELEC and KC pending, radiated emissions marginal",
            "certifications",
            ["TELEC", "KC", "EMC"],
        ),
        ("we can ce it", "certifications", []),
        ("need it by Fri, WW48 latest", "dates", ["by Fri", "WW48"]),
        ("ship EOD or end of month, 2024-12-03", "dates", ["EOD", "end of month", "2024-12-03"]),
        ("due Dec 3 and 12/15", "dates", ["due", "Dec 3", "12/15"][1:]),
        (
            "12k units and 5,000 pcs and 3 reels",
            "quantities",
            ["12k units", "5,000 pcs", "3 reels"],
        ),
        ("$340k NRE, €1.2M, 50k USD", "amounts", ["$340k", "€1.2M", "50k USD"]),
        ("customer Acme Robotics wants more", "customers", ["Acme Robotics"]),
        ("shipping to Northwind Health Inc today", "customers", ["Northwind Health Inc"]),
        ("the customer is unhappy", "customers", []),
    ],
)
def test_extract_entities(text: str, kind: str, expected: list[str]) -> None:
    assert extract_entities(text)[kind] == expected


def test_every_kind_is_present_even_when_empty() -> None:
    assert list(extract_entities("")) == list(ENTITY_KINDS)
    assert all(v == [] for v in extract_entities("hello there").values())


def test_known_customers_match_anywhere() -> None:
    analyzer = TextAnalyzer(known_customers=["Globex", "Initech Labs"])
    found = entities_of(analyzer.analyze("call with globex and Initech Labs"))
    assert found["customers"] == ["Globex", "Initech Labs"]
