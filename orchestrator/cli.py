"""The `plugindev` command line: thin click wrappers; the work lives in the other modules.

Only click is imported at start-up so `plugindev --help` stays instant; each command imports what it uses.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import shlex
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from orchestrator import __version__
from orchestrator.authoring.scaffold import TEMPLATE_PARTS
from orchestrator.common.durations import seconds_text
from orchestrator.common.errors import PlugindevError, UsageError
from orchestrator.common.net import DEBUG_PORT
from orchestrator.devloop.context import RunOptions

if TYPE_CHECKING:
    from orchestrator.release.build import Release

T = TypeVar("T")

EXIT_FAILURE = 1
EXIT_USAGE = 2


class _Command(click.Command):
    """A command whose summary in `plugindev --help` is the first paragraph of its help, whole: click would cut
    it to the terminal's width, mid-sentence, with "..."."""

    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help or not self.help:
            return super().get_short_help_str(limit)
        return " ".join(inspect.cleandoc(self.help).split("\n\n")[0].split())


class _Group(click.Group):
    """Turns PlugindevError into one line on stderr and the matching exit code, never a traceback."""

    command_class = _Command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            click.echo(f"plugindev: usage error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except click.UsageError as exc:  # click's own (a missing argument, a bad option value): one line too
            where = exc.ctx.command_path if exc.ctx else "plugindev"
            click.echo(f"plugindev: usage error: {exc.format_message()} (see `{where} --help`)", err=True)
            ctx.exit(EXIT_USAGE)
        except PlugindevError as exc:
            click.echo(f"plugindev: error: {exc}", err=True)
            ctx.exit(EXIT_FAILURE)
        except KeyboardInterrupt:
            click.echo("plugindev: interrupted", err=True)
            ctx.exit(130)


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(dict)["verbose"] = True


def verbose_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """`-v` works before or after the command name."""
    return click.option("-v", "--verbose", is_flag=True, expose_value=False, is_eager=True,
                        callback=_set_verbose, help="Show debug detail.")(function)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="plugindev")
@verbose_option
@click.pass_context
def main(ctx: click.Context) -> None:
    """plugindev: instant development of Omniview plugins (shims, scaffolding, Vite HMR, Go reload)."""
    ctx.ensure_object(dict).setdefault("verbose", False)
    # started in the background of a script, plugindev inherits SIGINT ignored, and so would every child: a go
    # build asked to stop (SIGINT) would have to be killed and leave its work folder behind
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def is_verbose(ctx: click.Context) -> bool:
    return bool(ctx.find_root().ensure_object(dict).get("verbose"))


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(factory())


def _warn(message: str) -> None:
    click.echo(f"plugindev: warning: {message}", err=True)


_CHECK_WORDS = {"create": "missing", "overwrite": "differs from what gen-shims writes (hand-edited or stale)",
                "delete": "stale: its specifier is no longer listed"}


@main.command("gen-shims")
@click.option("--host", type=click.Path(path_type=Path, file_okay=False),
              help="An Omniview checkout: take its shared list and package versions.")
@click.option("--manifest", type=click.Path(path_type=Path, dir_okay=False),
              help="A YAML manifest of shared specifiers (default: the bundled host list).")
@click.option("--add", "extra", multiple=True, metavar="SPEC", help="An extra shared specifier (repeatable).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("omniview-vite-plugin"), show_default=True,
              help="Folder of the generated @omniviewdev/vite-plugin package.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 listing every file that is stale or edited.")
@click.option("--refresh", is_flag=True, help="Resolve the host's version ranges anew and re-discover exports.")
@click.option("--rediscover", is_flag=True, help="Ignore locks and discover every export again.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@verbose_option
@click.pass_context
def gen_shims(ctx: click.Context, host: Path | None, manifest: Path | None, extra: tuple[str, ...], out: Path,
              check: bool, refresh: bool, rediscover: bool, as_json: bool) -> None:
    """Generate the shims of the host's shared packages.

    Also the @omniviewdev/vite-plugin package that wires them into Vite."""
    from orchestrator.shimgen.generate import generate
    from orchestrator.shimgen.shared_list import load_shared_list

    if host is not None and manifest is not None:
        raise UsageError("give --host or --manifest, not both")
    shared = load_shared_list(host, manifest, extra)
    report = run_async(lambda: generate(shared, out, refresh=refresh, rediscover=rediscover, check=check))
    for warning in report.warnings:
        _warn(warning)
    if as_json:
        click.echo(json.dumps({
            "out": str(out), "source": shared.source, "shims": len(shared.specifiers),
            "discovered": report.discovered, "warnings": report.warnings, "check": check,
            "files": [{"path": o.path, "action": str(o.action)} for o in report.changed],
        }, indent=2))
    elif check:
        for o in report.changed:
            click.echo(f"{out / o.path}: {_CHECK_WORDS.get(o.action, o.action)}")
    else:
        for o in report.changed:
            click.echo(f"{o.action:>9}  {out / o.path}")
        if is_verbose(ctx) and report.discovered:
            click.echo(f"discovered exports of {len(report.discovered)} specifiers: {', '.join(report.discovered)}")
        state = "up to date" if not report.changed else f"{len(report.changed)} files written"
        click.echo(f"{len(shared.specifiers)} shims from {shared.source} in {out}: {state}")
    if check and report.changed:
        if not as_json:
            click.echo(f"plugindev: {len(report.changed)} generated files are out of date; "
                       "run `plugindev gen-shims` and commit the result", err=True)
        sys.exit(EXIT_FAILURE)


def _prompt_missing(value: str | None, label: str, default: str | None = None) -> str | None:
    """Ask on a TTY; never block a script (no TTY: the caller reports the missing value)."""
    if value is not None or not sys.stdin.isatty():
        return value
    answer: str = click.prompt(label, default=default, show_default=default is not None)
    return answer


@main.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--id", "plugin_id", help="Plugin id: lowercase letters, digits, '.', '_', '-'.")
@click.option("--name", help="Display name (default: the id).")
@click.option("--description", help="One-line description.")
@click.option("--capability", "capabilities", multiple=True, metavar="NAME",
              help="ui, resource, exec, networker, log, metric, settings (repeatable).")
@click.option("--template", type=click.Choice(list(TEMPLATE_PARTS)), default="full", show_default=True,
              help="full (Go backend and React UI), ui (UI only) or backend (Go only).")
@click.option("--go-module", default="", help="Go module path (default: github.com/example/<id>).")
@click.option("--force", is_flag=True, help="Overwrite files that differ from the templates.")
@click.option("--dry-run", is_flag=True, help="Report what would be written; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the file report as JSON.")
@verbose_option
def scaffold(directory: Path, plugin_id: str | None, name: str | None, description: str | None,
             capabilities: tuple[str, ...], template: str, go_module: str, force: bool, dry_run: bool,
             as_json: bool) -> None:
    """Create a new plugin in DIRECTORY.

    A complete one that builds at once: Go backend and React UI (--template full), or either alone."""
    from orchestrator.authoring.render import Action
    from orchestrator.authoring.scaffold import ScaffoldOptions, next_steps
    from orchestrator.authoring.scaffold import scaffold as write_scaffold

    plugin_id = _prompt_missing(plugin_id, "Plugin id", default=directory.absolute().name.lower())
    if plugin_id is None:
        raise UsageError("--id is required when not asking on a terminal (e.g. --id hello-plugin)")
    name = _prompt_missing(name, "Display name", default=plugin_id)
    description = _prompt_missing(description, "Description", default="")
    options = ScaffoldOptions(plugin_id, name or "", description or "", template, capabilities, go_module).checked()
    outcomes = write_scaffold(directory, options, force=force, dry_run=dry_run)
    conflicts = [o for o in outcomes if o.action is Action.CONFLICT]
    if as_json:
        click.echo(json.dumps({"directory": str(directory), "dryRun": dry_run,
                               "files": [{"path": o.path, "action": str(o.action)} for o in outcomes]}, indent=2))
    else:
        for o in outcomes:
            click.echo(f"{o.action:>9}  {directory / o.path}")
        if dry_run:
            click.echo("dry run: nothing was written")
        elif not conflicts:
            click.echo(f"plugin {options.plugin_id!r} is ready; next (its README.md says more):")
            if directory.absolute() != Path.cwd():
                click.echo(f"  cd {shlex.quote(str(directory))}")
            for step in next_steps(options):
                click.echo(f"  {step}")
    if conflicts:
        click.echo(f"plugindev: {len(conflicts)} files differ from the templates ({conflicts[0].path}"
                   f"{', ...' if len(conflicts) > 1 else ''}), so nothing was written; re-run with --force to "
                   "overwrite them", err=True)
        sys.exit(EXIT_FAILURE)


@main.command()
@click.argument("directory", type=click.Path(path_type=Path), default=Path("."))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@verbose_option
def validate(directory: Path, as_json: bool) -> None:
    """Check a plugin folder and list every problem.

    Each one names the file and the field; the exit code is 1 when there is any."""
    from orchestrator.authoring.validate import validate_plugin

    problems = validate_plugin(directory)
    if as_json:
        click.echo(json.dumps({"directory": str(directory), "problems": [
            {"file": p.file, "field": p.field, "message": p.message} for p in problems]}, indent=2))
    else:
        for problem in problems:
            click.echo(f"{directory / problem.file}: {problem.field + ': ' if problem.field else ''}{problem.message}")
        if not problems:
            click.echo(f"{directory}: ok")
    if problems:
        sys.exit(EXIT_FAILURE)


@main.command()
@click.option("--path", "show_path", is_flag=True, help="Print where the schema file plugindev ships is instead.")
@click.option("--write", "plugin_dir", type=click.Path(path_type=Path, file_okay=False, exists=True), metavar="DIR",
              help="Write it into the plugin in DIR as plugin.schema.json, the file a scaffolded "
                   "plugin.yaml names.")
@verbose_option
def schema(show_path: bool, plugin_dir: Path | None) -> None:
    """Print the JSON Schema of plugin.yaml, for editors.

    The fields, types and patterns `plugindev validate` checks. An editor with a YAML language server (VS Code's
    YAML extension, ...) checks plugin.yaml against it while you type when plugin.yaml names it in a comment, as
    a scaffolded one does (--write brings that copy up to date):

    \b
      # yaml-language-server: $schema=plugin.schema.json"""
    from orchestrator.authoring.manifest_schema import MODELINE, SHIPPED, names_a_schema, schema_text, write_into_plugin

    if show_path and plugin_dir is not None:
        raise UsageError("give --path or --write, not both")
    if show_path:
        click.echo(SHIPPED)
    elif plugin_dir is None:
        click.echo(schema_text(), nl=False)
    elif not (plugin_dir / "plugin.yaml").is_file():
        raise PlugindevError(f"{plugin_dir} holds no plugin.yaml; give the folder of a plugin")
    else:
        outcome = write_into_plugin(plugin_dir)
        click.echo(f"{outcome.action:>9}  {plugin_dir / outcome.path}")
        if not names_a_schema(plugin_dir / "plugin.yaml"):
            click.echo(f"add this line at the top of {plugin_dir / 'plugin.yaml'} so that editors use it: {MODELINE}")


@main.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
@click.option("--no-install", is_flag=True, help="Only generate and link; do not install dependencies.")
@verbose_option
@click.pass_context
def link(ctx: click.Context, directory: Path, no_install: bool) -> None:
    """Make @omniviewdev/vite-plugin resolvable in DIRECTORY/ui.

    Generates the package, installs the UI's dependencies and links the package into them."""
    from orchestrator.link.setup import prepare_ui

    setup = run_async(lambda: prepare_ui(directory, install=not no_install, verbose=is_verbose(ctx)))
    for conflict in setup.peer_conflicts:
        _warn(conflict.message)
    installed = f"dependencies installed with {setup.package_manager}; " if setup.installed else ""
    click.echo(f"{setup.ui_dir}: {installed}@omniviewdev/vite-plugin -> {setup.package_dir}")


# `run`, `serve` and `watch-external` check a running plugin's gRPC health this often
health_interval_option = click.option(
    "--health-interval", type=click.FloatRange(0.01), default=RunOptions.health_interval, show_default=True,
    metavar="SECONDS", help="Seconds between the gRPC health checks of a running plugin.")


def dev_loop_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The options `run` and `serve` share: how each plugin is developed, and where the API listens."""
    for option in reversed([
        click.option("--no-vite", is_flag=True, help="Do not run the UI side at all."),
        click.option("--no-go", is_flag=True, help="Do not build or run the Go backend: UI work only."),
        click.option("--ui", "ui_mode", type=click.Choice(["dev", "build"]), default="dev", show_default=True,
                     help="dev: Vite dev server with HMR; build: vite build on change, assets installed."),
        click.option("--no-typecheck", is_flag=True,
                     help="Do not run the TypeScript check (tsc --watch) beside the Vite dev server."),
        click.option("--debounce", "debounce_ms", type=click.IntRange(0, 10_000), default=RunOptions.debounce_ms,
                     show_default=True, metavar="MS",
                     help="Quiet period after a Go file change before building (folds an editor's multi-write "
                          "save); a later change cancels the build and starts another."),
        click.option("--go", "go_path", metavar="PATH",
                     help="The go binary (default: $PLUGINDEV_GO, PATH, $GOROOT/bin)."),
        click.option("--handshake-timeout", type=click.FloatRange(0.1), default=RunOptions.handshake_timeout,
                     show_default=True, metavar="S",
                     help="Seconds a started plugin has to print go-plugin's handshake line before it counts as "
                          "failed."),
        click.option("--vite-timeout", type=click.FloatRange(0.1), default=RunOptions.vite_timeout,
                     show_default=True, metavar="S",
                     help="Seconds Vite has to say it is ready (its Local: line, then /@vite/client answering)."),
        health_interval_option,
        click.option("--overlap/--no-overlap", default=True, show_default=True,
                     help="Start the new plugin process, healthy, before stopping the old one (no gap)."),
        click.option("--jobs", type=click.IntRange(1), metavar="N",
                     help="Go builds (and UI installs) at once across all plugins, the one saved last first "
                          "(default: one per core)."),
        click.option("--api-port", type=click.IntRange(0, 65535), default=0, metavar="PORT",
                     help="Port of the control API on 127.0.0.1 (default: a free one)."),
        click.option("--json", "as_json", is_flag=True, help="Print NDJSON events instead of lines."),
    ]):
        function = option(function)
    return function


def _run_options(ctx: click.Context, no_vite: bool, no_go: bool, ui_mode: str, no_typecheck: bool,
                 debounce_ms: int, go_path: str | None, handshake_timeout: float, vite_timeout: float,
                 health_interval: float, overlap: bool, jobs: int | None) -> RunOptions:
    if no_vite and no_go:
        raise click.UsageError("--no-vite and --no-go together leave nothing to run")
    return RunOptions(vite=not no_vite, go_backend=not no_go, ui_mode=ui_mode, typecheck=not no_typecheck,
                      debounce_ms=debounce_ms, go=go_path, handshake_timeout=handshake_timeout,
                      vite_timeout=vite_timeout, health_interval=health_interval, overlap=overlap,
                      verbose=is_verbose(ctx), jobs=jobs)


@main.command()
@click.argument("plugin_dirs", nargs=-1, type=click.Path(path_type=Path, file_okay=False, exists=True))
@dev_loop_options
@click.option("--open", "open_dashboard", is_flag=True, help="Open the dashboard in the browser.")
@click.option("--debug", is_flag=True,
              help=f"Build Go for a debugger and run the plugin under Delve (installed once) on port {DEBUG_PORT}, "
                   "or the next free one, for your IDE to attach to.")
@verbose_option
@click.pass_context
def run(ctx: click.Context, /, plugin_dirs: tuple[Path, ...], api_port: int, as_json: bool, open_dashboard: bool,
        debug: bool, **dev: Any) -> None:
    """Develop plugins: Vite HMR, Go rebuild and restart.

    Vite with hot module replacement for the UI, watch -> go build -> restart for the backend, and the .devinfo
    through which the IDE attaches."""
    from orchestrator.terminal.printer import Printer
    from orchestrator.wiring import run_plugins

    options = _run_options(ctx, **dev)
    if debug and not options.go_backend:
        raise click.UsageError("--debug debugs the Go backend, which --no-go leaves out")
    options = replace(options, debug=debug)
    printer = Printer(as_json=as_json, verbose=is_verbose(ctx))
    run_async(lambda: run_plugins(list(plugin_dirs) or [Path(".")], options, printer, api_port,
                                  open_dashboard=open_dashboard))


@main.command("watch-external")
@click.option("--json", "as_json", is_flag=True, help="Print NDJSON events instead of lines.")
@health_interval_option
@verbose_option
@click.pass_context
def watch_external(ctx: click.Context, as_json: bool, health_interval: float) -> None:
    """Follow plugins run outside plugindev, until Ctrl+C.

    Through their .devinfo, health-checked over gRPC."""
    from orchestrator.common.paths import state_root
    from orchestrator.terminal.printer import Printer
    from orchestrator.wiring import watch_external as watch

    printer = Printer(as_json=as_json, verbose=is_verbose(ctx))
    run_async(lambda: watch(state_root(), printer, health_interval))


@main.command()
@click.argument("plugin_dirs", nargs=-1, type=click.Path(path_type=Path, file_okay=False, exists=True))
@dev_loop_options
@verbose_option
@click.pass_context
def serve(ctx: click.Context, /, plugin_dirs: tuple[Path, ...], api_port: int, as_json: bool, **dev: Any) -> None:
    """Manage any number of plugins for the IDE.

    The saved set and PLUGIN_DIRS, then those `plugindev add` and the control API add at run time; the set is
    kept for the next serve, and plugins run by hand (.devinfo) are watched too."""
    from orchestrator.terminal.printer import Printer
    from orchestrator.wiring import serve_plugins

    options = _run_options(ctx, **dev)
    printer = Printer(as_json=as_json, verbose=is_verbose(ctx))
    run_async(lambda: serve_plugins(list(plugin_dirs), options, printer, api_port))


@main.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False, exists=True))
@verbose_option
def add(directory: Path) -> None:
    """Add a plugin to the running serve, and start it.

    DIRECTORY is the plugin's folder (relative to this one); the plugin stays in the serve's saved set."""
    from orchestrator.api.client import add_to_running
    from orchestrator.common.paths import state_root

    click.echo(run_async(lambda: add_to_running(state_root(), directory)))


@main.command()
@click.argument("plugin_id", metavar="ID")
@verbose_option
def remove(plugin_id: str) -> None:
    """Stop a plugin and remove it from the running serve.

    ID is the plugin's id (its plugin.yaml's `id`), as `plugindev status` lists them."""
    from orchestrator.api.client import remove_from_running
    from orchestrator.common.paths import state_root

    click.echo(run_async(lambda: remove_from_running(state_root(), plugin_id)))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the states as JSON (one line per change with --watch).")
@click.option("--watch", is_flag=True, help="Print again on every change, until Ctrl+C.")
@verbose_option
@click.pass_context
def status(ctx: click.Context, as_json: bool, watch: bool) -> None:
    """List the plugins in development, one line each.

    Status, Vite URL, pid, last build, last error."""
    from orchestrator.common.paths import state_root
    from orchestrator.diagnose.status import StatusPrinter, current_snapshot, watch_status
    from orchestrator.terminal.printer import use_colour

    root = state_root()
    printer = StatusPrinter(sys.stdout, as_json=as_json, colour=use_colour(sys.stdout) and not as_json,
                            watching=watch, verbose=is_verbose(ctx))
    if not watch:
        printer(run_async(lambda: current_snapshot(root)))
        return
    try:
        run_async(lambda: watch_status(root, printer))
    except KeyboardInterrupt:
        return  # Ctrl+C is how --watch ends


@main.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@verbose_option
def doctor(directory: Path | None, as_json: bool) -> None:
    """Check this machine for what plugindev needs.

    And the plugin in DIRECTORY (default: . when it holds a plugin.yaml); each problem is printed with its
    fix."""
    from orchestrator.diagnose.doctor import run_doctor, summary

    if directory is None and Path("plugin.yaml").is_file():
        directory = Path(".")
    results = run_async(lambda: run_doctor(directory))
    failed = any(not r.ok for r in results)
    if as_json:
        click.echo(json.dumps({"directory": str(directory) if directory else None, "ok": not failed,
                               "checks": [r.to_json() for r in results]}, indent=2))
    else:
        for result in results:
            for line in result.lines():
                click.echo(line)
        click.echo(summary(results))
    if failed:
        sys.exit(EXIT_FAILURE)


def release_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The options `build`, `install` and `package` share."""
    for option in reversed([
        click.argument("directory", type=click.Path(path_type=Path, file_okay=False, exists=True),
                       default=Path(".")),
        click.option("--go", "go_path", metavar="PATH",
                     help="The go binary (default: $PLUGINDEV_GO, PATH, $GOROOT/bin)."),
    ]):
        function = option(function)
    return function


def _build_release(ctx: click.Context, directory: Path, platform: str | None, go_path: str | None) -> Release:
    from orchestrator.release.build import build_release
    from orchestrator.release.platforms import parse_platform

    release = run_async(lambda: build_release(directory, parse_platform(platform), go=go_path,
                                              verbose=is_verbose(ctx)))
    timings = [f"go {seconds_text(release.go_seconds)}" if release.manifest.has_backend else "",
               f"ui {seconds_text(release.ui_seconds)}" if release.manifest.has_ui else ""]
    click.echo(f"built {release.manifest.id} {release.manifest.version} for {release.platform} in "
               f"{release.folder} ({', '.join(t for t in timings if t)})")
    return release


@main.command()
@release_options
@click.option("--platform", metavar="OS/ARCH", help="linux, darwin or windows / amd64 or arm64 (default: this one).")
@verbose_option
@click.pass_context
def build(ctx: click.Context, directory: Path, go_path: str | None, platform: str | None) -> None:
    """Build a release of the plugin for a platform.

    Into DIRECTORY/build/release/<os>-<arch>/: go build -trimpath with plugin.yaml's version, vite build to the
    SystemJS entry."""
    _build_release(ctx, directory, platform, go_path)


@main.command()
@release_options
@verbose_option
@click.pass_context
def install(ctx: click.Context, directory: Path, go_path: str | None) -> None:
    """Build the plugin and install it into Omniview.

    Built for this machine and installed into the state root, whole or not at all; refused, before building,
    while `plugindev run` or `plugindev serve` develops the plugin."""
    from orchestrator.common.paths import state_root
    from orchestrator.release.build import checked_manifest
    from orchestrator.release.install import install_release, installing

    root = state_root()
    with installing(checked_manifest(directory).id, root):  # refused here, before a build is spent
        release = _build_release(ctx, directory, None, go_path)
        target = install_release(release.folder, release.manifest.id, root)
    click.echo(f"installed {release.manifest.id} {release.manifest.version} into {target}")


@main.command()
@release_options
@click.option("--platform", metavar="OS/ARCH", help="linux, darwin or windows / amd64 or arm64 (default: this one).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="The .tar.gz to write (default: DIRECTORY/dist/<id>-<version>-<os>-<arch>.tar.gz).")
@verbose_option
@click.pass_context
def package(ctx: click.Context, directory: Path, go_path: str | None, platform: str | None,
            output: Path | None) -> None:
    """Build the .tar.gz that Omniview installs.

    For a platform (default: this one), reproducible: its bytes depend on the built files' contents only."""
    from orchestrator.release.package import default_package_path, source_date_epoch, write_package

    mtime = source_date_epoch()  # a bad value is said before a build is spent
    release = _build_release(ctx, directory, platform, go_path)
    out = write_package(release.folder, output or default_package_path(directory, release.manifest,
                                                                       release.platform), mtime)
    click.echo(f"packaged {out} ({out.stat().st_size / 1e6:.1f} MB)")
