"""What the `/consent` endpoints call: a choice in, a signed record in the store."""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import anyio
import pytest

from consent_middleware import ConsentConfig
from consent_middleware.consent import ConsentCodec
from consent_middleware.records import (
    ConsentRecorder,
    Record,
    RecordSigner,
    RecordStore,
    SQLiteRecordStore,
    shown_texts,
)

SECRET = "recorder-test-secret-0123456789"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/126.0.0.0 Safari/537.36"
)


def config(path: pathlib.Path, **options: Any) -> ConsentConfig:
    return ConsentConfig(
        secret_key=SECRET,
        policy_version="2026-02-24",
        records=f"sqlite:///{path}",
        **options,
    )


@pytest.fixture
def recorder(tmp_path: pathlib.Path) -> Iterator[ConsentRecorder]:
    made = ConsentRecorder(config(tmp_path / "records.db"))
    yield made
    made.store.close()


def test_every_kind_of_choice_is_recorded(recorder: ConsentRecorder) -> None:
    codec = ConsentCodec(recorder.config)
    first = codec.decide(["settings", "analytics"], explicit=True)
    visitor = first.consent_id
    recorder.record(first, action="save", method="js", language="en", user_agent=CHROME)
    choices: list[tuple[Any, list[str]]] = [
        ("accept_all", ["settings", "analytics", "marketing"]),
        ("reject_all", []),
        ("withdraw", []),
    ]
    for action, granted in choices:
        consent = codec.decide(granted, consent_id=visitor)
        recorder.record(consent, action=action, method="form", language="uk")
    answer = recorder.receipt(visitor or "")
    records = answer["records"]
    assert [r["action"] for r in records] == ["save", "accept_all", "reject_all", "withdraw"]
    assert records[0]["granted"] == ["authentication", "settings", "analytics"]
    assert records[0]["refused"] == ["marketing"]
    assert records[2]["granted"] == ["authentication"]
    assert records[2]["refused"] == ["settings", "analytics", "marketing"]
    assert records[0]["user_agent"] == "Chrome 126 on Windows"
    assert all(r["policy_version"] == "2026-02-24" for r in records)
    assert records[0]["ip"] is None
    assert records[1]["language"] == "uk"
    signer = RecordSigner(SECRET)
    assert all(signer.verify(Record.from_json(r)) for r in records)


def test_what_the_visitor_was_shown_is_kept(recorder: ConsentRecorder) -> None:
    consent = ConsentCodec(recorder.config).decide([])
    record = recorder.record(consent, action="reject_all", method="js", language="uk")
    digest, texts = shown_texts(recorder.config, "uk")
    assert record.texts_hash == digest
    assert recorder.store.texts(digest) == dict(texts)
    stored = recorder.store.texts(digest)
    assert stored is not None
    assert stored["reject_all"] != "Reject all"  # the Ukrainian words


def test_no_ip_unless_the_site_asks(tmp_path: pathlib.Path) -> None:
    plain = ConsentRecorder(config(tmp_path / "a.db"))
    with_ip = ConsentRecorder(config(tmp_path / "b.db", record_ip=True))
    for recorder, expected in ((plain, None), (with_ip, "198.51.100.0/24")):
        consent = ConsentCodec(recorder.config).decide([])
        record = recorder.record(
            consent, action="reject_all", method="api", language="en", client_ip="198.51.100.23"
        )
        assert record.ip == expected
        assert recorder.store.records_for(consent.consent_id or "")[0].ip == expected
        recorder.store.close()


def test_a_retried_request_is_recorded_once(recorder: ConsentRecorder) -> None:
    consent = ConsentCodec(recorder.config).decide(["analytics"])
    for _ in range(3):
        recorder.record(consent, action="save", method="js", language="en", choice_token="t-1")
    recorder.record(consent, action="save", method="js", language="en", choice_token="t-2")
    assert len(recorder.store.records_for(consent.consent_id or "")) == 2


def test_undecided_consent_is_not_a_choice(recorder: ConsentRecorder) -> None:
    with pytest.raises(ValueError, match="decided"):
        recorder.record(
            ConsentCodec(recorder.config).undecided, action="save", method="js", language="en"
        )


def test_a_config_without_records() -> None:
    with pytest.raises(ValueError, match="records=None"):
        ConsentRecorder(ConsentConfig(secret_key=SECRET))


class ThreadNotingStore:
    """A custom store (any object with the store methods): an SQLite store that notes the
    thread each write runs on."""

    def __init__(self, path: pathlib.Path) -> None:
        self.inner = SQLiteRecordStore(str(path))
        self.threads: list[int] = []

    def write(self, record: Record, texts: Mapping[str, str] | None = None) -> bool:
        self.threads.append(threading.get_ident())
        return self.inner.write(record, texts)

    def put_texts(self, texts_hash: str, language: str, texts: Mapping[str, str]) -> None:
        self.inner.put_texts(texts_hash, language, texts)

    def texts(self, texts_hash: str) -> dict[str, str] | None:
        return self.inner.texts(texts_hash)

    def records_for(self, consent_id: str) -> list[Record]:
        return self.inner.records_for(consent_id)

    def export(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Record]:
        return self.inner.export(since, until)

    def count(self, since: datetime | None = None, until: datetime | None = None) -> int:
        return self.inner.count(since, until)

    def erase(self, consent_id: str) -> int:
        return self.inner.erase(consent_id)

    def purge(self, older_than: datetime) -> int:
        return self.inner.purge(older_than)

    def purge_inactive(self, last_choice_before: datetime) -> int:
        return self.inner.purge_inactive(last_choice_before)

    def close(self) -> None:
        self.inner.close()


def test_async_recording_runs_off_the_event_loop(tmp_path: pathlib.Path) -> None:
    store = ThreadNotingStore(tmp_path / "records.db")
    assert isinstance(store, RecordStore)
    cfg = ConsentConfig(secret_key=SECRET, records=store)
    recorder = ConsentRecorder(cfg)
    assert recorder.store is store
    consent = ConsentCodec(cfg).decide([])

    async def main() -> tuple[int, dict[str, Any]]:
        await recorder.arecord(consent, action="reject_all", method="js", language="en")
        return threading.get_ident(), await recorder.areceipt(consent.consent_id or "")

    loop_thread, answer = anyio.run(main)
    assert store.threads and loop_thread not in store.threads
    assert len(answer["records"]) == 1
    store.close()
