"""What every staff command's output shares, rendered once in bot/cli/support.py: times
local in a table and ISO 8601 with the zone's offset in JSON, payloads as JSON text, and
residents' control characters never reaching the terminal as controls."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner

from bot.cli.support import emit, emit_object

MOMENT = datetime(2026, 5, 1, 2, 0, 0, 123456, tzinfo=UTC)
ROW: dict[str, Any] = {
    "name": "王\x9b31m阿姨\x1b[2J",
    "at": MOMENT,
    "payload": {"text": "你好", "n": 1},
    "none": None,
}


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--one", is_flag=True)
def toy(as_json: bool, one: bool) -> None:
    """A command that prints ROW the way staff commands do."""
    if one:
        emit_object(ROW, as_json)
    else:
        emit([ROW], as_json)


def invoke(tmp_path: Path, *args: str, zone: str = "Asia/Shanghai") -> str:
    config = tmp_path / "config.toml"
    config.write_text(f'[bot]\ntimezone = "{zone}"\n')
    result = CliRunner(env={"AIXIANG_CONFIG": str(config)}).invoke(
        toy, list(args), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def test_json_times_are_iso_with_the_zones_offset_to_the_second(tmp_path: Path) -> None:
    [row] = json.loads(invoke(tmp_path, "--json"))
    assert row["at"] == "2026-05-01T10:00:00+08:00"
    one = json.loads(invoke(tmp_path, "--json", "--one"))
    assert one["at"] == "2026-05-01T10:00:00+08:00"
    assert json.loads(invoke(tmp_path, "--json", zone="Europe/Paris"))[0]["at"] == (
        "2026-05-01T04:00:00+02:00"
    )


def test_table_times_are_local_to_the_minute(tmp_path: Path) -> None:
    assert "2026-05-01 10:00" in invoke(tmp_path).splitlines()[1]
    assert "at: 2026-05-01 10:00" in invoke(tmp_path, "--one").splitlines()


def test_a_payload_is_json_text_in_a_table_and_an_object_in_json(tmp_path: Path) -> None:
    assert 'payload: {"text": "你好", "n": 1}' in invoke(tmp_path, "--one").splitlines()
    assert json.loads(invoke(tmp_path, "--one", "--json"))["payload"] == {"text": "你好", "n": 1}


def test_control_characters_never_reach_the_terminal_in_a_table(tmp_path: Path) -> None:
    for output in (invoke(tmp_path), invoke(tmp_path, "--one")):
        assert not any(0x80 <= ord(ch) <= 0x9F or ch == "\x1b" for ch in output)
        assert "王\ufffd31m阿姨\ufffd[2J" in output


def test_json_keeps_residents_text_exact_but_escaped(tmp_path: Path) -> None:
    """A script gets the resident's very words back; the C1 characters are written as
    JSON escapes, so a person reading the JSON in a terminal is safe too."""
    output = invoke(tmp_path, "--one", "--json")
    assert not any(0x80 <= ord(ch) <= 0x9F or ch == "\x1b" for ch in output)
    assert json.loads(output)["name"] == ROW["name"]
