"""Google Consent Mode v2: the `default` command that must run before any Google tag, and
the values of the `update` that follows a choice.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence

from .consent import Consent

__all__ = ["consent_mode_default", "consent_mode_update"]


def consent_mode_update(consent: Consent, mapping: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Google consent types -> "granted"/"denied", for `gtag('consent', 'update', ...)`.

    Only the types `mapping` names (category -> types); a type that several categories name
    is granted only when all of them are allowed.
    """
    allowed: dict[str, bool] = {}
    for category, types in mapping.items():
        ok = consent.allows(category)
        for gtype in types:
            allowed[gtype] = allowed.get(gtype, True) and ok
    return {gtype: "granted" if ok else "denied" for gtype, ok in sorted(allowed.items())}


def _json_for_script(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def consent_mode_default(
    consent: Consent,
    mapping: Mapping[str, Sequence[str]],
    *,
    nonce: str | None,
    wait_for_update: int = 500,
) -> bytes:
    """The inline `<script>` with Consent Mode's default command; it must run before any tag.

    `wait_for_update` is only sent while the visitor has not decided (the banner's update
    comes later); `ads_data_redaction` is set while `ad_storage` is denied.
    """
    params: dict[str, object] = dict(consent_mode_update(consent, mapping))
    if not consent.decided:
        params["wait_for_update"] = int(wait_for_update)
    js = (
        "window.dataLayer=window.dataLayer||[];"
        "window.gtag=window.gtag||function(){dataLayer.push(arguments);};"
        f"gtag('consent','default',{_json_for_script(params)});"
    )
    if params.get("ad_storage") == "denied":
        js += "gtag('set','ads_data_redaction',true);"
    attr = "" if nonce is None else f' nonce="{html.escape(nonce, quote=True)}"'
    return f"<script{attr}>{js}</script>".encode("ascii", "xmlcharrefreplace")
