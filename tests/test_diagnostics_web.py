"""The diagnostics page over HTTP against a real node in-process and a real broker: auth, CSRF, limits."""

from __future__ import annotations

import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.routing import Route

from edge.diagnostics.web.server import DiagnosticsServer
from edge.diagnostics.web.view import AuditRecord
from tests.broker import Broker
from tests.diagnostics_support import (
    TECHNICIAN,
    Client,
    DiagNode,
    diagnostics_config,
    start_diag_node,
)

# Every route but the login form, with its method; test_protected_routes_cover_the_app keeps it complete.
PROTECTED = [
    ("GET", "/"),
    ("GET", "/api/state"),
    ("GET", "/preview.jpg"),
    ("POST", "/api/selftest"),
    ("POST", "/api/reference"),
    ("POST", "/logout"),
]


@pytest.fixture(scope="module")
def diag(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DiagNode]:
    tmp_path = tmp_path_factory.mktemp("diag")
    broker = Broker(tmp_path)
    broker.start()
    node = start_diag_node(diagnostics_config(tmp_path, broker))
    yield node
    node.close()
    broker.stop()


@pytest.fixture
def client(diag: DiagNode) -> Client:
    c = Client(diag.base_url)
    assert c.login().status == 303
    return c


def test_protected_routes_cover_the_app(diag: DiagNode) -> None:
    routes = {
        (method, r.path)
        for r in diag.server.app.routes
        if isinstance(r, Route)
        for method in (r.methods or set()) - {"HEAD"}
    }
    assert routes - {("GET", "/login"), ("POST", "/login")} == set(PROTECTED)


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_route_refuses_unauthenticated_access(diag: DiagNode, method: str, path: str) -> None:
    reply = Client(diag.base_url).request(method, path, b"{}" if method == "POST" else None)
    if (method, path) == ("GET", "/"):
        assert reply.status == 303 and reply.headers["location"] == "/login"
    else:
        assert reply.status == 401
    assert b"mask_id" not in reply.body and not reply.body.startswith(b"\xff\xd8")
    # A made-up session cookie is no better than none.
    forged = Client(diag.base_url)
    forged.request("GET", "/login")
    reply = forged.request(method, path, None, {"Cookie": "edge_diag_session=forged"})
    assert reply.status in (303, 401)


def test_login_page_and_state_after_login(diag: DiagNode, client: Client) -> None:
    assert any(a.action == "login" and a.outcome == "ok" and a.actor == TECHNICIAN for a in diag.audit)
    page = client.request("GET", "/")
    assert page.status == 200 and "nonce-" in page.headers["content-security-policy"]
    state = client.request("GET", "/api/state").json()
    assert state["verdict"] in ("green", "amber") and state["broker"]["connected"]
    assert state["broker"]["outbox_depth"] >= 0
    assert {s["name"] for s in state["stages"]} >= {"privacy", "preview"}
    assert state["models"].startswith("no models")
    assert state["time_sync"]["state"] in ("synchronized", "not synchronized", "unknown")
    assert state["masks"]["width"] == 320 and len(state["masks"]["polygons"]) == 1
    assert state["aiming"]["focus"] is not None and state["aiming"]["focus"] > 0
    preview = client.request("GET", "/preview.jpg")
    assert preview.status == 200 and preview.body.startswith(b"\xff\xd8")
    assert preview.headers["x-mask-id"] == state["privacy"]["mask_id"]


def test_actions_without_csrf_token_are_refused(diag: DiagNode, client: Client) -> None:
    before = len(diag.audit)
    assert client.post_json("/api/selftest", {}, csrf=None).status == 403
    assert client.post_json("/api/selftest", {}, csrf="not-the-token").status == 403
    body = {"action": "capture", "confirm": True}
    assert client.post_json("/api/reference", body, csrf=None).status == 403
    refused = [a for a in diag.audit[before:] if a.outcome == "refused"]
    assert len(refused) == 3 and all(a.actor == TECHNICIAN for a in refused)


def test_reference_needs_confirmation_and_is_audited(diag: DiagNode, client: Client) -> None:
    csrf = client.csrf()
    assert client.post_json("/api/reference", {"action": "capture"}, csrf).status == 400
    reply = client.post_json("/api/reference", {"action": "capture", "confirm": True}, csrf)
    assert reply.status == 200 and reply.json()["ok"]
    assert any(a.action == "reference_capture" and a.outcome == "ok" for a in diag.audit)
    events = client.request("GET", "/api/state").json()["events"]
    # Not necessarily the last event: the stage's own start-up events (masks_changed) may land after it.
    assert any(e["kind"] == "reference_requested" and e["actor"] == TECHNICIAN for e in events), events


def test_selftests_over_http(diag: DiagNode, client: Client) -> None:
    results = client.post_json("/api/selftest", {}, client.csrf()).json()["results"]
    by_name = {r["name"]: r for r in results}
    assert by_name["frames"]["status"] == "pass"
    assert by_name["broker"]["status"] == "pass", by_name["broker"]
    assert by_name["disk"]["status"] == "pass"
    assert by_name["model"] == {
        **by_name["model"],
        "status": "skipped",
        "detail": "skipped: ANPR is off",
    }


def test_wrong_password_is_audited_and_logout_ends_the_session(diag: DiagNode) -> None:
    c = Client(diag.base_url)
    assert c.login(password="wrong password here").status == 401
    assert any(a.action == "login" and a.outcome == "failed" for a in diag.audit)
    assert c.login().status == 303
    csrf = c.csrf()
    assert (
        c.request(
            "POST", "/logout", f"csrf={csrf}".encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        ).status
        == 303
    )
    assert c.request("GET", "/api/state").status == 401


def test_metrics_endpoint(diag: DiagNode) -> None:
    assert diag.server.metrics_address is not None
    host, port = diag.server.metrics_address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    assert 'edge_health_verdict{verdict="green"}' in text
    assert 'edge_stage_fps{stage="preview"}' in text
    assert "edge_broker_connected 1.0" in text


def test_login_rate_limit(diag: DiagNode, tmp_path: Path, broker: Broker) -> None:
    # Its own server (same node view), so the limit does not lock the other tests out.
    config = diagnostics_config(tmp_path, broker, login_max_failures=3, metrics_enabled=False)
    stop = threading.Event()
    audit: list[AuditRecord] = []
    server = DiagnosticsServer(config.diagnostics, diag.view, stop, on_audit=audit.append)
    assert server.start()
    try:
        assert server.address is not None
        c = Client(f"http://{server.address[0]}:{server.address[1]}")
        assert [c.login(password=f"guess number {i}").status for i in range(3)] == [401, 401, 401]
        # Now even the right password is refused, without being checked, until the window passes.
        assert c.login().status == 429
        assert [a.outcome for a in audit] == ["failed", "failed", "failed", "rate_limited"]
    finally:
        stop.set()
        assert server.join(5.0)


def test_taken_port_disables_the_page_without_raising(diag: DiagNode, tmp_path: Path, broker: Broker) -> None:
    assert diag.server.address is not None
    config = diagnostics_config(tmp_path, broker, port=diag.server.address[1], metrics_enabled=False)
    server = DiagnosticsServer(config.diagnostics, diag.view, threading.Event())
    assert server.start() is False and server.address is None
    assert server.join(0.1)


def test_node_does_not_load_the_web_stack_when_the_page_is_off() -> None:
    code = (
        "import sys, edge.app, edge.diagnostics.web.node_view; "
        "assert 'starlette' not in sys.modules and 'uvicorn' not in sys.modules, 'web stack loaded'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_oversized_bodies_are_refused_unread(diag: DiagNode) -> None:
    c = Client(diag.base_url)
    big = b"username=alice&password=" + b"x" * 100_000
    reply = c.request("POST", "/login", big, {"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 413
