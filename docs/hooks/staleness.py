"""MkDocs hook: say on each results page whether the code changed since its recorded run.

A generated results page holds ``<!-- staleness: COMMIT -->`` (``python -m diffshare.docs``);
at build time this replaces it with a note listing the files under ``src/`` and ``workflow/``
that differ between that commit and the checkout being built (uncommitted edits included), or
saying that none do, or that git could not tell (no git, or a clone without that commit).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

MARKER = re.compile(r"<!-- staleness: ([0-9a-f]{7,40}) -->")
WATCHED = ("src", "workflow")


def changed_files(root: Path, commit: str) -> list[str] | None:
    """Paths under :data:`WATCHED` that differ from ``commit``; None when git cannot tell."""
    try:
        result = subprocess.run(
            ["git", "diff", "--name-only", commit, "--", *WATCHED],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode:
        return None
    return [line for line in result.stdout.splitlines() if line]


def note(root: Path, commit: str) -> str:
    files = changed_files(root, commit)
    if files is None:
        return (
            f'!!! warning "Not checked"\n    Whether `src/` or `workflow/` changed since commit '
            f"`{commit}` could not be checked where this site was built (no git history)."
        )
    if not files:
        return (
            f'!!! success "Current"\n    No file under `src/` or `workflow/` changed since commit '
            f"`{commit}`: the figures are those of the code this site was built from."
        )
    listed = "\n".join(f"        - `{f}`" for f in files)
    return (
        f'!!! warning "The code changed since this run"\n    {len(files)} file(s) under `src/` or '
        f"`workflow/` changed since commit `{commit}`, so a rerun may give other figures.\n\n"
        f'    ??? note "The files"\n{listed}'
    )


def on_page_markdown(markdown, page, config, files):
    root = Path(config.config_file_path).parent
    return MARKER.sub(lambda match: note(root, match.group(1)), markdown)
