"""``SlackSource``: the rate tier reaches the Web API client; sources fail with one clear line."""

from pathlib import Path

import dagster as dg
import pytest

from digest_pipeline import settings
from digest_pipeline.defs.slack.api import RATE_TIERS, WebApi
from digest_pipeline.defs.slack.definitions import build_defs
from digest_pipeline.defs.slack.resources import SlackSource


def test_the_rate_tier_table_matches_the_configuration_contract() -> None:
    assert set(RATE_TIERS) == set(settings.RATE_TIERS)


@pytest.mark.parametrize(
    ("tier", "history_interval", "history_page"),
    [("tier3", 1.2, None), ("strict", 60.0, 15)],
)
def test_open_api_paces_and_caps_pages_as_the_tier_says(
    tier: str, history_interval: float, history_page: int | None
) -> None:
    source = SlackSource(kind="slack", token="xoxb-x", rate_tier=tier)

    api = source.open_api()

    assert isinstance(api, WebApi)
    assert api.tier == tier
    assert api.min_interval_s["conversations.history"] == history_interval
    assert api.min_interval_s["conversations.replies"] == history_interval
    assert api.page_limit.get("conversations.history") == history_page
    assert api.page_limit.get("conversations.replies") == history_page


def test_digest_slack_rate_tier_reaches_the_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    env = {"DIGEST_SOURCE": "slack", "SLACK_BOT_TOKEN": "x", "DIGEST_SLACK_RATE_TIER": "strict"}
    defs = build_defs(settings.load_settings(env))

    resource = defs.resources["slack"]

    assert isinstance(resource, SlackSource)
    assert resource.rate_tier == "strict"


def test_an_unknown_tier_fails_with_one_line() -> None:
    with pytest.raises(dg.Failure, match="DIGEST_SLACK_RATE_TIER='fast' is not valid"):
        SlackSource(kind="slack", token="xoxb-x", rate_tier="fast").open_api()


def test_an_export_that_is_not_one_fails_naming_the_variable(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    source = SlackSource(kind="export", export_path=str(tmp_path / "notes.txt"))

    with pytest.raises(dg.Failure, match=r"SLACK_EXPORT_PATH: .*notes\.txt"):
        source.open_api()
