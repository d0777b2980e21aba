import math

import pandas as pd
import pytest

from digest_pipeline.defs.slack.people import PeopleDirectory, Person


def _users(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


USERS = _users(
    {"user_id": "U1", "name": "ana", "real_name": "Ana Lima", "display_name": "ana.l",
     "title": " Supply lead ", "is_bot": False},
    {"user_id": "U2", "name": "bo", "real_name": "Bo Chen", "display_name": "  ", "is_bot": False},
    {"user_id": "U3", "name": "mes", "real_name": None, "display_name": None, "is_bot": True},
    {"user_id": "U4", "name": None, "real_name": math.nan, "display_name": "", "is_bot": None},
    {"user_id": 42, "name": "not an id", "is_bot": True},
    {"user_id": None, "name": "no id", "is_bot": True},
)  # fmt: skip


def test_shown_name_is_display_then_real_then_handle_then_the_id():
    people = PeopleDirectory.from_users(USERS)
    assert people.names == {"U1": "ana.l", "U2": "Bo Chen", "U3": "mes", "U4": "U4"}
    assert people["U1"] == Person("U1", "ana.l", "Supply lead", False)
    assert people["U1"].label == "ana.l, Supply lead"
    assert people["U2"].label == "Bo Chen"


def test_rows_without_a_string_id_are_left_out():
    people = PeopleDirectory.from_users(USERS)
    assert sorted(people) == ["U1", "U2", "U3", "U4"]
    assert len(people) == 4
    assert people.get("42") is None
    with pytest.raises(KeyError):
        people["U9"]


@pytest.mark.parametrize(
    ("flag", "is_bot"),
    [(True, True), (1, True), (1.0, True), (False, False), (None, False), (math.nan, False),
     ("true", False), (pd.NA, False)],
)  # fmt: skip
def test_only_a_true_flag_makes_a_bot(flag, is_bot):
    users = pd.DataFrame(
        {"user_id": ["U1"], "name": ["x"], "is_bot": pd.Series([flag], dtype=object)}
    )
    people = PeopleDirectory.from_users(users)
    assert people["U1"].is_bot is is_bot
    assert people.bots == (frozenset({"U1"}) if is_bot else frozenset())


def test_names_to_ids_puts_longer_names_first_and_skips_people_known_only_by_id():
    people = PeopleDirectory.from_users(
        _users(
            {"user_id": "U1", "display_name": "Ana"},
            {"user_id": "U2", "display_name": "Ana Lima"},
            {"user_id": "U3"},
        )
    )
    assert people.names_to_ids == (("Ana Lima", "U2"), ("Ana", "U1"))


@pytest.mark.parametrize("users", [None, pd.DataFrame(), pd.DataFrame({"name": ["ana"]}), _users()])
def test_no_users_is_an_empty_directory(users):
    people = PeopleDirectory.from_users(users)
    assert dict(people) == {}
    assert people.names == {}
    assert people.bots == frozenset()
    assert people.names_to_ids == ()


def test_the_directory_cannot_be_changed():
    people = PeopleDirectory.from_users(USERS)
    with pytest.raises(TypeError):
        people.people["U9"] = Person("U9", "x")  # type: ignore[index]
