from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestrator.common.errors import PlugindevError
from orchestrator.shimgen.shared_list import (
    default_manifest_path,
    load_host,
    load_shared_manifest,
    package_name,
    parse_shared_keys,
    shim_filename,
    shim_filenames,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("spec", "filename"),
    [
        ("react", "react.mjs"),
        ("react/jsx-runtime", "react__jsx-runtime.mjs"),
        ("@mui/material/Box", "_mui__material__Box.mjs"),
        ("@omniviewdev/base-ui/styles.css", "_omniviewdev__base-ui__styles.css.mjs"),
        ("date-fns", "date-fns.mjs"),
    ],
)
def test_shim_filename_table(spec: str, filename: str) -> None:
    assert shim_filename(spec) == filename


def test_colliding_specifiers_are_rejected_naming_both() -> None:
    with pytest.raises(PlugindevError) as err:
        shim_filenames(["react", "a/b", "a__b"])
    assert "'a/b'" in str(err.value) and "'a__b'" in str(err.value) and "a__b.mjs" in str(err.value)


def test_package_name_of_subpaths() -> None:
    assert package_name("@mui/material/Box") == "@mui/material"
    assert package_name("react/jsx-runtime") == "react"
    assert package_name("@emotion/react") == "@emotion/react"


def test_bundled_manifest_equals_the_host_data() -> None:
    shared_data = REPO.parent / "shared" / "data" / "omniview-shared-packages.yaml"
    bundled = yaml.safe_load(default_manifest_path().read_text())
    if shared_data.exists():
        assert bundled == yaml.safe_load(shared_data.read_text())
    shared = load_shared_manifest(default_manifest_path())
    assert len(shared.specifiers) == 63
    assert shared.specifiers[:3] == ("@emotion/react", "@emotion/styled", "@mui/material")
    assert shared.host_versions["react"] == "19.2.4"
    assert len(shim_filenames(shared.specifiers)) == 63


def _manifest(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(text)
    return path


def test_malformed_manifest_names_file_and_line(tmp_path: Path) -> None:
    path = _manifest(tmp_path, "packages:\n  - react\n  - [broken\n")
    with pytest.raises(PlugindevError, match=r"manifest\.yaml:4:1: invalid YAML"):
        load_shared_manifest(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("packages: []\n", "non-empty list"),
        ("- react\n", "'packages' list"),
        ("packages:\n  - react\n  - ../evil\n", r"packages\[1\]: '../evil' is not a bare package specifier"),
        ("packages:\n  - react\n  - ./local\n", r"packages\[1\]"),
        ("packages:\n  - 'React Dom'\n", r"packages\[0\]"),
        ("packages:\n  - react\n  - react\n", "listed twice"),
        ("packages:\n  - react\nhost_versions: [1]\n", "'host_versions' must map"),
    ],
)
def test_bad_manifest_entries(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(PlugindevError, match=message):
        load_shared_manifest(_manifest(tmp_path, text))


HOST_TS = """
import type { Foo } from './types';

// keys of `shared` are what plugins may import from the host
export const shared: Record<string, () => Promise<unknown>> = {
  'react': () => import('react'),
  "react-dom/client": () => import('react-dom/client'),
  '@mui/material/Box': () => import('@mui/material/Box'),
  'monaco-editor': async () => {
    const m = await import('monaco-editor'); // not: 'fake': () => {}
    const s = { 'nested': 1, other: '}' };
    /* 'commented': () => import('x'), */
    return m;
  },
  yaml: () => import('yaml'),
};

const other = { 'not-shared': 1 };
"""


def test_host_shared_keys_are_parsed_in_order(tmp_path: Path) -> None:
    keys = parse_shared_keys(HOST_TS, tmp_path / "x.ts")
    assert keys == ["react", "react-dom/client", "@mui/material/Box", "monaco-editor", "yaml"]


def test_host_without_the_typescript_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PlugindevError, match=r"shared_dependencies\.ts not found; point --host at an Omniview"):
        load_host(tmp_path)


def test_host_without_node_modules_is_a_clear_error(tmp_path: Path) -> None:
    ts = tmp_path / "ui/features/plugins/api/shared_dependencies.ts"
    ts.parent.mkdir(parents=True)
    ts.write_text(HOST_TS)
    with pytest.raises(PlugindevError, match="no node_modules folder"):
        load_host(tmp_path)
