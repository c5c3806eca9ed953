"""Logging for workflow jobs: what a job logs, and its traceback if it fails, goes to its log."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def log_to(path: str | os.PathLike | None, level: int = logging.INFO) -> Iterator[logging.Logger]:
    """Send the ``diffshare`` logger (and warnings) to ``path`` for the duration of the block.

    An exception raised inside the block is logged with its traceback and re-raised, so the job's
    log says why it failed.
    """
    handler: logging.Handler
    if path is None:
        handler = logging.StreamHandler(sys.stderr)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter(FORMAT))
    logger = logging.getLogger("diffshare")
    logger.addHandler(handler)
    logger.setLevel(level)
    logging.captureWarnings(True)
    warnings_logger = logging.getLogger("py.warnings")
    warnings_logger.addHandler(handler)
    try:
        yield logger
    except BaseException:
        logger.exception("job failed")
        raise
    finally:
        logger.removeHandler(handler)
        warnings_logger.removeHandler(handler)
        logging.captureWarnings(False)
        handler.close()
