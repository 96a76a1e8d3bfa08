"""Who is speaking matters: one customer posting forty angry messages is a customer-service case,
the same forty messages from forty people is a crisis, and a viral launch is not a crisis however
large. Generated scenarios: two quiet days of 5-minute buckets and the posts of the last three
hours, built consistently (the buckets count exactly the posts listed)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from worker.detection import evaluate
from worker.detection.core import DetectionSettings, terms_in
from worker.detection.window import busiest_author_buckets
from worker.model import Bucket, Mention, Signal

T0 = datetime(2026, 3, 2, tzinfo=UTC)
STEP = timedelta(minutes=5)
N = 2 * 288  # two days of 5-minute buckets
TERMS = DetectionSettings().all_crisis_terms


@dataclass(frozen=True)
class Post:
    at: datetime
    author: str
    text: str
    label: str = "neu"
    followers: int = 100
    platform: str = "bluesky"


def background() -> list[Post]:
    """Ten posts a bucket from ten different people, one of them negative."""
    out = []
    for i in range(N):
        at = T0 + i * STEP + timedelta(seconds=30)
        for j in range(10):
            label = "neg" if j == 0 else "neu"
            out.append(Post(at, f"regular{i % 50}_{j}", f"acme thing {i} {j}", label))
    return out


def last_minutes(k: int, minutes: int = 30) -> list[datetime]:
    """`k` instants spread over the last `minutes` of the series."""
    end = T0 + N * STEP
    return [
        end - timedelta(minutes=minutes) + timedelta(seconds=(i * minutes * 60) // k)
        for i in range(k)
    ]


def build(
    posts: Sequence[Post], step: timedelta = STEP
) -> tuple[list[Bucket], dict[str, list[Bucket]], list[Mention]]:
    """Buckets of `step` (total and per platform) that count exactly `posts` over the two days,
    and the posts of the last three hours as the pipeline passes them (`recent_mentions`)."""
    n = (N * STEP) // step
    cells: dict[tuple[str, int], list[Post]] = defaultdict(list)
    for p in posts:
        cells[(p.platform, (p.at - T0) // step)].append(p)
    platforms = sorted({p for p, _ in cells})

    def bucket(i: int, rows: Sequence[Post]) -> Bucket:
        texts = {r.text for r in rows}
        return Bucket(
            T0 + i * step,
            count=len(rows),
            negative=len({r.text for r in rows if r.label == "neg"}),
            positive=len({r.text for r in rows if r.label == "pos"}),
            authors=len({r.author for r in rows}),
            reach=sum(r.followers for r in rows),
            crisis_terms=sum(1 for r in rows if terms_in(r.text, TERMS)),
            texts=len(texts),
        )

    per = {plat: [bucket(i, cells.get((plat, i), [])) for i in range(n)] for plat in platforms}
    total = [
        bucket(i, [p for plat in platforms for p in cells.get((plat, i), [])]) for i in range(n)
    ]
    end = T0 + N * STEP
    recent = [
        Mention(
            platform=p.platform,
            id=f"m{k}",
            created_at=p.at,
            text=p.text,
            author=p.author,
            author_followers=p.followers,
            extra={"label": p.label},
        )
        for k, p in enumerate(posts)
        if end - timedelta(hours=3) <= p.at < end
    ]
    return total, per, recent


def judge(posts: Sequence[Post], step: timedelta = STEP) -> list[Signal]:
    total, per, recent = build(posts, step)
    now = T0 + N * STEP
    settings = DetectionSettings(bucket_seconds=int(step.total_seconds()))
    return evaluate("acme", total, now, settings, per_platform=per, recent_mentions=recent)


def angry(authors: Sequence[str], followers: int = 20_000) -> list[Post]:
    """Forty different angry messages with crisis words, in the last 30 minutes."""
    return [
        Post(
            at,
            authors[i % len(authors)],
            f"acme stole my money, this is a scam, refund me #{i}",
            "neg",
            followers,
        )
        for i, at in enumerate(last_minutes(40))
    ]


def test_one_customer_forty_angry_messages_is_not_a_crisis() -> None:
    got = judge(background() + angry(["furious_customer"]))
    # No negative surge, no crisis words, nothing worse than SEV3 (here: nothing at all).
    assert not {"negative_surge", "crisis_terms", "volume_spike"} & {s.kind for s in got}
    assert all(s.severity >= 3 for s in got)


def test_forty_people_with_the_same_messages_is_a_crisis_that_reaches_leadership() -> None:
    crowd = [f"customer{i}" for i in range(40)]
    got = judge(background() + angry(crowd))
    surge = next(s for s in got if s.kind == "negative_surge")
    # Forty times the one customer's messages, but from forty people: a negative surge, raised
    # by the crisis words and by the audience of its authors (40 × 20k followers, and 6 × 100) to SEV1.
    assert surge.severity == 1
    assert "from 46 distinct authors" in surge.explanation  # 40 + the usual 6 negative posters
    assert "crisis words up (“scam” ×40, “refund” ×40" in surge.explanation
    assert "the 46 negative authors have 801k followers together" in surge.explanation
    assert surge.evidence.details["negative_authors"] == 46
    # Without their audience it is still a crisis (SEV2), one level below.
    quiet_crowd = judge(background() + angry(crowd, followers=50))
    assert next(s for s in quiet_crowd if s.kind == "negative_surge").severity == 2


def test_the_one_customer_with_a_large_audience_is_a_high_reach_post_at_most() -> None:
    got = judge(background() + angry(["famous_customer"], followers=900_000))
    assert [s.kind for s in got] == ["high_reach_post"]
    assert got[0].severity == 3


def launch(authors: int, platforms: Sequence[str]) -> list[Post]:
    """A viral positive story: `authors` people cheering in the last 30 minutes, everywhere."""
    return [
        Post(
            at,
            f"fan{i}",
            f"the new acme phone is amazing, love it! #acmelaunch {i}",
            "pos",
            50_000,
            platforms[i % len(platforms)],
        )
        for i, at in enumerate(last_minutes(authors))
    ]


def test_a_viral_launch_is_not_a_crisis_however_large() -> None:
    for size in (150, 1500):
        posts = background() + launch(size, ["bluesky", "mastodon", "rss"])
        posts += [Post(T0 + i * STEP, f"m{i}", f"acme on mastodon {i}") for i in range(N)]
        posts += [
            Post(T0 + i * STEP, f"r{i}", f"acme news {i}", platform="rss") for i in range(0, N, 12)
        ]
        got = judge(posts)
        spike = next(s for s in got if s.kind == "volume_spike")
        # Many times the usual, on three platforms and in the news: worth knowing, not a crisis.
        assert spike.severity == 4, spike.explanation
        assert "the tone is not negative" in spike.explanation
        assert "picked up by the news (rss)" in spike.explanation  # said, but it raises nothing
        assert spike.evidence.details["severity_before_amplifiers"] == 4
        assert not {"negative_surge", "crisis_terms"} & {s.kind for s in got}


def quiet(step: timedelta) -> list[Post]:
    """A quiet topic: one post a bucket, each from someone else (under the volume floor)."""
    n = (N * STEP) // step
    return [
        Post(T0 + i * step + timedelta(seconds=5), f"reader{i % 997}", f"acme {i}")
        for i in range(n)
    ]


def one_customer(messages: int, minutes: int) -> list[Post]:
    return [
        Post(at, "furious_customer", f"acme broke again, awful service, answer me #{i}", "neg")
        for i, at in enumerate(last_minutes(messages, minutes))
    ]


@pytest.mark.parametrize("bucket_minutes", [1, 2, 5])
@pytest.mark.parametrize(("messages", "minutes"), [(40, 180), (60, 60), (120, 120)])
def test_one_customer_posting_all_afternoon_is_no_volume_spike_at_any_bucket_width(
    bucket_minutes: int, messages: int, minutes: int
) -> None:
    # The volume series counts distinct authors per bucket: with one-minute buckets, one person
    # posting every minute would add sixty "authors" an hour to a quiet topic. Counted once over
    # the window, they are one voice: a customer-service case, not a spike.
    step = timedelta(minutes=bucket_minutes)
    got = judge(quiet(step) + one_customer(messages, minutes), step)
    assert not {"volume_spike", "negative_surge", "crisis_terms"} & {s.kind for s in got}
    assert all(s.severity >= 3 for s in got)


@pytest.mark.parametrize("bucket_minutes", [1, 5])
def test_as_many_people_as_the_customers_messages_are_a_spike(bucket_minutes: int) -> None:
    # The counterpart, same posts and times: sixty people in an hour do page.
    step = timedelta(minutes=bucket_minutes)
    crowd = [replace(p, author=f"customer{i}") for i, p in enumerate(one_customer(60, 60))]
    kinds = {s.kind: s for s in judge(quiet(step) + crowd, step)}
    assert "volume_spike" in kinds and "negative_surge" in kinds
    assert kinds["negative_surge"].severity <= 3


def test_a_launch_with_its_usual_share_of_grumbles_is_not_a_crisis() -> None:
    # Every launch brings complaints too. 1,500 people, one in ten negative (the topic's usual
    # share): three times more negative posts than usual, but the tone did not turn.
    fans = launch(1500, ["bluesky", "mastodon"])
    posts = background() + [
        replace(p, text=f"meh, the new acme phone is overpriced {i}", label="neg")
        if i % 10 == 0
        else p
        for i, p in enumerate(fans)
    ]
    posts += [Post(T0 + i * STEP, f"m{i}", f"acme on mastodon {i}") for i in range(N)]
    got = judge(posts)
    spike = next(s for s in got if s.kind == "volume_spike")
    assert spike.severity == 4, spike.explanation
    assert not {"negative_surge", "crisis_terms"} & {s.kind for s in got}


def test_posts_without_an_author_are_each_their_own_author() -> None:
    # A platform that gives no author: each post is its own voice, so nothing is discounted.
    start = T0
    posts = [
        Mention(platform="rss", id=f"n{i}", created_at=start + i * STEP, text="acme", author=None)
        for i in range(6)
    ]
    assert busiest_author_buckets(posts, start, 300) == 1
    same = [replace(m, author="newsbot") for m in posts]
    assert busiest_author_buckets(same, start, 300) == 6
    assert busiest_author_buckets([], start, 300) == 0
