"""A non-editable install in a fresh venv finds every template and data file it needs."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from orchestrator.authoring.manifest_schema import schema_text

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.integration
def test_wheel_installs_and_generates_shims_outside_the_source_tree(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO)],
                   check=True, capture_output=True)
    wheel = next(dist.glob("plugindev-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True)

    work = tmp_path / "elsewhere"
    work.mkdir()
    result = subprocess.run([str(env_dir / "bin" / "plugindev"), "gen-shims", "--out", "pkg"], cwd=work,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    shims = sorted((work / "pkg" / "shims").glob("*.mjs"))
    assert len(shims) == 63
    for name in ("package.json", "index.mjs", "index.d.ts", "shims/shims.lock.json"):
        assert (work / "pkg" / name).is_file(), name
    # the installed copy must not be reading the source checkout's folders
    probe = "import orchestrator.common.paths as p; print(p.resource_dir('shims'))"
    location = subprocess.run([str(python), "-c", probe], cwd=work, capture_output=True, text=True,
                              check=True).stdout.strip()
    assert str(env_dir) in location and str(REPO) not in location
    assert Path(location, "discover.mjs").is_file()
    for folder in ("vite_plugin_template", "scaffolds"):
        probe = f"import orchestrator.common.paths as p; print(p.resource_dir({folder!r}))"
        assert str(env_dir) in subprocess.run([str(python), "-c", probe], cwd=work, capture_output=True,
                                              text=True, check=True).stdout
    # the JSON Schema of plugin.yaml, which editors are pointed at, ships in the wheel
    schema = subprocess.run([str(env_dir / "bin" / "plugindev"), "schema", "--path"], cwd=work, capture_output=True,
                            text=True, check=True).stdout.strip()
    assert schema.startswith(str(env_dir)) and Path(schema).read_text() == schema_text()
