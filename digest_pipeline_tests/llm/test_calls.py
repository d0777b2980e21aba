"""The caller's pure parts: server-asked waits, prices and the adaptive limiter."""

import pytest

from digest_pipeline.defs.llm.calls import AdaptiveLimiter, estimate_cost, retry_after_seconds


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({}, None),
        ({"retry-after": "soon"}, None),
    ],
)
def test_retry_after_header(headers, seconds):
    assert retry_after_seconds(headers) == seconds


def test_retry_after_as_an_http_date():
    assert 0 <= retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) <= 1


def test_estimated_cost_uses_cached_prices_and_halves_for_batch():
    full = estimate_cost("gpt-4.1-mini", 1_000_000, 0, 1_000_000, batch=False)
    assert full == pytest.approx(0.40 + 1.60)
    cached = estimate_cost("gpt-4.1-mini", 1_000_000, 1_000_000, 0, batch=False)
    assert cached == pytest.approx(0.10)
    assert estimate_cost("gpt-4.1-mini", 1_000_000, 0, 0, batch=True) == pytest.approx(0.20)
    assert estimate_cost("llama3:8b", 10, 0, 10, batch=False) is None


def test_the_limiter_halves_on_429_and_grows_back_one_success_at_a_time():
    slept: list[float] = []
    limiter = AdaptiveLimiter(8, sleep=slept.append, clock=lambda: 100.0)
    assert limiter.limit == 1
    limiter.succeeded()
    assert limiter.limit == 8
    limiter.rate_limited(2.0)
    limiter.rate_limited(2.0)
    assert limiter.limit == 2 and limiter.lowest == 2
    with limiter.slot() as waited:
        assert waited == 2.0
    with limiter.slot() as waited:  # the pause is over
        assert waited == 0.0
    limiter.succeeded()
    assert limiter.limit == 3
    assert slept == [2.0]
