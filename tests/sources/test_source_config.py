"""`[sources.NAME]` tables: defaults, and one-line errors naming the file, line and key."""

from __future__ import annotations

import pytest

from worker.config import ConfigError, parse_config
from worker.sources.settings import context_for


def error(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    return str(err.value)


def test_defaults_are_the_public_api_roots_and_base_url_may_carry_a_prefix() -> None:
    config = parse_config(
        '[sources.x]\nbase_url = "http://127.0.0.1:8123/x/"\n'
        '[[topics]]\nname = "lumio"\n[topics.queries]\n'
        'x = ["lumio -is:retweet"]\nmastodon = ["#lumio"]\nbluesky = ["lumio"]\n'
        'reddit = ["lumio"]\nhackernews = ["lumio"]\nyoutube = ["lumio"]\n'
        'appstore = ["123456789"]\ngooglenews = ["lumio"]\n'
    )
    assert context_for(config, "x").url("/2/tweets/search/recent") == (
        "http://127.0.0.1:8123/x/2/tweets/search/recent"
    )
    assert context_for(config, "reddit").base_url == "https://oauth.reddit.com"
    assert context_for(config, "reddit").options["auth_url"] == "https://www.reddit.com"
    assert context_for(config, "bluesky").base_url == "https://bsky.social"
    assert context_for(config, "hackernews").base_url == "https://hn.algolia.com"
    assert context_for(config, "youtube").base_url == "https://www.googleapis.com"
    assert context_for(config, "x").options["token_env"] == "X_BEARER_TOKEN"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[sources.twitter]\ntoken_env = "T"\n', "tocsin.toml:1: sources.twitter: unknown source"),
        (
            '\n[sources.x]\nbase_url = "api.x.com"\n',
            "tocsin.toml:3: sources.x.base_url: must be an http:// or https:// URL",
        ),
        (
            '[sources.x]\ntoken = "secret-in-the-file"\n',
            "tocsin.toml:2: sources.x.token: unknown key (expected one of: base_url, token_env)",
        ),
        (
            "[sources.push.zapier]\ntopic = 'lumio'\n",
            "sources.push.zapier: needs token_env or secret_env",
        ),
        (
            "[sources.hackernews]\nrequests_per_hour = 0\n",
            "tocsin.toml:2: sources.hackernews.requests_per_hour: Input should be greater than or equal to 1",
        ),
        (
            '[[topics]]\nname = "lumio"\n[topics.queries]\nfacebook = ["lumio"]\n',
            "topics[0].queries.facebook: unknown platform",
        ),
    ],
)
def test_errors_are_one_line_with_the_key(text: str, expected: str) -> None:
    message = error(text)
    assert expected in message and "\n" not in message
    assert "secret-in-the-file" not in message
