"""The systemd notify protocol (``sd_notify(3)``), spoken natively.

A service with ``Type=notify`` tells systemd it is ready, feeds the watchdog and publishes a status line by
sending ``KEY=VALUE`` lines in one datagram to the AF_UNIX socket named by ``$NOTIFY_SOCKET``. The
protocol is small enough that a dependency on python-systemd (and its C library) is not worth it.

Outside systemd (no ``$NOTIFY_SOCKET``) every method is a no-op, so callers never need to check. Sending
never raises: a node must not crash because PID 1 was slow to read a datagram. Failures are logged at
debug level and counted in ``send_failures``.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from collections.abc import Mapping

log = logging.getLogger(__name__)

# A datagram is dropped rather than blocking the caller (often the health loop) for longer than this.
_SEND_TIMEOUT_S = 1.0
_MAX_STATUS_CHARS = 1000

# Field names as systemd defines them: upper-case letters, digits and '_'. Anything else would be ignored
# by systemd at best, so it is a programming error and raises.
_FIELD_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_UNSAFE_IN_VALUE = re.compile(r"[\r\n\0]+")


def _socket_address(raw: str) -> str | None:
    """The address to ``sendto``, or None when this implementation cannot reach it."""
    if raw.startswith("@"):
        # Abstract namespace: systemd writes the leading NUL byte as '@' in the environment.
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    # e.g. "vsock:..." (systemd 254+, for VMs); a node never runs in one, so this stays unsupported.
    return None


def _field_value(value: str | int) -> str:
    if isinstance(value, bool):
        # systemd parses booleans in READY= etc. as "1"; Python would write "True".
        return "1" if value else "0"
    # A newline inside a value would start a new KEY=VALUE assignment (status text must not be able to
    # inject READY=1 or WATCHDOG=trigger), and systemd drops a whole datagram that contains a NUL byte.
    return _UNSAFE_IN_VALUE.sub(" ", str(value))


class SystemdNotifier:
    """Sends notifications to systemd; reads ``$NOTIFY_SOCKET`` and the watchdog settings once, here.

    ``environ`` defaults to ``os.environ``; tests pass their own mapping.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        self._address = _socket_address(raw) if raw else None
        if raw and self._address is None:
            log.warning(
                "NOTIFY_SOCKET=%r is not a path or abstract socket; systemd notifications are off", raw
            )
        self._watchdog_interval_s = _watchdog_interval_s(env)
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._send_failures = 0
        self._sent = 0

    @property
    def enabled(self) -> bool:
        """True when running under systemd with a notify socket this class can reach."""
        return self._address is not None

    @property
    def send_failures(self) -> int:
        """Datagrams that could not be sent."""
        return self._send_failures

    @property
    def sent(self) -> int:
        """Datagrams sent."""
        return self._sent

    def watchdog_interval_s(self) -> float | None:
        """The watchdog timeout systemd enforces (``WatchdogSec=``), or None when there is no watchdog.

        Feed the watchdog at half this interval or more often, as ``sd_watchdog_enabled(3)`` advises.
        """
        return self._watchdog_interval_s

    def ready(self) -> bool:
        """Start-up is complete (``READY=1``); ``systemctl start`` returns."""
        return self.notify(READY=1)

    def watchdog(self) -> bool:
        """Feed the watchdog (``WATCHDOG=1``)."""
        return self.notify(WATCHDOG=1)

    def status(self, text: str) -> bool:
        """Set the one-line status shown by ``systemctl status``. Long text is cut short."""
        # systemd discards, not truncates, a datagram longer than its 4 KiB buffer.
        return self.notify(STATUS=text[:_MAX_STATUS_CHARS])

    def stopping(self) -> bool:
        """Shutdown has begun (``STOPPING=1``)."""
        return self.notify(STOPPING=1)

    def notify(self, **fields: str | int) -> bool:
        """Send ``KEY=VALUE`` fields in one datagram, in the order given.

        Returns True when the datagram was sent; False when notifications are off or sending failed.
        Raises ``ValueError`` for a field name systemd would not understand (a bug in the caller).
        """
        if not fields:
            raise ValueError("notify() needs at least one field")
        for name in fields:
            if not _FIELD_NAME.match(name):
                raise ValueError(f"invalid sd_notify field name {name!r}; use upper case, e.g. STATUS")
        if self._address is None:
            return False
        payload = "\n".join(f"{name}={_field_value(value)}" for name, value in fields.items())
        return self._send(self._address, payload.encode("utf-8"))

    def close(self) -> None:
        """Close the socket. Later notifications open a new one."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def _send(self, address: str, datagram: bytes) -> bool:
        with self._lock:
            try:
                if self._sock is None:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    sock.settimeout(_SEND_TIMEOUT_S)
                    self._sock = sock
                self._sock.sendto(datagram, address)
            except OSError as exc:
                self._send_failures += 1
                log.debug("sd_notify to %r failed: %s", address, exc)
                return False
            self._sent += 1
            return True


def _watchdog_interval_s(env: Mapping[str, str]) -> float | None:
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec:
        return None
    # WATCHDOG_PID names the process systemd watches; a child that inherited the environment must not
    # think the watchdog is its job.
    try:
        value = int(usec)
        if pid and int(pid) != os.getpid():
            return None
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r / WATCHDOG_PID=%r: not integers", usec, pid)
        return None
    if value <= 0:
        return None
    return value / 1_000_000
