"""The systemd notify protocol against real AF_UNIX datagram sockets standing in for PID 1."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.sdnotify import SystemdNotifier


class FakeSystemd:
    """A bound datagram socket and the value systemd would put in $NOTIFY_SOCKET for it."""

    def __init__(self, sock: socket.socket, env_value: str) -> None:
        self.sock = sock
        self.env_value = env_value

    def receive(self) -> bytes:
        return self.sock.recv(65536)

    def pending(self) -> bool:
        self.sock.settimeout(0.0)
        try:
            self.sock.recv(65536)
        except BlockingIOError:
            return False
        finally:
            self.sock.settimeout(2.0)
        return True


def _bound(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(2.0)
    return sock


@pytest.fixture
def path_systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    path = tmp_path / "notify.sock"
    sock = _bound(str(path))
    yield FakeSystemd(sock, str(path))
    sock.close()


@pytest.fixture
def abstract_systemd() -> Iterator[FakeSystemd]:
    name = f"edge-test-notify-{uuid.uuid4().hex}"
    sock = _bound("\0" + name)
    yield FakeSystemd(sock, "@" + name)
    sock.close()


@pytest.fixture(params=["path", "abstract"])
def systemd(request: pytest.FixtureRequest) -> FakeSystemd:
    fixture: FakeSystemd = request.getfixturevalue(f"{request.param}_systemd")
    return fixture


def test_ready_watchdog_stopping_send_exact_datagrams(systemd: FakeSystemd) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": systemd.env_value})
    assert notifier.enabled

    assert notifier.ready()
    assert systemd.receive() == b"READY=1"
    assert notifier.watchdog()
    assert systemd.receive() == b"WATCHDOG=1"
    assert notifier.status("recording, 25.0 fps")
    assert systemd.receive() == b"STATUS=recording, 25.0 fps"
    assert notifier.stopping()
    assert systemd.receive() == b"STOPPING=1"
    assert notifier.sent == 4
    assert notifier.send_failures == 0
    notifier.close()


def test_notify_sends_fields_in_order_in_one_datagram(systemd: FakeSystemd) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": systemd.env_value})
    assert notifier.notify(READY=1, STATUS="up", MAINPID=1234, EXTEND_TIMEOUT_USEC=5_000_000)
    assert systemd.receive() == b"READY=1\nSTATUS=up\nMAINPID=1234\nEXTEND_TIMEOUT_USEC=5000000"
    assert not systemd.pending()


def test_booleans_are_sent_as_1_and_0(path_systemd: FakeSystemd) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path_systemd.env_value})
    notifier.notify(READY=True, WATCHDOG=False)
    assert path_systemd.receive() == b"READY=1\nWATCHDOG=0"


def test_status_newlines_cannot_inject_fields(path_systemd: FakeSystemd) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path_systemd.env_value})
    notifier.status("camera lost\nREADY=1\r\nWATCHDOG=trigger\x00tail")
    assert path_systemd.receive() == b"STATUS=camera lost READY=1 WATCHDOG=trigger tail"


def test_long_status_is_cut_to_fit_systemds_buffer(path_systemd: FakeSystemd) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path_systemd.env_value})
    notifier.status("é" * 5000)
    datagram = path_systemd.receive()
    assert datagram.startswith(b"STATUS=\xc3\xa9")
    assert len(datagram) <= 4096


def test_status_is_utf8(path_systemd: FakeSystemd) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path_systemd.env_value})
    notifier.status("Rue de la Loi, façade 20 °C")
    assert path_systemd.receive() == "STATUS=Rue de la Loi, façade 20 °C".encode()


def test_without_notify_socket_everything_is_a_noop() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False
    assert notifier.status("x") is False
    assert notifier.stopping() is False
    assert notifier.watchdog_interval_s() is None
    assert notifier.sent == 0
    assert notifier.send_failures == 0


def test_unsupported_socket_address_disables_notifications() -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not notifier.enabled
    assert notifier.ready() is False


def test_reads_notify_socket_from_process_environment(
    path_systemd: FakeSystemd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", path_systemd.env_value)
    notifier = SystemdNotifier()
    # The environment is read at construction; a later change does not redirect notifications.
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert notifier.ready()
    assert path_systemd.receive() == b"READY=1"


def test_send_failure_is_counted_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens.sock")})
    assert notifier.enabled
    with caplog.at_level("DEBUG", logger="edge.sdnotify"):
        assert notifier.ready() is False
        assert notifier.watchdog() is False
    assert notifier.send_failures == 2
    assert notifier.sent == 0
    assert "sd_notify" in caplog.text


def test_recovers_when_the_socket_appears_later(tmp_path: Path) -> None:
    path = tmp_path / "late.sock"
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(path)})
    assert notifier.ready() is False
    sock = _bound(str(path))
    try:
        assert notifier.ready() is True
        assert sock.recv(100) == b"READY=1"
    finally:
        sock.close()
    assert (notifier.sent, notifier.send_failures) == (1, 1)


@pytest.mark.parametrize("name", ["status", "Ready", "READY-1", "", "1READY"])
def test_invalid_field_names_are_a_programming_error(name: str) -> None:
    notifier = SystemdNotifier({})
    with pytest.raises(ValueError, match="field name"):
        notifier.notify(**{name: "1"})


def test_notify_without_fields_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at least one field"):
        SystemdNotifier({}).notify()


@pytest.mark.parametrize(
    ("env", "expected_s"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "1500000", "WATCHDOG_PID": str(os.getpid())}, 1.5),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "me"}, None),
        ({"WATCHDOG_PID": str(os.getpid())}, None),
        ({}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected_s: float | None) -> None:
    assert SystemdNotifier(env).watchdog_interval_s() == expected_s
