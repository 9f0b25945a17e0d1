"""The `consent-middleware` command.

    consent-middleware check-config examples.fastapi_app.app:config

Exit status: 0 when all is well, 1 when the check found problems, 2 on a usage error
(a module or attribute that cannot be loaded, or an invalid configuration).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from .config import ConsentConfig

__all__ = ["main"]

_MIN_SECRET = 32


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="consent-middleware", description="Tools for consent-middleware."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check-config",
        help="load a ConsentConfig (or an app that has one) and report problems",
        description="Load module:attr (a ConsentConfig, or an object with a .config) and "
        "report what would surprise you in production. Exit 1 on findings.",
    )
    check.add_argument("target", metavar="module:attr", help="e.g. myapp.settings:config")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.target)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        print(f"consent-middleware: {exc}", file=sys.stderr)
        return 2
    findings = check_config(config)
    print(describe(config))
    if findings:
        print("\nFindings:")
        for finding in findings:
            print(f"- {finding}")
        return 1
    print("\nNo findings.")
    return 0


def load_config(target: str) -> ConsentConfig:
    """Import `module:attr` and return the ConsentConfig it names (or that it carries)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{target!r} is not of the form module:attr")
    if "" not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: the current folder is importable
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    if isinstance(obj, ConsentConfig):
        return obj
    carried = getattr(obj, "config", None)
    if isinstance(carried, ConsentConfig):
        return carried
    raise TypeError(f"{target!r} is a {type(obj).__name__}, not a ConsentConfig")


def check_config(config: ConsentConfig) -> list[str]:
    """What in a valid config is likely a mistake."""
    findings: list[str] = []
    if len(config.secret_keys[0]) < _MIN_SECRET:
        findings.append(
            f"secret_key is {len(config.secret_keys[0])} characters; use at least {_MIN_SECRET}"
            " random ones (e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    if any(word in config.secret_keys[0].lower() for word in ("dev", "change", "secret", "test")):
        findings.append("secret_key looks like a placeholder; set a random one in production")
    used = {rule.category for rule in config.rules.exact.values()}
    used |= {rule.category for _, rule in config.rules.prefixes}
    used |= {rule.category for _, rule in config.rules.globs}
    for name in config.optional_categories:
        if name not in used:
            findings.append(f"category {name!r} has no cookie rule: the banner asks for nothing")
    if config.unknown_cookies == "allow":
        findings.append("unknown_cookies='allow' lets cookies that no rule names reach visitors")
    if config.secure is False:
        findings.append("secure=False: the consent cookie is sent over plain http too")
    for name, rule in config.rules.exact.items():
        shadow = next(
            (p for p, r in config.rules.prefixes if name.startswith(p) and r != rule), None
        )
        if shadow is not None:
            findings.append(
                f"cookie {name!r} matches both its own rule and the pattern '{shadow}*'"
            )
    return findings


def describe(config: ConsentConfig) -> str:
    lines = [f"policy_version: {config.policy_version}", "categories:"]
    for category in config.category_list:
        flags = [
            word for word, on in (("required", category.required), ("gpc", category.gpc)) if on
        ]
        suffix = f" ({', '.join(flags)})" if flags else ""
        lines.append(f"  {category.name}{suffix}")
    lines.append("cookies:")
    for pattern, target in config.cookies.items():
        name = target if isinstance(target, str) else target.category
        lines.append(f"  {pattern} -> {name}")
    lines.append(f"unknown cookies: {config.unknown_cookies}")
    lines.append(f"endpoints under: {config.path_prefix}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
