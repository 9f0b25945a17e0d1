"""`consent-middleware audit` and `consent-middleware suggest-config` (click commands,
registered in consent_middleware/cli.py).

Exit status: 0 clean, 1 on any finding (audit), 2 on a usage or configuration error (a bad
URL or option, a config that cannot be loaded, Playwright or the browser missing, a start
page that does not load) or when the browser itself fails.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from ..config import ConsentConfig
from ..discovery import load_config
from . import analyse
from .browser import BrowserUnavailable, default_browser, require_playwright
from .crawl import is_http_url
from .journeys import PageFailed
from .model import AuditRun
from .runner import AuditFailed, AuditOptions, run_audit
from .suggest import render_suggestion, suggest

__all__ = ["audit_command", "suggest_config_command"]


class AuditUsageError(click.ClickException):
    exit_code = 2


def _common(function: Any) -> Any:
    options = [
        click.argument("urls", nargs=-1, required=True, metavar="URL [URL...]"),
        click.option(
            "--pages",
            type=click.IntRange(1, 500),
            default=5,
            show_default=True,
            help="Pages each visitor sees: the URLs given, then same-site links.",
        ),
        click.option(
            "--config",
            "config_target",
            metavar="MODULE:ATTR",
            help="The site's ConsentConfig (or the app that carries the middleware): its"
            " categories name the cookies. Without it, the cookie database does.",
        ),
        click.option(
            "--browser",
            metavar="PATH",
            help="The Chromium to drive. [default: $CONSENT_CHROMIUM, else /usr/bin/chromium]",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=1),
            default=15.0,
            show_default=True,
            help="Seconds a page may take to load.",
        ),
        click.option(
            "--output",
            "-o",
            type=click.Path(dir_okay=False, allow_dash=True),
            default="-",
            help="Write the report to FILE instead of standard output.",
        ),
        click.option("--quiet", "-q", is_flag=True, help="No progress on standard error."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.command("audit")
@_common
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    show_default=True,
    help="html: a single file with the cookie table, a timeline and a screenshot.",
)
def audit_command(
    urls: tuple[str, ...],
    pages: int,
    config_target: str | None,
    browser: str | None,
    timeout: float,
    output: str,
    quiet: bool,
    fmt: str,
) -> None:
    """Visit URL (and same-site links, up to --pages) in Chromium as four visitors (one who
    never decides, one who rejects all, one who accepts all, one who accepts then
    withdraws) and report every cookie, storage key and third-party request, with what
    breaks the consent rules.

    Exit 0 when clean, 1 on any finding, 2 on a usage error: a CI step can gate on it.
    """
    _check_output(output)
    config = _config(config_target)
    run = _run(urls, pages, config, browser, timeout, quiet)
    result = analyse(run, config, config_target)
    report = result.report
    if fmt == "json":
        text = json.dumps(report.json(), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "html":
        text = report.html()
    else:
        text = report.text()
    _write(output, text)
    if not quiet:
        count = len(report.findings)
        click.echo(f"audit: {count} finding(s)" if count else "audit: no findings", err=True)
    sys.exit(report.exit_status)


@click.command("suggest-config")
@_common
def suggest_config_command(
    urls: tuple[str, ...],
    pages: int,
    config_target: str | None,
    browser: str | None,
    timeout: float,
    output: str,
    quiet: bool,
) -> None:
    """Visit URL as the audit does and print a cookies={...} mapping for every cookie the
    visitors met: named by the cookie database where it knows them, `# unknown: decide`
    where it does not. With --config, the rules the config already has are kept.
    """
    _check_output(output)
    config = _config(config_target)
    run = _run(urls, pages, config, browser, timeout, quiet)
    result = analyse(run, config, config_target)
    suggestions = suggest(result.cookies, result.classifier)
    _write(
        output,
        render_suggestion(
            suggestions, run.start_urls, len(run.pages), result.classifier.consent_names
        ),
    )


def _config(target: str | None) -> ConsentConfig | None:
    if target is None:
        return None
    try:
        return load_config(target)
    except (ImportError, AttributeError, ValueError, TypeError, LookupError) as exc:
        raise AuditUsageError(f"--config {target}: {exc}") from exc


def _run(
    urls: tuple[str, ...],
    pages: int,
    config: ConsentConfig | None,
    browser: str | None,
    timeout: float,
    quiet: bool,
) -> AuditRun:
    for url in urls:
        if not is_http_url(url):
            raise AuditUsageError(f"{url!r} is not an http:// or https:// URL")
    try:
        require_playwright()
    except BrowserUnavailable as exc:
        raise AuditUsageError(str(exc)) from exc

    def progress(message: str) -> None:
        if not quiet:
            click.echo(f"audit: {message}", err=True)

    options = AuditOptions(
        urls=list(urls),
        pages=pages,
        browser=browser or default_browser(),
        timeout=timeout,
        skip_prefixes=(config.path_prefix,) if config is not None else ("/consent",),
        progress=progress,
    )
    try:
        return run_audit(options)
    except (BrowserUnavailable, PageFailed, AuditFailed) as exc:
        raise AuditUsageError(str(exc)) from exc
    except KeyboardInterrupt:
        # The browser is closed by now; 130 (128 + SIGINT) is what a shell expects.
        click.echo("Aborted.", err=True)
        sys.exit(130)


def _check_output(output: str) -> None:
    """Fail before the visit, not after it, when the report could not be written."""
    if output == "-":
        return
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise AuditUsageError(f"cannot write {output}: {folder} is not a writable folder")


def _write(output: str, text: str) -> None:
    if output == "-":
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise AuditUsageError(f"cannot write {output}: {exc.strerror}") from exc
