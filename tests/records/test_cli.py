"""`consent-middleware records …` against both stores: export, texts, erase, purge, stats,
verify (with a record edited behind the store's back), and the exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from consent_middleware.cli import main
from consent_middleware.records import RecordSigner, open_store

from .helpers import HASH, HASH_UK, SECRET, T0, TEXTS, TEXTS_UK, consent_id, make

ROOT = pathlib.Path(__file__).resolve().parents[2]


def fill(url: str) -> dict[str, str]:
    """Three visitors over three days; returns their consent ids by name."""
    ids = {"ann": consent_id(), "bob": consent_id(), "cy": consent_id()}
    store = open_store(url)
    assert store is not None
    day = 24 * 60
    try:
        store.write(
            make(
                0,
                consent_id=ids["ann"],
                action="accept_all",
                granted=("authentication", "settings", "analytics", "marketing"),
                refused=(),
            ),
            TEXTS,
        )
        store.write(
            make(
                10,
                consent_id=ids["bob"],
                action="reject_all",
                granted=("authentication",),
                refused=("settings", "analytics", "marketing"),
            ),
            TEXTS,
        )
        store.write(
            make(
                day,
                consent_id=ids["ann"],
                action="withdraw",
                granted=("authentication",),
                refused=("settings", "analytics", "marketing"),
            ),
            TEXTS,
        )
        store.write(
            make(2 * day, consent_id=ids["cy"], language="uk", texts_hash=HASH_UK), TEXTS_UK
        )
    finally:
        store.close()
    return ids


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["records", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_export_jsonl(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    ids = fill(store_url)
    code, out, _ = run(capsys, "export", "--store", store_url)
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["consent_id"] for line in lines] == [ids["ann"], ids["bob"], ids["ann"], ids["cy"]]
    assert lines[1]["action"] == "reject_all" and lines[1]["refused"] == [
        "settings",
        "analytics",
        "marketing",
    ]
    assert lines[0]["time"] == "2026-03-01T12:00:00.000Z"
    assert {"mac", "key_id", "texts_hash", "record_id"} <= set(lines[0])


def test_export_range_and_csv(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    fill(store_url)
    code, out, _ = run(
        capsys,
        "export",
        "--store",
        store_url,
        "--format",
        "csv",
        "--since",
        "2026-03-02",
        "--until",
        "2026-03-03T12:00:00Z",
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["action"] for row in rows] == ["withdraw"]
    assert rows[0]["refused"] == "settings analytics marketing"
    assert rows[0]["gpc"] == "false" and rows[0]["ip"] == ""
    code, out, _ = run(capsys, "export", "--store", store_url, "--until", "2026-03-03T12:00:00Z")
    assert len(out.splitlines()) == 3  # --until is exclusive: 12:00 on the 3rd is left out


def test_export_one_visitor_to_a_file(
    store_url: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = fill(store_url)
    target = tmp_path / "ann.jsonl"
    code, out, _ = run(
        capsys, "export", "--store", store_url, "--consent-id", ids["ann"], "-o", str(target)
    )
    assert code == 0 and out == ""
    actions = [json.loads(line)["action"] for line in target.read_text().splitlines()]
    assert actions == ["accept_all", "withdraw"]


def test_texts_by_hash(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    fill(store_url)
    code, out, _ = run(capsys, "texts", "--store", store_url, HASH_UK)
    assert code == 0
    assert json.loads(out) == {"texts_hash": HASH_UK, "texts": TEXTS_UK}
    code, _, err = run(capsys, "texts", "--store", store_url, "0" * 64)
    assert code == 1 and "no texts" in err


@pytest.mark.parametrize("bad", ["nothex", HASH[:-1], HASH.upper(), HASH + "\n", HASH + "0"])
def test_texts_refuses_what_is_no_texts_hash(
    store_url: str, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    """A typo is a usage error (exit 2) that names the value, not "no texts" (exit 1)."""
    fill(store_url)
    code, out, err = run(capsys, "texts", "--store", store_url, HASH, bad)
    assert code == 2 and "is not a texts hash" in err and out == ""


def test_a_consent_id_with_a_line_break_is_no_consent_id(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = fill(store_url)
    code, _, err = run(capsys, "erase", "--store", store_url, ids["ann"] + "\n")
    assert code == 2 and "not a consent id" in err
    code, out, _ = run(capsys, "export", "--store", store_url)
    assert ids["ann"] in out


def test_erase(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    ids = fill(store_url)
    code, out, _ = run(capsys, "erase", "--store", store_url, ids["ann"])
    assert code == 0 and f"Erased 2 records of {ids['ann']}" in out
    code, out, _ = run(capsys, "export", "--store", store_url)
    assert ids["ann"] not in out and ids["bob"] in out
    code, _, err = run(capsys, "erase", "--store", store_url, "not-an-id")
    assert code == 2 and "not a consent id" in err


def test_purge(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    fill(store_url)
    code, out, _ = run(
        capsys, "purge", "--store", store_url, "--older-than", "2026-03-03", "--dry-run"
    )
    assert code == 0
    assert out.startswith("3 records would go: those older than 2026-03-03T00:00:00.000Z")
    code, out, _ = run(capsys, "purge", "--store", store_url, "--older-than", "2026-03-03")
    assert code == 0 and "Purged 3 records" in out
    store = open_store(store_url)
    assert store is not None
    try:
        assert store.count() == 1
        assert store.texts(HASH) is None and store.texts(HASH_UK) == TEXTS_UK
    finally:
        store.close()
    # An age: everything here is older than 30 days today.
    code, out, _ = run(capsys, "purge", "--store", store_url, "--older-than", "30d")
    assert code == 0 and "Purged 1 record " in out
    code, _, err = run(capsys, "purge", "--store", store_url, "--older-than", "soon")
    assert code == 2 and "not an age" in err
    code, _, err = run(capsys, "purge", "--store", store_url)
    assert code == 2 and "--older-than AGE or --inactive-for AGE" in err


def test_purge_inactive_visitors(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    ids = fill(store_url)  # ann: days 1 and 2, bob: day 1, cy: day 3
    args = ("purge", "--store", store_url, "--inactive-for", "2026-03-02T12:00:00Z")
    code, out, _ = run(capsys, *args, "--dry-run")
    assert code == 0 and out.startswith("1 record would go: those of visitors inactive since")
    code, out, _ = run(capsys, *args)
    assert code == 0 and out.startswith("Purged 1 record of visitors inactive since")
    store = open_store(store_url)
    assert store is not None
    try:
        assert store.records_for(ids["bob"]) == []
        assert len(store.records_for(ids["ann"])) == 2  # her old choice stays with the new
        assert store.purge_inactive(T0 + timedelta(days=1, hours=1)) == 2
        assert [r.consent_id for r in store.export()] == [ids["cy"]]
        assert store.texts(HASH) is None and store.texts(HASH_UK) == TEXTS_UK
    finally:
        store.close()


def test_stats_text_json_and_html(
    store_url: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(store_url)
    report = tmp_path / "report.html"
    code, out, _ = run(capsys, "stats", "--store", store_url, "--html", str(report))
    assert code == 0
    assert "4 choices from 2026-03-01 to 2026-03-03" in out
    assert "analytics        50.0%  (2 of 4)" in out
    assert "marketing        25.0%  (1 of 4)" in out
    assert "2026-03-01        2" in out
    page = report.read_text()
    assert page.startswith("<!doctype html>") and page.count("<svg") >= 3
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in page and "https://" not in page
    code, out, _ = run(capsys, "stats", "--store", store_url, "--format", "json")
    data = json.loads(out)
    assert data["choices"] == 4
    assert data["actions"] == {"accept_all": 1, "reject_all": 1, "save": 1, "withdraw": 1}
    assert data["categories"]["analytics"]["opt_in_rate"] == 0.5
    assert [day["choices"] for day in data["days"]] == [2, 1, 1]


def tamper(url: str, record_id: str) -> None:
    """Change a record's granted list in the database itself, as an intruder would."""
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(
                "UPDATE consent_records SET granted = ? WHERE record_id = ?",
                (json.dumps(["authentication", "analytics", "marketing"]), record_id),
            )
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            conn.execute(
                "UPDATE consent_records SET granted = %s WHERE record_id = %s",
                (["authentication", "analytics", "marketing"], record_id),
            )


def test_verify_finds_a_record_changed_behind_its_back(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = fill(store_url)
    code, out, _ = run(capsys, "verify", "--store", store_url, "--secret", SECRET)
    assert code == 0 and "4 records verified, none altered" in out
    store = open_store(store_url)
    assert store is not None
    bob = store.records_for(ids["bob"])[0]
    store.close()
    tamper(store_url, bob.record_id)
    code, out, _ = run(capsys, "verify", "--store", store_url, "--secret", SECRET)
    assert code == 1
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1
    assert bob.record_id in failed[0] and "altered" in failed[0]
    assert "1 of 4 records failed" in out


def test_verify_finds_altered_texts(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    fill(store_url)
    if store_url.startswith("sqlite:"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
            conn.execute('UPDATE consent_texts SET texts = \'{"title": "Nothing"}\'')
    else:
        import psycopg

        with psycopg.connect(store_url) as conn:
            conn.execute('UPDATE consent_texts SET texts = \'{"title": "Nothing"}\'')
    code, out, _ = run(capsys, "verify", "--store", store_url, "--secret", SECRET)
    assert code == 1 and "texts it was shown" in out and "4 of 4 records failed" in out


def test_verify_with_rotated_secrets(
    store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(store_url)
    newer = RecordSigner("a-newer-secret-0123456789")
    store = open_store(store_url)
    assert store is not None
    import dataclasses

    signed_new = newer.sign(dataclasses.replace(make(5), key_id="", mac=""))
    store.write(signed_new, TEXTS)
    store.close()
    code, out, _ = run(capsys, "verify", "--store", store_url, "--secret", SECRET)
    assert code == 1 and "which none of the given secrets makes" in out
    assert signed_new.record_id in out
    code, out, _ = run(
        capsys,
        "verify",
        "--store",
        store_url,
        "--secret",
        "a-newer-secret-0123456789",
        "--secret",
        SECRET,
    )
    assert code == 0, out
    monkeypatch.setenv("CONSENT_SECRET", SECRET)
    code, out, _ = run(capsys, "verify", "--store", store_url, "--until", "2026-03-01T12:04:00Z")
    assert code == 0 and "1 record verified" in out
    monkeypatch.delenv("CONSENT_SECRET")
    code, _, err = run(capsys, "verify", "--store", store_url)
    assert code == 2 and "CONSENT_SECRET" in err


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["export", "--store", "mysql://db/x"], id="bad-scheme"),
        pytest.param(["export", "--store", "sqlite:///no/such/records.db"], id="missing-file"),
        pytest.param(["stats", "--store", "sqlite://two-slashes.db"], id="two-slashes"),
        pytest.param(["export", "--since", "yesterday-ish", "--store", "x"], id="bad-time"),
        pytest.param(["export"], id="no-store"),
        pytest.param(["frobnicate"], id="no-such-command"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONSENT_RECORDS", raising=False)
    code, _, err = run(capsys, *args)
    assert code == 2, err
    assert "Error" in err


def test_store_from_the_environment(
    store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(store_url)
    monkeypatch.setenv("CONSENT_RECORDS", store_url)
    code, out, _ = run(capsys, "stats", "--format", "json")
    assert code == 0 and json.loads(out)["choices"] == 4


def test_an_unreachable_store_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    from .pgserver import free_port

    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none?connect_timeout=1"
    code, _, err = run(capsys, "export", "--store", url)
    assert code == 1 and "cannot" in err


@pytest.mark.parametrize("sub", ["export", "texts", "erase", "purge", "stats", "verify"])
def test_every_command_has_help(sub: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, sub, "--help")
    assert code == 0 and "Usage: " in out and "--store URL" in out


def test_the_installed_command(tmp_path: pathlib.Path) -> None:
    url = f"sqlite:///{tmp_path}/records.db"
    fill(url)
    command = pathlib.Path(sys.executable).parent / "consent-middleware"
    env = {**os.environ, "PYTHONWARNINGS": "error", "CONSENT_SECRET": SECRET}

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(command), "records", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            check=False,
            timeout=60,
        )

    helped = call("--help")
    assert helped.returncode == 0 and "verify" in helped.stdout, helped.stderr
    verified = call("verify", "--store", url)
    assert verified.returncode == 0 and "4 records verified" in verified.stdout
    exported = call("export", "--store", url, "--since", "2026-03-02")
    assert exported.returncode == 0 and len(exported.stdout.splitlines()) == 2
    assert call("export", "--store", "oracle://db").returncode == 2


def test_ages() -> None:
    from consent_middleware.records.cli import parse_age, parse_time_option

    now = datetime(2026, 8, 31, 10, 0, tzinfo=timezone.utc)
    assert parse_age("90d", now) == now - timedelta(days=90)
    assert parse_age("2w", now) == now - timedelta(weeks=2)
    assert parse_age("6m", now) == datetime(2026, 2, 28, 10, 0, tzinfo=timezone.utc)
    assert parse_age("5y", now) == datetime(2021, 8, 31, 10, 0, tzinfo=timezone.utc)
    assert parse_age("18M", now) == datetime(2025, 2, 28, 10, 0, tzinfo=timezone.utc)
    assert parse_time_option("2026-01-31") == datetime(2026, 1, 31, tzinfo=timezone.utc)
    assert parse_time_option("2026-01-31T12:00:00+02:00") == datetime(
        2026, 1, 31, 10, 0, tzinfo=timezone.utc
    )
    assert parse_time_option("2026-01-31T12:00:00") == T0.replace(month=1, day=31)
    for bad_age in ("5x", "m6", "", "6 months"):
        with pytest.raises(ValueError, match="not an age"):
            parse_age(bad_age, now)
    for bad_time in ("2026-13-01", "yesterday", "31/01/2026"):
        with pytest.raises(ValueError, match="not a date"):
            parse_time_option(bad_time)


def test_reports_of_long_spans_group_by_week_and_month() -> None:
    from consent_middleware.records.report import render_html
    from consent_middleware.records.stats import compute_stats

    for days, by in ((30, "day"), (200, "week"), (1000, "month")):
        records = [make(n * 24 * 60 * days // 20) for n in range(21)]
        page = render_html(compute_stats(records), source="<sqlite & co>")
        assert f"Opt-in rate per {by}" in page and f"Choices per {by}" in page
        assert "&lt;sqlite &amp; co&gt;" in page and "<sqlite" not in page
        assert "Not drawn: authentication" in page
    empty = render_html(compute_stats([]), source="x")
    assert "No choices were recorded" in empty and "<svg" not in empty


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql://nobody:S3cretPW@127.0.0.1:{port}/none", id="userinfo"),
        pytest.param("postgresql://nobody@127.0.0.1:{port}/none?password=S3cretPW", id="query"),
        pytest.param(
            "postgres://nobody@127.0.0.1:{port}/none?sslmode=disable&password=S3cretPW&application_name=x",
            id="query-middle",
        ),
    ],
)
def test_passwords_stay_out_of_cli_errors(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from .pgserver import free_port

    code, out, err = run(capsys, "stats", "--store", url.format(port=free_port()))
    assert code == 1 and "cannot" in err
    assert "S3cretPW" not in out + err and "***" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["export", "--since", "99999999d"], "before the year 1", id="since-overflow"),
        pytest.param(
            ["purge", "--older-than", "99999999d", "--dry-run"],
            "before the year 1",
            id="older-than-overflow",
        ),
        pytest.param(
            ["purge", "--inactive-for", "100000y", "--dry-run"],
            "before the year 1",
            id="inactive-for-years",
        ),
        pytest.param(["verify", "--secret", ""], "must not be empty", id="empty-secret"),
        pytest.param(
            ["verify", "--secret", SECRET, "--secret", ""], "must not be empty", id="one-empty"
        ),
        pytest.param(
            ["stats", "--html", "/nonexistent/dir/report.html"],
            "/nonexistent/dir is not a writable folder",
            id="html-folder",
        ),
        # A window that holds no moment (the dates swapped) is a typo, not "no records":
        # an export for a regulator would otherwise come out empty, with exit 0.
        pytest.param(
            ["export", "--since", "2026-04-01", "--until", "2026-01-01"],
            "--since 2026-04-01T00:00:00.000Z is not before --until 2026-01-01T00:00:00.000Z",
            id="export-window-swapped",
        ),
        pytest.param(
            ["stats", "--until", "2026-01-01", "--since", "2026-01-01"],
            "is not before --until",
            id="stats-window-empty",
        ),
        pytest.param(
            ["verify", "--secret", SECRET, "--since", "2026-04-01", "--until", "2026-01-01"],
            "is not before --until",
            id="verify-window-swapped",
        ),
    ],
)
def test_bad_arguments_are_usage_errors_not_tracebacks(
    args: list[str], message: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/records.db"
    fill(url)
    code, out, err = run(capsys, *args, "--store", url)
    assert code == 2, err
    assert err.startswith("Usage: ") and "Error: " in err and message in err
    assert out == ""  # nothing done before the error: no stats printed, nothing purged
    store = open_store(url)
    assert store is not None
    try:
        assert store.count() == 4
    finally:
        store.close()


def sql(url: str, statement: str, *params: object) -> None:
    """Run one statement on the store's database itself, as an intruder (or a bad disk)."""
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("PRAGMA ignore_check_constraints = 1")
            conn.execute(statement, params)
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            conn.execute(statement.replace("?", "%s"), params)


def test_verify_and_export_go_on_past_an_unreadable_record(
    store_url: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from consent_middleware.records.store import UnreadableRecord

    ids = fill(store_url)
    store = open_store(store_url)
    assert store is not None
    ann_first, ann_second = store.records_for(ids["ann"])
    bob = store.records_for(ids["bob"])[0]
    store.close()
    # A time no reader can take (PostgreSQL's column takes only times: one Python cannot).
    bad_time = "2026-03-01 12:00" if store_url.startswith("sqlite:") else "infinity"
    sql(
        store_url,
        "UPDATE consent_records SET time = ? WHERE record_id = ?",
        bad_time,
        bob.record_id,
    )
    tamper(store_url, ann_second.record_id)

    code, out, _ = run(capsys, "verify", "--store", store_url, "--secret", SECRET)
    assert code == 1
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 2
    assert any(bob.record_id in line and "cannot be read" in line for line in failed)
    assert any(ann_second.record_id in line and "altered" in line for line in failed)
    assert "2 of 4 records failed verification" in out

    target = tmp_path / "all.jsonl"
    code, out, err = run(capsys, "export", "--store", store_url, "-o", str(target))
    assert code == 1
    exported = [json.loads(line)["record_id"] for line in target.read_text().splitlines()]
    assert len(exported) == 3 and bob.record_id not in exported
    assert f"record {bob.record_id} cannot be read" in err
    assert f"1 record could not be read and was not exported: {bob.record_id}" in err
    code, out, err = run(capsys, "export", "--store", store_url, "--consent-id", ids["bob"])
    assert code == 1 and out == "" and bob.record_id in err
    code, out, _ = run(capsys, "export", "--store", store_url, "--consent-id", ids["ann"])
    assert code == 0 and len(out.splitlines()) == 2

    store = open_store(store_url)  # without on_unreadable, a read stops with the record named
    assert store is not None
    try:
        with pytest.raises(UnreadableRecord, match=bob.record_id) as caught:
            list(store.export())
        assert caught.value.record_id == bob.record_id
        assert ann_first in store.records_for(ids["ann"])
    finally:
        store.close()


def test_texts_that_are_no_json_are_named_not_a_traceback(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(store_url)
    sql(store_url, "UPDATE consent_texts SET texts = ? WHERE texts_hash = ?", "{broken", HASH)
    code, out, err = run(capsys, "texts", "--store", store_url, HASH, HASH_UK)
    assert code == 1
    assert f"the texts with hash {HASH} cannot be read: not JSON" in err
    assert json.loads(out) == {"texts_hash": HASH_UK, "texts": TEXTS_UK}  # the other one
    code, out, _ = run(capsys, "verify", "--store", store_url, "--secret", SECRET)
    assert code == 1 and "3 of 4 records failed verification" in out
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 3 and all(f"({HASH}) cannot be read" in line for line in failed)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--older-than", "0d"], id="older-than-0d"),
        pytest.param(["--older-than", "2999-01-01"], id="older-than-future-date"),
        pytest.param(["--inactive-for", "0d"], id="inactive-for-0d"),
        pytest.param(["--inactive-for", "2999-01-01T00:00:00Z", "--dry-run"], id="dry-run"),
    ],
)
def test_purge_refuses_a_cutoff_that_is_not_in_the_past(
    args: list[str], tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/records.db"
    fill(url)
    code, out, err = run(capsys, "purge", "--store", url, *args)
    assert code == 2 and out == ""
    assert "is not in the past, so every record would go" in err and "--allow-future" in err
    code, out, _ = run(capsys, "export", "--store", url)
    assert len(out.splitlines()) == 4  # nothing went
    code, out, _ = run(capsys, "purge", "--store", url, *args, "--allow-future")
    assert code == 0 and "4 records" in out


def test_an_interrupted_export_leaves_no_partial_file(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from consent_middleware.records import SQLiteRecordStore

    url = f"sqlite:///{tmp_path}/records.db"
    fill(url)
    target = tmp_path / "out" / "records.jsonl"
    target.parent.mkdir()
    target.write_text("yesterday's export\n")
    export = SQLiteRecordStore.export

    def interrupted(self: SQLiteRecordStore, *args: object, **kwargs: object) -> object:
        for n, record in enumerate(export(self, *args, **kwargs)):  # type: ignore[arg-type]
            if n == 2:
                raise KeyboardInterrupt  # Ctrl-C after two records were written
            yield record

    monkeypatch.setattr(SQLiteRecordStore, "export", interrupted)
    code, _, err = run(capsys, "export", "--store", url, "-o", str(target))
    assert code == 130 and err.strip().splitlines()[-1] == "Aborted."  # 128 + SIGINT
    assert "Traceback" not in err
    assert target.read_text() == "yesterday's export\n"  # not replaced by half an export
    assert [p.name for p in target.parent.iterdir()] == ["records.jsonl"]  # no leftovers
    monkeypatch.undo()
    code, _, _ = run(capsys, "export", "--store", url, "-o", str(target), "--format", "csv")
    assert code == 0 and len(target.read_text().splitlines()) == 5
    assert [p.name for p in target.parent.iterdir()] == ["records.jsonl"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def tables(url: str) -> list[str]:
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
    return sorted(row[0] for row in rows)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["stats"], id="stats"),
        pytest.param(["export"], id="export"),
        pytest.param(["verify", "--secret", SECRET], id="verify"),
        pytest.param(["texts", HASH], id="texts"),
        pytest.param(["purge", "--older-than", "5y", "--dry-run"], id="purge-dry-run"),
        pytest.param(["erase", "0" * 32], id="erase"),
    ],
)
def test_commands_create_no_tables_in_a_database_without_them(
    args: list[str], store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if store_url.startswith("sqlite:"):
        sql(store_url, "CREATE TABLE other_app (x INTEGER)")  # another app's database
    before = tables(store_url)
    code, out, err = run(capsys, *args, "--store", store_url)
    assert code == 1 and out == ""
    assert "holds no consent records (it has no consent_schema table)" in err
    assert tables(store_url) == before


def test_an_unreachable_store_is_one_error_line_that_says_why() -> None:
    """The command as run from a shell (no logging configured): psycopg_pool's warning on
    each failed attempt does not flood the terminal before the `Error:`, and that one line
    says why the connection failed (refused here; a wrong password, an unknown host)."""
    from .pgserver import free_port

    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none?connect_timeout=1"
    done = subprocess.run(
        [sys.executable, "-m", "consent_middleware.cli", "records", "stats", "--store", url],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: cannot"), done.stderr
    assert "refused" in lines[0].lower(), lines[0]
