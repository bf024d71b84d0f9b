"""`python -m tests.support.faulty_fsync serve …`: `pounce` for tests of a failed fsync.

- Once the file named by POUNCE_TEST_FAIL_FSYNC exists, the next `os.fdatasync` fails
  with EIO and removes it (the fsyncs after it succeed again, as they may after a real
  write-back error).
- While the file named by POUNCE_TEST_HOLD_STOP exists, the stop that follows the
  failure (`pounce.app.store_failed`) waits, so a test can look at the failed server.

Test servers only: nothing in `pounce` itself can fail an fsync on purpose.
"""

from __future__ import annotations

import asyncio
import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pounce import app, cli


def _failing_once(real: Callable[[int], None], trigger: Path) -> Callable[[int], None]:
    def fdatasync(fd: int) -> None:
        try:
            trigger.unlink()
        except FileNotFoundError:
            real(fd)
            return
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    return fdatasync


def _held(real: Callable[..., None], hold: Path) -> Callable[..., None]:
    def store_failed(*args: Any) -> None:
        loop = asyncio.get_running_loop()

        def later() -> None:
            if hold.exists():
                loop.call_later(0.05, later)
            else:
                real(*args)

        later()

    return store_failed


def main(argv: list[str]) -> int:
    os.fdatasync = _failing_once(os.fdatasync, Path(os.environ["POUNCE_TEST_FAIL_FSYNC"]))
    if hold := os.environ.get("POUNCE_TEST_HOLD_STOP"):
        app.store_failed = _held(app.store_failed, Path(hold))  # type: ignore[assignment]
    return cli.main(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
