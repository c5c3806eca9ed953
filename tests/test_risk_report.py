"""The report of ``diffshare check``: a risk record rendered as one self-contained HTML page and as
GitHub markdown, and written with its JSON atomically."""

import base64
import copy
import json
import re

import pytest

from diffshare.errors import DataError
from diffshare.reporting.risk_report import (
    HEADINGS,
    RISK_SECTIONS,
    format_interval,
    format_number,
    render_html,
    render_markdown,
    write_report,
)

LEAKAGE = [
    {
        "property": "sex=Female",
        "attack": "column",
        "estimate": 0.31,
        "ci_low": 0.29,
        "ci_high": 0.33,
        "hoeffding_eps": 0.043,
        "n_queries": 1000,
        "repeats": 10,
        "true_share": 0.3,
        "abs_error": 0.01,
        "aux_share": None,
        "tpr": None,
        "fpr": None,
    },
    {
        "property": "sex=Female",
        "attack": "aux_corrected",
        "estimate": 0.35,
        "ci_low": 0.3,
        "ci_high": 0.4,
        "hoeffding_eps": 0.043,
        "n_queries": 1000,
        "repeats": 10,
        "true_share": 0.3,
        "abs_error": 0.05,
        "aux_share": 0.33,
        "tpr": 0.9,
        "fpr": 0.1,
    },
]


def full_record() -> dict:
    """A record with every section, as ``diffshare check`` builds it."""
    return {
        "tool": "diffshare check",
        "version": "0.1.0",
        "created": "2026-12-05T02:00:00+00:00",
        "inputs": {
            "samples": "out/samples.parquet",
            "model": None,
            "family": "tabddpm",
            "n_samples": 10000,
            "modality": "table",
            "reference": "data/reference.parquet",
            "aux": "data/aux.parquet",
            "training": "data/train.parquet",
            "holdout": "data/holdout.parquet",
        },
        "settings": {"queries": 1000, "repeats": 10, "seed": 0, "classifier": "hgb", "level": 0.05},
        "summary": [
            {
                "risk": "property leakage",
                "finding": "sex=Female: share 0.31 [0.29, 0.33] (column attack)",
                "severity": "high",
            },
            {"risk": "fairness", "finding": "audit passed", "severity": "low"},
            {"risk": "record closeness", "finding": "3 exact copies", "severity": "medium"},
        ],
        "leakage": copy.deepcopy(LEAKAGE),
        "audit": {
            "n_samples": 10000,
            "n_reference": 500,
            "train_rows": 6000,
            "train_rows_assumed": False,
            "mi_sy": 0.0123,
            "mi_sy_ci_low": 0.01,
            "mi_sy_ci_high": 0.015,
            "mi_sy_reference": 0.011,
            "dp_gap": 0.19,
            "dp_gap_ci_low": 0.17,
            "dp_gap_ci_high": 0.21,
            "dp_gap_reference": 0.18,
            "association_excess": 0.01,
            "association_se": 0.024,
            "association_z": 0.42,
            "association_p_value": 0.34,
            "c2st_accuracy": 0.52,
            "c2st_n_test": 500,
            "c2st_p_value": 0.19,
            "distribution_shift": False,
            "flagged": False,
            "label": "income",
            "sensitive": "sex",
        },
        "closeness": {
            "n_samples_scored": 2000,
            "n_training": 5000,
            "n_holdout": 5000,
            "share_closer_to_training": 0.53,
            "ci_low": 0.51,
            "ci_high": 0.55,
            "expected": 0.5,
            "p_value": 0.01,
            "median_distance_training": 0.8,
            "median_distance_holdout": 0.85,
            "exact_copies": 3,
        },
        "defenses": [
            {
                "property": "sex=Female",
                "defense": "decoy_sampling",
                "decoy": 0.5,
                "estimate_before": 0.31,
                "estimate_after": 0.5,
                "cost": "draws 1.6 rows per served row",
                "note": "the receiver sees the decoy share",
            }
        ],
        "skipped": {},
        "notes": ["the leakage interval is sampling noise only"],
    }


def leakage_only_record() -> dict:
    record = full_record()
    for key in ("audit", "closeness", "defenses", "notes"):
        del record[key]
    record["skipped"] = {
        "audit": "no --reference given",
        "closeness": "no --training/--holdout given",
    }
    return record


def markdown_tables(text: str) -> list[list[str]]:
    """The markdown's tables, each as its lines."""
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def test_numbers_print_to_three_significant_digits_and_none_as_a_dash():
    assert format_number(None) == "—"
    assert format_number(0.31) == "0.31"
    assert format_number(0.043219) == "0.0432"
    assert format_number(3.2e-8) == "3.2e-08"
    assert format_number(12345.6) == "12,346"
    assert format_number(10000) == "10,000"
    assert format_number(True) == "yes"
    assert format_number(float("nan")) == "—"
    assert format_interval(0.29, 0.33) == "[0.29, 0.33]"
    assert format_interval(None, None) == "—"


def test_a_full_record_renders_every_section_with_a_figure_and_no_external_url():
    page = render_html(full_record())
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for heading in HEADINGS.values():
        assert f"<h2>{heading}</h2>" in page
    assert "not run" not in page
    match = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert match and base64.b64decode(match.group(1)).startswith(b"\x89PNG\r\n\x1a\n")
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page
    assert '<span class="badge high">high</span>' in page
    assert '<span class="badge medium">medium</span>' in page
    assert "passed" in page and "FLAGGED" not in page
    assert "<details>" in page
    # what 0.5 means for closeness is said in words
    assert "no closer to the sharer&#x27;s training rows than to unseen" in page


def test_a_flagged_audit_says_so():
    record = full_record()
    record["audit"]["flagged"] = True
    assert '<span class="verdict flagged">FLAGGED</span>' in render_html(record)
    assert "**FLAGGED**" in render_markdown(record)


def test_a_distribution_shift_is_shown_apart_from_the_verdict():
    record = full_record()
    record["audit"].update(distribution_shift=True, train_rows=500, train_rows_assumed=True)
    text = render_markdown(record)
    assert "**passed**" in text and "no sign of poisoning" in text
    assert "distribution shift (not a verdict)" in text and "shift: yes" in text
    assert "training rows 500, assumed" in text and "assumed 500" in text


def test_the_markdown_has_the_same_sections_as_tables():
    text = render_markdown(full_record())
    for heading in HEADINGS.values():
        assert f"\n## {heading}\n" in text
    tables = markdown_tables(text)
    # inputs, summary, leakage, audit statistics and tests, closeness, defenses, settings
    assert len(tables) == 8
    summary = tables[1]
    assert summary[0] == "| risk | finding | severity |"
    assert summary[1] == "| --- | --- | --- |"
    assert "**high**" in summary[2]
    leakage = tables[2]
    assert leakage[0].startswith("| property | attack | estimate | interval |")
    assert "| sex=Female | column | 0.31 | [0.29, 0.33] | ±0.043 | 1,000 × 10 |" in leakage[2]
    assert all(line.count("|") == leakage[0].count("|") for line in leakage)
    assert "data:image" not in text and "<img" not in text


def test_a_record_with_only_leakage_shows_why_the_rest_did_not_run():
    record = leakage_only_record()
    page = render_html(record)
    assert "not run: no --reference given" in page
    assert "not run: no --training/--holdout given" in page
    assert "not run: not asked for" in page  # defenses: absent, no reason given
    assert "<h2>Notes</h2>" not in page
    for heading in RISK_SECTIONS.values():
        assert f"<h2>{heading}</h2>" in page
    text = render_markdown(record)
    assert "_not run: no --reference given_" in text
    assert "_not run: no --training/--holdout given_" in text


def test_a_section_set_to_none_counts_as_not_asked_for():
    record = full_record()
    record["leakage"] = None
    record["skipped"] = {"leakage": "no --aux given", "model_card": "no card found"}
    page = render_html(record)
    assert "not run: no --aux given" in page
    assert "data:image/png" not in page
    assert "model_card: no card found" in page  # a skipped step that is not a section


def test_columns_no_row_fills_are_left_out():
    record = leakage_only_record()
    record["leakage"] = [
        {**LEAKAGE[0], "true_share": None, "abs_error": None}
    ]  # the receiver's view: no true share
    text = render_markdown(record)
    assert "true share" not in text and "TPR" not in text
    assert "true share" in render_markdown(full_record())


def test_every_string_from_the_record_is_escaped():
    record = full_record()
    record["inputs"]["samples"] = "out/<script>alert(1)</script>.parquet"
    record["leakage"][0]["property"] = 'race="<b>"&co'
    record["notes"] = ["</ul><script>x</script>"]
    record["summary"][0]["severity"] = '"><script>'
    page = render_html(record)
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "race=&quot;&lt;b&gt;&quot;&amp;co" in page
    assert '<span class="badge unknown">&quot;&gt;&lt;script&gt;</span>' in page
    record["summary"][1]["finding"] = "[click](javascript:alert(1))"
    text = render_markdown(record)
    assert "<script>" not in text and r"\<script\>" in text
    assert r"[click\](javascript:alert(1))" in text  # no link


def test_markdown_cells_keep_a_pipe_or_dollar_in_a_value_from_breaking_the_table():
    record = leakage_only_record()
    record["leakage"][0]["property"] = "income=>$50K|<=$50K"
    leakage = markdown_tables(render_markdown(record))[2]
    assert r"income=\>\$50K\|\<=\$50K" in leakage[2]
    assert "native_country" in render_markdown({**record, "settings": {"column": "native_country"}})
    # the figure's labels take a $ literally (a pair would be read as mathtext)
    assert "data:image/png;base64," in render_html(record)


def test_missing_values_print_as_a_dash():
    record = full_record()
    record["audit"]["mi_sy_reference"] = None
    record["audit"]["c2st_p_value"] = None
    record["closeness"]["p_value"] = None
    record["inputs"]["model"] = None
    page = render_html(record)
    assert "<td>model</td><td>—</td>" in page
    assert '<td>p-value</td><td class="num">—</td>' in page
    assert "None" not in page and "nan" not in page.lower()
    text = render_markdown(record)
    assert "| model | — |" in text and "None" not in text


def test_write_report_writes_the_page_and_the_json(tmp_path):
    record = full_record()
    html_path, json_path = tmp_path / "out/report.html", tmp_path / "out/record.json"
    markdown_path = tmp_path / "out/report.md"
    write_report(record, html_path=html_path, json_path=json_path, markdown_path=markdown_path)
    assert html_path.read_text(encoding="utf-8") == render_html(record)
    assert json.loads(json_path.read_text()) == record
    assert markdown_path.read_text(encoding="utf-8") == render_markdown(record)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "record.json",
        "report.html",
        "report.md",
    ]


@pytest.mark.parametrize(
    "broken",
    [
        {"leakage": "sex=Female 0.31"},  # not a list of rows
        {"audit": [0.1, 0.2]},  # not a mapping
        {"closeness": {"p_value": float("nan")}},  # renders, but JSON refuses NaN
    ],
    ids=["leakage-not-rows", "audit-not-mapping", "nan-in-json"],
)
def test_a_record_that_fails_leaves_no_file_behind(tmp_path, broken):
    record = {**full_record(), **broken}
    (tmp_path / "old.html").write_text("the previous report")
    with pytest.raises((DataError, ValueError)):
        write_report(record, html_path=tmp_path / "old.html", json_path=tmp_path / "record.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.html"]
    assert (tmp_path / "old.html").read_text() == "the previous report"


def test_a_malformed_section_is_refused_with_its_name():
    with pytest.raises(DataError, match="'defenses'"):
        render_markdown({**full_record(), "defenses": [{"property": "x"}, "oops"]})
    with pytest.raises(DataError, match="mapping"):
        render_html(["not", "a", "record"])
