"""The FastAPI application: error shape, middleware, routers of every domain present, web UI, worker."""
from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from takeoff import __version__, wiring
from takeoff.background_defaults import register_background_services
from takeoff.core import background
from takeoff.core.config import Settings, get_settings
from takeoff.core.db import make_engine, make_sessionmaker
from takeoff.deps import public
from takeoff.core.errors import ERROR_RESPONSES, AppError, error_body
from takeoff.flows_registry import register_flows
from takeoff.jobs.worker import Worker, stop_gracefully
from takeoff.core.observability import ASGIGuard, BodyTooLarge, route_label
from takeoff.web.headers import SecurityHeaders
from takeoff.ratelimit import TokenLimits

log = logging.getLogger("takeoff")



def operation_id(route: APIRoute) -> str:
    """A route's OpenAPI operation id, `<tag>_<function>` (e.g. `outcomes_put_roi`): stable snake_case names that
    client generators turn into method names; the routes the SDK, CLI and CI call name theirs explicitly."""
    return f"{route.tags[0]}_{route.name}" if route.tags else route.name


def serve_app() -> SecurityHeaders:
    """The app of one `takeoff serve --workers N` process (uvicorn's factory; settings from the environment)."""
    return ready_to_serve(create_app())


def ready_to_serve(app: SecurityHeaders) -> SecurityHeaders:
    """A `serve` process's app made ready before its first request: route contexts built, startup heap frozen."""
    warm_routes(app)
    return freeze_startup_heap(app)


def warm_routes(app: SecurityHeaders) -> int:
    """Build FastAPI's per-route contexts (dependency trees, parameter validators) now, not at the first request.

    FastAPI builds them lazily for every route it walks while matching, so the first request a server process got
    paid for all the routes listed before its own: 0.6 s for the first OTLP export here, and for whichever user
    came first after each restart, in each process. Only `serve` does this (tests build many apps and use a few
    routes of each). Returns the number of route contexts built (0 where this FastAPI has no lazy contexts)."""
    from fastapi import routing

    inner = app
    while not isinstance(inner, FastAPI) and hasattr(inner, "app"):
        inner = inner.app
    walk = getattr(routing, "iter_route_contexts", None)  # FastAPI >= 0.130's lazy route contexts
    if walk is None or not isinstance(inner, FastAPI):
        return 0
    return sum(1 for _ in walk(inner.router.routes))


FULL_COLLECTION_EVERY = 50  # second-generation collections between full ones (CPython's default: 10)


def freeze_startup_heap(app: SecurityHeaders) -> SecurityHeaders:
    """Move what a server process holds at startup (modules, app, metadata) out of the garbage collector's reach.

    A full collection otherwise walks that whole heap each time request allocations trigger one (a 30-day dashboard
    of saturated rollup rows parses thousands of lists): bench/dashboard_bench.py times the section both ways, 9.1
    vs 12.6 ms p50 at 1e7 events in its 2026-12-02 run. Only `serve` does this: tests build many apps in one process,
    and frozen objects are never freed.

    It also makes full collections five times rarer (a full pass every 50 second-generation passes instead of 10):
    with the startup heap frozen the long-lived generation is small, so CPython's 25 % rule let a full pass, 80-130 ms
    over what requests leave behind, run about every fifth home-page request (bench/home_bench.py: 30 full passes in
    160 requests; 7 with this). Garbage without cycles is freed at once either way; cycles wait longer."""
    gc.collect()
    gc.freeze()
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, FULL_COLLECTION_EVERY)
    return app


def apply_process_policies(settings: Settings) -> None:
    """Make these settings' outbound and eval-code allow-lists the ones this process enforces."""
    from takeoff.core import netguard
    from takeoff.data import connect
    from takeoff.evals import sandbox

    for policy in (netguard.POLICY, sandbox.POLICY, connect.FILES):
        policy.configure_from(settings)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None,
               start_worker: bool | None = None) -> SecurityHeaders:
    """Build the ASGI app for the given settings (tests pass their own engine and no worker)."""
    settings = settings or get_settings()
    apply_process_policies(settings)  # outbound address and eval-code allow-lists (takeoff.core.netguard, evals.sandbox)
    engine = engine or make_engine(settings.resolved_database_url)
    factory = make_sessionmaker(engine)
    register_flows()  # cross-domain reactions (takeoff.core.events), subscribed once per process
    register_background_services()  # threads beside the worker (takeoff.core.background)
    run_worker = settings.embedded_worker if start_worker is None else start_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = None
        if run_worker:
            worker: Worker = app.state.worker
            thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True, name="takeoff-worker")
            thread.start()
        services = background.start_all(settings, factory, stop)  # e.g. the rollup compactor (ingestion's deltas)
        grpc_server = None
        if settings.otlp_grpc_port:  # OTLP over gRPC beside HTTP (serve --otlp-grpc-port)
            from takeoff.telemetry import otlp_grpc

            grpc_server, _ = otlp_grpc.start(app.state, settings.otlp_grpc_host, settings.otlp_grpc_port)
        yield
        if grpc_server is not None:
            grpc_server.stop(grace=5).wait(10)
        if thread is not None:  # running jobs finish within the grace period, else their leases are released
            stop_gracefully([app.state.worker], [thread], stop, settings.shutdown_grace_seconds)
        stop.set()
        background.join_all(services)

    app = FastAPI(title="takeoff", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,  # /api/docs: web.pages
                  openapi_url="/openapi.json", dependencies=[Depends(route_label)],
                  generate_unique_id_function=operation_id)
    for route in app.routes:  # only FastAPI's own so far: /openapi.json (the Swagger UI page is web.pages')
        public("the API's description: OpenAPI")(route.endpoint)
    app.state.settings = settings
    app.state.engine = engine
    app.state.factory = factory
    app.state.worker = Worker(factory, lease_s=settings.job_lease_seconds)
    app.state.limits = TokenLimits(settings)  # per-token request and event rates, counted in this process
    from takeoff.audit import key as audit_key

    audit_key.remember(engine, settings.resolved_secret_key)  # the audit chain's HMAC key for this database
    _install_error_handlers(app)

    from takeoff import health

    app.include_router(health.router)
    for api_router in wiring.api_routers():
        app.include_router(api_router, prefix="/api/v1", responses=ERROR_RESPONSES)
    wiring.load_job_handlers()
    from takeoff.web import pages

    page_routers = [pages.router, *wiring.page_routers()]
    for router in page_routers:
        app.include_router(router)
    # Navigation shows only pages this build serves (web routers are mounted at the root).
    app.state.page_paths = {getattr(r, "path", None) for router in page_routers for r in router.routes}
    static = Path(__file__).parent / "web" / "static"
    app.mount("/static", public("static assets")(StaticFiles(directory=static)), name="static")
    # Security headers outermost: they reach the guard's 413 and the JSON 500 (sent by Starlette's outermost layer).
    return SecurityHeaders(ASGIGuard(app, settings.max_body_bytes), trusted_proxies=settings.trusted_proxies,
                           cookie_secure=settings.cookie_secure)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/v1/")) and "text/html" in request.headers.get("accept", "")


_TITLES = {403: "Not allowed", 404: "Not found", 409: "Not possible now", 413: "Too large", 422: "Check the input",
           429: "Too many requests"}


def _html_error(request: Request, status: int, message: str) -> HTMLResponse:
    """A page-shaped error for browsers (API clients get the JSON error shape)."""
    from takeoff.web.render import render

    return render(request, "error.html", status_code=status, status=status,
                  title=_TITLES.get(status, "Something is wrong"), message=message)


def _allowed_methods(request: Request) -> list[str]:
    """The methods some route serves at the request's path (a 405's Allow header)."""
    from starlette.routing import Match

    allowed = [m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
               if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in request.app.router.routes)]
    return allowed or ["GET"]


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> JSONResponse:
        if _wants_html(request):
            if exc.status == 401:
                from fastapi.responses import RedirectResponse

                return RedirectResponse(f"/login?next={request.url.path}", status_code=303)  # type: ignore[return-value]
            page = _html_error(request, exc.status, exc.message)
            page.headers.update(exc.headers)
            return page  # type: ignore[return-value]
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(error_body("malformed_json", "the request body is not valid JSON"), status_code=400)
        details = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e.get("msg", "")}
                   for e in errors]
        fields = ", ".join(d["field"] or "body" for d in details)
        return JSONResponse(error_body("invalid", f"invalid input: {fields}", details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = str(exc.detail) if exc.status_code not in (404,) else f"no such route: {request.url.path}"
        if _wants_html(request) and exc.status_code == 404:
            return _html_error(request, 404, f"There is no page at {request.url.path}.")  # type: ignore[return-value]
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # Starlette's Allow names only the first route of the path; name every method
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=headers)

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        limit = request.app.state.settings.max_body_bytes
        return JSONResponse(error_body("too_large", f"request body over {limit} bytes"), status_code=413)

    @app.exception_handler(DataError)
    @app.exception_handler(IntegrityError)
    @app.exception_handler(OverflowError)  # SQLite's driver: an int beyond 64 bits
    async def database_refused(request: Request, exc: DBAPIError | OverflowError) -> JSONResponse:
        # A safety net, not the fix: inputs are bounded where they are declared (takeoff.core.types), so reaching this
        # means a field lacks its bound. The client gets a 4xx for its input; the log names the gap.
        log.warning("database refused the input of %s %s (a field lacks its bound): %s",
                    request.method, request.url.path, getattr(exc, "orig", exc))
        if isinstance(exc, IntegrityError):
            return JSONResponse(error_body("conflict", "the change conflicts with stored data"), status_code=409)
        return JSONResponse(error_body("invalid", "a value is out of range for its field"), status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal", "internal error; the server log has the details"), status_code=500)
