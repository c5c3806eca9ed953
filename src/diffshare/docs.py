"""``python -m diffshare.docs``: the documentation's generated pages, written or checked, and
recorded runs kept for them. A command, like :mod:`diffshare.cli`, over the library: it reads
the CLI's own parser for its reference page, which the reporting modules below it never import.

- ``python -m diffshare.docs [render]`` writes every page of :func:`diffshare.reporting.site.pages`
  (the configuration and command-line reference, the results and performance pages, the
  README's headline table); ``render --check`` writes nothing and exits 1 naming every page that
  differs from what it would write (the tests make the same comparison);
- ``python -m diffshare.docs record NAME ...`` keeps a run's tables, figures, job times,
  settings, commit and machine under ``docs/recorded/NAME/``
  (:func:`diffshare.reporting.recorded.record_run`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from diffshare.cli import build_parser
from diffshare.reporting.recorded import record_run
from diffshare.reporting.site import pages


def _render(args: argparse.Namespace) -> int:
    stale = []
    for path, text in pages(args.root, build_parser()).items():
        current = path.read_text() if path.is_file() else None
        if current == text:
            continue
        stale.append(path.relative_to(args.root).as_posix())
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    verb = "differ from their sources" if args.check else "written"
    if stale:
        print(f"{len(stale)} generated page(s) {verb}: " + ", ".join(stale), file=sys.stderr)
    return 1 if stale and args.check else 0


def _record(args: argparse.Namespace) -> int:
    run = {
        "title": args.title,
        "dataset": args.dataset,
        "command": args.command,
        "configfiles": args.configfile,
    }
    if args.wall_seconds is not None:
        run["wall_seconds"] = args.wall_seconds
    if args.jobs is not None:
        run["jobs"] = args.jobs
    if args.summary:
        run["summary"] = args.summary
    if args.commit:
        run["commit"] = args.commit
    folder = args.root / "docs/recorded" / args.name
    written = record_run(args.results, folder, run, args.root)
    print(f"{folder}: " + ", ".join(written), file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m diffshare.docs",
        description="Write the generated documentation pages (reference, results, "
        "performance, the README's headline table) from their sources, or record a run's "
        "tables for them.",
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository")
    commands = parser.add_subparsers(dest="action", metavar="ACTION")
    render = commands.add_parser("render", help="write the generated pages (the default)")
    render.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a page would change"
    )
    record = commands.add_parser(
        "record", help="keep a run's tables and figures under docs/recorded/NAME"
    )
    record.add_argument("name", help="the folder under docs/recorded/ (and the page's name)")
    record.add_argument("--results", type=Path, default=Path("results"))
    record.add_argument("--dataset", required=True)
    record.add_argument("--title", required=True, help="the results page's title")
    record.add_argument("--command", required=True, help="the command that built the tables")
    record.add_argument("--configfile", nargs="*", default=[], help="its --configfile files")
    record.add_argument("--wall-seconds", type=float, help="its measured wall time")
    record.add_argument("--jobs", type=int, help="how many jobs it ran")
    record.add_argument("--summary", help="a sentence under the page's title")
    record.add_argument(
        "--commit", help="the commit the run's code was at (default: this clean checkout's)"
    )
    args = parser.parse_args(argv)
    if args.action == "record":
        return _record(args)
    if args.action is None:
        args.check = False
    return _render(args)


if __name__ == "__main__":
    sys.exit(main())
