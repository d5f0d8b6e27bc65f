"""`--ui build`: for hosts that cannot load dev ESM, rebuild the UI on change and install its assets."""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.common.node import ensure_node_env
from orchestrator.devloop.install import install_assets
from orchestrator.devloop.rebuild import WATCH_STEP_MS, rebuild_loop, trailing_debounce
from orchestrator.devloop.state import Level, Source, Status

if TYPE_CHECKING:
    from orchestrator.devloop.session import PluginSession

_IGNORED = {"node_modules", "dist", ".plugindev"}
# Vite 5 (and Vite 8 when it cannot write node_modules/.vite-temp) loads an ESM config by writing it bundled
# beside the config as `vite.config.ts.timestamp-<ms>-<hex>.mjs` and deleting it: every `vite build` would
# otherwise see its own temporary file, cancel itself and start again, forever.
_VITE_CONFIG_TEMP = "vite.config.*.timestamp-*.mjs"


def ui_filter(ui_dir: Path) -> Callable[[object, str], bool]:
    """Everything under ui/ but dependencies, build output, dot-folders and Vite's temporary config copies."""
    root = ui_dir.resolve()

    def accept(_change: object, path: str) -> bool:
        parts = Path(path).relative_to(root).parts if Path(path).is_relative_to(root) else ()
        if any(p in _IGNORED or p.startswith(".") for p in parts):
            return False
        return not fnmatch.fnmatchcase(Path(path).name, _VITE_CONFIG_TEMP)

    return accept


async def ui_build_loop(session: PluginSession, stop: asyncio.Event) -> None:
    from watchfiles import awatch

    ui_dir = session.plugin_dir / "ui"
    env = (await ensure_node_env()).environ()
    trigger = asyncio.Event()

    async def build() -> bool:
        session.instance.update(viteStatus=Status.BUILDING)
        session.say("vite build", source=Source.VITE)
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            str(ui_dir / "node_modules" / ".bin" / "vite"), "build", cwd=ui_dir, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        session.registry.add("vite-build", session.manifest.id, process.pid)
        try:
            assert process.stdout is not None
            async for raw in process.stdout:
                session.say(raw.decode(errors="replace").rstrip(), Level.DEBUG, Source.VITE)
            code = await process.wait()
        except asyncio.CancelledError:
            process.kill()
            await process.wait()
            raise
        finally:
            session.registry.discard(process.pid)
        if code != 0:
            session.instance.update(viteStatus=Status.ERROR, lastError=f"vite build failed with exit code {code}")
            session.say(f"vite build failed with exit code {code}", Level.ERROR, Source.VITE)
            return False
        session.say(f"built UI in {(time.monotonic() - started) * 1000:.0f} ms", source=Source.VITE)
        return True

    async def install() -> None:
        target = install_assets(ui_dir / "dist" / "assets", session.state_dir)
        session.instance.update(viteStatus=Status.READY)
        session.say(f"installed UI assets into {target}", source=Source.VITE)

    async def watch() -> None:
        batches = awatch(ui_dir, watch_filter=ui_filter(ui_dir), step=WATCH_STEP_MS, stop_event=stop)
        await trailing_debounce(batches, session.options.debounce_ms / 1000, trigger)

    trigger.set()
    async with asyncio.TaskGroup() as group:
        group.create_task(watch())
        group.create_task(rebuild_loop(trigger, stop, build, install,
                                       lambda: session.say("UI changed during the build: building again",
                                                           source=Source.VITE)))
