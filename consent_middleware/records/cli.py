"""`consent-middleware records …`: answer a regulator, a visitor, or a retention policy.

    consent-middleware records export --store sqlite:///consent.db --since 2026-01-01
    consent-middleware records erase --store postgresql://… 3f2a…          (one visitor)
    consent-middleware records purge --store sqlite:///consent.db --older-than 5y
    consent-middleware records stats --store sqlite:///consent.db --html report.html
    consent-middleware records verify --store sqlite:///consent.db --secret "$OLD" --secret "$NEW"

`--store` defaults to $CONSENT_RECORDS. Exit status: 0 when all is well, 1 when `verify`
finds records that fail (or the store cannot be read), 2 on a usage error (a bad store
URL, a missing database file, a bad time or age).
"""

from __future__ import annotations

import calendar
import contextlib
import csv
import functools
import inspect
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta, timezone
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit

import click

from .model import FIELDS, Record, format_time
from .signing import RecordSigner
from .store import (
    OnUnreadable,
    RecordStore,
    RecordStoreError,
    UnreadableRecord,
    UnreadableTexts,
    open_store,
    redact_url,
)
from .texts import texts_hash

__all__ = ["parse_age", "parse_time_option", "records"]

_AGE = re.compile(r"^\s*(\d+)\s*([dwmy])\s*$", re.IGNORECASE)
_CONSENT_ID = re.compile(r"[0-9a-f]{32}")
_TEXTS_HASH = re.compile(r"[0-9a-f]{64}")
F = TypeVar("F", bound=Callable[..., Any])


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _months_back(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def parse_age(text: str, now: datetime | None = None) -> datetime:
    """ "90d", "12w", "6m", "5y" (calendar months and years) -> the moment that long ago."""
    match = _AGE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an age such as 90d, 12w, 6m or 5y")
    amount, unit = int(match.group(1)), match.group(2).lower()
    moment = now or _now()
    try:
        if unit == "d":
            return moment - timedelta(days=amount)
        if unit == "w":
            return moment - timedelta(weeks=amount)
        return _months_back(moment, amount * (12 if unit == "y" else 1))
    except (OverflowError, ValueError):
        raise ValueError(f"{text!r} reaches back before the year 1") from None


def parse_time_option(text: str, now: datetime | None = None) -> datetime:
    """A moment: an ISO date (midnight UTC), an ISO time (UTC unless it says otherwise), or
    an age such as 30d (that long ago)."""
    if _AGE.match(text):
        return parse_age(text, now)
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (2026-01-31), a time (2026-01-31T12:00:00Z) or an age"
            " (30d, 6m)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _moment(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time_option(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc


def _cutoff(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    now = _now()
    if _AGE.match(value):
        try:
            moment = parse_age(value, now)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from exc
    else:
        try:
            moment = parse_time_option(value, now)
        except ValueError:
            raise click.BadParameter(
                f"{value!r} is not an age such as 90d, 12w, 6m, 5y, or a date", ctx, param
            ) from None
    # A cutoff of now or later (0d, a year typed wrong) would delete every record.
    if moment >= now and not ctx.params.get("allow_future"):
        raise click.BadParameter(
            f"{value!r} is not in the past, so every record would go; give --allow-future"
            " if that is what you mean",
            ctx,
            param,
        )
    return moment


def _writable_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Fail before the work, not after it, when the file could not be written."""
    if value is None or value == "-":
        return value
    folder = os.path.dirname(os.path.abspath(value))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
        raise click.BadParameter(f"cannot write {value}: {folder} is not a writable folder")
    return value


@contextlib.contextmanager
def _output(path: str) -> Iterator[IO[str]]:
    """Standard output, or a file that appears only when complete: written beside its
    place under a temporary name and renamed into it at the end, so an export that was
    interrupted (Ctrl-C, a lost database) leaves no partial file behind."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    folder, name = os.path.split(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from exc
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # what open() would have given the file
        with open(fd, "w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _store_option(function: F) -> F:
    return click.option(
        "--store",
        "store_url",
        envvar="CONSENT_RECORDS",
        required=True,
        metavar="URL",
        help="sqlite:///consent.db, sqlite:////abs/path.db or postgresql://… "
        "(default: $CONSENT_RECORDS).",
    )(function)


def _range_options(command: F) -> F:
    @functools.wraps(command)
    def checked(*args: Any, **kwargs: Any) -> Any:
        since, until = kwargs.get("since"), kwargs.get("until")
        if since is not None and until is not None and since >= until:
            raise click.UsageError(
                f"--since {format_time(since)} is not before --until {format_time(until)}:"
                " no record can be in between"
            )
        return command(*args, **kwargs)

    function: F = checked  # type: ignore[assignment]
    function = click.option(
        "--until",
        callback=_moment,
        metavar="TIME",
        help="Only records before this time (exclusive).",
    )(function)
    return click.option(
        "--since",
        callback=_moment,
        metavar="TIME",
        help="Only records from this time on: 2026-01-31, 2026-01-31T12:00:00Z, or 30d (ago).",
    )(function)


class _PoolWarnings(logging.Handler):
    """Keeps the last warning of psycopg_pool (one per failed connection attempt, which
    would otherwise reach the terminal through logging's last-resort handler) to say why in
    the command's one error line."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().strip()
        # A connection's own error says why; the pool's "reconnection attempt failed"
        # that may follow it does not.
        if message and (self.last is None or "error connecting" in message):
            self.last = message.splitlines()[0]


@contextlib.contextmanager
def _pool_warnings() -> Iterator[_PoolWarnings]:
    logger = logging.getLogger("psycopg.pool")
    handler, propagate = _PoolWarnings(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _masked(message: str, kwargs: dict[str, Any]) -> str:
    """The pool's message with no password in it, should libpq ever repeat one."""
    url = str(kwargs.get("store_url") or "")
    try:
        password = urlsplit(url).password if "://" in url else None
    except ValueError:
        password = None
    if password:
        message = message.replace(password, "***")
    return redact_url(message)


def _store_errors(function: F) -> F:
    """A store that cannot be read is a failure (exit 1), not a traceback."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _pool_warnings() as pool:
            try:
                return function(*args, **kwargs)
            except RecordStoreError as exc:
                why = f" (last attempt: {_masked(pool.last, kwargs)})" if pool.last else ""
                raise click.ClickException(f"{exc}{why}") from exc

    return wrapper  # type: ignore[return-value]


def _open(url: str) -> RecordStore:
    try:
        store = open_store(url, create=False)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--store") from exc
    except ImportError as exc:
        raise click.UsageError(str(exc)) from exc
    assert store is not None
    from .sqlite import SQLiteRecordStore

    if isinstance(store, SQLiteRecordStore) and not os.path.isfile(store.path):
        raise click.BadParameter(f"no records database at {store.path}", param_hint="--store")
    return store


def _goes_on(method: Callable[..., Any]) -> bool:
    """Whether a store's read method can go on past an unreadable record."""
    try:
        return "on_unreadable" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def _export(
    store: RecordStore,
    since: datetime | None,
    until: datetime | None,
    on_unreadable: OnUnreadable,
) -> Iterator[Record]:
    if _goes_on(store.export):
        return store.export(since, until, on_unreadable=on_unreadable)  # type: ignore[call-arg]
    return store.export(since, until)


def _records_for(store: RecordStore, consent_id: str, on_unreadable: OnUnreadable) -> list[Record]:
    if _goes_on(store.records_for):
        return store.records_for(consent_id, on_unreadable=on_unreadable)  # type: ignore[call-arg]
    return store.records_for(consent_id)


def _progress(items: Iterable[Record], length: int, label: str) -> Iterator[Record]:
    """A progress bar on standard error, for people watching a terminal; silent in scripts."""
    hidden = not sys.stderr.isatty() or length < 1000
    with click.progressbar(
        items, length=length, label=label, file=sys.stderr, hidden=hidden
    ) as bar:
        yield from bar


@click.group("records", context_settings={"help_option_names": ["-h", "--help"]})
def records() -> None:
    """Proof of consent: export, erase, purge, stats and verify the records of choices."""


@records.command("export")
@_store_option
@_range_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="JSON lines (one record per line) or CSV with a header row.",
)
@click.option("--consent-id", help="Only the records of this consent id (a visitor's request).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    default="-",
    callback=_writable_file,
    help="Write here instead of standard output (the file appears once complete).",
)
@_store_errors
def export_command(
    store_url: str,
    since: datetime | None,
    until: datetime | None,
    output_format: str,
    consent_id: str | None,
    output: str,
) -> None:
    """Export records as JSON lines or CSV, oldest first.

    Every field is written, the HMAC and its key id included. Pair it with
    `records verify` (the records are intact) and `records texts HASH` (the words each
    visitor was shown).
    """
    unreadable: list[str] = []

    def skip(exc: UnreadableRecord) -> None:
        unreadable.append(exc.record_id)
        click.echo(f"Error: {exc}; not exported.", err=True)

    store = _open(store_url)
    try:
        if consent_id is not None:
            _check_consent_id(consent_id, "'--consent-id'")
            found = [
                r
                for r in _records_for(store, consent_id, skip)
                if (since is None or r.time >= since) and (until is None or r.time < until)
            ]
            items: Iterable[Record] = found
            length = len(found)
        else:
            length = store.count(since, until)
            items = _export(store, since, until, skip)
        rows = _progress(items, length, "Exporting")
        with _output(output) as handle:
            if output_format == "csv":
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(FIELDS)
                for record in rows:
                    data = record.to_json()
                    data["granted"] = " ".join(record.granted)
                    data["refused"] = " ".join(record.refused)
                    data["gpc"] = "true" if record.gpc else "false"
                    data["ip"] = record.ip or ""
                    writer.writerow([data[name] for name in FIELDS])
            else:
                for record in rows:
                    handle.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
    finally:
        store.close()
    if unreadable:
        raise click.ClickException(
            f"{_plural(len(unreadable), 'record')} could not be read and {_were(unreadable)}"
            f" not exported: {', '.join(unreadable)}"
        )


@records.command("texts")
@_store_option
@click.argument("hashes", nargs=-1, required=True, metavar="TEXTS_HASH...")
@_store_errors
def texts_command(store_url: str, hashes: tuple[str, ...]) -> None:
    """Print the texts behind texts hashes, as JSON lines.

    These are the exact words a record's visitor was shown. Exit 1 when a hash is not in
    the store, 2 when one is no texts hash at all.
    """
    for digest in hashes:
        _check_texts_hash(digest)
    store = _open(store_url)
    missing = 0
    try:
        for digest in hashes:
            try:
                texts = store.texts(digest)
            except UnreadableTexts as exc:
                click.echo(f"Error: {exc}", err=True)
                missing += 1
                continue
            if texts is None:
                click.echo(f"no texts with hash {digest}", err=True)
                missing += 1
                continue
            line = {"texts_hash": digest, "texts": texts}
            click.echo(json.dumps(line, ensure_ascii=False, sort_keys=True))
    finally:
        store.close()
    if missing:
        sys.exit(1)


@records.command("erase")
@_store_option
@click.argument("consent_ids", nargs=-1, required=True, metavar="CONSENT_ID...")
@_store_errors
def erase_command(store_url: str, consent_ids: tuple[str, ...]) -> None:
    """Erase every record of one or more consent ids.

    This answers a visitor's erasure request. The visitor finds their consent id on the
    site's cookie preferences page.
    """
    for consent_id in consent_ids:
        _check_consent_id(consent_id)
    store = _open(store_url)
    try:
        for consent_id in consent_ids:
            erased = store.erase(consent_id)
            click.echo(f"Erased {erased} record{'s' if erased != 1 else ''} of {consent_id}.")
    finally:
        store.close()


@records.command("purge")
@_store_option
@click.option(
    "--older-than",
    "cutoff",
    callback=_cutoff,
    metavar="AGE",
    help="Delete records older than this: 90d, 12w, 6m or 5y (calendar months and years),"
    " or a date.",
)
@click.option(
    "--inactive-for",
    "inactive",
    callback=_cutoff,
    metavar="AGE",
    help="Delete every record of the visitors whose latest choice is older than this.",
)
@click.option("--dry-run", is_flag=True, help="Only say how many records would go.")
@click.option(
    "--allow-future",
    is_flag=True,
    is_eager=True,  # read by the cutoffs' callbacks, so it is parsed before them
    help="Accept a cutoff that is not in the past (0d, a later date): every record goes.",
)
@_store_errors
def purge_command(
    store_url: str,
    cutoff: datetime | None,
    inactive: datetime | None,
    dry_run: bool,
    allow_future: bool,
) -> None:
    """Delete records older than an age, and unused texts.

    Texts go when no record refers to them any more. Run it from cron with your
    retention period, e.g. `--older-than 5y`, or `--inactive-for 6m` to keep whole
    histories of visitors who still come back.
    """
    if (cutoff is None) == (inactive is None):
        raise click.UsageError("give one of --older-than AGE or --inactive-for AGE")
    store = _open(store_url)
    try:
        if cutoff is not None:
            what = f"older than {format_time(cutoff)}"
            count = store.count(until=cutoff) if dry_run else store.purge(cutoff)
        else:
            assert inactive is not None
            what = f"of visitors inactive since {format_time(inactive)}"
            count = _count_inactive(store, inactive) if dry_run else store.purge_inactive(inactive)
    finally:
        store.close()
    records_ = f"{count} record{'s' if count != 1 else ''}"
    if dry_run:
        click.echo(f"{records_} would go: those {what}.")
    else:
        click.echo(f"Purged {records_} {what}.")


def _count_inactive(store: RecordStore, before: datetime) -> int:
    latest: dict[str, tuple[datetime, int]] = {}
    for record in _progress(store.export(), store.count(), "Counting"):
        _, count = latest.get(record.consent_id, (record.time, 0))
        latest[record.consent_id] = (record.time, count + 1)  # oldest first: the last wins
    return sum(count for time, count in latest.values() if time < before)


@records.command("stats")
@_store_option
@_range_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True),
    callback=_writable_file,
    help="Also write a one-page report with charts to this file.",
)
@_store_errors
def stats_command(
    store_url: str,
    since: datetime | None,
    until: datetime | None,
    output_format: str,
    html_file: str | None,
) -> None:
    """Opt-in rate per category, and the choices made per day."""
    from .report import render_html
    from .stats import compute_stats

    store = _open(store_url)
    try:
        length = store.count(since, until)
        stats = compute_stats(_progress(store.export(since, until), length, "Counting"))
    finally:
        store.close()
    if output_format == "json":
        click.echo(json.dumps(stats.to_json(), indent=2))
    else:
        _print_stats(stats)
    if html_file:
        source = redact_url(store_url)
        try:
            with open(html_file, "w", encoding="utf-8") as handle:
                handle.write(render_html(stats, source=source))
        except OSError as exc:
            raise click.ClickException(f"cannot write {html_file}: {exc.strerror}") from exc
        click.echo(f"Wrote {html_file}.", err=True)


def _print_stats(stats: Any) -> None:
    from .model import ACTIONS

    total = stats.total
    if not total.choices:
        click.echo("No choices recorded in this period.")
        return
    first, last = stats.first.date().isoformat(), stats.last.date().isoformat()
    click.echo(f"{total.choices} choices from {first} to {last} (UTC).")
    click.echo("\nOpt-in rate (of the choices that offered the category, the share granting it):")
    width = max(len(name) for name in stats.categories)
    for name in stats.categories:
        rate = total.rate(name) or 0.0
        click.echo(
            f"  {name:<{width}}  {100 * rate:5.1f}%  "
            f"({total.granted[name]} of {total.offered[name]})"
        )
    click.echo("\nChoices:")
    for action in ACTIONS:
        click.echo(f"  {action:<10}  {total.actions[action]}")
    click.echo("\nChoices per day:")
    header = "  day         choices  " + "  ".join(f"{a:>10}" for a in ACTIONS)
    click.echo(header)
    for day in stats.days:
        counts = "  ".join(f"{day.actions[a]:>10}" for a in ACTIONS)
        click.echo(f"  {day.start.isoformat()}  {day.choices:>7}  {counts}")


@records.command("verify")
@_store_option
@_range_options
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    metavar="S",
    help="A secret the records may be signed with; repeat it for rotated secrets "
    "(default: $CONSENT_SECRET).",
)
@_store_errors
def verify_command(
    store_url: str, since: datetime | None, until: datetime | None, secrets: tuple[str, ...]
) -> None:
    """Check every record's HMAC; name each record that was changed.

    Also checks that the texts each record was shown still match their hash. Exit 1 when
    any record fails.
    """
    keys = list(secrets)
    if not keys:
        env = os.environ.get("CONSENT_SECRET")
        if not env:
            raise click.UsageError("give --secret S (repeatable) or set CONSENT_SECRET")
        keys = [env]
    if not all(keys):
        raise click.BadParameter("a secret must not be empty", param_hint="--secret")
    signer = RecordSigner(keys)
    store = _open(store_url)
    checked = failed = 0
    texts_seen: dict[tuple[str, str], str | None] = {}

    def unreadable(exc: UnreadableRecord) -> None:
        nonlocal checked, failed
        checked += 1
        failed += 1
        click.echo(f"FAILED {exc.record_id}: cannot be read ({exc.reason})")

    try:
        length = store.count(since, until)
        for record in _progress(_export(store, since, until, unreadable), length, "Verifying"):
            checked += 1
            problem = _problem(signer, record)
            if problem is None:
                key = (record.texts_hash, record.language)
                if key not in texts_seen:
                    texts_seen[key] = _texts_problem(store, *key)
                problem = texts_seen[key]
            if problem is not None:
                failed += 1
                click.echo(
                    f"FAILED {record.record_id} (consent {record.consent_id},"
                    f" {format_time(record.time)}): {problem}"
                )
    finally:
        store.close()
    if failed:
        click.echo(f"{failed} of {checked} records failed verification.")
        sys.exit(1)
    click.echo(f"{checked} record{'s' if checked != 1 else ''} verified, none altered.")


def _problem(signer: RecordSigner, record: Record) -> str | None:
    check = signer.check(record)
    if check == "unknown_key":
        return (
            f"signed with key {record.key_id!r}, which none of the given secrets makes"
            " (give the old secret too)"
        )
    if check == "altered":
        return "altered after it was written (its HMAC does not match)"
    return None


def _texts_problem(store: RecordStore, digest: str, language: str) -> str | None:
    try:
        texts = store.texts(digest)
    except UnreadableTexts as exc:
        return f"the texts it was shown ({digest}) cannot be read: {exc.reason}"
    if texts is None:
        return f"the texts it was shown ({digest[:12]}…) are missing"
    if texts_hash(language, texts) != digest:
        return f"the texts it was shown ({digest[:12]}…) were altered"
    return None


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def _were(items: list[str]) -> str:
    return "was" if len(items) == 1 else "were"


def _check_consent_id(value: str, hint: str = "CONSENT_ID") -> None:
    if not _CONSENT_ID.fullmatch(value):
        raise click.BadParameter(
            f"{value!r} is not a consent id (32 lowercase hex characters)", param_hint=hint
        )


def _check_texts_hash(value: str) -> None:
    if not _TEXTS_HASH.fullmatch(value):
        raise click.BadParameter(
            f"{value!r} is not a texts hash (64 lowercase hex characters)",
            param_hint="TEXTS_HASH",
        )
