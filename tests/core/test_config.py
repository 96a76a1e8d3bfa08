"""tocsin.toml validation: a bad file fails at start with file, line, key and reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from worker.config import ConfigError, load_config, parse_config

EXAMPLE = Path(__file__).parents[2] / "examples" / "tocsin.toml"

GOOD = """
[[topics]]
name = "acme"
[topics.queries]
rss = ["http://127.0.0.1:1/feed.xml"]

[people.alice]
email = "alice@example.com"

[groups]
oncall = ["alice"]
leadership = ["alice"]
"""


def test_example_config_is_valid() -> None:
    """The shipped example loads and resolves its groups to people."""
    config = load_config(EXAMPLE)
    assert "lumio" in config.topics
    assert [p.id for p in config.resolve("leadership")] == ["carol", "dave"]
    assert config.policies["default"].steps[1].after_minutes == 15
    assert config.channels["email"].type == "smtp"


def test_minimal_config_gets_default_policy_and_console_channel() -> None:
    """Without [policies] or [channels], the default policy and the console channel exist."""
    config = parse_config(GOOD)
    assert [s.after_minutes for s in config.policies["default"].steps] == [0, 15]
    assert "console" in config.channels


@pytest.mark.parametrize(
    ("snippet", "key", "line"),
    [
        ('[[topics]]\nname = "a"\nsensitivity = "loud"\n', "topics[0].sensitivity", 3),
        (
            '[[topics]]\nname = "a"\n[topics.queries]\nmyspace = ["x"]\n',
            "topics[0].queries.myspace",
            4,
        ),
        ('[[topics]]\nname = "a"\npolicy = "nope"\n', "topics.a.policy", 3),
        ('[people.x]\nemail = "not-an-address"\n', "people.x.email", 2),
        ('[groups]\noncall = ["ghost"]\n', "groups.oncall", 2),
        ('[channels.mail]\ntype = "carrier-pigeon"\n', "channels.mail.type", 2),
        ('[[topics]]\nname = "a"\ncolour = "red"\n', "topics[0].colour", 3),
        (
            '[[topics]]\nname = "a"\n[topics.thresholds]\nno_such_threshold = 3\n',
            "topics[0].thresholds.no_such_threshold",
            4,
        ),
        # Values that used to pass check-config and then crashed the runtime (issue 11).
        (
            '[policies.p]\nsteps = [\n  { after_minutes = 0, notify = ["x"] },\n'
            '  { after_minutes = inf, notify = ["x"] },\n]\n',
            "policies.p.steps[1].after_minutes",
            4,
        ),
        (
            '[[topics]]\nname = "a"\n[topics.thresholds]\nwindow_minutes = "x"\n',
            "topics[0].thresholds.window_minutes",
            4,
        ),
        (
            '[policies.p]\nsteps = [{ notify = ["x"] }]\nsevere_at = true\n',
            "policies.p.severe_at",
            3,
        ),
        ('[people."ops/alice"]\nname = "Alice"\n', "people.ops/alice", 1),
        ('[[topics]]\nname = "a"\ndisplay_name = 42\n', "topics[0].display_name", 3),
        ("[tocsin]\nbucket_minutes = true\n", "tocsin.bucket_minutes", 2),
        ('[[topics]]\nname = "a"\npoll_seconds = nan\n', "topics[0].poll_seconds", 3),
        (
            '[channels.m]\ntype = "smtp"\nhost = "h"\nfrom = "a@b"\nport = "25"\n',
            "channels.m.port",
            5,
        ),
        ('[channels.w]\ntype = "webhook"\nurl = "javascript:alert(1)"\n', "channels.w.url", 3),
        ('[groups]\n"../x" = ["a"]\n', "groups.../x", 2),
        (
            '[[topics]]\nname = "a"\n[[topics]]\nname = "b"\n[topics.thresholds]\nalpha = 2.0\n',
            "topics[1].thresholds.alpha",
            6,
        ),
        (
            '[policies.p]\nrepeat_minutes = 1e300\nsteps = [{ notify = ["x"] }]\n',
            "policies.p.repeat_minutes",
            2,
        ),
    ],
)
def test_bad_values_name_the_key_and_line(snippet: str, key: str, line: int) -> None:
    """Each mistake gives a one-line error with the file, the line and the key."""
    with pytest.raises(ConfigError) as info:
        parse_config(snippet, "team.toml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"team.toml:{line}: {key}: "), message


def test_toml_syntax_error_names_the_line() -> None:
    """A TOML syntax error is reported with its line number, not a traceback."""
    with pytest.raises(ConfigError) as info:
        parse_config('[tocsin]\ntimezone = "UTC"\nbucket_minutes = = 5\n', "t.toml")
    assert str(info.value).startswith("t.toml:3: not valid TOML")


def test_unknown_policy_channel_is_caught() -> None:
    """A step that names an undefined channel fails at load, not at 3 a.m."""
    text = (
        GOOD
        + '\n[policies.default]\nsteps = [{ after_minutes = 0, notify = ["oncall"], channels = ["sms"] }]\n'
    )
    with pytest.raises(
        ConfigError, match=r"policies\.default\.steps\[0\]\.channels: unknown channel 'sms'"
    ):
        parse_config(text)


def test_check_config_cli_prints_one_line_error(tmp_path: Path) -> None:
    """`tocsin check-config` exits 2 with one line naming the key; ok otherwise."""
    bad = tmp_path / "tocsin.toml"
    bad.write_text('[[topics]]\nname = "acme"\nsensitivity = "loud"\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "tocsin.cli", "check-config", str(bad)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "topics[0].sensitivity: must be one of fewer, balanced, more (got 'loud')" in proc.stderr
    good = tmp_path / "good.toml"
    good.write_text(GOOD, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "tocsin.cli", "check-config", str(good)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ok — 1 topics, 1 queries" in proc.stdout


def test_issue_values_fail_with_readable_reasons() -> None:
    """The reason says what is wrong in words a team lead understands."""
    cases = {
        '[policies.p]\nsteps = [{ after_minutes = inf, notify = ["x"] }]\n': "finite number",
        '[[topics]]\nname = "a"\n[topics.thresholds]\nwindow_minutes = "x"\n': "integer, got 'x'",
        '[policies.p]\nsteps = [{ notify = ["x"] }]\nsevere_at = true\n': "integer, got True",
        '[people."ops/alice"]\n': "not a valid name: 'ops/alice'",
        '[[topics]]\nname = "a"\ndisplay_name = 42\n': "must be a string, got 42",
    }
    for snippet, reason in cases.items():
        with pytest.raises(ConfigError) as info:
            parse_config(snippet)
        assert reason in info.value.reason, str(info.value)


def test_extra_section_plugs_into_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """A module registers its section's pydantic model with one line; its errors get the same
    one-line form, and the validated model is on `config.sections`."""
    from worker import config as config_module

    monkeypatch.setitem(config_module.SECTIONS, "reports", "tests.core.test_config:ReportsModel")
    config = parse_config(GOOD + '\n[reports]\nweekly_day = "monday"\n')
    assert config.sections["reports"].weekly_day == "monday"
    with pytest.raises(ConfigError) as info:
        parse_config(GOOD + "\n[reports]\nweekly_day = 3\n", "t.toml")
    assert str(info.value) == "t.toml:15: reports.weekly_day: must be a string, got 3"
    with pytest.raises(ConfigError, match="unknown key"):
        parse_config(GOOD + "\n[nonsense]\nx = 1\n")


class ReportsModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    weekly_day: str = "monday"
