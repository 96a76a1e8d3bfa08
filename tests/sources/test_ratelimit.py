"""Each platform's rate-limit headers read into one budget, reset times against the server's Date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from worker.sources import ratelimit
from worker.sources.budget import pacific_day

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def test_mastodon_iso_reset_with_microseconds_is_read_against_the_server_clock() -> None:
    # The server's clock is 10 minutes behind ours: the reset is 3 minutes away for it.
    h = {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "2026-09-01T11:53:00.000000Z",
        "Date": "Tue, 01 Sep 2026 11:50:00 GMT",
    }
    rl = ratelimit.mastodon(h, NOW)
    assert rl is not None and (rl.limit, rl.remaining) == (300, 0)
    assert rl.reset_at == NOW + timedelta(minutes=3)
    # Some servers send an epoch instead; without Date it is taken as is.
    epoch = ratelimit.mastodon({"X-RateLimit-Reset": str(int(NOW.timestamp()) + 60)}, NOW)
    assert epoch is not None and epoch.reset_at == NOW + timedelta(seconds=60)


def test_bluesky_and_x_reset_are_unix_seconds() -> None:
    reset = str(int(NOW.timestamp()) + 300)
    b = ratelimit.bluesky(
        {"ratelimit-limit": "3000", "ratelimit-remaining": "2987", "ratelimit-reset": reset}, NOW
    )
    x = ratelimit.x(
        {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "447", "x-rate-limit-reset": reset},
        NOW,
    )
    assert b is not None and (b.remaining, b.reset_at) == (2987, NOW + timedelta(minutes=5))
    assert x is not None and (x.limit, x.reset_at) == (450, NOW + timedelta(minutes=5))


def test_reddit_remaining_is_a_float_and_reset_is_seconds_from_now() -> None:
    rl = ratelimit.reddit(
        {"X-Ratelimit-Used": "12", "X-Ratelimit-Remaining": "88.0", "X-Ratelimit-Reset": "411"}, NOW
    )
    assert rl is not None and (rl.limit, rl.remaining) == (100, 88)
    assert rl.reset_at == NOW + timedelta(seconds=411)


def test_no_headers_no_rate_limit() -> None:
    assert ratelimit.x({}, NOW) is None and ratelimit.reddit({}, NOW) is None
    assert ratelimit.plain({"Retry-After": "30"}, NOW).retry_after_s == 30.0  # type: ignore[union-attr]


def test_youtube_day_is_the_pacific_day_across_daylight_saving() -> None:
    assert pacific_day(NOW) == (
        datetime(2026, 9, 1, 7, tzinfo=UTC),
        datetime(2026, 9, 2, 7, tzinfo=UTC),
    )
    winter = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert pacific_day(winter)[1] == datetime(2026, 12, 2, 8, tzinfo=UTC)
    fall_back = datetime(2026, 11, 1, 12, tzinfo=UTC)  # 25-hour day in Los Angeles
    assert pacific_day(fall_back) == (
        datetime(2026, 11, 1, 7, tzinfo=UTC),
        datetime(2026, 11, 2, 8, tzinfo=UTC),
    )
