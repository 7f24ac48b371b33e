"""`c42 --version` and `c42 --help` start fast: the parser names every command without
importing the modules that run them (the app, the database, their libraries); only the chosen
command's module is imported. Checked by what Python imported, not by timing."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys

import pytest

from c42.cli import main as cli_main
from c42.cli.main import COMMANDS, build_parser, chosen_command

# What a command's module pulls in; none of it may be loaded to print the version or help.
HEAVY = ("c42.app", "c42.db", "c42.models", "fastapi", "starlette", "authlib", "sqlalchemy")


def _imported(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `python -X importtime -m c42.cli.main ARGS`; the names of the modules it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "c42.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return done, names


def _heavy(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == h or n.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_nothing_heavy(flag: str) -> None:
    done, names = _imported(flag)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "argparse" in names  # the importtime listing was read
    assert _heavy(names) == [], _heavy(names)
    if flag == "--version":
        assert done.stdout.startswith("c42 ")
    else:
        for name, command in COMMANDS.items():
            assert name in done.stdout and command.help.split()[0] in done.stdout


def _cli_modules_after(build: str) -> list[str]:
    """The c42.cli modules a fresh interpreter holds after `build` (besides main)."""
    code = (
        f"import sys; from c42.cli import main; {build}; "
        "print(sorted(m for m in sys.modules if m.startswith('c42.cli.') and m != 'c42.cli.main'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return ast.literal_eval(done.stdout.strip())  # type: ignore[no-any-return]


def test_build_parser_loads_no_command_module() -> None:
    assert _cli_modules_after("main.build_parser()") == []


def test_every_command_in_full() -> None:
    subcommands = _subcommands(build_parser(every_command=True))
    assert list(subcommands.choices) == list(COMMANDS)
    assert all(len(p._actions) > 1 for p in subcommands.choices.values())


def test_a_command_loads_its_module_only() -> None:
    # (-X importtime does not list importlib.import_module's own module, hence sys.modules)
    loaded = _cli_modules_after("main.build_parser('user')")
    groups = {f"c42.cli.{command.module}" for command in COMMANDS.values()}
    assert "c42.cli.users" in loaded
    assert groups & set(loaded) == {"c42.cli.users"}
    done, _ = _imported("user", "--help")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "revoke-credentials" in done.stdout  # the group's own parser, in full


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_table_matches_what_each_module_registers(name: str) -> None:
    """The help `c42 --help` lists is the module's own; a module registers no command the
    table lacks, and the chosen command's parser is the module's full one."""
    subcommands = _subcommands(build_parser(name))
    assert list(subcommands.choices) == list(COMMANDS)  # same commands, same order
    helps = {a.dest: a.help for a in subcommands._choices_actions}
    module = COMMANDS[name].module
    for other, command in COMMANDS.items():
        assert helps[other] == command.help
        loaded = len(subcommands.choices[other]._actions) > 1  # more than -h
        assert loaded == (command.module == module), other


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--version"], None),
        (["user", "list"], "user"),
        (["--help", "keys"], "keys"),
        (["nosuch", "x"], None),
        (["--", "user"], None),
        ([], None),
    ],
)
def test_chosen_command(argv: list[str], expected: str | None) -> None:
    assert chosen_command(argv) == expected


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli_main.main(["nosuch"])
    assert exited.value.code == 2
    assert "invalid choice: 'nosuch'" in capsys.readouterr().err
