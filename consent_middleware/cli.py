"""The `consent-middleware` command (click): one group, one small module per command family.

    consent-middleware check-config examples.fastapi_app.app:app
    consent-middleware check-config 'myapp:create_app()'
    consent-middleware audit http://127.0.0.1:8000/ --config examples.fastapi_app.app:app
    consent-middleware suggest-config http://127.0.0.1:8000/
    consent-middleware --version

Exit status: 0 when all is well, 1 when a check found problems, 2 on a usage error (a
module or attribute that cannot be loaded, an invalid configuration, a bad option).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from . import __version__
from .audit.cli import audit_command, suggest_config_command
from .checks import check_config, config_hints, describe
from .discovery import find_config, load_object, not_found
from .probe import probe_findings, probe_set_cookies
from .records.cli import records as records_group

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="consent-middleware")
def cli() -> None:
    """Tools for consent-middleware: check a configuration, keep proof of consent, audit
    a site in a real browser."""


@cli.command("check-config")
@click.argument("target", metavar="MODULE:ATTR")
@click.option(
    "--probe",
    "paths",
    multiple=True,
    metavar="PATH",
    help="Also GET this path (from '/', a query string included) from the app in-process"
    " (repeatable) and check the cookies it sets: names no rule covers, and a Path or"
    " Domain their rule does not name.",
)
@click.option(
    "--root-path",
    default="",
    metavar="PREFIX",
    help="Probe the app as mounted under PREFIX (uvicorn's --root-path, WSGI's SCRIPT_NAME):"
    " the paths given are below it, and the places advised include it.",
)
@click.option(
    "--factory",
    is_flag=True,
    help="ATTR is an app factory: call it with no arguments and check the app it returns"
    " (uvicorn's --factory; 'MODULE:create_app()' does the same, with literal arguments"
    " if it needs them).",
)
def check_config_command(
    target: str, paths: tuple[str, ...], root_path: str, factory: bool
) -> None:
    """Load MODULE:ATTR and report what would surprise you in production.

    ATTR may be the ConsentConfig, an object with a .config, or the FastAPI, Starlette or
    Flask app (or WSGI callable) that carries the middleware, or a call of the factory that
    builds one (create_app()). Exit 1 on findings.
    """
    try:
        app = load_object(target, factory=factory)
        config = find_config(app)
        if config is None:
            raise TypeError(not_found(target, app))
    except (ImportError, AttributeError, ValueError, TypeError, LookupError) as exc:
        raise click.UsageError(str(exc)) from exc
    if root_path and not root_path.startswith("/"):
        raise click.UsageError(f"--root-path must start with '/': {root_path!r}")
    if root_path and not paths:
        # Alone it would change nothing: a silent no-op reads as "checked under the prefix".
        raise click.UsageError(
            "--root-path says where the app is mounted for --probe: give a --probe PATH too"
        )
    for path in paths:
        if not path.startswith("/"):
            raise click.UsageError(f"--probe PATH must start with '/': {path!r}")
    findings = check_config(config)
    if paths:
        try:
            found = probe_set_cookies(app, list(paths), root_path=root_path)
            findings += probe_findings(config, found)
        except LookupError as exc:
            raise click.UsageError(f"--probe needs the app itself: {exc}") from exc
        except Exception as exc:  # the app's own failure: say so, and which
            raise click.ClickException(f"the app failed while probed: {exc!r}") from exc
    click.echo(describe(config))
    hints = config_hints(config)
    if hints:
        click.echo("\nHints:")
        for hint in hints:
            click.echo(f"- {hint}")
    if findings:
        click.echo("\nFindings:")
        for finding in findings:
            click.echo(f"- {finding}")
        sys.exit(1)
    click.echo("\nNo findings.")


cli.add_command(records_group)
cli.add_command(audit_command)
cli.add_command(suggest_config_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status instead of exiting (for tests)."""
    try:
        cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort as exc:
        click.echo("Aborted.", err=True)
        # Ctrl-C (click turns it into Abort): 130, 128 + SIGINT, as a shell expects.
        return 130 if isinstance(exc.__context__, KeyboardInterrupt) else 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def entry_point() -> None:  # pragma: no cover - the installed script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry_point()
