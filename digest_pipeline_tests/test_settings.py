import pytest

from digest_pipeline.settings import ConfigError, Settings, load_settings


def test_defaults_need_no_configuration(tmp_path):
    settings = load_settings({"DIGEST_DUCKDB_PATH": str(tmp_path / "d.duckdb")})
    assert settings.source == "demo"
    assert settings.warehouse == "duckdb"
    assert settings.effective_scorer == "model"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"DIGEST_SOURCE": "teams"}, "DIGEST_SOURCE"),
        ({"DIGEST_WAREHOUSE": "sqlite"}, "DIGEST_WAREHOUSE"),
        ({"DIGEST_DAILY_AT": "25:00"}, "DIGEST_DAILY_AT"),
        ({"DIGEST_THREAD_LOOKBACK_DAYS": "two weeks"}, "DIGEST_THREAD_LOOKBACK_DAYS"),
        ({"DIGEST_SOURCE": "slack"}, "SLACK_BOT_TOKEN"),
        ({"DIGEST_SOURCE": "export"}, "SLACK_EXPORT_PATH"),
        ({"DIGEST_WAREHOUSE": "postgres"}, "DATABASE_URL"),
        ({"DIGEST_SLACK_RATE_TIER": "fast"}, "DIGEST_SLACK_RATE_TIER"),
        ({"SLACK_EXPORT_OWN_APP": "digest-bot"}, "SLACK_EXPORT_OWN_APP"),
        ({"SLACK_EXPORT_OWN_APP": "U0BOT,U0OTHER"}, "SLACK_EXPORT_OWN_APP"),
    ],
)
def test_bad_values_fail_with_one_line_naming_the_variable(tmp_path, env, names):
    env = {"DIGEST_DUCKDB_PATH": str(tmp_path / "d.duckdb"), **env}
    with pytest.raises(ConfigError) as excinfo:
        load_settings(env)
    message = str(excinfo.value)
    assert names in message
    assert "\n" not in message


def test_unwritable_duckdb_path_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="DIGEST_DUCKDB_PATH"):
        load_settings({"DIGEST_DUCKDB_PATH": str(blocker / "sub" / "d.duckdb")})


def test_secrets_are_not_kept_in_settings(tmp_path):
    settings = load_settings(
        {
            "DIGEST_DUCKDB_PATH": str(tmp_path / "d.duckdb"),
            "SLACK_BOT_TOKEN": "xoxb-secret-value",
            "OPENAI_API_KEY": "sk-secret-value",
            "DIGEST_SOURCE": "slack",
        }
    )
    assert "secret-value" not in repr(settings)
    assert settings.has_slack_token and settings.has_openai_key


def test_channel_lists_accept_names_with_hash_and_ids():
    settings = load_settings(
        {"DIGEST_CHANNELS": "#supply-chain, C123 ,", "DIGEST_DUCKDB_PATH": "/tmp/x/d.duckdb"}
    )
    assert settings.channels == ("supply-chain", "C123")
    assert Settings().channels == ()


def test_the_export_own_app_is_a_list_of_ids(tmp_path):
    path = str(tmp_path / "d.duckdb")
    settings = load_settings(
        {"SLACK_EXPORT_OWN_APP": "U06DGST8B0T, B06DGST8B0T", "DIGEST_DUCKDB_PATH": path}
    )
    assert settings.export_own_app == ("U06DGST8B0T", "B06DGST8B0T")
    assert load_settings({"DIGEST_DUCKDB_PATH": path}).export_own_app == ()


def test_auto_join_is_off_unless_asked_and_a_typo_is_an_error():
    assert load_settings({}).auto_join is False
    assert load_settings({"DIGEST_AUTO_JOIN": "true"}).auto_join is True
    with pytest.raises(ConfigError, match="DIGEST_AUTO_JOIN"):
        load_settings({"DIGEST_AUTO_JOIN": "sure"})
