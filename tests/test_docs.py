"""The documentation: the generated pages match their sources, the site builds strictly, the
README stays short, and a results page says when the code moved on since its run."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from diffshare.cli import build_parser
from diffshare.errors import DataError
from diffshare.reporting import recorded, site

REPO = Path(__file__).resolve().parents[1]


def _hook():
    spec = importlib.util.spec_from_file_location("staleness", REPO / "docs/hooks/staleness.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_pages_match_their_sources():
    """Every generated page (reference, results, performance, the README's headline table) is
    what `python -m diffshare.reporting.site` writes from the recorded tables today."""
    stale = [
        path.relative_to(REPO).as_posix()
        for path, text in site.pages(REPO, build_parser()).items()
        if not path.is_file() or path.read_text() != text
    ]
    assert not stale, f"run `python -m diffshare.reporting.site` to rewrite: {stale}"


def test_site_builds_strictly(tmp_path):
    """`mkdocs build --strict`: no broken link or anchor, no page left out of the nav."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    built = (tmp_path / "results/adult/index.html").read_text()
    assert "staleness:" not in built  # the hook replaced the marker with its note


def test_readme_is_short_and_its_headline_is_generated():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    body = readme.split(site.HEADLINE[0])[1].split(site.HEADLINE[1])[0]
    assert "| finding | scopes | holds | fails | inconclusive |" in body
    # CI runs the README's test command verbatim (.ci/run); both must keep the same line.
    command = 'pip install -e ".[test]" && python -m pytest -n 2'
    assert command in readme
    assert command in (REPO / ".ci/run").read_text()


def test_cli_reference_names_every_option():
    page = site.cli_page(build_parser())
    commands = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices)
    for name, sub in commands.choices.items():
        assert f"## `diffshare {name}`" in page
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for option in action.option_strings:
                assert f"`{option}`" in page, (name, option)


def test_a_recorded_run_must_say_where_it_ran(tmp_path):
    (tmp_path / "run.json").write_text('{"title": "t", "dataset": "adult", "command": "c"}')
    with pytest.raises(DataError, match="commit"):
        recorded.read_run(tmp_path)


def test_headline_block_must_be_there_once():
    with pytest.raises(DataError, match="headline:start"):
        site.replace_block("no markers here", "table")
    text = f"a\n{site.HEADLINE[0]}\nold\n{site.HEADLINE[1]}\nb\n"
    assert site.replace_block(text, "new") == f"a\n{site.HEADLINE[0]}\nnew\n{site.HEADLINE[1]}\nb\n"


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
    }
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    result = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_staleness_note_lists_the_code_changed_since_the_run(tmp_path):
    hook = _hook()
    _git(tmp_path, "init", "-q")
    (tmp_path / "src").mkdir()
    (tmp_path / "src/model.py").write_text("steps = 1\n")
    (tmp_path / "notes.md").write_text("x\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "run")
    commit = _git(tmp_path, "rev-parse", "HEAD")
    assert "Current" in hook.note(tmp_path, commit)
    (tmp_path / "notes.md").write_text("y\n")  # outside src/ and workflow/: still current
    assert "Current" in hook.note(tmp_path, commit)
    (tmp_path / "src/model.py").write_text("steps = 2\n")  # uncommitted edits count
    stale = hook.note(tmp_path, commit)
    assert "changed since" in stale and "`src/model.py`" in stale
    assert "Not checked" in hook.note(tmp_path, "0" * 40)  # a commit this clone lacks
    page = f"# run\n\n<!-- staleness: {commit} -->\n"
    config = type("Config", (), {"config_file_path": str(tmp_path / "mkdocs.yml")})()
    assert "src/model.py" in hook.on_page_markdown(page, None, config, None)


def _recorded_run(results: Path) -> None:
    (results / "claims").mkdir(parents=True)
    (results / "claims/adult.csv").write_text("claim,verdict\nx,holds\n")
    (results / "fpa").mkdir()
    (results / "fpa/adult.png").write_bytes(b"\x89PNG")
    for family, seconds in (("ctgan", 200.0), ("ctgan", 300.0), ("tabddpm", 50.0)):
        folder = results / f"benchmarks/train_generator/adult/{family}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"ratio~0.{len(list(folder.iterdir())) + 1}.tsv"
        (folder / name).write_text(f"s\th:m:s\tmax_rss\tcpu_time\n{seconds}\t0\t100\t{seconds}\n")


def test_record_run_keeps_the_tables_settings_commit_and_machine(tmp_path):
    _recorded_run(tmp_path / "results")
    folder = tmp_path / "docs/recorded/adult"
    run = {"title": "T", "dataset": "adult", "command": "snakemake ...", "commit": "abc1234"}
    run["configfiles"] = ["config/paper.yaml"]
    written = recorded.record_run(tmp_path / "results", folder, run, REPO)
    assert set(written) == {"claims_adult.csv", "fpa_adult.png", "benchmarks.csv", "paper.yaml"} | {
        "run.json"
    }
    kept = recorded.read_run(folder)
    assert kept["commit"] == "abc1234" and kept["machine"]["cores"]
    # The performance page sums the jobs' seconds by rule, and the shared models' by family.
    (tmp_path / "workflow/schemas").mkdir(parents=True)
    page = site.performance_page(tmp_path)
    assert "| `train_generator` | 3 | 550 |" in page
    assert "| `train_generator` | ctgan | 2 | 500 | 250.0 | 300.0 |" in page


def test_record_run_refuses_a_run_it_cannot_place(tmp_path):
    run = {"title": "T", "dataset": "adult", "command": "c", "configfiles": []}
    with pytest.raises(DataError, match="holds none of the tables"):
        recorded.record_run(tmp_path, tmp_path / "out", run, REPO)
    with pytest.raises(DataError, match="lacks"):
        recorded.record_run(tmp_path, tmp_path / "out", {"title": "T"}, REPO)
