"""Slack ``ts`` values, read and written in one place.

A ``ts`` is a string of seconds since the epoch, a dot and a sequence part
(``"1700000000.000100"``). It is a message's identity in its channel, so it is kept as Slack's
exact string everywhere and only converted here: to an exact :class:`~decimal.Decimal` for
ordering (a float loses digits), to integer microseconds or a UTC :class:`~datetime.datetime` for
time windows, and back.

Two shapes are accepted: a *message* ``ts`` (:data:`MESSAGE_TS`, what every message carries and
what the sources validate) and the looser *bound* Slack accepts for ``oldest``/``latest``/cursors
(whole seconds allowed, :data:`TS_NUMBER`). Every reader raises :class:`ValueError` naming the
value for anything else, so a malformed ``ts`` is never silently read as another instant.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TypeGuard

# A message ``ts``: seconds, a dot, the sequence part; bounded so Decimal and datetime accept it.
MESSAGE_TS = re.compile(r"\d{1,12}\.\d{1,9}", re.ASCII)
# A ``ts`` as a request bound or cursor: whole seconds, optionally with a fraction.
TS_NUMBER = re.compile(r"\d+(?:\.\d+)?", re.ASCII)
US = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def is_message_ts(value: object) -> TypeGuard[str]:
    """``value`` is a message ``ts`` string (digits, a dot, digits)."""
    return isinstance(value, str) and MESSAGE_TS.fullmatch(value) is not None


def _checked(ts: object) -> str:
    if not isinstance(ts, str) or TS_NUMBER.fullmatch(ts) is None:
        raise ValueError(f"not a Slack ts: {ts!r}")
    return ts


def ts_decimal(ts: object) -> Decimal:
    """A ``ts`` as an exact number for comparison; the string itself is never changed."""
    return Decimal(_checked(ts))


def ts_micros(ts: object) -> int:
    """A ``ts`` as whole microseconds since the epoch (digits past the sixth are dropped)."""
    seconds, _, fraction = _checked(ts).partition(".")
    return int(seconds) * US + int((fraction + "000000")[:6])


def ts_to_datetime(ts: object) -> datetime:
    """A ``ts`` as a UTC instant, exact to the microsecond."""
    return EPOCH + timedelta(microseconds=ts_micros(ts))


def ts_date(ts: object) -> date:
    """The UTC day of a ``ts``."""
    return ts_to_datetime(ts).date()


def micros_to_ts(us: int) -> str:
    """A ``ts`` string for whole microseconds since the epoch (six fraction digits, as Slack)."""
    if us < 0:
        raise ValueError(f"a Slack ts cannot be before the epoch: {us} µs")
    seconds, micro = divmod(us, US)
    return f"{seconds}.{micro:06d}"


def datetime_to_ts(moment: datetime) -> str:
    """A ``ts`` string for an aware instant, exact to the microsecond."""
    if moment.tzinfo is None:
        raise ValueError(f"a Slack ts needs a time-zone-aware instant, not {moment!r}")
    return micros_to_ts((moment - EPOCH) // timedelta(microseconds=1))
