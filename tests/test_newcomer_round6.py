"""A newcomer's round 6.

- `consent-middleware check-config app.py:app` (the file name, as one types it after `ls`)
  said "No module named 'app.py'; 'app' is not a package", and `./app.py:app` a TypeError
  about relative imports raised in importlib: now both say that MODULE is the module's
  dotted name and give the target to write (`app:app`, `src.app:app`, `pkg:create_app()`).
- `ConsentConfig(texts={"de-CH": {...}})`, without `languages`, raised "languages None must
  be language codes": it blamed an option the user never gave. It now names the `texts`
  key and the code it starts with; `languages=()` says it is empty rather than "in lower
  case", and a code with a region says which code to write (`'de-CH'`: `'de'`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from consent_middleware import ConsentConfig
from consent_middleware.cli import main

APP = """\
from consent_middleware import ConsentConfig

config = ConsentConfig(secret_key="a-long-enough-secret-for-the-check", cookies={})
"""


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("shopapp.py:config", "shopapp:config"),
        ("./shopapp.py:config", "shopapp:config"),
        ("src/shopapp.py:config", "src.shopapp:config"),
        ("src\\shopapp.py:config", "src.shopapp:config"),
        ("src/__init__.py:config", "src:config"),
    ],
)
def test_a_file_name_as_the_target_says_which_module_to_write(
    given: str,
    meant: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "shopapp.py").write_text(APP, encoding="utf-8")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "__init__.py").write_text(APP, encoding="utf-8")
    (tmp_path / "src" / "shopapp.py").write_text(APP, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for command in (["check-config", given], ["audit", "http://127.0.0.1:9/", "--config", given]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "not a file name" in err and f"write {meant}" in err, err
        assert "TypeError" not in err and "is not a package" not in err, err
    assert main(["check-config", meant]) in (0, 1)  # what it says to write loads


def test_a_relative_module_name_is_a_usage_error_without_importlibs_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check-config", ".shopapp:config"]) == 2
    err = capsys.readouterr().err
    assert "cannot import '.shopapp'" in err and "(/" not in err, err


@pytest.mark.parametrize(
    ("options", "said", "not_said"),
    [
        ({"texts": {"de-CH": {"title": "Cookies?"}}}, "texts has language 'de-CH'", "None"),
        ({"texts": {"nb-NO": {"title": "Cookies?"}}}, "(did you mean 'nb'?)", "languages None"),
        ({"languages": ()}, "is empty", "lower case"),
        ({"languages": ("en", "de-CH")}, "'de-CH' is not (did you mean 'de'?)", "None"),
    ],
)
def test_a_wrong_language_code_is_named_where_it_was_given(
    options: dict[str, object], said: str, not_said: str
) -> None:
    with pytest.raises(ValueError) as raised:
        ConsentConfig(secret_key="a-long-enough-secret-for-the-check", **options)  # type: ignore[arg-type]
    assert said in str(raised.value) and not_said not in str(raised.value), raised.value
