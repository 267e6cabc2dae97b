"""A real node in-process with the diagnostics page in front of it, and a small HTTP client for it."""

from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.app import Node
from edge.config import EdgeConfig, parse_config
from edge.diagnostics.web.node_view import NodeDiagnostics
from edge.diagnostics.web.server import DiagnosticsServer
from edge.diagnostics.web.view import AuditRecord
from edge.provision.technicians import hash_password
from tests.broker import Broker, free_port
from tests.node_process import node_config

TECHNICIAN = "alice"
PASSWORD = "correct horse battery staple"
FILL_BGR = (255, 0, 255)
"""A fill no street has, so masked pixels are easy to tell apart in a screenshot."""


def diagnostics_config(tmp_path: Path, broker: Broker, **diagnostics: Any) -> EdgeConfig:
    technicians = tmp_path / "technicians"
    if not technicians.exists():
        technicians.write_text(f"# test\n{TECHNICIAN}:{hash_password(PASSWORD)}\n")
    raw = node_config(
        tmp_path,
        broker,
        privacy={"fill_bgr": list(FILL_BGR)},
        diagnostics={
            "enabled": True,
            "port": free_port(),
            "metrics_port": free_port(),
            "technicians_file": str(technicians),
            "preview_refresh_s": 0.5,
            **diagnostics,
        },
    )
    return parse_config(raw)


@dataclass
class DiagNode:
    node: Node
    view: NodeDiagnostics
    server: DiagnosticsServer
    stop: threading.Event
    audit: list[AuditRecord] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        assert self.server.address is not None
        return f"http://{self.server.address[0]}:{self.server.address[1]}"

    def close(self) -> None:
        # As app.py wires it: the node's shutdown sets the shared stop event, which stops the page too.
        self.node.shutdown()
        assert self.server.join(5.0), "diagnostics server did not stop"


def start_diag_node(config: EdgeConfig) -> DiagNode:
    """The node as ``edge run`` builds it, page included (``diagnostics.enabled``)."""
    node = Node(config)
    server = node.diagnostics
    assert server is not None, "the test config must enable the diagnostics page"
    audit: list[AuditRecord] = []
    to_node_log = server._audit_sink  # keep the node's own audit log too, and see the records here

    def record(r: AuditRecord) -> None:
        audit.append(r)
        to_node_log(r)

    server._audit_sink = record
    view = NodeDiagnostics(node, node.diagnostics_events)
    node.start()
    assert server.address is not None, "the page could not listen"
    deadline = time.monotonic() + 15
    while view.preview_jpeg() is None or not node.health().uplink.connected:
        assert time.monotonic() < deadline, "node produced no preview or did not connect"
        time.sleep(0.05)
    return DiagNode(node, view, server, node.stop_event, audit)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """Cookie-keeping HTTP client that does not follow redirects."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def request(
        self, method: str, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers or {})
        try:
            with self._opener.open(req, timeout=20) as resp:
                return Reply(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, dict(exc.headers), exc.read())

    def login(self, name: str = TECHNICIAN, password: str = PASSWORD) -> Reply:
        form = self.request("GET", "/login").body.decode()
        match = re.search(r'name="csrf" value="([^"]+)"', form)
        assert match is not None
        data = urllib.parse.urlencode({"username": name, "password": password, "csrf": match.group(1)})
        return self.request(
            "POST", "/login", data.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        )

    def csrf(self) -> str:
        page = self.request("GET", "/").body.decode()
        match = re.search(r'data-csrf="([^"]+)"', page)
        assert match is not None, page[:200]
        return match.group(1)

    def post_json(self, path: str, body: dict[str, Any], csrf: str | None) -> Reply:
        headers = {"Content-Type": "application/json"}
        if csrf is not None:
            headers["X-CSRF-Token"] = csrf
        return self.request("POST", path, json.dumps(body).encode(), headers)
