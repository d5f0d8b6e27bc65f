"""`--help` of plugindev and of each command: every option says what it does, and every command's summary in
the listing is whole (click cuts a long one mid-sentence with "...") and fits one line of an 80-column terminal."""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Iterator

import click
import pytest
from conftest import plugindev

from orchestrator.cli import main

NAME_COLUMN = 2 + len("watch-external") + 2  # click's listing: indent, the longest name, a gap


def _commands(command: click.Command = main, path: str = "plugindev") -> Iterator[tuple[str, click.Command]]:
    """Every command of the tree, groups included, with how it is typed."""
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, f"{path} {name}")


def _summary(command: click.Command) -> str:
    return " ".join(inspect.cleandoc(command.help or "").split("\n\n")[0].split())


def _listing(columns: int) -> dict[str, str]:
    """The `Commands:` section of `plugindev --help` in a terminal `columns` wide: name -> summary as shown."""
    result = plugindev("--help", env={**os.environ, "COLUMNS": str(columns)})
    assert result.returncode == 0, result.stderr
    section = result.stdout.split("\nCommands:\n", 1)[1]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if (named := re.match(r"  (\S+)\s+(.*)", line)) and not line.startswith(" " * 3):
            rows[named[1]] = [named[2]]
        elif line.strip():
            rows[list(rows)[-1]].append(line.strip())
    return {name: " ".join(parts) for name, parts in rows.items()}


def test_every_option_of_every_command_says_what_it_does() -> None:
    unexplained = [f"{path} {param.opts[0]}" for path, command in _commands()
                   for param in command.get_params(click.Context(command))
                   if isinstance(param, click.Option) and not param.help]
    assert unexplained == []


@pytest.mark.parametrize("columns", [80, 50])
def test_every_command_summary_is_whole(columns: int) -> None:
    listing = _listing(columns)
    assert set(listing) == set(main.commands)
    for name, command in main.commands.items():
        assert listing[name] == _summary(command), name
        assert not listing[name].endswith("..."), name


def test_every_command_summary_fits_one_line_of_80_columns() -> None:
    too_long = {name: _summary(command) for name, command in main.commands.items()
                if NAME_COLUMN + len(_summary(command)) > 80 - 2}  # click keeps two columns free
    assert too_long == {}


def test_the_template_is_a_choice_of_the_templates_there_are() -> None:
    from orchestrator.authoring.scaffold import TEMPLATE_PARTS

    template = next(p for p in main.commands["scaffold"].params if p.name == "template")
    assert isinstance(template.type, click.Choice) and list(template.type.choices) == list(TEMPLATE_PARTS)
    refused = plugindev("scaffold", "somewhere", "--id", "x", "--template", "nope")
    assert refused.returncode == 2 and "'nope' is not one of 'full', 'ui', 'backend'" in refused.stderr
