"""What the documentation promises is what the code does: every `ConsentConfig(...)` that a
page of docs/ shows builds as written (its `...` standing for the options it leaves out,
a secret among them). tests/test_docs.py runs the quick starts; this covers the rest, where
a copied example that raises `ValueError` at start-up would be a user's first surprise."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

import consent_middleware
from consent_middleware.records import RecordStore

DOCS = Path(__file__).resolve().parents[1] / "docs"
LOCALES = Path(consent_middleware.__file__).resolve().parent / "locales"
SECRET = "docs-vs-code-secret-0123456789abcdef"


def config_blocks() -> list[Any]:
    blocks = []
    for page in sorted(DOCS.rglob("*.md")):
        if "quickstart" in page.parts:
            continue  # tests/test_docs.py runs those apps whole
        found = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
        for index, source in enumerate(found):
            if "ConsentConfig(" in source:
                name = f"{page.relative_to(DOCS)}#{index}"
                blocks.append(pytest.param(name, source, id=name))
    return blocks


class _Store:
    """`records=my_store`: any object with the store methods."""

    def write(self, record: object, texts: object = None) -> bool:
        return True

    def put_texts(self, texts_hash: str, language: str, texts: object) -> None: ...
    def texts(self, texts_hash: str) -> None: ...
    def records_for(self, consent_id: str) -> list[object]:
        return []

    def export(self, since: object = None, until: object = None) -> list[object]:
        return []

    def count(self, since: object = None, until: object = None) -> int:
        return 0

    def erase(self, consent_id: str) -> int:
        return 0

    def purge(self, older_than: object) -> int:
        return 0

    def purge_inactive(self, last_choice_before: object) -> int:
        return 0

    def close(self) -> None: ...


def test_the_stub_store_is_a_store() -> None:
    assert isinstance(_Store(), RecordStore)


@pytest.mark.parametrize(("name", "source"), config_blocks())
def test_every_config_example_builds(
    name: str, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `...` is the page's "and the rest of your options": a secret stands in for them.
    source = source.replace("ConsentConfig(...,", f"ConsentConfig(secret_key={SECRET!r},")
    source = source.replace("(\n    ...,", f"(\n    secret_key={SECRET!r},")
    # banner.md's language that is not bundled: its texts start as a copy of en.json.
    (tmp_path / "locales").mkdir()
    shutil.copy(LOCALES / "en.json", tmp_path / "locales" / "nb.json")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONSENT_SECRET", SECRET)
    namespace: dict[str, Any] = {
        "__name__": "docs_example",
        "app": Starlette(),
        "my_store": _Store(),
        "DEV_SECRET": SECRET,
    }
    exec("import os\nfrom consent_middleware import *", namespace)
    exec(compile(source, f"docs/{name}", "exec"), namespace)


def test_a_choice_among_many_long_categories_is_read_back() -> None:
    """configuration.md: `categories=[...]`, each name up to 40 characters. A visitor who
    accepts all of 16 such categories gets a consent cookie of some 600 characters; it was
    read back as forged (over a fixed 512), expired, and the banner asked forever."""
    from starlette.testclient import TestClient

    from consent_middleware import Category, ConsentConfig, ConsentMiddleware

    categories = [Category("authentication", required=True)]
    categories += [Category(f"category_{i:02d}_{'x' * 28}") for i in range(16)]
    app = Starlette()
    app.add_middleware(
        ConsentMiddleware, config=ConsentConfig(secret_key=SECRET, categories=categories)
    )
    client = TestClient(app)
    chosen = client.post("/consent", json={"action": "accept_all"})
    assert chosen.status_code == 200 and len(client.cookies["consent"]) > 512
    state = client.get("/consent")
    assert state.json()["decided"] is True
    assert all(state.json()["categories"].values())
    assert state.headers.get_list("set-cookie") == []  # not expired as forged


def test_max_body_size_leaves_room_for_the_banners_own_choice() -> None:
    """configuration.md: `max_body_size` is "at least 1024, so that the banner's own posts
    fit". With 30 categories of 40 characters, a "Save" of them all is over 1024 bytes: the
    config was accepted and the visitor's own choice got 413. It is refused when built."""
    from starlette.testclient import TestClient

    from consent_middleware import Category, ConsentConfig, ConsentMiddleware

    categories = [Category("authentication", required=True)]
    categories += [Category(f"category_{i:02d}_{'x' * 28}") for i in range(30)]
    with pytest.raises(ValueError, match="max_body_size 1024 must be at least"):
        ConsentConfig(secret_key=SECRET, categories=categories, max_body_size=1024)
    app = Starlette()  # the default, 4096, has room for them
    app.add_middleware(
        ConsentMiddleware, config=ConsentConfig(secret_key=SECRET, categories=categories)
    )
    everything = [category.name for category in categories[1:]]
    saved = TestClient(app).post("/consent", json={"action": "save", "categories": everything})
    assert saved.status_code == 200
