"""Who is who in the workspace: ``slack_users`` read once into a :class:`PeopleDirectory`.

Enrichment shows authors and ``<@U…>`` mentions by name and marks bot users, the LLM text sends
``@Name`` mentions as user IDs, and the digest names owners with their role: all from this one
directory, so a person has the same name in the messages table, the digest and what the model
is told.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

import pandas as pd


@dataclass(frozen=True)
class Person:
    """Who someone is, as far as ``slack_users`` tells: a name and a role (profile title)."""

    user_id: str
    name: str
    title: str = ""
    is_bot: bool = False

    @property
    def label(self) -> str:
        return f"{self.name}, {self.title}" if self.title else self.name


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _person(
    user_id: str, display: object, real: object, name: object, title: object, is_bot: object
) -> Person:
    # The shown name: display name, else real name, else handle, else the ID itself.
    shown = next((s for s in map(_text, (display, real, name)) if s), user_id)
    # Only a true flag makes a bot: NULL, NaN or a stray string never does.
    bot = isinstance(is_bot, bool | int | float) and is_bot == 1
    return Person(user_id, shown, _text(title), bot)


@dataclass(frozen=True)
class PeopleDirectory(Mapping[str, Person]):
    """``user_id → Person`` of every user with a string ID; a read-only mapping."""

    people: Mapping[str, Person] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_users(cls, users: pd.DataFrame | None) -> PeopleDirectory:
        """The directory of a ``slack_users`` frame (empty for none or a frame without IDs)."""
        if users is None or users.empty or "user_id" not in users:
            return cls()
        empty: list[object] = [None] * len(users)

        def column(name: str) -> list[object]:
            return users[name].tolist() if name in users else empty

        rows = zip(
            *map(column, ("user_id", "display_name", "real_name", "name", "title", "is_bot")),
            strict=True,
        )
        people = {row[0]: _person(*row) for row in rows if isinstance(row[0], str)}
        return cls(MappingProxyType(people))

    def __getitem__(self, user_id: str) -> Person:
        return self.people[user_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.people)

    def __len__(self) -> int:
        return len(self.people)

    @cached_property
    def names(self) -> Mapping[str, str]:
        """``user_id → shown name``."""
        return {user_id: person.name for user_id, person in self.people.items()}

    @cached_property
    def bots(self) -> frozenset[str]:
        """The IDs of bot users."""
        return frozenset(user_id for user_id, person in self.people.items() if person.is_bot)

    @cached_property
    def names_to_ids(self) -> tuple[tuple[str, str], ...]:
        """(shown name, user ID) of everyone shown by a name, longest name first: replacing
        ``@Name`` mentions in that order never cuts a longer name short."""
        pairs = [(p.name, user_id) for user_id, p in self.people.items() if p.name != user_id]
        return tuple(sorted(pairs, key=lambda pair: -len(pair[0])))
