"""`suggest-config`: a `cookies={...}` mapping for every cookie the visitors met.

A name the site's config already covers keeps its rule (with `--config`); else the cookie
database names it (a database prefix becomes a `name*` pattern); else it is written as
`"unknown"` with `# unknown: decide`, a category that `ConsentConfig` refuses, so that the
mapping cannot be used before someone decides.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field

from ..config import ConsentConfig
from .inventory import Classifier, CookieRecord

__all__ = ["Suggestion", "render_suggestion", "suggest"]

UNDECIDED = "unknown"


@dataclass
class Suggestion:
    pattern: str
    category: str
    comment: str
    names: list[str] = field(default_factory=list)


def suggest(records: list[CookieRecord], classifier: Classifier) -> list[Suggestion]:
    by_pattern: dict[str, Suggestion] = {}
    for record in records:
        found = classifier.classify(record.name)
        if found.source == "consent":
            continue
        if found.source == "config" and classifier.config is not None:
            pattern = _config_pattern(classifier.config, record.name)
            entry = Suggestion(pattern, found.category, "from the config")
        elif found.known is not None and found.known.suggested is not None:
            known = found.known
            suggested = found.known.suggested
            comment = f"{known.platform} ({known.category})"
            if known.alternatives:
                others = ", ".join(f"{a.platform} ({a.category})" for a in known.alternatives)
                comment += f", or {others}"
            if known.source == "overlay":
                comment += ", framework cookie"
            entry = Suggestion(known.pattern, suggested, comment)
        else:
            entry = Suggestion(record.name, UNDECIDED, "unknown: decide")
        kept = by_pattern.setdefault(entry.pattern, entry)
        if record.name not in kept.names:
            kept.names.append(record.name)
    return sorted(by_pattern.values(), key=lambda s: s.pattern)


def _config_pattern(config: ConsentConfig, name: str) -> str:
    """The pattern of the config's rule that `name` matches (exact names win, then the
    longest prefix, then globs, as the middleware decides)."""
    rules = config.rules
    if name in rules.exact:
        return name
    for prefix, _ in rules.prefixes:
        if name.startswith(prefix):
            return prefix + "*"
    for pattern in config.cookies:
        if fnmatch.fnmatchcase(name, pattern):
            return pattern
    return name


def render_suggestion(
    suggestions: list[Suggestion], urls: list[str], pages: int, consent_names: set[str]
) -> str:
    lines = [
        f"# consent-middleware suggest-config: every cookie that four visitors met on"
        f" {', '.join(urls)} ({pages} page(s)).",
        "# Categories come from the Open Cookie Database (Apache 2.0) where it knows the name;",
        '# "unknown" is no category: ConsentConfig refuses it until you decide.',
        "# Cookies that only a signed-in visitor or a submitted form gets are not seen here.",
    ]
    if consent_names:
        names = ", ".join(sorted(consent_names))
        lines.append(f"# The consent cookie ({names}) needs no rule.")
    lines.append("cookies={")
    for s in suggestions:
        seen = [n for n in s.names if n != s.pattern]
        comment = s.comment + (f": {', '.join(seen)}" if seen else "")
        lines.append(f"    {json.dumps(s.pattern)}: {json.dumps(s.category)},  # {comment}")
    lines.append("}")
    return "\n".join(lines) + "\n"
