"""Render Jinja templates to memory, compare with disk, and write only what changed, atomically.

Every generator (shims, the Vite plugin package, scaffolds) goes through `plan` + `apply`, so each
file is reported as create / identical / conflict / overwrite / skip / delete and a dry run writes
nothing.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from orchestrator.common.errors import PlugindevError
from orchestrator.common.files import stage_file, write_failure

if TYPE_CHECKING:
    import jinja2


def template_env(folder: Path) -> jinja2.Environment:
    import jinja2  # on the first render: the command line imports the scaffold's template names at start-up

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render(env: jinja2.Environment, template: str, **context: Any) -> bytes:
    return env.get_template(template).render(**context).encode("utf-8")


class Action(enum.StrEnum):
    CREATE = "create"
    IDENTICAL = "identical"
    CONFLICT = "conflict"  # exists with other content and was left alone
    OVERWRITE = "overwrite"
    SKIP = "skip"  # exists, and is only ever created, never updated
    DELETE = "delete"


@dataclass(frozen=True)
class Outcome:
    path: str  # relative, POSIX separators
    action: Action


@dataclass(frozen=True)
class FileSpec:
    content: bytes
    executable: bool = False
    create_only: bool = False  # a file the user owns once it exists (e.g. their own code)


def plan(root: Path, files: Mapping[str, FileSpec], *, force: bool, delete: Iterable[str] = ()) -> list[Outcome]:
    """What writing `files` under `root` would do, without touching the disk."""
    outcomes: list[Outcome] = []
    for rel, spec in files.items():
        target = root / PurePosixPath(rel)
        if not target.exists():
            action = Action.CREATE
        elif target.is_file() and target.read_bytes() == spec.content:
            action = Action.IDENTICAL
        elif spec.create_only:
            action = Action.SKIP
        else:
            action = Action.OVERWRITE if force else Action.CONFLICT
        outcomes.append(Outcome(rel, action))
    outcomes.extend(Outcome(rel, Action.DELETE) for rel in delete)
    return outcomes


def apply(root: Path, files: Mapping[str, FileSpec], outcomes: Iterable[Outcome]) -> None:
    """Carry out a plan: every new content is staged in a temporary file first, then all are renamed.

    A failure while staging (disk full, permissions) leaves every existing file as it was, and is reported
    as a one-line error naming the file.
    """
    try:
        _apply(root, files, outcomes)
    except OSError as exc:
        raise PlugindevError(write_failure(exc, root)) from None


def _apply(root: Path, files: Mapping[str, FileSpec], outcomes: Iterable[Outcome]) -> None:
    staged: list[tuple[str, Path]] = []
    deletions: list[Path] = []
    try:
        for outcome in outcomes:
            target = root / PurePosixPath(outcome.path)
            if outcome.action in (Action.CREATE, Action.OVERWRITE):
                spec = files[outcome.path]
                staged.append((stage_file(target, spec.content, 0o755 if spec.executable else 0o644), target))
            elif outcome.action is Action.DELETE:
                deletions.append(target)
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    for tmp, target in staged:
        os.replace(tmp, target)
    for target in deletions:
        target.unlink(missing_ok=True)
