"""`plugindev gen-shims` end to end through the command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import plugindev
from files_support import tree
from node_fixtures import EXPECTED, write_packages

LOCK = "shims/shims.lock.json"
REPO = Path(__file__).resolve().parent.parent


def _shim(out: Path, name: str) -> str:
    return (out / "shims" / name).read_text()


def test_default_manifest_gives_all_63_shims_from_the_bundled_lock(tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    result = plugindev("gen-shims", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert len(list((out / "shims").glob("*.mjs"))) == 63
    react = _shim(out, "react.mjs")
    for name in ("use", "useActionState", "useOptimistic", "useState"):
        assert f"export const {name} = mod.{name};" in react
    assert "createFactory" not in react
    react_dom = _shim(out, "react-dom.mjs")
    assert "export const createPortal = mod.createPortal;" in react_dom
    assert "export const flushSync = mod.flushSync;" in react_dom
    assert "export const render " not in react_dom
    buttons = _shim(out, "_omniviewdev__ui__buttons.mjs")
    assert "export const Button = mod.Button;" in buttons
    lock = json.loads((out / LOCK).read_text())["shims"]
    assert lock["@omniviewdev/ui/buttons"]["method"] == "bundled"
    assert lock["react"]["version"] == "19.2.4" and lock["react"]["method"] == "import"
    assert lock["monaco-editor"]["method"] == "static" and "editor" in lock["monaco-editor"]["names"]


HOST_TS = """\
export const shared = {
  'esm-pkg': () => import('esm-pkg'),
  'cjs-pkg': () => import('cjs-pkg'),
  'browser-only': async () => {
    return await import('browser-only');
  },
  '@omniviewdev/ui/buttons': () => import('@omniviewdev/ui/buttons'),
  'not-installed': () => import('not-installed'),
};
"""


def _host_tree(root: Path, ts: str = HOST_TS) -> Path:
    ts_file = root / "ui/features/plugins/api/shared_dependencies.ts"
    ts_file.parent.mkdir(parents=True)
    ts_file.write_text(ts)
    write_packages(root / "node_modules")
    return root


def _mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def _without_node(tmp_path: Path) -> dict[str, str]:
    """An environment in which any attempt to start Node fails: no node on PATH, an empty cache."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent)
    env["PLUGINDEV_CACHE_DIR"] = str(tmp_path / "empty-cache")
    return env


@pytest.mark.integration
def test_host_checkout_list_and_versions_then_no_change_rerun(tmp_path: Path) -> None:
    host = _host_tree(tmp_path / "host")
    out = tmp_path / "pkg"
    first = plugindev("gen-shims", "--host", str(host), "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in (out / "shims").glob("*.mjs")) == [
        "_omniviewdev__ui__buttons.mjs", "browser-only.mjs", "cjs-pkg.mjs", "esm-pkg.mjs", "not-installed.mjs"]
    lock = json.loads((out / LOCK).read_text())["shims"]
    assert list(lock) == ["esm-pkg", "cjs-pkg", "browser-only", "@omniviewdev/ui/buttons", "not-installed"]
    for spec in ("esm-pkg", "cjs-pkg", "browser-only"):
        method, names, version = EXPECTED[spec]
        assert (lock[spec]["method"], lock[spec]["names"], lock[spec]["version"]) == (method, names, version)
    assert lock["@omniviewdev/ui/buttons"]["method"] == "bundled"
    assert lock["not-installed"] == {"file": "not-installed.mjs", "package": "not-installed", "version": None,
                                     "method": "default-only", "names": []}
    assert "not-installed" in first.stderr and "warning" in first.stderr

    before = _mtimes(out)
    second = plugindev("gen-shims", "--host", str(host), "--out", str(out), env=_without_node(tmp_path))
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout
    assert _mtimes(out) == before

    check = plugindev("gen-shims", "--host", str(host), "--out", str(out), "--check", env=_without_node(tmp_path))
    assert check.returncode == 0, check.stdout + check.stderr

    # a new version of one package is rediscovered; the others come from the lock
    package_json = host / "node_modules/cjs-pkg/package.json"
    package_json.write_text(package_json.read_text().replace("2.0.0", "2.1.0"))
    third = plugindev("gen-shims", "--host", str(host), "--out", str(out), "-v", "--json")
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout)["discovered"] == ["cjs-pkg"]
    assert json.loads((out / LOCK).read_text())["shims"]["cjs-pkg"]["version"] == "2.1.0"


def test_check_names_a_hand_edited_shim_and_leaves_it(tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    assert plugindev("gen-shims", "--out", str(out)).returncode == 0
    assert plugindev("gen-shims", "--out", str(out), "--check").returncode == 0
    edited = out / "shims" / "react.mjs"
    edited.write_text(edited.read_text() + "export const hack = 1;\n")
    check = plugindev("gen-shims", "--out", str(out), "--check")
    assert check.returncode == 1
    assert f"{edited}: differs" in check.stdout
    assert "hack" in edited.read_text()  # --check writes nothing
    (out / "shims" / "react-dom.mjs").unlink()
    check = plugindev("gen-shims", "--out", str(out), "--check", "--json")
    assert check.returncode == 1
    changed = {f["path"]: f["action"] for f in json.loads(check.stdout)["files"]}
    assert changed == {"shims/react.mjs": "overwrite", "shims/react-dom.mjs": "create"}


def test_stale_shims_are_removed_and_other_files_kept(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text("packages:\n  - react\n  - yaml\nhost_versions:\n  react: '19.2.4'\n  yaml: '2.7.1'\n")
    out = tmp_path / "pkg"
    assert plugindev("gen-shims", "--manifest", str(manifest), "--out", str(out)).returncode == 0
    (out / "shims" / "notes.txt").write_text("mine\n")
    manifest.write_text("packages:\n  - react\nhost_versions:\n  react: '19.2.4'\n")
    result = plugindev("gen-shims", "--manifest", str(manifest), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "delete" in result.stdout and "yaml.mjs" in result.stdout
    assert sorted(p.name for p in (out / "shims").iterdir()) == ["notes.txt", "react.mjs", "shims.lock.json"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--manifest", "{bad}"], "invalid YAML"),
        (["--manifest", "{empty}"], "non-empty list"),
        (["--add", "../nope"], "'../nope' is not a bare package specifier"),
        (["--host", "{tmp}"], "shared_dependencies.ts not found"),
    ],
)
def test_bad_input_is_one_line_and_leaves_shims_alone(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "pkg"
    assert plugindev("gen-shims", "--out", str(out)).returncode == 0
    before = tree(out)
    (tmp_path / "bad.yaml").write_text("packages:\n  - react\n  - [oops\n")
    (tmp_path / "empty.yaml").write_text("packages: []\n")
    paths = {"bad": tmp_path / "bad.yaml", "empty": tmp_path / "empty.yaml", "tmp": tmp_path}
    result = plugindev("gen-shims", "--out", str(out), *[a.format(**paths) for a in args])
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert tree(out) == before


@pytest.mark.integration
@pytest.mark.parametrize(
    ("env_extra", "add", "message"),
    [
        ({"npm_config_registry": "http://127.0.0.1:9/"}, "left-pad", "cannot reach the npm registry"),
        ({}, "plugindev-test-no-such-package-7f3a9", "check the package name and version"),
    ],
)
def test_npm_failures_are_one_line_and_leave_shims_alone(tmp_path: Path, env_extra: dict[str, str], add: str,
                                                         message: str) -> None:
    out = tmp_path / "pkg"
    assert plugindev("gen-shims", "--out", str(out)).returncode == 0
    before = tree(out)
    env = {**os.environ, **env_extra, "npm_config_fetch_retries": "0", "npm_config_cache": str(tmp_path / "npm")}
    result = plugindev("gen-shims", "--out", str(out), "--add", add, env=env)
    assert result.returncode == 1
    assert message in result.stderr and add in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tree(out) == before


@pytest.mark.integration
def test_committed_lock_equals_real_discovery_at_the_host_versions(tmp_path: Path) -> None:
    """The shipped lock must be exactly what discovery on the real packages, at host_versions, produces."""
    out = tmp_path / "pkg"
    result = plugindev("gen-shims", "--rediscover", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["discovered"]) == 36  # every npm-published specifier, none from a lock
    fresh = json.loads((out / LOCK).read_text())["shims"]
    committed = json.loads((REPO / "shims" / "shims.lock.json").read_text())["shims"]
    differing = sorted(spec for spec in committed.keys() | fresh.keys() if committed.get(spec) != fresh.get(spec))
    assert differing == [], f"regenerate shims/shims.lock.json: these differ from real discovery: {differing}"
