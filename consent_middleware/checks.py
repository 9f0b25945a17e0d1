"""What `check-config` reports: settings that are valid but likely a mistake in production."""

from __future__ import annotations

from .config import ConsentConfig

__all__ = ["check_config", "config_hints", "describe"]

_MIN_SECRET = 32


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


def config_hints(config: ConsentConfig) -> list[str]:
    """Advice that depends on how the site is deployed: printed, but not a failure."""
    hints: list[str] = []
    if config.cookie_domain is None and not config.cookie_name.startswith("__Host-"):
        hints.append(
            f"cookie_name={config.cookie_name!r}: on an https-only site, use"
            " cookie_name='__Host-consent'. Browsers then refuse a consent cookie that a sibling"
            " subdomain or a plain-http page tries to plant (the least permissive of several"
            " consent cookies counts, so a planted one could take a visitor's choices away)."
        )
    prefixes = config.rules.prefixes
    for i, (longer, long_rule) in enumerate(prefixes):
        for shorter, short_rule in prefixes[i + 1 :]:
            if longer.startswith(shorter) and long_rule.category != short_rule.category:
                hints.append(
                    f"patterns '{longer}*' ({long_rule.category}) and '{shorter}*'"
                    f" ({short_rule.category}) overlap: the longer one wins for names it matches"
                )
    for regex, glob_rule in config.rules.globs:
        for name, rule in config.rules.exact.items():
            if regex.match(name) and rule.category != glob_rule.category:
                hints.append(
                    f"cookie {name!r} ({rule.category}) also matches the pattern"
                    f" {regex.pattern!r} ({glob_rule.category}): the exact name wins"
                )
    return hints


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
