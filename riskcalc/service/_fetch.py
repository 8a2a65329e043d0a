"""Fetching the prefetch queries from the client's FHIR server when the prefetch is missing.

Bounded on every axis: a timeout per request, a byte budget for everything fetched for one hook
call, a page cap on each searchset's ``next`` links, no redirects, and ``next`` links only under
the same ``fhirServer`` base (a server cannot send the service elsewhere with the token). The
server itself must be ``https`` or listed in the settings' allow-list.

httpx logs each request URL (which holds the patient id) at INFO: the service silences the
``httpx`` and ``httpcore`` loggers below WARNING (see :func:`quiet_http_loggers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import orjson

from riskcalc.errors import RemoteError
from riskcalc.service._prefetch import answer_type, reports_failure, searchset
from riskcalc.service._settings import ServiceSettings


def quiet_http_loggers() -> None:
    """Keep the HTTP client's loggers (which log URLs with patient ids) at WARNING and above."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


#: RFC 6750 ``b64token``: what an ``Authorization: Bearer`` header can carry.
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
#: What a plain URL's path may hold: RFC 3986 path characters without ``%`` (an encoded ``/`` or
#: ``.`` is decoded by some servers), ``;`` (Tomcat and Jetty read ``..;`` as ``..``) and ``\``
#: (IIS reads it as ``/``).
_PLAIN_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,=:@/]*")


def _plain_url(text: str) -> httpx.URL | None:
    """``text`` as a URL if it is already in the form the HTTP client sends, else None."""
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    head = text.split("?", 1)[0]  # the query is the server's business, encoded as it likes
    segments = url.path.split("/")
    if not _PLAIN_PATH.fullmatch(url.path) or ".." in segments or "." in segments:
        return None
    if "#" in text or url.userinfo or url.scheme not in ("http", "https") or not url.host:
        return None
    return url if str(url.copy_with(query=None)) == head else None


def under_base(url: str, base: str) -> bool:
    """True if ``url`` is a plain URL at or under ``base`` (a path below it, or a query on it)."""
    return _plain_url(url) is not None and (
        url == base or url.startswith(base + "/") or url.startswith(base + "?")
    )


def server_allowed(fhir_server: str, settings: ServiceSettings) -> bool:
    """True if the service may send the access token to ``fhir_server``.

    The URL must be plain: already in the normal form the HTTP client sends (no ``..`` or
    ``%2F`` segments, which it would resolve after the allow-list matched the text: a prefix
    ``https://ehr/fhir`` must not let ``https://ehr/fhir/../admin`` through), no ``;`` or
    backslashes in the path (which servers read as separators), without user info, query or
    fragment.
    """
    url = _plain_url(fhir_server)
    if url is None or url.query:
        return False
    if settings.fhir_server_allow:
        return any(
            fhir_server.rstrip("/") == p.rstrip("/") or fhir_server.startswith(p.rstrip("/") + "/")
            for p in settings.fhir_server_allow
        )
    return url.scheme == "https"  # a plain URL has a host


@contextlib.contextmanager
def remote_errors(what: str) -> Iterator[None]:
    """The HTTP client's failures inside as ``remote.unreachable``, naming ``what`` answered."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise RemoteError("remote.unreachable", f"the {what} did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise RemoteError(
            "remote.unreachable", f"the {what} could not be reached ({type(exc).__name__})"
        ) from exc


class _Budget:
    def __init__(self, max_bytes: int) -> None:
        self.remaining = max_bytes


async def _get_json(client: httpx.AsyncClient, url: str, budget: _Budget) -> dict[str, Any]:
    with remote_errors("FHIR server"):
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise RemoteError(
                    "remote.bad_response", f"the FHIR server answered {response.status_code}"
                )
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > budget.remaining:
                raise RemoteError("remote.too_large", "the FHIR server's answer is too large")
            chunks = []
            async for chunk in response.aiter_bytes():
                budget.remaining -= len(chunk)
                if budget.remaining < 0:
                    raise RemoteError("remote.too_large", "the FHIR server's answers are too large")
                chunks.append(chunk)
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise RemoteError("remote.bad_response", "the FHIR server's answer is not JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise RemoteError("remote.bad_response", "the FHIR server's answer is not a FHIR resource")
    return body


def _checked(answer: dict[str, Any], expected: str) -> dict[str, Any]:
    """``answer`` if it is what the query asked for (``expected``: its resource type) and does
    not report a failure: a server may answer 200 with an OperationOutcome, or with a searchset
    holding an error outcome entry, and neither means "nothing found"."""
    kind = "search" if expected == "Bundle" else f"{expected} read"
    if reports_failure(answer):
        raise RemoteError(
            "remote.bad_response",
            f"the FHIR server answered a {kind} with an error OperationOutcome",
        )
    if answer["resourceType"] != expected:
        raise RemoteError(
            "remote.bad_response",
            f"the FHIR server answered a {kind} with a resource that is not a {expected}",
        )
    return answer


def _list_of(page: Mapping[str, Any], key: str) -> list[Any]:
    value = page.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RemoteError("remote.bad_response", f"a searchset's {key} is not a list")
    return value


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in _list_of(bundle, "link"):
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) else None
    return None


async def _fetch_one(
    client: httpx.AsyncClient, base: str, query: str, budget: _Budget, settings: ServiceSettings
) -> dict[str, Any] | None:
    max_pages = settings.fetch_max_pages
    if "?" in query:  # a search: ask for large pages
        query = f"{query}&_count={settings.fetch_page_size}"
    expected = answer_type(query)
    first = _checked(await _get_json(client, f"{base}/{query}", budget), expected)
    if expected != "Bundle":
        return first
    resources: list[dict[str, Any]] = []
    page, pages = first, 1
    while True:
        for entry in _list_of(page, "entry"):
            search = entry.get("search") if isinstance(entry, dict) else None
            if isinstance(search, dict) and search.get("mode") == "outcome":
                continue
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                resources.append(entry["resource"])
        next_url = _next_link(page)
        if next_url is None:
            break
        if not under_base(next_url, base):
            raise RemoteError(
                "remote.bad_response", "a searchset 'next' link points outside fhirServer"
            )
        if pages >= max_pages:
            raise RemoteError(
                "remote.too_large", f"a search needs more than {max_pages} pages; send prefetch"
            )
        page = _checked(await _get_json(client, next_url, budget), expected)
        pages += 1
    return searchset(resources, fhir_base=base)


async def fetch_queries(
    fhir_server: str,
    access_token: str,
    queries: Mapping[str, str],
    settings: ServiceSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """Run ``queries`` (prefetch key → relative FHIR query) against ``fhir_server``, concurrently.

    Returns the answers as a prefetch would hold them: the resource for a read, one searchset
    Bundle (all pages merged) for a search. A 200 answer that reports a failure (an
    OperationOutcome, or a searchset with an ``error`` or ``fatal`` OperationOutcome entry) or
    that is not the resource type the query returns is a failure, never "nothing found".

    Raises
    ------
    RemoteError
        ``remote.unreachable`` (connection, timeout), ``remote.bad_response`` (status, not FHIR,
        not the resource type asked for, an answer reporting an error, a ``next`` link
        elsewhere) or ``remote.too_large`` (byte budget or page cap).
    """
    if not server_allowed(fhir_server, settings):
        raise RemoteError(
            "remote.unreachable", "fhirServer is not https or not in the service's allow-list"
        )
    base = fhir_server.rstrip("/")
    budget = _Budget(settings.fetch_max_response_bytes)
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/fhir+json"}
    async with httpx.AsyncClient(
        headers=headers,
        timeout=httpx.Timeout(settings.fetch_timeout_s),
        follow_redirects=False,
        transport=transport,
    ) as client:
        try:
            # A TaskGroup cancels the other queries as soon as one fails.
            async with asyncio.TaskGroup() as group:
                tasks = {
                    key: group.create_task(_fetch_one(client, base, query, budget, settings))
                    for key, query in queries.items()
                }
        except ExceptionGroup as failures:
            first = failures.exceptions[0]
            if isinstance(first, RemoteError):
                raise first from None
            # anything else broke on what the server sent: its answer, not this caller's bug
            raise RemoteError(
                "remote.bad_response",
                f"the FHIR server's answer could not be read ({type(first).__name__})",
            ) from first
    return {key: task.result() for key, task in tasks.items()}
