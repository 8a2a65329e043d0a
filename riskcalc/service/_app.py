"""The FastAPI application: discovery, the ``patient-view`` service, feedback.

Endpoints (CDS Hooks 2.0):

- ``GET /cds-services``: discovery (public: it holds no patient data).
- ``POST /cds-services/riskcalc-relapse-risk``: a ``patient-view`` call → cards.
- ``POST /cds-services/riskcalc-relapse-risk/feedback``: feedback, appended to a JSONL file.

Status codes: 200 with cards; 400 malformed request; 401 token missing or invalid; 404 unknown
service; 412 prefetch missing and the FHIR server not usable; 413 body over the limit; 500 an
internal failure (JSON body, no stack trace). Every error body is
``{"error": {"code": <stable code>, "message": <text>}}``.

Logging: one line per request with method, route, status, latency and ``hookInstance`` only.
No patient data (ids, names, dates, resources, error messages about records) at any level.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.exceptions import HTTPException as StarletteHTTPException

from riskcalc.demo import demo_bundle
from riskcalc.errors import InputError, RemoteError, RiskCalcError
from riskcalc.report import ModelInfo, ReportStatus, RiskReport
from riskcalc.service._auth import AuthError, TokenVerifier, VerifiedClient, key_source
from riskcalc.service._cards import data_problem_card, render_card
from riskcalc.service._feedback import FeedbackStore, feedback_records
from riskcalc.service._fetch import fetch_queries, quiet_http_loggers
from riskcalc.service._prefetch import (
    PREFETCH_TEMPLATES,
    combine_prefetch,
    resolve_queries,
    unavailable_keys,
)
from riskcalc.service._schema import (
    Discovery,
    FeedbackRequest,
    HookRequest,
    HookResponse,
    ServiceDescription,
    SystemAction,
)
from riskcalc.service._settings import ServiceSettings

if TYPE_CHECKING:
    from riskcalc.model import RiskModel

SERVICE_ID = "riskcalc-relapse-risk"
HOOK = "patient-view"
logger = logging.getLogger("riskcalc.service")

#: ``(combined Bundle, patient id, horizon_months) -> RiskReport``: the library call.
AssessFn = Callable[[dict[str, Any], str, int | None], RiskReport]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_LOGGABLE_ID = re.compile(r"^[A-Za-z0-9\-:.]{1,64}$")
_ROUTES = {
    "/cds-services",
    f"/cds-services/{SERVICE_ID}",
    f"/cds-services/{SERVICE_ID}/feedback",
}
M = TypeVar("M", bound=BaseModel)


class LibraryAssessor:
    """The library call (an :data:`AssessFn`), and the model it assesses with (``info``)."""

    def __init__(self, model: RiskModel) -> None:
        import riskcalc

        self._riskcalc = riskcalc
        self._model = model
        self.info: ModelInfo = model.info

    def __call__(self, bundle: dict[str, Any], patient_id: str, horizon: int | None) -> RiskReport:
        history = self._riskcalc.read_history(bundle, patient_id=patient_id)
        return self._riskcalc.assess(history, horizon_months=horizon, model=self._model)


def library_assessor(
    model_path: Path | None = None, *, horizon_months: int | None = None
) -> LibraryAssessor:
    """The library call, with the model loaded and tried now, so that a model or a horizon the
    service cannot use stops start-up instead of failing every request.

    Reads the patient's history from the combined Bundle with :func:`riskcalc.read_history`
    (``patient_id`` = the hook context's, so another patient's records are never mixed in) and
    assesses it with :func:`riskcalc.assess`; the service computes nothing itself.

    Raises
    ------
    ModelError
        If the model cannot be loaded (``model.not_found``, ``model.hash_mismatch``, …).
    ConfigError
        If ``horizon_months`` is not one the model was trained for (``config.invalid``).
    """
    import riskcalc
    from riskcalc.model import load_model

    model = load_model(model_path)
    # Warm up on a bundled synthetic demo patient (no patient data), at the service's horizon:
    # the first call imports the FHIR models it validates with and compiles the model, so that
    # this happens before the service freezes its start-up objects (see create_app) and not in
    # a clinician's request; and a horizon the model does not know fails here, once.
    riskcalc.assess(
        riskcalc.read_history(demo_bundle("mild-covid")), horizon_months=horizon_months, model=model
    )
    return LibraryAssessor(model)


class ServiceError(Exception):
    """An HTTP error answer with a stable code (internal to the app)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _error_response(exc: ServiceError) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="cds-services"'} if exc.status == 401 else None
    return _json(error_body(exc.code, exc.message), exc.status, headers)


#: The UTF-8 byte order mark: accepted before a body, as the library accepts it before a file.
_BOM = b"\xef\xbb\xbf"
#: orjson's own nesting limit (it parses 1024 nested arrays or objects and refuses 1025).
_PARSER_MAX_DEPTH = 1024


def _parse(body: bytes, model: type[M]) -> M:
    """Parse JSON into ``model``; the 400 message names fields, never echoes values."""
    try:
        data = orjson.loads(body.removeprefix(_BOM))
    except orjson.JSONDecodeError as exc:
        # orjson says "depth limit exceeded" for a body nested past its limit (the library's
        # reader reads the same words: riskcalc/fhir/_source.py)
        message = (
            f"the body nests deeper than {_PARSER_MAX_DEPTH} levels"
            if "depth limit" in exc.msg.lower()
            else "the body is not valid JSON"
        )
        raise ServiceError(400, "service.bad_request", message) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)[:10]
        )
        raise ServiceError(400, "service.bad_request", f"invalid request: {problems}") from None


class _Guard:
    """Outermost layer: body-size limit, one log line per request, 500 for anything escaping.

    Catching here (inside Starlette's error middleware) keeps uvicorn from logging a traceback
    whose message could hold patient data.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        status = {"code": 0}

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            body = await self._read_body(scope, receive)
            if body is None:
                await _send_plain(send_logged, 413, "service.too_large", self._too_large())
            else:
                await self.app(scope, _replay(body), send_logged)
        except Exception as exc:  # last resort: no stack trace to the client or the log
            state["error_type"] = type(exc).__name__
            if status["code"] == 0:
                await _send_plain(send_logged, 500, "service.internal", "internal error")
        finally:
            self._log(scope, state, status["code"], time.perf_counter() - start)

    def _too_large(self) -> str:
        return f"the request body exceeds {self.max_bytes} bytes"

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                return None
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    @staticmethod
    def _log(scope: Scope, state: dict[str, Any], status: int, seconds: float) -> None:
        path = scope.get("path", "")
        hook_instance = state.get("hook_instance")
        logger.info(
            "%s %s %d %.1fms hookInstance=%s%s",
            scope.get("method", "?"),
            path if path in _ROUTES else "(other path)",
            status,
            seconds * 1000,
            hook_instance
            if isinstance(hook_instance, str) and _LOGGABLE_ID.match(hook_instance)
            else "-",
            f" error={state['error_type']}" if "error_type" in state else "",
        )


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _send_plain(send: Send, status: int, code: str, message: str) -> None:
    payload = orjson.dumps(error_body(code, message))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def discovery() -> Discovery:
    """The discovery document (one ``patient-view`` service)."""
    return Discovery(
        services=(
            ServiceDescription(
                hook=HOOK,
                id=SERVICE_ID,
                title="riskcalc: relapse risk after respiratory infections (research use)",
                description=(
                    "Research use only. Estimates the probability of metastatic relapse or "
                    "cancer death over a stated horizon for a cancer survivor in remission, from "
                    "the record of respiratory infections (COVID-19, influenza, RSV), with an "
                    "exploratory IL-6 awakening index. Never recommends a treatment."
                ),
                prefetch=dict(PREFETCH_TEMPLATES),
                usageRequirements=(
                    "Read access to the patient's Patient, Condition, Observation, Encounter, "
                    "Procedure, MedicationRequest, MedicationStatement, "
                    "MedicationAdministration and Immunization resources."
                ),
            ),
        )
    )


class _Service:
    """The request handlers, holding the settings and the long-lived helpers."""

    def __init__(
        self,
        settings: ServiceSettings,
        verifier: TokenVerifier | None,
        assess: AssessFn,
        model: ModelInfo | None,
    ) -> None:
        self.settings = settings
        self.verifier = verifier
        self.assess = assess
        self.model = model
        self.feedback = (
            FeedbackStore(settings.feedback_file) if settings.feedback_file is not None else None
        )

    async def authenticate(self, request: Request, audiences: list[str]) -> VerifiedClient | None:
        if self.verifier is None:
            return None
        header = request.headers.get("authorization")
        verifier = self.verifier
        try:
            # The JWKS URL client may block on the network: keep it off the event loop.
            return await run_in_threadpool(lambda: verifier.verify(header, audience=audiences))
        except AuthError as exc:
            raise ServiceError(401, exc.code, exc.message) from None

    def endpoint(self, service_id: str) -> str:
        return f"{self.settings.base_url}/cds-services/{service_id}"

    async def hook(self, service_id: str, request: Request) -> Response:
        _check_service(service_id)
        await self.authenticate(request, [self.endpoint(service_id)])
        body = await request.body()
        # One worker thread parses the call and, when its prefetch is complete, assesses it: the
        # parsed prefetch (some MB of objects) is then read on the core that built it. Parsed on
        # the event loop's thread and assessed on another, a 0.6 MB prefetch took 11 ms to
        # assess instead of 6 (docs/performance.md).
        call, missing, cards = await run_in_threadpool(self._parse_and_answer, body, request.state)
        if cards is None:  # the prefetch is incomplete: fetch the rest, then assess
            prefetch = await self._complete_prefetch(call, missing)
            cards = await run_in_threadpool(self._cards, prefetch, call.context.patientId)
        return _json(cards)

    def _parse_and_answer(
        self, body: bytes, state: State
    ) -> tuple[HookRequest, list[str], dict[str, Any] | None]:
        """The parsed call, the prefetch keys to fetch, and the answer if there are none."""
        call = _parse(body, HookRequest)
        state.hook_instance = call.hookInstance
        if call.hook != HOOK:
            raise ServiceError(400, "service.bad_request", f"this service answers {HOOK!r} only")
        if call.fhirAuthorization is not None and call.fhirServer is None:
            raise ServiceError(
                400, "service.bad_request", "fhirAuthorization without fhirServer (cds-r-1)"
            )
        prefetch = dict(call.prefetch or {})
        missing = unavailable_keys(prefetch)  # InputError (400) for a malformed value
        if missing:
            return call, missing, None
        return call, missing, self._cards(prefetch, call.context.patientId)

    async def _complete_prefetch(self, call: HookRequest, missing: list[str]) -> dict[str, Any]:
        prefetch = dict(call.prefetch or {})
        if call.fhirServer is None or call.fhirAuthorization is None:
            raise ServiceError(
                412,
                "service.data_unavailable",
                f"prefetch keys {missing} are missing or report a failure, and no fhirServer "
                "with fhirAuthorization was given",
            )
        queries = resolve_queries(call.context.patientId, missing)
        try:
            fetched = await fetch_queries(
                call.fhirServer, call.fhirAuthorization.access_token, queries, self.settings
            )
        except RemoteError as exc:
            raise ServiceError(412, "service.data_unavailable", str(exc)) from None
        prefetch.update(fetched)
        return prefetch

    def _cards(self, prefetch: dict[str, Any], patient_id: str) -> dict[str, Any]:
        s = self.settings
        try:
            # Only the keys the service asked for: extra keys are ignored, not mixed in.
            bundle = combine_prefetch({k: prefetch[k] for k in PREFETCH_TEMPLATES if k in prefetch})
        except InputError as exc:  # the client's prefetch breaks the protocol: 400, not a card
            raise ServiceError(400, "service.bad_request", exc.message) from None
        try:
            report = self.assess(bundle, patient_id, s.horizon_months)
        except InputError as exc:
            # The record could not be used: a card that says why, never a number.
            card = data_problem_card(exc, s, model=self.model)
            return HookResponse(cards=(card,)).model_dump(mode="json", exclude_none=True)
        except RiskCalcError as exc:  # model or configuration: the service's fault, not the data's
            raise ServiceError(
                500, "service.internal", f"the service cannot assess [{exc.code}]"
            ) from None
        actions: tuple[SystemAction, ...] = ()
        if s.include_system_actions and report.status is ReportStatus.OK:
            actions = (
                SystemAction(
                    type="create",
                    description=(
                        "Research-use RiskAssessment from riskcalc "
                        f"{report.model.model_id} {report.model.version} (not a medical device)"
                    ),
                    resource=report.to_fhir(),
                ),
            )
        response = HookResponse(cards=(render_card(report, s),), systemActions=actions)
        return response.model_dump(mode="json", exclude_none=True)

    async def feedback_call(self, service_id: str, request: Request) -> Response:
        _check_service(service_id)
        endpoint = self.endpoint(service_id)
        client = await self.authenticate(request, [f"{endpoint}/feedback", endpoint])
        parsed = _parse(await request.body(), FeedbackRequest)
        items = [item.model_dump(mode="json", exclude_none=True) for item in parsed.feedback]
        if self.feedback is not None:
            records = feedback_records(
                service_id,
                items,
                client=None if client is None else {"iss": client.issuer, "sub": client.subject},
                received_at=dt.datetime.now(dt.UTC),
            )
            await run_in_threadpool(self.feedback.append, records)
        return _json({})


def _check_service(service_id: str) -> None:
    if service_id != SERVICE_ID:
        raise ServiceError(
            404, "service.not_found", f"no CDS service with that id; this server has {SERVICE_ID!r}"
        )


def create_app(
    settings: ServiceSettings, *, assess: AssessFn | None = None, model: ModelInfo | None = None
) -> FastAPI:
    """The CDS Hooks application for ``settings``.

    Parameters
    ----------
    settings
        Checked with :meth:`ServiceSettings.check_complete` (raises
        :class:`~riskcalc.errors.ConfigError`); the JWK Set file is read here.
    assess
        The call that turns the combined Bundle into a report; default
        :func:`library_assessor` with ``settings.model_path`` and ``settings.horizon_months``
        (loaded and tried here).
    model
        The model named on a card that has no report to take it from (the record could not
        be read); default: the library assessor's. Give it with ``assess``: without it such a
        card names only the riskcalc version.

    Raises
    ------
    ConfigError, ModelError
        Incomplete settings, an unreadable JWK Set file, a model that cannot be loaded or a
        horizon it was not trained for.
    """
    settings.check_complete()
    quiet_http_loggers()
    # The JWK Set is read before the model loads (seconds): a bad key file fails at once.
    verifier = None if settings.dev_no_auth else TokenVerifier(settings, key_source(settings))
    if assess is None:
        library = library_assessor(settings.model_path, horizon_months=settings.horizon_months)
        assess, model = library, model or library.info
    service = _Service(settings, verifier, assess, model)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.dev_no_auth:
            logger.warning(
                "!!! AUTHENTICATION IS OFF (--dev-no-auth): any caller can post patient data "
                "and read results. For local development only; never expose this service. !!!"
            )
        else:
            logger.info("CDS Hooks service starting; JWT verification on")
        # Move everything alive after start-up (imports, the model, the warm-up) out of the
        # garbage collector's sight: a full collection over those ~220,000 objects took 130 ms,
        # and requests (each parses a large prefetch) set one off every few calls: it was most
        # of the service's p99 latency under load (docs/performance.md).
        gc.collect()
        gc.freeze()
        yield

    app = FastAPI(
        title="riskcalc CDS Hooks service (research use)",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> Response:
        return _error_response(exc)

    @app.exception_handler(InputError)
    async def _input_error(_: Request, exc: InputError) -> Response:
        return _error_response(ServiceError(400, "service.bad_request", exc.message))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = "service.not_found" if exc.status_code == 404 else "service.bad_request"
        return _error_response(ServiceError(exc.status_code, code, str(exc.detail)))

    @app.get("/cds-services")
    async def get_discovery() -> Response:
        return _json(discovery().model_dump(mode="json", exclude_none=True))

    @app.post("/cds-services/{service_id}")
    async def post_hook(service_id: str, request: Request) -> Response:
        return await service.hook(service_id, request)

    @app.post("/cds-services/{service_id}/feedback")
    async def post_feedback(service_id: str, request: Request) -> Response:
        return await service.feedback_call(service_id, request)

    app.add_middleware(_Guard, max_bytes=settings.max_request_bytes)
    return app


#: Environment variable through which ``riskcalc serve --workers N`` hands the settings (JSON) to
#: each worker process's :func:`app_from_environment`.
SETTINGS_ENV = "RISKCALC_SERVICE_SETTINGS"


def app_from_environment() -> FastAPI:
    """The app for the settings in ``$RISKCALC_SERVICE_SETTINGS`` (uvicorn factory, one per worker)."""
    import os

    from riskcalc.errors import ConfigError

    raw = os.environ.get(SETTINGS_ENV)
    if not raw:
        raise ConfigError("config.invalid", f"${SETTINGS_ENV} is not set")
    return create_app(ServiceSettings.model_validate_json(raw))
