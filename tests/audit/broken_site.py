"""A deliberately broken site for the audit's tests: its own banner (in the contract's markup,
without consent-middleware), and one fault of each kind that the audit must find.

Run it like any ASGI app: `uvicorn tests.audit.broken_site:app`. `BROKEN_FAULTS` names the
faults to commit, comma-separated (default: all of them; empty: none, a compliant site):

- `marketing`: the server sets `_fbp` (marketing) before the visitor chose;
- `survivor`: a script sets `_hjid` (analytics) once any choice exists, refusals included;
- `transient`: a script sets `_gcl_au` (marketing) before a choice and removes it at once;
- `unknown`: the server sets `zq_visit`, which neither the config nor the database names;
- `no_reject`: "Reject all" only on the second layer, behind "Customize";
- `third_party`: every page loads a pixel from another host (`localhost` for `127.0.0.1`).

More, never on by default: `no_banner` (no banner at all, the pages of a generic site),
`storage` (a script stores `_TCCookieSync`, an analytics key, in local storage before a
choice) and `cookie_store` (a script sets `_pk_id.1.abcd`, an analytics cookie, with the
Cookie Store API before a choice, and deletes it again at once).
"""

from __future__ import annotations

import json
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from consent_middleware import ConsentConfig

ALL_FAULTS = ("marketing", "survivor", "transient", "unknown", "no_reject", "third_party")
_given = os.environ.get("BROKEN_FAULTS")
FAULTS = frozenset(ALL_FAULTS if _given is None else filter(None, _given.split(",")))

#: What the site says its cookies are (for `audit --config tests.audit.broken_site:config`).
config = ConsentConfig(
    secret_key="broken-site-test-key-0123456789abcdef",
    cookies={"_fbp": "marketing", "_hjid": "analytics", "_gcl_au": "marketing"},
)

HALF_YEAR = 182 * 24 * 3600
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
PAGES = {"/": "Home", "/about": "About us", "/contact": "Contact"}


def _page(request: Request, title: str) -> str:
    choice = request.cookies.get("consent")
    nav = " ".join(f'<a href="{path}">{name}</a>' for path, name in PAGES.items())
    first_reject = (
        ""
        if "no_reject" in FAULTS
        else '<button type="button" data-consent-action="reject_all">Reject all</button>'
    )
    pixel = ""
    if "third_party" in FAULTS:
        port = request.url.port or 80
        pixel = f'<img src="http://localhost:{port}/pixel.gif" alt="" width="1" height="1">'
    scripts = []
    if "transient" in FAULTS:
        # Sets a marketing cookie and removes it again before the page settles.
        scripts.append(
            "if (!/(^|; )consent=/.test(document.cookie)) {"
            " document.cookie = '_gcl_au=1.1.42.1700000000; path=/';"
            " setTimeout(() => { document.cookie = '_gcl_au=; max-age=0; path=/'; }, 50); }"
        )
    if "storage" in FAULTS:
        scripts.append(
            "if (!/(^|; )consent=/.test(document.cookie))"
            " localStorage.setItem('_TCCookieSync', String(Date.now()));"
        )
    if "cookie_store" in FAULTS:
        scripts.append(
            "if (!/(^|; )consent=/.test(document.cookie))"
            " cookieStore.set('_pk_id.1.abcd', 'x')"
            ".then(() => cookieStore.delete('_pk_id.1.abcd'));"
        )
    if "survivor" in FAULTS:
        # The bug: "a choice was made" is taken for "analytics was granted".
        scripts.append(
            "if (/(^|; )consent=/.test(document.cookie))"
            " document.cookie = '_hjid=7f3c; path=/; max-age=31536000';"
        )
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title} · Broken Ltd</title></head>
<body>
<nav>{nav}</nav>
<main><h1>{title}</h1><p>A site whose consent banner has bugs.</p>{pixel}</main>
<footer><button type="button" data-consent-open>Cookie settings</button></footer>
{"" if "no_banner" in FAULTS else _banner(choice, first_reject)}
<script>
{" ".join(scripts)}
</script>
</body>
</html>
"""


def _banner(choice: str | None, first_reject: str) -> str:
    hidden = " hidden" if choice else ""
    return f"""<section id="consent-banner" role="region" aria-label="Cookies"{hidden}>
  <p>We use cookies.</p>
  <div class="first">
    <button type="button" data-consent-action="accept_all">Accept all</button>
    {first_reject}
    <button type="button" data-consent-customize>Customize</button>
  </div>
  <div class="second" hidden>
    <label><input type="checkbox" name="category" value="analytics"> Analytics</label>
    <label><input type="checkbox" name="category" value="marketing"> Marketing</label>
    <button type="button" data-consent-action="reject_all">Reject all</button>
    <button type="button" data-consent-action="save">Save</button>
  </div>
</section>
<script>
(() => {{
  const banner = document.getElementById('consent-banner');
  const second = banner.querySelector('.second');
  const send = action => fetch('/consent', {{
    method: 'POST', headers: {{'Content-Type': 'application/json'}},
    body: JSON.stringify({{action}}),
  }}).then(() => {{ banner.hidden = true; second.hidden = true; }});
  document.addEventListener('click', event => {{
    const target = event.target.closest('button');
    if (!target) return;
    if (target.matches('[data-consent-open]')) banner.hidden = false;
    else if (target.matches('[data-consent-customize]')) second.hidden = false;
    else if (target.dataset.consentAction === 'save') {{
      const ticked = [...second.querySelectorAll('input:checked')].length;
      send(ticked ? 'accept_all' : 'reject_all');
    }} else if (target.dataset.consentAction) send(target.dataset.consentAction);
  }});
}})();
</script>"""


async def page(request: Request) -> Response:
    response = HTMLResponse(_page(request, PAGES[request.url.path]))
    choice = request.cookies.get("consent")
    if "unknown" in FAULTS:
        response.set_cookie("zq_visit", "1", path="/")
    if choice == "accepted" or (choice is None and "marketing" in FAULTS):
        response.set_cookie(
            "_fbp", "fb.1.1700000000.42", max_age=HALF_YEAR, path="/", httponly=True
        )
    return response


async def consent(request: Request) -> Response:
    if request.method == "GET":
        return JSONResponse({"choice": request.cookies.get("consent")})
    action = json.loads(await request.body() or b"{}").get("action")
    if action not in ("accept_all", "reject_all"):
        return JSONResponse({"error": "action must be accept_all or reject_all"}, status_code=400)
    response = JSONResponse({"ok": True})
    value = "accepted" if action == "accept_all" else "rejected"
    response.set_cookie("consent", value, max_age=HALF_YEAR, path="/", samesite="lax")
    if value == "rejected":
        for name in ("_fbp", "_hjid", "_gcl_au"):
            response.delete_cookie(name, path="/")
    return response


async def pixel(request: Request) -> Response:
    return Response(PIXEL, media_type="image/gif")


app = Starlette(
    routes=[
        *(Route(path, page) for path in PAGES),
        Route("/consent", consent, methods=["GET", "POST"]),
        Route("/pixel.gif", pixel),
    ]
)
