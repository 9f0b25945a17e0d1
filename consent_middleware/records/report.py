"""`records stats --html`: one self-contained page (inline CSS and SVG, no scripts, no
external assets) that a site owner can open, print or mail as it is."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timezone
from html import escape

from .model import ACTIONS, format_time
from .stats import Bucket, Period, Stats

__all__ = ["render_html"]

_CATEGORY_COLOURS = (
    "#2563eb",
    "#16a34a",
    "#d97706",
    "#9333ea",
    "#0891b2",
    "#db2777",
    "#65a30d",
    "#dc2626",
)
_ACTION_COLOURS = {
    "accept_all": "#2563eb",
    "save": "#d97706",
    "reject_all": "#64748b",
    "withdraw": "#dc2626",
}
_ACTION_LABELS = {
    "accept_all": "Accepted all",
    "reject_all": "Rejected all",
    "save": "Custom choice",
    "withdraw": "Withdrew",
}
_WIDTH, _HEIGHT = 760, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 16, 16, 40

_CSS = """
:root { color-scheme: light dark; --fg: #0f172a; --muted: #64748b; --bg: #ffffff;
  --card: #f8fafc; --line: #e2e8f0; }
@media (prefers-color-scheme: dark) { :root { --fg: #e2e8f0; --muted: #94a3b8;
  --bg: #0f172a; --card: #1e293b; --line: #334155; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 820px; margin: 0 auto; padding: 32px 20px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 36px 0 4px; }
p.lead, p.note, figcaption { color: var(--muted); margin: 0 0 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(125px, 1fr));
  gap: 12px; margin-top: 24px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 14px 16px; }
.card b { display: block; font-size: 26px; line-height: 1.2; }
.card span { color: var(--muted); font-size: 13px; }
figure { margin: 0; }
svg { width: 100%; height: auto; display: block; }
svg text { fill: var(--muted); font: 12px system-ui, sans-serif; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .value { fill: var(--fg); font-weight: 600; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 8px 0 0; padding: 0;
  list-style: none; font-size: 13px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 3px;
  margin-right: 6px; vertical-align: -1px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin-top: 8px; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right; }
th:first-child, td:first-child { text-align: left; }
details { margin-top: 28px; }
summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
@media print { details { display: block; } details > * { display: block; } }
"""


def render_html(stats: Stats, *, source: str, now: datetime | None = None) -> str:
    """The report page. `source` names the store (no password) in the page's header."""
    generated = format_time(now or datetime.now(timezone.utc))[:16].replace("T", " ")
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Consent report</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<h1>Consent report</h1>",
        f'<p class="lead">{escape(_period_text(stats))} · {escape(source)}'
        f" · generated {escape(generated)} UTC</p>",
    ]
    if not stats.total.choices:
        parts.append("<p>No choices were recorded in this period.</p>")
    else:
        by = _grouping(stats)
        buckets = stats.regrouped(by)
        categories = stats.categories
        colours = {
            name: _CATEGORY_COLOURS[i % len(_CATEGORY_COLOURS)] for i, name in enumerate(categories)
        }
        # A category no choice refused (a required one) would be a flat line at 100%.
        chosen = [n for n in categories if stats.total.granted[n] < stats.total.offered[n]]
        always = [n for n in categories if n not in chosen]
        parts += _cards(stats)
        parts += [
            "<h2>Opt-in rate by category</h2>",
            '<p class="note">Of the choices that offered a category, the share that'
            " granted it.</p>",
            _category_bars(stats, colours),
            f"<h2>Opt-in rate per {by}</h2>",
            _line_chart(buckets, chosen, colours, by),
            _legend([(name, colours[name]) for name in chosen]),
            (
                f'<p class="note">Not drawn: {escape(", ".join(always))}, granted in every'
                " choice.</p>"
                if always
                else ""
            ),
            f"<h2>Choices per {by}</h2>",
            _stacked_columns(buckets, by),
            _legend([(_ACTION_LABELS[a], _ACTION_COLOURS[a]) for a in ACTIONS]),
            _table(stats.days, categories),
        ]
    parts += [
        "<footer>Proof-of-consent records kept by consent-middleware. Times are UTC."
        " Withdrawals count as choices that grant nothing.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _period_text(stats: Stats) -> str:
    if stats.first is None or stats.last is None:
        return "No records"
    first, last = stats.first.date(), stats.last.date()
    count = f"{stats.total.choices:,} choice{'s' if stats.total.choices != 1 else ''}"
    if first == last:
        return f"{count} on {first.isoformat()}"
    return f"{count} from {first.isoformat()} to {last.isoformat()}"


def _grouping(stats: Stats) -> Period:
    if stats.first is None or stats.last is None:
        return "day"
    span = (stats.last.date() - stats.first.date()).days
    if span <= 92:
        return "day"
    if span <= 2 * 366:
        return "week"
    return "month"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def _cards(stats: Stats) -> list[str]:
    total = stats.total
    cards = [(f"{total.choices:,}", "choices recorded")]
    for action in ACTIONS:
        cards.append((_percent(total.actions[action], total.choices), _ACTION_LABELS[action]))
    body = "".join(
        f'<div class="card"><b>{escape(value)}</b><span>{escape(label)}</span></div>'
        for value, label in cards
    )
    return [f'<div class="cards">{body}</div>']


def _svg(title: str, height: int, body: Sequence[str]) -> str:
    return (
        f'<figure><svg viewBox="0 0 {_WIDTH} {height}" role="img"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg></figure>"
    )


def _category_bars(stats: Stats, colours: dict[str, str]) -> str:
    row, label_width = 34, 150
    names = stats.categories
    height = row * len(names) + 8
    span = _WIDTH - label_width - 70
    body: list[str] = []
    for index, name in enumerate(names):
        y = 4 + index * row
        rate = stats.total.rate(name) or 0.0
        width = max(2.0, span * rate)
        body.append(
            f'<text x="0" y="{y + 20}">{escape(name)}</text>'
            f'<rect x="{label_width}" y="{y + 6}" width="{span}" height="20" rx="4"'
            ' class="grid" fill="none"/>'
            f'<rect x="{label_width}" y="{y + 6}" width="{width:.1f}" height="20" rx="4"'
            f' fill="{colours[name]}"/>'
            f'<text class="value" x="{label_width + span + 8}" y="{y + 21}">'
            f"{100 * rate:.1f}%</text>"
        )
    return _svg("Opt-in rate by category", height, body)


def _x_positions(count: int) -> list[float]:
    inner = _WIDTH - _LEFT - _RIGHT
    if count == 1:
        return [_LEFT + inner / 2]
    return [_LEFT + inner * i / (count - 1) for i in range(count)]


def _x_labels(buckets: Sequence[Bucket], xs: Sequence[float], by: Period) -> list[str]:
    step = max(1, len(buckets) // 8)
    labels = []
    for index in range(0, len(buckets), step):
        labels.append(
            f'<text x="{xs[index]:.1f}" y="{_HEIGHT - _BOTTOM + 18}" text-anchor="middle">'
            f"{escape(_label(buckets[index].start, by))}</text>"
        )
    return labels


def _label(day: date, by: Period) -> str:
    return day.strftime("%b %Y") if by == "month" else day.strftime("%d %b")


def _grid(maximum: float, steps: int, suffix: str) -> list[str]:
    inner = _HEIGHT - _TOP - _BOTTOM
    lines = []
    for step in range(steps + 1):
        value = maximum * step / steps
        y = _TOP + inner - inner * step / steps
        shown = f"{value:.0f}{suffix}"
        lines.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{shown}</text>'
        )
    return lines


def _line_chart(
    buckets: Sequence[Bucket], categories: Sequence[str], colours: dict[str, str], by: Period
) -> str:
    inner = _HEIGHT - _TOP - _BOTTOM
    xs = _x_positions(len(buckets))
    body = _grid(100, 4, "%")
    for name in categories:
        points = []
        for x, bucket in zip(xs, buckets, strict=True):
            rate = bucket.rate(name)
            if rate is not None:
                points.append((x, _TOP + inner * (1 - rate)))
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            body.append(
                f'<polyline fill="none" stroke="{colours[name]}" stroke-width="2.5"'
                f' stroke-linejoin="round" points="{path}"><title>{escape(name)}</title>'
                "</polyline>"
            )
        if len(points) <= 40:
            body += [
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colours[name]}"/>'
                for x, y in points
            ]
    body += _x_labels(buckets, xs, by)
    return _svg(f"Opt-in rate per {by}", _HEIGHT, body)


def _stacked_columns(buckets: Sequence[Bucket], by: Period) -> str:
    inner_h = _HEIGHT - _TOP - _BOTTOM
    inner_w = _WIDTH - _LEFT - _RIGHT
    peak = max(bucket.choices for bucket in buckets)
    top, steps = _scale(peak)
    slot = inner_w / len(buckets)
    width = max(1.0, min(40.0, slot * 0.7))
    body = _grid(top, steps, "")
    xs = [_LEFT + slot * (i + 0.5) for i in range(len(buckets))]
    for x, bucket in zip(xs, buckets, strict=True):
        y = float(_TOP + inner_h)
        for action in ACTIONS:
            count = bucket.actions[action]
            if not count:
                continue
            height = inner_h * count / top
            y -= height
            body.append(
                f'<rect x="{x - width / 2:.1f}" y="{y:.1f}" width="{width:.1f}"'
                f' height="{height:.1f}" fill="{_ACTION_COLOURS[action]}">'
                f"<title>{escape(bucket.start.isoformat())}: {count}"
                f" {escape(_ACTION_LABELS[action].lower())}</title></rect>"
            )
    body += _x_labels(buckets, xs, by)
    return _svg(f"Choices per {by}", _HEIGHT, body)


def _scale(peak: int) -> tuple[int, int]:
    """A round top of the scale and 3 to 5 gridline steps of 1, 2, 2.5 or 5 times 10^k."""
    magnitude = 1
    while True:
        for base in (1, 2, 2.5, 5):
            step = base * magnitude
            if step == int(step) and peak <= step * 5:
                steps = max(3, -(-peak // int(step)))
                return int(step) * steps, steps
        magnitude *= 10


def _legend(items: Sequence[tuple[str, str]]) -> str:
    entries = "".join(
        f'<li><i style="background:{colour}"></i>{escape(label)}</li>' for label, colour in items
    )
    return f'<ul class="legend">{entries}</ul>'


def _table(days: Sequence[Bucket], categories: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(_ACTION_LABELS[a])}</th>" for a in ACTIONS)
    head += "".join(f"<th>{escape(name)}</th>" for name in categories)
    rows = []
    for day in reversed(days):
        cells = "".join(f"<td>{day.actions[a]}</td>" for a in ACTIONS)
        for name in categories:
            rate = day.rate(name)
            cells += f"<td>{'–' if rate is None else f'{100 * rate:.0f}%'}</td>"
        rows.append(f"<tr><td>{day.start.isoformat()}</td><td>{day.choices}</td>{cells}</tr>")
    return (
        "<details><summary>Every day</summary><table><thead><tr><th>Day</th><th>Choices</th>"
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )
