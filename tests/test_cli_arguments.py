"""Bytes that are not UTF-8 in a staff command's arguments are refused in one line that
names the option, before anything is read or written. Python hands such bytes on as lone
surrogates, which otherwise explode deep inside, on the first encode or database write."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.config.paths import PROJECT_ROOT
from tests.cli import fail

CASES = {
    "partners add": (("partners", "add", "\udcff\udcfe", "--kind", "ngo"), "NAME"),
    "events create --title": (("events", "create", "--title", "\udcff"), "--title"),
    "events checkin --code": (("events", "checkin", "1", "--code", "\udcff"), "--code"),
    "needs list --partner": (("needs", "list", "--partner", "a\udcff"), "--partner"),
    "broadcast --text": (("broadcast", "--text", "\udcff", "--audience", "all"), "--text"),
    "--title=": (("events", "create", "--title=\udcff", "--capacity", "2"), "--title"),
    "after a flag": (("needs", "list", "--by-demand", "--status", "\udcff"), "--status"),
    "a command name": (("needs", "\udcff"), "the command"),
}


def message(name: str) -> str:
    return (
        f"error: {name}: not valid UTF-8 text; check the terminal's or the script's "
        "encoding and type it again"
    )


@pytest.mark.parametrize(("args", "name"), CASES.values(), ids=CASES.keys())
def test_undecodable_arguments_are_one_line_naming_the_option(
    staff: CliRunner, args: tuple[str, ...], name: str
) -> None:
    assert fail(staff, *args) == message(name)


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((b"partners", b"add", b"\xff\xfe", b"--kind", b"ngo"), "NAME"),
        ((b"events", b"create", b"--title", b"\xff"), "--title"),
    ],
    ids=["argument", "option"],
)
def test_raw_bytes_from_a_shell_are_refused_the_same(
    staff: CliRunner, tmp_path: Path, args: tuple[bytes, ...], name: str
) -> None:
    assert staff.env is not None
    env = {**os.environ, **{k: v for k, v in staff.env.items() if v is not None}}
    done = subprocess.run(
        [sys.executable.encode(), b"-m", b"bot", *args],
        env={**env, "LC_ALL": "C.UTF-8", "PYTHONUTF8": "1"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.decode().strip() == message(name)
    assert done.stdout == b""
