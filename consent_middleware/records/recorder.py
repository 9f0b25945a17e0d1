"""From a choice to a signed, stored record: what the `/consent` endpoints call.

    recorder = ConsentRecorder(config)          # once, when the middleware is built
    recorder.record(consent, action="save", method="form", language="en",
                    user_agent=ua, client_ip=ip, choice_token=token)   # in a worker thread
    recorder.receipt(consent_id)                # GET /consent/receipt

`record` raises `RecordStoreError` when the store cannot write: the endpoint must then
answer 503 and set no consent cookie (no consent without its proof).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .ip import truncate_ip
from .model import Method, Record, RecordAction, new_record_id
from .signing import RecordSigner
from .store import RecordStore, open_store
from .texts import shown_texts
from .useragent import shorten_user_agent

if TYPE_CHECKING:
    from ..config import ConsentConfig
    from ..consent import Consent

__all__ = ["ConsentRecorder", "new_record", "record_id_for"]

_MAX_TOKEN = 200


def record_id_for(consent_id: str, choice_token: str | None) -> str:
    """The id of a choice's record. With the client's choice token the same choice sent
    twice (a retried request) gets the same id, and the store keeps it once."""
    if not choice_token or not isinstance(choice_token, str) or len(choice_token) > _MAX_TOKEN:
        return new_record_id()
    digest = hashlib.sha256(f"{consent_id}:{choice_token}".encode()).hexdigest()
    return digest[:32]


def new_record(
    *,
    consent_id: str,
    action: RecordAction,
    granted: Iterable[str],
    refused: Iterable[str],
    policy_version: str,
    method: Method,
    language: str,
    texts_hash: str,
    user_agent: str | None = None,
    gpc: bool = False,
    client_ip: str | None = None,
    choice_token: str | None = None,
    time: datetime | None = None,
) -> Record:
    """An unsigned, validated record. `user_agent` is shortened here and `client_ip` (pass
    it only when the site turned on `record_ip`) truncated here, so the full values never
    reach a store."""
    return Record(
        record_id=record_id_for(consent_id, choice_token),
        consent_id=consent_id,
        time=time if time is not None else datetime.now(timezone.utc),
        policy_version=policy_version,
        action=action,
        granted=tuple(granted),
        refused=tuple(refused),
        method=method,
        language=language,
        texts_hash=texts_hash,
        user_agent=shorten_user_agent(user_agent),
        gpc=gpc,
        ip=truncate_ip(client_ip),
    ).validate()


class ConsentRecorder:
    """Keeps a config's proof of consent: builds, signs and stores one record per choice.

    `store` defaults to `open_store(config.records)`; the signing keys are derived from
    `config.secret_keys` (the first signs). Thread-safe, like the stores.
    """

    def __init__(self, config: ConsentConfig, store: RecordStore | None = None) -> None:
        if store is None:
            store = open_store(config.records)
        if store is None:
            raise ValueError("ConsentRecorder needs a store: the config has records=None")
        self.config = config
        self.store = store
        self.signer = RecordSigner(config.secret_keys)

    def record(
        self,
        consent: Consent,
        *,
        action: RecordAction,
        method: Method,
        language: str,
        user_agent: str | None = None,
        client_ip: str | None = None,
        choice_token: str | None = None,
        time: datetime | None = None,
    ) -> Record:
        """Sign and store the record of the decided `consent`; returns it. Refusals are
        recorded exactly like consents. `client_ip` is dropped unless `record_ip` is on."""
        if not consent.decided or consent.consent_id is None:
            raise ValueError("only a decided consent with a consent id can be recorded")
        digest, texts = shown_texts(self.config, language)
        record = new_record(
            consent_id=consent.consent_id,
            action=action,
            granted=consent.granted,
            refused=consent.refused,
            policy_version=consent.policy_version,
            method=method,
            language=language,
            texts_hash=digest,
            user_agent=user_agent,
            gpc=consent.gpc,
            client_ip=client_ip if self.config.record_ip else None,
            choice_token=choice_token,
            time=time,
        )
        signed = self.signer.sign(record)
        self.store.write(signed, texts)
        return signed

    async def arecord(
        self,
        consent: Consent,
        *,
        action: RecordAction,
        method: Method,
        language: str,
        user_agent: str | None = None,
        client_ip: str | None = None,
        choice_token: str | None = None,
        time: datetime | None = None,
    ) -> Record:
        """`record` in a worker thread, so the event loop never waits for the database."""
        call = functools.partial(
            self.record,
            consent,
            action=action,
            method=method,
            language=language,
            user_agent=user_agent,
            client_ip=client_ip,
            choice_token=choice_token,
            time=time,
        )
        import anyio.to_thread  # there under any ASGI framework; not needed by WSGI sites

        return await anyio.to_thread.run_sync(call)

    def receipt(self, consent_id: str) -> dict[str, Any]:
        """`GET /consent/receipt`: {"consent_id": …, "records": [ … ]}, oldest first."""
        return receipt(self.store, consent_id)

    async def areceipt(self, consent_id: str) -> dict[str, Any]:
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.receipt, consent_id)


def receipt(store: RecordStore, consent_id: str) -> dict[str, Any]:
    """Every record of one consent id as JSON, oldest first."""
    return {
        "consent_id": consent_id,
        "records": [record.to_json() for record in store.records_for(consent_id)],
    }
