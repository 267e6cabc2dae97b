"""Is the clock synchronised? Read from systemd (``timedatectl show``) or timesyncd's flag file."""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")


@dataclass(frozen=True, slots=True)
class TimeSync:
    state: str
    """``synchronized``, ``not synchronized`` or ``unknown``."""
    source: str
    """Where the answer came from."""


def read_time_sync(flag_file: Path = _TIMESYNCD_FLAG, *, use_timedatectl: bool = True) -> TimeSync:
    timedatectl = shutil.which("timedatectl") if use_timedatectl else None
    if timedatectl is not None:
        try:
            out = subprocess.run(  # noqa: S603 - a fixed argv, no shell
                [timedatectl, "show", "--property=NTPSynchronized", "--value"],
                capture_output=True,
                text=True,
                timeout=2,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.debug("timedatectl failed: %s", exc)
        else:
            value = out.stdout.strip()
            if out.returncode == 0 and value in ("yes", "no"):
                state = "synchronized" if value == "yes" else "not synchronized"
                return TimeSync(state, "timedatectl")
    if flag_file.exists():
        return TimeSync("synchronized", str(flag_file))
    return TimeSync("unknown", "no timedatectl answer and no timesyncd flag")
