"""Export discovery in Node, on packages the test writes itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from node_fixtures import EXPECTED, write_packages

from orchestrator.shimgen.discovery import Exports, bundled_exports, discover_in_node, settle

pytestmark = pytest.mark.integration


def test_each_kind_of_package_gets_its_names(tmp_path: Path) -> None:
    write_packages(tmp_path / "node_modules")
    results = asyncio.run(discover_in_node(tmp_path, [*EXPECTED, "not-installed"]))
    for spec, (method, names, version) in EXPECTED.items():
        result = results[spec]
        assert (result.method, sorted(result.names), result.version) == (method, names, version), spec
        assert list(result.names) == sorted(result.names), f"{spec}: names not sorted"
    assert results["not-installed"].method == "failed"


def test_failed_discovery_falls_back_to_bundled_data_then_default_only() -> None:
    warnings: list[str] = []
    buttons = settle("@omniviewdev/ui/buttons", None, None, warnings)
    assert buttons.method == "bundled" and "Button" in buttons.names
    assert buttons.names == tuple(sorted(bundled_exports()["@omniviewdev/ui/buttons"]))
    assert warnings == []
    lone = settle("left-pad", None, "1.3.0", warnings)
    assert lone == Exports("1.3.0", "default-only", ())
    assert len(warnings) == 1 and "left-pad" in warnings[0] and "only the default" in warnings[0]
