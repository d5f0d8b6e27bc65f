"""The command line itself: version, help, exit codes, and start-up that stays light."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import REPO, plugindev

from orchestrator import __version__


def test_version_and_help() -> None:
    version = plugindev("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"plugindev, version {__version__}"
    helped = plugindev("--help")
    assert helped.returncode == 0
    for command in ("gen-shims", "scaffold", "validate", "link", "run"):
        assert command in helped.stdout


def test_usage_errors_exit_2_and_failures_exit_1(tmp_path: object) -> None:
    assert plugindev("no-such-command").returncode == 2
    assert plugindev("gen-shims", "--bogus").returncode == 2
    both = plugindev("gen-shims", "--host", "/x", "--manifest", "/y")
    assert both.returncode == 2 and "not both" in both.stderr
    failed = plugindev("validate", "/nonexistent/plugin")
    assert failed.returncode == 1


def test_verbose_flag_is_accepted_before_and_after_the_command() -> None:
    assert plugindev("-v", "validate", "--help").returncode == 0
    assert plugindev("validate", "-v", "--help").returncode == 0


def test_help_does_not_import_heavy_modules() -> None:
    probe = ("import sys; from orchestrator.cli import main\n"
             "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('grpc', 'jinja2', 'yaml', 'watchfiles', 'nodeenv', 'orchestrator.shimgen.generate')"
             " if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_ctrl_c_works_when_started_with_sigint_ignored(tmp_path: Path) -> None:
    """A background job of a script starts with SIGINT ignored; plugindev (and what it starts) still stops on it."""
    ignoring = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                "os.execv(sys.executable, [sys.executable, '-m', 'orchestrator', 'status', '--watch', '--json'])")
    process = subprocess.Popen([sys.executable, "-c", ignoring], cwd=REPO, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "OMNIVIEW_STATE_DIR": str(tmp_path)}, start_new_session=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "[]"  # it is watching
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
