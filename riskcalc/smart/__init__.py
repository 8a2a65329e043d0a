"""SMART App Launch 2.2: open a patient from the EHR (EHR launch) or from a FHIR server the user
picks (standalone launch), then read that patient's record (needs the ``service`` extra).

The flow (``docs/integrators/smart-launch.md``)::

    client = SmartClient(client_id="riskcalc", redirect_uri="https://app.example.org/",
                         issuers=("https://ehr.example.org/fhir",))
    store = LaunchStore()
    pending = begin_launch(iss, launch, client)      # iss, launch: the EHR's query parameters
    store.put(pending, browser=secret)               # secret: of this browser (a cookie's hash)
    ...                                              # the user signs in at pending.authorize_url;
    ...                                              # the EHR redirects back with code and state
    session = complete_launch(store.take(state, browser=secret), code, client)
    bundle = fetch_record(session, client)           # a FHIR Bundle: riskcalc.read_history(bundle)

What it holds to (SMART App Launch 2.2, RFC 6749, RFC 7636):

- the launch comes only from FHIR servers in ``SmartClient.issuers`` (plain ``http`` only when
  listed): a launch URL anyone can write would otherwise send the app's requests, and the
  user, to any server;
- authorization code with PKCE ``S256`` only; a server whose ``.well-known/smart-configuration``
  does not offer S256 is refused;
- ``state`` is 256 random bits, used once, for at most ``LaunchStore.ttl_s``, and only by the
  browser that began the launch (RFC 6749 10.12);
- the token answer must grant reading every resource type the history uses (``smart.scope``);
- ``launch`` is opaque: passed on, never parsed; ``aud`` is ``iss`` as received;
- the access token lives in the :class:`SmartSession` only: never logged, never in a ``repr``;
- the record is read with the queries of the CDS Hooks prefetch (one list of what the history
  needs), through the same bounded fetcher: timeouts, a byte budget, a page cap, ``next`` links
  only under the same server.

Every failure is a :class:`~riskcalc.errors.RemoteError` with a ``smart.*`` or ``remote.*`` code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import orjson

from riskcalc.errors import ConfigError, RemoteError
from riskcalc.fhir._group import FHIR_ID
from riskcalc.service._fetch import (
    B64TOKEN,
    fetch_queries,
    quiet_http_loggers,
    remote_errors,
    server_allowed,
)
from riskcalc.service._prefetch import (
    PREFETCH_TEMPLATES,
    combine_prefetch,
    resolve_queries,
)
from riskcalc.service._settings import ServiceSettings

#: The resource types the history reads: those the prefetch queries ask for (one place).
RESOURCE_TYPES: tuple[str, ...] = tuple(
    dict.fromkeys(q.split("/", 1)[0].split("?", 1)[0] for q in PREFETCH_TEMPLATES.values())
)
#: Read and search (SMART v2 ``.rs``) on each of them, for the patient in context.
DEFAULT_RESOURCE_SCOPES = " ".join(f"patient/{t}.rs" for t in RESOURCE_TYPES)
#: How long a begun launch waits for the user to sign in, seconds.
LAUNCH_TTL_S = 600
#: Launches waiting at once; the oldest is dropped past this.
MAX_PENDING = 1000
_DISCOVERY = "/.well-known/smart-configuration"
_MAX_ANSWER_BYTES = 1 << 20  # discovery and token answers are small JSON objects


@dataclass(frozen=True)
class SmartClient:
    """The app as registered with the EHR's authorization server.

    Parameters
    ----------
    client_id
        The client id the EHR issued.
    redirect_uri
        The app's URL as registered (the authorization server sends the user back there).
    issuers
        FHIR base URLs (``iss``) the app accepts launches from, each matched whole (a trailing
        slash aside); empty: any ``https`` server. Plain ``http`` only when listed (a server on
        this machine, for tests).
    client_secret
        For a confidential client (sent by HTTP Basic to the token endpoint); None: a public
        client, protected by PKCE alone.
    resource_scopes
        Scopes asked for besides ``launch`` (EHR launch) or ``launch/patient`` (standalone).
    timeout_s, max_response_bytes, max_pages
        Bounds on each request (seconds), on the bytes of the patient's record, and on the
        pages followed through each search's ``next`` links.
    """

    client_id: str
    redirect_uri: str
    issuers: tuple[str, ...] = ()
    client_secret: str | None = field(default=None, repr=False)
    resource_scopes: str = DEFAULT_RESOURCE_SCOPES
    timeout_s: float = 10.0
    max_response_bytes: int = 50 * 1024 * 1024
    max_pages: int = 20

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ConfigError("config.invalid", "SmartClient.client_id is empty")
        try:
            url = httpx.URL(self.redirect_uri)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ConfigError(
                "config.invalid", f"SmartClient.redirect_uri {self.redirect_uri!r} is not a URL"
            ) from exc
        if url.scheme not in ("http", "https") or not url.host or url.fragment:
            raise ConfigError(
                "config.invalid",
                f"SmartClient.redirect_uri {self.redirect_uri!r} is not an http(s) URL",
            )

    def fetch_settings(self) -> ServiceSettings:
        """The fetcher's bounds and allow-list (the CDS Hooks service's own fetcher)."""
        return ServiceSettings(
            dev_no_auth=True,  # no incoming requests here: only the fetch bounds apply
            fhir_server_allow=self.issuers,
            fetch_timeout_s=self.timeout_s,
            fetch_max_response_bytes=self.max_response_bytes,
            fetch_max_pages=self.max_pages,
        )


@dataclass(frozen=True)
class PendingLaunch:
    """A launch waiting for the user to sign in: where to send them, and what to check after."""

    iss: str
    state: str
    authorize_url: str
    token_endpoint: str
    code_verifier: str = field(repr=False)
    started_s: float = 0.0


@dataclass(frozen=True)
class SmartSession:
    """What the token endpoint granted: the patient in context and the access token."""

    iss: str
    patient_id: str
    scope: str
    access_token: str = field(repr=False)
    expires_in_s: int | None = None


def _code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _answer(
    http: httpx.Client, request: httpx.Request, what: str, code: str
) -> tuple[int, dict[str, Any]]:
    """Send ``request``; the status and the JSON object answered, read up to 1 MB."""
    with remote_errors(what):
        response = http.send(request, stream=True)
        try:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > _MAX_ANSWER_BYTES:
                    raise RemoteError(code, f"the {what} is larger than {_MAX_ANSWER_BYTES} bytes")
                chunks.append(chunk)
        finally:
            response.close()
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise RemoteError(code, f"the {what} is not a JSON object (HTTP {response.status_code})")
    return response.status_code, body


def _endpoint(config: Mapping[str, Any], key: str, iss: str) -> str:
    """An endpoint of the SMART configuration: an ``https`` URL (on any host: SMART lets the
    authorization server live apart from the FHIR server), or ``http`` on the host of an
    ``http`` iss (allow-listed: a server on this machine, for tests); no fragment."""
    value = config.get(key)
    if not isinstance(value, str):
        raise RemoteError("smart.discovery", f"the SMART configuration of {iss} has no {key}")
    bad = RemoteError(
        "smart.discovery",
        f"the SMART configuration's {key} {value[:200]!r} is not an https URL without a fragment",
    )
    try:
        url, origin = httpx.URL(value), httpx.URL(iss)
    except httpx.InvalidURL as exc:
        raise bad from exc
    local_http = url.scheme == "http" and origin.scheme == "http" and url.host == origin.host
    if not url.host or url.fragment or not (url.scheme == "https" or local_http):
        raise bad
    return value


def check_issuer(iss: str, client: SmartClient) -> str:
    """``iss`` without a trailing slash, if the app accepts launches from it: a plain URL (see
    :func:`riskcalc.service._fetch.server_allowed`) equal to a listed base, or any ``https``
    one when none is listed.

    Raises
    ------
    RemoteError
        ``smart.untrusted_server`` otherwise.
    """
    base = iss.strip().rstrip("/")
    listed = {u.rstrip("/") for u in client.issuers}
    # a SMART iss is a FHIR base URL: a listed base exactly, not anything under it
    if not server_allowed(base, client.fetch_settings()) or (listed and base not in listed):
        raise RemoteError(
            "smart.untrusted_server",
            f"the launch names the FHIR server {iss[:200]!r}, which this app does not accept "
            "launches from",
        )
    return base


def begin_launch(
    iss: str,
    launch: str | None,
    client: SmartClient,
    *,
    transport: httpx.BaseTransport | None = None,
) -> PendingLaunch:
    """Discover the server's endpoints and build the authorization request.

    ``launch`` is the EHR's opaque launch parameter (EHR launch), or None for a standalone
    launch, where the user picks the patient at the server.

    Raises
    ------
    RemoteError
        ``smart.untrusted_server``, ``smart.discovery`` (no usable SMART configuration, or no
        PKCE S256), ``remote.unreachable``.
    """
    quiet_http_loggers()
    base = check_issuer(iss, client)
    with httpx.Client(
        timeout=client.timeout_s, follow_redirects=False, transport=transport
    ) as http:
        request = http.build_request(
            "GET", base + _DISCOVERY, headers={"Accept": "application/json"}
        )
        status, config = _answer(
            http, request, "FHIR server's SMART configuration", "smart.discovery"
        )
    if status != 200:
        raise RemoteError(
            "smart.discovery",
            f"{base}{_DISCOVERY} answered HTTP {status}: the server does not publish a SMART "
            "configuration",
        )
    methods = config.get("code_challenge_methods_supported")
    if not isinstance(methods, list) or "S256" not in methods:
        raise RemoteError(
            "smart.discovery",
            f"the SMART configuration of {base} does not offer PKCE S256 "
            f"(code_challenge_methods_supported: {methods!r}); SMART 2.2 requires it",
        )
    authorize = _endpoint(config, "authorization_endpoint", base)
    token = _endpoint(config, "token_endpoint", base)
    verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43-128
    state = secrets.token_urlsafe(32)
    context = "launch" if launch is not None else "launch/patient"
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": f"{context} {client.resource_scopes}".strip(),
        "state": state,
        "aud": iss.strip(),  # the iss as the EHR sent it: servers compare it as text
        "code_challenge": _code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if launch is not None:
        params["launch"] = launch
    separator = "&" if "?" in authorize else "?"
    return PendingLaunch(
        iss=base,
        state=state,
        authorize_url=f"{authorize}{separator}{urlencode(params)}",
        token_endpoint=token,
        code_verifier=verifier,
        started_s=time.monotonic(),
    )


def complete_launch(
    pending: PendingLaunch,
    code: str,
    client: SmartClient,
    *,
    transport: httpx.BaseTransport | None = None,
) -> SmartSession:
    """Exchange the authorization code for an access token and the patient in context.

    Raises
    ------
    RemoteError
        ``smart.token`` (refused, or an answer without a bearer token or a patient),
        ``smart.scope`` (not every resource type the history reads was granted),
        ``remote.unreachable``.
    """
    quiet_http_loggers()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.redirect_uri,
        "code_verifier": pending.code_verifier,
    }
    headers = {"Accept": "application/json"}
    if client.client_secret is None:
        form["client_id"] = client.client_id
    else:  # RFC 6749 2.3.1: HTTP Basic of the form-encoded id and secret
        pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    with httpx.Client(
        timeout=client.timeout_s, follow_redirects=False, transport=transport
    ) as http:
        request = http.build_request("POST", pending.token_endpoint, data=form, headers=headers)
        status, body = _answer(http, request, "token endpoint's answer", "smart.token")
    if status != 200:
        error = str(body.get("error", "?"))[:80]
        detail = str(body.get("error_description", ""))[:200]
        raise RemoteError(
            "smart.token",
            f"the token endpoint refused the code (HTTP {status}, {error}"
            + (f": {detail}" if detail else "")
            + ")",
        )
    token, kind, patient = body.get("access_token"), body.get("token_type"), body.get("patient")
    if not isinstance(token, str) or not B64TOKEN.fullmatch(token):
        raise RemoteError(
            "smart.token", "the token endpoint's answer holds no access_token usable as a bearer"
        )
    if not isinstance(kind, str) or kind.lower() != "bearer":
        raise RemoteError("smart.token", f"the token type is {str(kind)[:40]!r}, not Bearer")
    if not isinstance(patient, str) or not FHIR_ID.fullmatch(patient):
        raise RemoteError(
            "smart.token",
            "the token endpoint's answer names no patient in context (launch/patient scope "
            "not granted?)",
        )
    # RFC 6749 5.1: no scope in the answer means the scope asked for was granted
    scope = body.get("scope")
    granted = scope if isinstance(scope, str) else client.resource_scopes
    missing = unreadable_types(granted)
    if missing:
        raise RemoteError(
            "smart.scope",
            f"the EHR did not grant reading {', '.join(missing)} for the patient (granted: "
            f"{granted[:300]!r}); the record would be incomplete, so it is not read",
        )
    expires = body.get("expires_in")
    return SmartSession(
        iss=pending.iss,
        patient_id=patient,
        scope=granted,
        access_token=token,
        expires_in_s=expires
        if isinstance(expires, int) and not isinstance(expires, bool)
        else None,
    )


#: A SMART scope on resources: v1 ``patient/Observation.read``, v2 ``patient/Observation.rs``
#: (a v2 scope with a ``?`` query grants only part of a type and is not matched).
_SCOPE = re.compile(r"(patient|user)/(\*|[A-Za-z]+)\.(read|\*|[cruds]+)")


def unreadable_types(granted: str) -> list[str]:
    """The resource types of :data:`RESOURCE_TYPES` that ``granted`` (a space-separated scope
    list) does not let the app read for the patient in context: the Patient needs read (``r``),
    every other type search (``s``); v1 ``read`` and ``*`` grant both."""
    allowed: dict[str, set[str]] = {}
    for scope in granted.split():
        m = _SCOPE.fullmatch(scope)
        if m is not None:
            perms = set("rs") if m[3] in ("read", "*") else set(m[3])
            allowed.setdefault(m[2], set()).update(perms)
    wild = allowed.get("*", set())
    return [
        t
        for t in RESOURCE_TYPES
        if ("r" if t == "Patient" else "s") not in wild | allowed.get(t, set())
    ]


def fetch_record(
    session: SmartSession,
    client: SmartClient,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """The patient's record as one ``collection`` Bundle, for :func:`riskcalc.read_history`.

    Runs the prefetch queries of the CDS Hooks service against the FHIR server, all pages of
    each, concurrently; call it from code without a running event loop (a script, Streamlit).

    Raises
    ------
    RemoteError
        ``remote.unreachable``, ``remote.bad_response`` (an error status, such as 403 for a
        scope not granted; a body that is not FHIR), ``remote.too_large``.
    """
    answers = asyncio.run(
        fetch_queries(
            session.iss,
            session.access_token,
            resolve_queries(session.patient_id),
            client.fetch_settings(),
            transport=transport,
        )
    )
    return combine_prefetch(answers)


class LaunchStore:
    """Launches begun and not completed, by ``state``: each taken once, within ``ttl_s``.

    The redirect back from the authorization server opens a new page (in Streamlit, a new
    session), so a launch must outlive the session that began it: keep one store per process.
    Thread-safe.
    """

    def __init__(
        self,
        *,
        ttl_s: float = LAUNCH_TTL_S,
        max_pending: int = MAX_PENDING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s, self.max_pending, self._clock = ttl_s, max_pending, clock
        self._pending: dict[str, tuple[float, str | None, PendingLaunch]] = {}
        self._lock = threading.Lock()

    def put(self, pending: PendingLaunch, *, browser: str | None = None) -> None:
        """Keep ``pending`` until its answer comes back from ``browser`` (a secret of the
        browser that began it, such as a hash of a cookie of its own; None: any browser)."""
        with self._lock:
            self._drop_expired()
            while len(self._pending) >= self.max_pending:
                self._pending.pop(next(iter(self._pending)))  # the oldest
            self._pending[pending.state] = (self._clock(), browser, pending)

    def take(self, state: str, *, browser: str | None = None) -> PendingLaunch:
        """The launch begun with ``state`` by ``browser``, removed from the store.

        The answer must come back to the browser that began the launch (RFC 6749 10.12):
        otherwise a user could be handed someone else's sign-in (``?code=…&state=…`` of a
        launch begun, and signed into, elsewhere) and open the patient it was for.

        Raises
        ------
        RemoteError
            ``smart.state`` if no launch waits with that state for this browser (never begun
            here, begun in another browser, already completed, or expired).
        """
        with self._lock:
            self._drop_expired()
            found = self._pending.get(state)
            if found is not None and found[1] == browser:
                del self._pending[state]
            else:
                found = None
        if found is None:
            raise RemoteError(
                "smart.state",
                "this sign-in answer matches no launch waiting here for this browser (already "
                f"used, expired after {self.ttl_s:.0f} s, or begun elsewhere); start the launch "
                "again",
            )
        return found[2]

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def _drop_expired(self) -> None:
        now = self._clock()
        for state in [s for s, (t, _, _) in self._pending.items() if now - t > self.ttl_s]:
            del self._pending[state]


def authorization_error(params: Mapping[str, str]) -> RemoteError | None:
    """The error of an authorization response (``error=access_denied…``), if it is one."""
    error = params.get("error")
    if error is None:
        return None
    detail = params.get("error_description", "")[:200]
    return RemoteError(
        "smart.denied",
        f"the authorization server did not grant access ({error[:80]}"
        + (f": {detail}" if detail else "")
        + ")",
    )


#: Environment variables of :func:`client_from_environment` (the app reads its registration here).
ENV_CLIENT_ID = "RISKCALC_SMART_CLIENT_ID"
ENV_REDIRECT_URI = "RISKCALC_SMART_REDIRECT_URI"
ENV_ISSUERS = "RISKCALC_SMART_ISS"
ENV_CLIENT_SECRET = "RISKCALC_SMART_CLIENT_SECRET"
ENV_SCOPES = "RISKCALC_SMART_SCOPES"


def client_from_environment(env: Mapping[str, str]) -> SmartClient | None:
    """The app's registration from ``env`` (``os.environ``); None when SMART launch is not set up.

    ``RISKCALC_SMART_CLIENT_ID``, ``RISKCALC_SMART_REDIRECT_URI`` and ``RISKCALC_SMART_ISS``
    (FHIR base URLs, separated by spaces or commas) are required together;
    ``RISKCALC_SMART_CLIENT_SECRET`` and ``RISKCALC_SMART_SCOPES`` are optional.

    Raises
    ------
    ConfigError
        ``config.invalid`` when only some of the required variables are set.
    """
    required = (ENV_CLIENT_ID, ENV_REDIRECT_URI, ENV_ISSUERS)
    given = {name: env.get(name, "").strip() for name in required}
    if not any(given.values()):
        return None
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise ConfigError(
            "config.invalid",
            f"SMART launch is half set up: {', '.join(missing)} missing (all of "
            f"{', '.join(required)} are needed)",
        )
    issuers = tuple(u.rstrip("/") for u in given[ENV_ISSUERS].replace(",", " ").split())
    return SmartClient(
        client_id=given[ENV_CLIENT_ID],
        redirect_uri=given[ENV_REDIRECT_URI],
        issuers=issuers,
        client_secret=env.get(ENV_CLIENT_SECRET) or None,
        resource_scopes=env.get(ENV_SCOPES, "").strip() or DEFAULT_RESOURCE_SCOPES,
    )


__all__ = [
    "DEFAULT_RESOURCE_SCOPES",
    "RESOURCE_TYPES",
    "LaunchStore",
    "PendingLaunch",
    "SmartClient",
    "SmartSession",
    "authorization_error",
    "begin_launch",
    "check_issuer",
    "client_from_environment",
    "complete_launch",
    "fetch_record",
    "unreadable_types",
]
