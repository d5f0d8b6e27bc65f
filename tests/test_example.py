"""The bundled example is exactly what `plugindev scaffold` produces, so the two never drift."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import plugindev

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "hello-plugin"
# what the example's own .gitignore keeps out of the repository
IGNORED = ("build/", "ui/node_modules/", "ui/dist/", "ui/.plugindev/")


def _files(folder: Path) -> dict[str, bytes]:
    found = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file() or p.is_symlink()}
    return {rel: path.read_bytes() for rel, path in found.items() if not rel.startswith(IGNORED)}


def _committed() -> dict[str, bytes]:
    """The example as committed: what git tracks (running it leaves lockfiles and builds behind)."""
    listing = subprocess.run(["git", "ls-files", "-z", "examples/hello-plugin"], cwd=REPO, capture_output=True,
                             check=False)
    if listing.returncode != 0:  # not a git checkout (e.g. an unpacked sdist): every file but the ignored
        return _files(EXAMPLE)
    names = [n.removeprefix("examples/hello-plugin/") for n in listing.stdout.decode().split("\0") if n]
    return {rel: (EXAMPLE / rel).read_bytes() for rel in names}


def test_example_is_byte_identical_to_a_fresh_scaffold(tmp_path: Path) -> None:
    target = tmp_path / "hello-plugin"
    result = plugindev("scaffold", str(target), "--id", "hello-plugin", "--name", "Hello Plugin", "--description",
                       "A minimal Omniview plugin: a Go backend and a React page with a counter.")
    assert result.returncode == 0, result.stderr
    fresh, committed = _files(target), _committed()
    assert sorted(fresh) == sorted(committed)
    differing = [rel for rel in fresh if fresh[rel] != committed[rel]]
    assert differing == [], f"examples/hello-plugin drifted from the scaffold templates: {differing}"
