"""The README's two examples run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2 as httpx
from starlette.testclient import TestClient

README = Path(__file__).resolve().parents[1] / "README.md"


def examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def run(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(source, str(README), "exec"), namespace)
    return namespace


def test_fastapi_example() -> None:
    (source,) = [s for s in examples() if "FastAPI()" in s]
    with TestClient(run(source)["app"]) as client:
        assert client.get("/").json() == {"analytics allowed": False}
        assert client.get("/me").json() == {"decided": False}  # Depends(get_consent)
        client.post("/consent", json={"action": "accept_all"})
        assert client.get("/").json() == {"analytics allowed": True}
        assert client.get("/me").json() == {"decided": True}


def test_flask_example() -> None:
    (source,) = [s for s in examples() if "Flask(__name__)" in s]
    app = run(source)["app"]
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://t") as client:
        assert client.get("/").json() == {"analytics allowed": False}
        client.post("/consent", json={"action": "accept_all"})
        assert client.get("/").json() == {"analytics allowed": True}
