"""The report of ``diffshare check``: one risk record as a self-contained HTML page
(:func:`render_html`) or as GitHub markdown (:func:`render_markdown`), written with its JSON by
:func:`write_report`.

The record is the JSON-ready dict ``diffshare check`` builds: ``tool``, ``version``, ``created``,
``inputs``, ``settings`` and ``summary`` (one line per risk, with a severity) always; the risk
sections ``leakage`` (property inference, one row per property and attack), ``audit`` (the
receiver's fairness audit, keys as :data:`diffshare.defenses.audit.AUDIT_COLUMNS` plus ``label``
and ``sensitive``), ``closeness`` (samples' closeness to the sharer's training rows against
unseen rows) and ``defenses`` (what the sharer's defenses buy) when they were asked for;
``skipped`` (section -> why it did not run) and ``notes``. A section that is None or absent is
shown as "not run", with its reason from ``skipped`` when one is given.

The page needs nothing outside itself (inline CSS, the leakage figure as an inline base64 PNG,
no scripts, no links), so it can be mailed or attached to a ticket as it is. Every string from the
record is escaped, in HTML by :func:`html.escape` and in markdown by backslashes, since paths and
column names may hold ``<``, ``|`` or ``$``. Numbers go through :func:`format_number`: three
significant digits, None as "—".
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import numbers
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from diffshare.errors import DataError
from diffshare.storage import atomic_path, write_json

#: How a missing value (None) prints.
MISSING = "—"
#: The severities the summary knows, most severe first; each has a badge colour.
SEVERITIES = ("high", "medium", "low", "info")
#: The risk sections in page order, with their headings.
RISK_SECTIONS = {
    "leakage": "Property leakage",
    "audit": "Fairness audit",
    "closeness": "Record-level closeness",
    "defenses": "Defenses",
}
#: Every heading of the page and the markdown, in order (Notes only when there are notes).
HEADINGS = {"summary": "Summary", **RISK_SECTIONS, "notes": "Notes", "settings": "Settings"}
#: The inputs listed first under the title, in this order (any others follow).
INPUT_ORDER = (
    "samples",
    "model",
    "family",
    "modality",
    "n_samples",
    "reference",
    "aux",
    "training",
    "holdout",
)

_MAPPING_SECTIONS = ("inputs", "settings", "audit", "closeness", "skipped")
_LIST_SECTIONS = ("summary", "leakage", "defenses")


# -- numbers and text --------------------------------------------------------------------------


def format_number(value: Any) -> str:
    """``value`` as table text: None (or a non-finite float) as "—", a bool as yes/no, an integer
    with thousands separators (``10,000``), another number to three significant digits
    (``0.31``, ``0.0431``, ``3.2e-08``; from 1,000 up a rounded integer with separators);
    anything else as ``str(value)``."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            return MISSING
        if value == 0.0:
            return "0"
        if abs(value) >= 999.5:
            return f"{round(value):,}"
        return f"{value:.3g}"
    return str(value)


def format_interval(low: Any, high: Any) -> str:
    """``[low, high]`` through :func:`format_number`; "—" when both ends are missing."""
    if low is None and high is None:
        return MISSING
    return f"[{format_number(low)}, {format_number(high)}]"


def _format_value(value: Any) -> str:
    """A setting or input: numbers by :func:`format_number`, lists and dicts as JSON."""
    if isinstance(value, (list, tuple, Mapping)):
        return json.dumps(value, default=str)
    return format_number(value)


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, not a number, or not finite)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


_MARKDOWN_ACTIVE = re.compile(r"([\\`*<>|$~])")
# A bracket is markup only as a link's "](" or "][" or a definition's "]:", so the intervals'
# brackets stay as they are.
_MARKDOWN_LINK = re.compile(r"\](?=[(\[:])")
# GitHub reads no emphasis in an underscore between two letters or digits (native_country).
_MARKDOWN_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def _markdown_text(text: Any) -> str:
    """``text`` escaped for a markdown table cell or paragraph: backslashes before the characters
    markdown reads as markup (tables, HTML, code, emphasis, links, math, strikethrough), one
    line."""
    text = _MARKDOWN_ACTIVE.sub(r"\\\1", str(text))
    text = _MARKDOWN_LINK.sub(r"\\]", text)
    text = _MARKDOWN_UNDERSCORE.sub(r"\\_", text)
    return " ".join(text.splitlines())


def _html_text(text: Any) -> str:
    return html.escape(str(text), quote=True)


# -- the record --------------------------------------------------------------------------------


def _checked(record: Any) -> Mapping[str, Any]:
    """``record`` after checking the type of each section; :class:`DataError` naming the first
    section (and row) of the wrong type."""
    if not isinstance(record, Mapping):
        raise DataError(f"the risk record must be a mapping, got {type(record).__name__}")
    for key in _MAPPING_SECTIONS:
        value = record.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise DataError(
                f"the risk record's {key!r} must be a mapping or None, got {type(value).__name__}"
            )
    for key in _LIST_SECTIONS:
        value = record.get(key)
        if value is None:
            continue
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise DataError(
                f"the risk record's {key!r} must be a list of rows or None, "
                f"got {type(value).__name__}"
            )
        for index, row in enumerate(value):
            if not isinstance(row, Mapping):
                raise DataError(
                    f"row {index} of the risk record's {key!r} must be a mapping, "
                    f"got {type(row).__name__}"
                )
    notes = record.get("notes")
    if notes is not None and (isinstance(notes, (str, bytes)) or not isinstance(notes, Sequence)):
        raise DataError(f"the risk record's 'notes' must be a list or None, got {type(notes)}")
    return record


def _not_run(record: Mapping[str, Any], key: str) -> str | None:
    """Why section ``key`` is not shown ("not run: <reason>"), or None when it has content."""
    if record.get(key):
        return None
    reason = (record.get("skipped") or {}).get(key)
    if reason is None:
        reason = "not asked for" if record.get(key) is None else "no rows"
    return f"not run: {reason}"


def _title(record: Mapping[str, Any]) -> str:
    inputs = record.get("inputs") or {}
    target = inputs.get("samples") or inputs.get("model")
    return f"Risk report: {target}" if target else "Risk report"


def _byline(record: Mapping[str, Any]) -> str:
    tool = record.get("tool") or "diffshare check"
    parts = [str(tool)]
    if record.get("version") is not None:
        parts.append(str(record["version"]))
    text = " ".join(parts)
    return f"{text}, {record['created']}" if record.get("created") is not None else text


# -- tables, shared by both renderers ----------------------------------------------------------


@dataclass(frozen=True)
class _Badge:
    """A severity, drawn as a coloured badge in HTML and as its word in markdown."""

    severity: str


Cell = str | _Badge


@dataclass
class _Table:
    columns: list[str]
    rows: list[list[Cell]]
    #: Indices of the columns holding numbers (right-aligned).
    numeric: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class _Column:
    heading: str
    cell: Callable[[Mapping[str, Any]], Cell]
    numeric: bool = False
    #: Dropped from the table when every row lacks it.
    optional: bool = False


def _rows_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[_Column]) -> _Table:
    """One table row per record row; optional columns missing from every row are left out."""
    cells = [[column.cell(row) for column in columns] for row in rows]
    keep = [
        index
        for index, column in enumerate(columns)
        if not column.optional or any(line[index] != MISSING for line in cells)
    ]
    return _Table(
        columns=[columns[i].heading for i in keep],
        rows=[[line[i] for i in keep] for line in cells],
        numeric={position for position, i in enumerate(keep) if columns[i].numeric},
    )


def _key_value_table(pairs: Sequence[tuple[str, str]], headings: tuple[str, str]) -> _Table:
    return _Table(columns=list(headings), rows=[[k, v] for k, v in pairs], numeric=set())


def _number_of(key: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda row: format_number(row.get(key))


def _inputs_table(record: Mapping[str, Any]) -> _Table:
    inputs = record.get("inputs") or {}
    keys = [k for k in INPUT_ORDER if k in inputs] + [k for k in inputs if k not in INPUT_ORDER]
    return _key_value_table([(k, _format_value(inputs[k])) for k in keys], ("input", "value"))


def _summary_table(record: Mapping[str, Any]) -> _Table:
    columns = [
        _Column("risk", lambda row: str(row.get("risk", MISSING))),
        _Column("finding", lambda row: str(row.get("finding", MISSING))),
        _Column("severity", lambda row: _Badge(str(row.get("severity") or "info"))),
    ]
    return _rows_table(record.get("summary") or [], columns)


def _hoeffding(row: Mapping[str, Any]) -> str:
    eps = row.get("hoeffding_eps")
    return MISSING if eps is None else f"±{format_number(eps)}"


def _queries(row: Mapping[str, Any]) -> str:
    n, repeats = row.get("n_queries"), row.get("repeats")
    if repeats is None:
        return format_number(n)
    return f"{format_number(n)} × {format_number(repeats)}"


def _leakage_table(rows: Sequence[Mapping[str, Any]]) -> _Table:
    columns = [
        _Column("property", lambda row: str(row.get("property", MISSING))),
        _Column("attack", lambda row: str(row.get("attack", MISSING))),
        _Column("estimate", _number_of("estimate"), numeric=True),
        _Column("interval", lambda row: format_interval(row.get("ci_low"), row.get("ci_high"))),
        _Column("Hoeffding eps", _hoeffding, numeric=True),
        _Column("queries × repeats", _queries, numeric=True),
        _Column("true share", _number_of("true_share"), numeric=True, optional=True),
        _Column("abs error", _number_of("abs_error"), numeric=True, optional=True),
        _Column("aux share", _number_of("aux_share"), numeric=True, optional=True),
        _Column("TPR", _number_of("tpr"), numeric=True, optional=True),
        _Column("FPR", _number_of("fpr"), numeric=True, optional=True),
    ]
    return _rows_table(rows, columns)


def _audit_tables(audit: Mapping[str, Any]) -> tuple[_Table, _Table]:
    """The statistics (samples, interval, reference) and the tests (statistic, p-value)."""
    statistics = _Table(
        columns=["statistic", "samples", "interval", "reference"],
        rows=[
            [
                "I(S;Y), nats",
                format_number(audit.get("mi_sy")),
                format_interval(audit.get("mi_sy_ci_low"), audit.get("mi_sy_ci_high")),
                format_number(audit.get("mi_sy_reference")),
            ],
            [
                "demographic-parity gap P(y=1 | s=1) − P(y=1 | s=0)",
                format_number(audit.get("dp_gap")),
                format_interval(audit.get("dp_gap_ci_low"), audit.get("dp_gap_ci_high")),
                format_number(audit.get("dp_gap_reference")),
            ],
        ],
        numeric={1, 3},
    )
    accuracy = f"accuracy {format_number(audit.get('c2st_accuracy'))}"
    if audit.get("c2st_n_test") is not None:
        accuracy += f" on {format_number(audit['c2st_n_test'])} held-out rows"
    train_rows = format_number(audit.get("train_rows"))
    if audit.get("train_rows_assumed"):
        train_rows += ", assumed"
    shift = audit.get("distribution_shift")
    shift = MISSING if shift is None else ("yes" if shift else "no")
    tests = _Table(
        columns=["test", "statistic", "p-value", "outcome"],
        rows=[
            [
                "association (the verdict): the samples' |gap| exceeds the reference's by more "
                f"than an honest model's noise (one-sided; training rows {train_rows})",
                f"excess {format_number(audit.get('association_excess'))}, "
                f"se {format_number(audit.get('association_se'))}, "
                f"z = {format_number(audit.get('association_z'))}",
                format_number(audit.get("association_p_value")),
                "flagged" if audit.get("flagged") else "not flagged",
            ],
            [
                "distribution shift (not a verdict): classifier two-sample test",
                accuracy,
                format_number(audit.get("c2st_p_value")),
                f"shift: {shift}",
            ],
        ],
        numeric={2},
    )
    return statistics, tests


def _audit_sentences(record: Mapping[str, Any], audit: Mapping[str, Any]) -> tuple[str, str, str]:
    """What was audited, the verdict's word (FLAGGED, passed or undecided) and its reason."""
    label, sensitive = audit.get("label"), audit.get("sensitive")
    what = (
        f"Label {label if label is not None else MISSING}, sensitive attribute "
        f"{sensitive if sensitive is not None else MISSING}: "
        f"{format_number(audit.get('n_samples'))} samples against "
        f"{format_number(audit.get('n_reference'))} trusted reference rows."
    )
    level = (record.get("settings") or {}).get("level")
    at_level = f" at level {format_number(level)}" if level is not None else ""
    flagged = audit.get("flagged")
    if flagged is None:
        return what, "undecided", "the audit gave no verdict."
    if audit.get("train_rows_assumed"):
        assumed = format_number(audit.get("train_rows"))
        what += (
            f" The model's training rows were not given: assumed {assumed} (the smaller of the"
            " samples and the reference), which widens the test."
        )
    shift = audit.get("distribution_shift")
    if shift:
        shift_note = (
            " Separately, the two-sample test tells the samples from real rows (a distribution"
            " shift): every imperfect generator does that, so it is no sign of poisoning, only"
            " that the samples are not real rows."
        )
    else:
        shift_note = ""
    if flagged:
        return (
            what,
            "FLAGGED",
            (
                f"the one-sided association test rejects{at_level}: the samples' "
                "demographic-parity gap is larger than the trusted reference's by more than an "
                "honest model's sampling noise (the reference's, the samples' and its training "
                "rows'); a receiver should not train on them as they are." + shift_note
            ),
        )
    return (
        what,
        "passed",
        (
            f"the one-sided association test does not reject{at_level}; this is no proof of "
            "fairness, only no evidence of a raised gap at this reference's size." + shift_note
        ),
    )


def _closeness_table(closeness: Mapping[str, Any]) -> _Table:
    c = closeness
    pairs = [
        ("samples scored", format_number(c.get("n_samples_scored"))),
        ("training rows", format_number(c.get("n_training"))),
        ("holdout rows", format_number(c.get("n_holdout"))),
        (
            "share of samples closer to a training row than to a holdout row",
            f"{format_number(c.get('share_closer_to_training'))} "
            f"{format_interval(c.get('ci_low'), c.get('ci_high'))}",
        ),
        ("expected without memorisation", format_number(c.get("expected"))),
        ("p-value", format_number(c.get("p_value"))),
        (
            "median distance to the nearest training row",
            format_number(c.get("median_distance_training")),
        ),
        (
            "median distance to the nearest holdout row",
            format_number(c.get("median_distance_holdout")),
        ),
        ("exact copies of training rows", format_number(c.get("exact_copies"))),
    ]
    table = _key_value_table(pairs, ("quantity", "value"))
    table.numeric = {1}
    return table


def _closeness_sentence(closeness: Mapping[str, Any]) -> str:
    expected = closeness.get("expected")
    expected = format_number(0.5 if expected is None else expected)
    return (
        f"A share of {expected} means the samples are no closer to the sharer's training rows "
        "than to unseen (holdout) rows of the same data: the model did not memorise them. "
        f"Above {expected}, with a small p-value, samples sit nearer training rows than chance "
        "allows, and exact copies reveal training records outright."
    )


def _defenses_table(rows: Sequence[Mapping[str, Any]]) -> _Table:
    columns = [
        _Column("property", lambda row: str(row.get("property", MISSING))),
        _Column("defense", lambda row: str(row.get("defense", MISSING))),
        _Column("decoy", _number_of("decoy"), numeric=True, optional=True),
        _Column("estimate before", _number_of("estimate_before"), numeric=True),
        _Column("estimate after", _number_of("estimate_after"), numeric=True),
        _Column("cost", lambda row: format_number(row.get("cost"))),
        _Column("note", lambda row: format_number(row.get("note")), optional=True),
    ]
    return _rows_table(rows, columns)


def _settings_table(record: Mapping[str, Any]) -> _Table:
    settings = record.get("settings") or {}
    return _key_value_table(
        [(str(k), _format_value(v)) for k, v in settings.items()], ("setting", "value")
    )


def _extra_skipped(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Skipped steps that are not one of the page's sections (shown under the summary)."""
    skipped = record.get("skipped") or {}
    return [(str(k), str(v)) for k, v in skipped.items() if k not in RISK_SECTIONS]


# -- the leakage figure ------------------------------------------------------------------------


def _plain_label(text: Any) -> str:
    # A pair of $ in a label would be read as mathtext (income=>$50K|<=$50K).
    return str(text).replace("$", r"\$")


def leakage_figure(rows: Sequence[Mapping[str, Any]]) -> bytes | None:
    """PNG bytes of the leakage figure, or None when no row has an estimate.

    One line per property and attack, top to bottom in the rows' order: the estimate with its
    interval as horizontal error bars (coloured by attack), a grey band of the estimate ±
    Hoeffding's eps (where the private share lies with probability at least 1 - delta), and the
    true share as a black cross where it is known. Drawn with matplotlib's Agg canvas, without
    pyplot, so no global figure state or backend is touched.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    points = [row for row in rows if _number(row.get("estimate")) is not None]
    if not points:
        return None
    attacks = list(dict.fromkeys(str(row.get("attack")) for row in points))
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
    colour = {attack: palette[i % len(palette)] for i, attack in enumerate(attacks)}

    figure = Figure(figsize=(7.5, 1.3 + 0.36 * len(points)), layout="constrained")
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    seen: list[float] = [0.0, 1.0]
    has_band = has_truth = False
    for position, row in enumerate(points):
        estimate = _number(row["estimate"])
        eps = _number(row.get("hoeffding_eps"))
        if eps is not None:
            has_band = True
            axis.barh(position, 2 * eps, left=estimate - eps, height=0.7, color="grey", alpha=0.25)
            seen += [estimate - eps, estimate + eps]
        low, high = _number(row.get("ci_low")), _number(row.get("ci_high"))
        error = None
        if low is not None and high is not None:
            error = [[max(estimate - low, 0.0)], [max(high - estimate, 0.0)]]
            seen += [low, high]
        axis.errorbar(
            estimate,
            position,
            xerr=error,
            fmt="o",
            markersize=5,
            capsize=3,
            color=colour[str(row.get("attack"))],
            zorder=3,
        )
        truth = _number(row.get("true_share"))
        if truth is not None:
            has_truth = True
            # beneath the estimate, which it often overlaps
            axis.plot(
                truth,
                position,
                marker="x",
                color="black",
                markersize=8,
                markeredgewidth=1.5,
                zorder=1,
            )
            seen.append(truth)
        seen.append(estimate)
    axis.set_yticks(
        range(len(points)),
        [_plain_label(f"{row.get('property')} ({row.get('attack')})") for row in points],
    )
    axis.invert_yaxis()
    axis.set_xlim(min(seen) - 0.02, max(seen) + 0.02)
    axis.set_xlabel("estimated share of the sharer's training data")
    axis.grid(axis="x", alpha=0.3)
    handles: list[Any] = [
        Line2D([], [], marker="o", linestyle="", color=colour[a], label=_plain_label(a))
        for a in attacks
    ]
    if has_band:
        handles.append(Patch(color="grey", alpha=0.25, label="estimate ± Hoeffding eps"))
    if has_truth:
        handles.append(Line2D([], [], marker="x", linestyle="", color="black", label="true share"))
    axis.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


# -- HTML --------------------------------------------------------------------------------------

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
  max-width: 64rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #d0d7de; padding-bottom: 0.2rem;
  margin-top: 2rem; }
.byline { color: #59636e; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: left;
  vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; padding: 0.05rem 0.55rem; border-radius: 0.8rem; color: #fff;
  font-size: 0.8rem; font-weight: 600; text-transform: uppercase; letter-spacing: 0.03em; }
.badge.high { background: #cf222e; }
.badge.medium { background: #bc4c00; }
.badge.low { background: #1a7f37; }
.badge.info, .badge.unknown { background: #59636e; }
.not-run { color: #59636e; font-style: italic; }
.verdict { font-weight: 600; }
.verdict.flagged { color: #cf222e; }
.verdict.passed { color: #1a7f37; }
figure { margin: 0.8rem 0; }
figure img { max-width: 100%; height: auto; }
figcaption { color: #59636e; font-size: 0.88rem; }
details summary { cursor: pointer; color: #59636e; }
""".strip()


def _html_cell(cell: Cell) -> str:
    if isinstance(cell, _Badge):
        kind = cell.severity if cell.severity in SEVERITIES else "unknown"
        return f'<span class="badge {kind}">{_html_text(cell.severity)}</span>'
    return _html_text(cell)


def _html_table(table: _Table, css_class: str = "") -> str:
    attribute = f' class="{css_class}"' if css_class else ""
    head = "".join(f"<th>{_html_text(c)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        cells = "".join(
            f'<td class="num">{_html_cell(c)}</td>'
            if i in table.numeric
            else f"<td>{_html_cell(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table{attribute}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html_paragraph(text: str, css_class: str = "") -> str:
    attribute = f' class="{css_class}"' if css_class else ""
    return f"<p{attribute}>{_html_text(text)}</p>"


def _html_section(key: str, body: list[str]) -> str:
    return (
        f'<section id="{key}">\n<h2>{_html_text(HEADINGS[key])}</h2>\n'
        + "\n".join(body)
        + "\n</section>"
    )


def _html_risk_body(record: Mapping[str, Any], key: str) -> list[str]:
    reason = _not_run(record, key)
    if reason is not None:
        return [_html_paragraph(reason, "not-run")]
    data = record[key]
    if key == "leakage":
        body = [_html_table(_leakage_table(data))]
        png = leakage_figure(data)
        if png is not None:
            encoded = base64.b64encode(png).decode("ascii")
            body.append(
                "<figure>"
                f'<img src="data:image/png;base64,{encoded}" '
                'alt="estimated shares with their intervals, per property and attack">'
                "<figcaption>Each estimate with its interval (bars), the estimate ± Hoeffding's "
                "eps (grey band) and the true share where it is known (cross).</figcaption>"
                "</figure>"
            )
        return body
    if key == "audit":
        statistics, tests = _audit_tables(data)
        what, word, reason = _audit_sentences(record, data)
        return [
            _html_paragraph(what),
            f'<p><span class="verdict {word.lower()}">{_html_text(word)}</span>: '
            f"{_html_text(reason)}</p>",
            _html_table(statistics),
            _html_table(tests),
        ]
    if key == "closeness":
        return [_html_table(_closeness_table(data)), _html_paragraph(_closeness_sentence(data))]
    return [_html_table(_defenses_table(data))]


def render_html(record: Mapping[str, Any]) -> str:
    """The record as one self-contained HTML page (UTF-8 text): the title with the inputs, the
    summary with severity badges, one section per risk (or why it did not run), the notes, and
    the settings folded in a ``<details>``. Raises :class:`DataError` naming a section of the
    wrong type."""
    record = _checked(record)
    title = _title(record)
    summary_body = [
        _html_table(_summary_table(record))
        if record.get("summary")
        else _html_paragraph("no findings", "not-run")
    ]
    extra = _extra_skipped(record)
    if extra:
        summary_body.append(
            '<p class="not-run">Also not run: '
            + "; ".join(f"{_html_text(k)}: {_html_text(v)}" for k, v in extra)
            + "</p>"
        )
    sections = [_html_section("summary", summary_body)]
    sections += [_html_section(key, _html_risk_body(record, key)) for key in RISK_SECTIONS]
    notes = record.get("notes") or []
    if notes:
        items = "".join(f"<li>{_html_text(note)}</li>" for note in notes)
        sections.append(_html_section("notes", [f"<ul>{items}</ul>"]))
    settings = _settings_table(record)
    sections.append(
        _html_section(
            "settings",
            [
                f"<details><summary>{len(settings.rows)} settings of this check</summary>"
                f"{_html_table(settings)}</details>"
            ],
        )
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_html_text(title)}</title>",
            f"<style>\n{_CSS}\n</style>",
            "</head>",
            "<body>",
            "<header>",
            f"<h1>{_html_text(title)}</h1>",
            _html_paragraph(_byline(record), "byline"),
            _html_table(_inputs_table(record), "inputs"),
            "</header>",
            *sections,
            "</body>",
            "</html>",
            "",
        ]
    )


# -- markdown ----------------------------------------------------------------------------------


def _markdown_cell(cell: Cell) -> str:
    if isinstance(cell, _Badge):
        word = _markdown_text(cell.severity)
        return f"**{word}**" if cell.severity == "high" else word
    return _markdown_text(cell)


def _markdown_table(table: _Table) -> str:
    lines = [
        "| " + " | ".join(_markdown_text(c) for c in table.columns) + " |",
        "| "
        + " | ".join("---:" if i in table.numeric else "---" for i in range(len(table.columns)))
        + " |",
    ]
    lines += ["| " + " | ".join(_markdown_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def _markdown_risk_body(record: Mapping[str, Any], key: str) -> list[str]:
    reason = _not_run(record, key)
    if reason is not None:
        return [f"_{_markdown_text(reason)}_"]
    data = record[key]
    if key == "leakage":
        return [_markdown_table(_leakage_table(data))]
    if key == "audit":
        statistics, tests = _audit_tables(data)
        what, word, reason = _audit_sentences(record, data)
        return [
            _markdown_text(what),
            f"**{_markdown_text(word)}**: {_markdown_text(reason)}",
            _markdown_table(statistics),
            _markdown_table(tests),
        ]
    if key == "closeness":
        return [_markdown_table(_closeness_table(data)), _markdown_text(_closeness_sentence(data))]
    return [_markdown_table(_defenses_table(data))]


def render_markdown(record: Mapping[str, Any]) -> str:
    """The record as GitHub markdown: the same headings and tables as :func:`render_html`,
    without the figure. Raises :class:`DataError` naming a section of the wrong type."""
    record = _checked(record)
    blocks = [
        f"# {_markdown_text(_title(record))}",
        _markdown_text(_byline(record)),
        _markdown_table(_inputs_table(record)),
        f"## {HEADINGS['summary']}",
        _markdown_table(_summary_table(record)) if record.get("summary") else "_no findings_",
    ]
    extra = _extra_skipped(record)
    if extra:
        blocks.append(
            "_Also not run: "
            + "; ".join(f"{_markdown_text(k)}: {_markdown_text(v)}" for k, v in extra)
            + "_"
        )
    for key in RISK_SECTIONS:
        blocks.append(f"## {HEADINGS[key]}")
        blocks += _markdown_risk_body(record, key)
    notes = record.get("notes") or []
    if notes:
        blocks.append(f"## {HEADINGS['notes']}")
        blocks.append("\n".join(f"- {_markdown_text(note)}" for note in notes))
    blocks.append(f"## {HEADINGS['settings']}")
    blocks.append(_markdown_table(_settings_table(record)))
    return "\n\n".join(blocks) + "\n"


# -- files -------------------------------------------------------------------------------------


def write_report(
    record: Mapping[str, Any],
    html_path: str | os.PathLike | None = None,
    json_path: str | os.PathLike | None = None,
    *,
    markdown_path: str | os.PathLike | None = None,
) -> None:
    """Write the record's HTML page, its JSON and/or its markdown, each atomically (a temporary
    file renamed into place, :func:`diffshare.storage.atomic_path`).

    Everything is rendered before any file is touched, and the JSON (which refuses NaN and
    values JSON cannot hold) is written before the page, so a record that fails to render or to
    serialise leaves no file behind, not even a partial one. A path that is None is not written.
    """
    page = render_html(record) if html_path is not None else None
    text = render_markdown(record) if markdown_path is not None else None
    if json_path is not None:
        write_json(dict(record), json_path)
    for path, content in ((html_path, page), (markdown_path, text)):
        if path is not None and content is not None:
            with atomic_path(path) as tmp:
                tmp.write_text(content, encoding="utf-8")
