"""The diagnostics page: Starlette routes on uvicorn, in one named thread, stopped by the node's stop event.

Every route but the login form needs a session; every POST also needs the session's CSRF token (the
``X-CSRF-Token`` header, or the ``csrf`` form field). Every login, failed login, logout and action is
reported to ``on_audit``. The page only ever receives masked pixels: ``NodeView.preview_jpeg``.
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Receive, Scope, Send

from edge.clock import Clock, SystemClock
from edge.config import DiagnosticsConfig
from edge.diagnostics.timesync import read_time_sync
from edge.diagnostics.web.auth import LoginLimiter, Session, Sessions, Technicians, csrf_ok
from edge.diagnostics.web.metrics import MetricsEndpoint
from edge.diagnostics.web.summary import state_document
from edge.diagnostics.web.view import AuditRecord, NodeView

log = logging.getLogger(__name__)

SESSION_COOKIE = "edge_diag_session"
LOGIN_COOKIE = "edge_diag_login"
_TEMPLATES = Path(__file__).parent / "templates"

_MAX_BODY_BYTES = 16 * 1024
"""Forms and action requests are a few hundred bytes; anything bigger is refused before it is read."""
_MAX_CONNECTIONS = 32

AuditSink = Callable[[AuditRecord], None]
Handler = Callable[[Request, Session], Awaitable[Response]]


def log_audit(record: AuditRecord) -> None:
    """The default audit sink until the hash-chained audit log lands: the journal."""
    log.info("audit: %s", record)


class _Server(uvicorn.Server):
    """uvicorn, told to exit when the node's stop event is set (checked on its 0.1 s tick)."""

    def __init__(self, config: uvicorn.Config, stop: threading.Event) -> None:
        super().__init__(config)
        self._stop = stop

    async def on_tick(self, counter: int) -> bool:
        return await super().on_tick(counter) or self._stop.is_set()


class DiagnosticsServer:
    """The page on ``config.bind:port`` and ``/metrics`` on ``config.metrics_bind:metrics_port``."""

    def __init__(
        self,
        config: DiagnosticsConfig,
        view: NodeView,
        stop: threading.Event,
        *,
        on_audit: AuditSink = log_audit,
        clock: Clock | None = None,
    ) -> None:
        self._config = config
        self._view = view
        self._stop = stop
        self._audit_sink = on_audit
        self._clock = clock or SystemClock()
        self._technicians = Technicians(config.technicians_file)
        self._sessions = Sessions(config.session_ttl_s, self._clock)
        self._limiter = LoginLimiter(config.login_max_failures, config.login_window_s, self._clock)
        self._templates = Jinja2Templates(
            env=jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True)
        )
        self._thread: threading.Thread | None = None
        self._metrics = (
            MetricsEndpoint(view, config.metrics_bind, config.metrics_port)
            if config.metrics_enabled
            else None
        )
        self.address: tuple[str, int] | None = None
        self.metrics_address: tuple[str, int] | None = None
        self.app = self._build_app()

    # ------------------------------------------------------------------------------------- lifecycle

    def start(self) -> bool:
        """Bind both sockets, then serve in the ``diagnostics`` thread (and ``metrics``).

        False, with the reason logged, when an address cannot be bound: the node runs on without its page.
        """
        family = socket.AF_INET6 if ":" in self._config.bind else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._config.bind, self._config.port))
            sock.listen(16)
            if self._metrics is not None:
                self.metrics_address = self._metrics.start()
        except OSError as exc:
            sock.close()
            log.error("diagnostics page disabled: cannot listen: %s", exc)  # noqa: TRY400 - says it all
            return False
        self.address = (self._config.bind, int(sock.getsockname()[1]))
        server = _Server(
            uvicorn.Config(
                self.app,
                log_config=None,
                access_log=False,
                lifespan="off",
                server_header=False,
                timeout_graceful_shutdown=1,
                limit_concurrency=_MAX_CONNECTIONS,
            ),
            self._stop,
        )
        self._thread = threading.Thread(
            target=self._serve, args=(server, sock), name="diagnostics", daemon=True
        )
        self._thread.start()
        log.info("diagnostics page on http://%s:%d/", *self.address)
        return True

    def _serve(self, server: _Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
            if self._metrics is not None:
                self._metrics.stop()

    def join(self, timeout_s: float) -> bool:
        """Wait for the server to stop (after the stop event is set); True when it did."""
        if self._thread is None:
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    # ---------------------------------------------------------------------------------------- routes

    def _build_app(self) -> Starlette:
        routes = [
            Route("/login", self._login_form, methods=["GET"]),
            Route("/login", self._login, methods=["POST"]),
            Route("/logout", self._authed(self._logout, csrf=True), methods=["POST"]),
            Route("/", self._authed(self._index), methods=["GET"]),
            Route("/api/state", self._authed(self._state), methods=["GET"]),
            Route("/preview.jpg", self._authed(self._preview), methods=["GET"]),
            Route("/api/selftest", self._authed(self._selftest, csrf=True), methods=["POST"]),
            Route("/api/reference", self._authed(self._reference, csrf=True), methods=["POST"]),
        ]
        return Starlette(routes=routes, middleware=[Middleware(_BodyLimit)])

    def _authed(self, handler: Handler, *, csrf: bool = False) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = self._sessions.get(request.cookies.get(SESSION_COOKIE))
            if session is None:
                if request.method == "GET" and request.url.path == "/":
                    return _secure(RedirectResponse("/login", status_code=303))
                return _secure(JSONResponse({"error": "login required"}, status_code=401))
            if csrf and not csrf_ok(session, await _csrf_token(request)):
                self._audit(
                    session.technician, request.url.path, "refused", request, "missing or wrong CSRF token"
                )
                return _secure(JSONResponse({"error": "CSRF token missing or wrong"}, status_code=403))
            return _secure(await handler(request, session))

        return endpoint

    async def _login_form(self, request: Request, error: str = "", status: int = 200) -> Response:
        token = secrets.token_urlsafe(24)
        nonce = secrets.token_urlsafe(12)
        response = self._templates.TemplateResponse(
            request, "login.html", {"csrf": token, "nonce": nonce, "error": error}, status_code=status
        )
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", max_age=600)
        return _secure(response, nonce)

    async def _login(self, request: Request) -> Response:
        form = await request.form()
        name = str(form.get("username", ""))[:64]
        password = str(form.get("password", ""))[:1024]
        presented = str(form.get("csrf", ""))
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(presented.encode(), expected.encode()):
            self._audit(name or "-", "login", "refused", request, "login form token missing or wrong")
            return await self._login_form(request, "The form expired; please try again.", 403)
        remote_key, name_key = f"addr:{_remote(request)}", f"name:{name}"
        if not self._limiter.allowed(remote_key, name_key):
            self._audit(name or "-", "login", "rate_limited", request)
            return await self._login_form(request, "Too many failed logins; wait a few minutes.", 429)
        if not await run_in_threadpool(self._technicians.verify, name, password):
            self._limiter.failed(remote_key, name_key)
            self._audit(name or "-", "login", "failed", request)
            return await self._login_form(request, "Wrong name or password.", 401)
        self._limiter.succeeded(name_key)
        session = self._sessions.create(name)
        self._audit(name, "login", "ok", request)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session.token,
            httponly=True,
            samesite="strict",
            max_age=int(self._config.session_ttl_s),
        )
        response.delete_cookie(LOGIN_COOKIE)
        return _secure(response)

    async def _logout(self, request: Request, session: Session) -> Response:
        self._sessions.end(session.token)
        self._audit(session.technician, "logout", "ok", request)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    async def _index(self, request: Request, session: Session) -> Response:
        nonce = secrets.token_urlsafe(12)
        context = {
            "technician": session.technician,
            "csrf": session.csrf,
            "nonce": nonce,
            "refresh_ms": int(self._config.preview_refresh_s * 1000),
        }
        return _secure(self._templates.TemplateResponse(request, "index.html", context), nonce)

    async def _state(self, _request: Request, _session: Session) -> Response:
        document = await run_in_threadpool(lambda: state_document(self._view, read_time_sync()))
        return JSONResponse(document)

    async def _preview(self, _request: Request, _session: Session) -> Response:
        image = await run_in_threadpool(self._view.preview_jpeg)
        if image is None:
            return Response(status_code=204)
        return Response(image.jpeg, media_type="image/jpeg", headers={"X-Mask-Id": image.mask_id})

    async def _selftest(self, request: Request, session: Session) -> Response:
        results = await run_in_threadpool(self._view.run_selftests)
        failed = [r.name for r in results if r.status == "fail"]
        self._audit(session.technician, "selftest", "ok", request, f"failed: {', '.join(failed) or 'none'}")
        return JSONResponse(
            {
                "results": [
                    {"name": r.name, "status": r.status.value, "detail": r.detail, "ms": r.duration_ms}
                    for r in results
                ]
            }
        )

    async def _reference(self, request: Request, session: Session) -> Response:
        body = await _json_body(request)
        action = body.get("action")
        if action not in ("capture", "approve") or body.get("confirm") is not True:
            self._audit(session.technician, "reference", "refused", request, f"action {action!r} unconfirmed")
            return JSONResponse({"error": "say which action, and confirm it"}, status_code=400)
        if action == "approve":
            await run_in_threadpool(self._view.approve_view, session.technician)
        else:
            await run_in_threadpool(self._view.capture_reference, session.technician)
        self._audit(session.technician, f"reference_{action}", "ok", request)
        return JSONResponse({"ok": True, "action": action, "note": "takes effect on the next frame"})

    def _audit(self, actor: str, action: str, outcome: str, request: Request, detail: str = "") -> None:
        record = AuditRecord(self._clock.time_ns(), actor, action, outcome, _remote(request), detail)
        try:
            self._audit_sink(record)
        except Exception:  # the page must answer even when the sink fails; the failure is logged
            log.exception("audit sink failed for %s", record)


class _BodyLimit:
    """Refuses request bodies over ``_MAX_BODY_BYTES`` by their declared length, and undeclared ones."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = dict(scope["headers"])
            length = headers.get(b"content-length")
            status = 0
            if length is None:
                status = 411 if b"transfer-encoding" in headers else 0
            elif not length.isdigit() or int(length) > _MAX_BODY_BYTES:
                status = 413
            if status:
                await JSONResponse({"error": "request body refused"}, status_code=status)(
                    scope, receive, send
                )
                return
        await self._app(scope, receive, send)


def _remote(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


async def _csrf_token(request: Request) -> str | None:
    header = request.headers.get("x-csrf-token")
    if header is not None:
        return header
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        value = (await request.form()).get("csrf")
        return value if isinstance(value, str) else None
    return None


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _secure(response: Response, nonce: str = "") -> Response:
    script = f"'nonce-{nonce}'" if nonce else "'none'"
    response.headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'none'; img-src 'self'; connect-src 'self'; script-src {script}; "
        f"style-src {script}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
