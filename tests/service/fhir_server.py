"""A small real FHIR server for tests, on loopback: one real Synthea patient, the searches the
prefetch templates use, searchsets paged with absolute ``next`` links, bearer tokens checked;
and, on top of it, a SMART App Launch 2.2 authorization server (smart_app).

Used by the CDS Hooks fetch tests, the SMART launch tests and the app's SMART browser test.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from riskcalc.service._prefetch import _observation_matches, _rewrite_references

FHIR_TOKEN = "fhir-access-token-123"
#: An OperationOutcome saying a request failed, as servers send it (some with HTTP 200).
ERROR_OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "not-supported"}],
}
PAGE_SIZE = 100  # the server's cap on _count


def server_resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """A transaction Bundle's resources as a server stores them (urn:uuid references to Type/id)."""
    entries = bundle["entry"]
    mapping = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries
    }
    return [_rewrite_references(e["resource"], mapping) for e in entries]


def _matches(resource: dict[str, Any], params: dict[str, str]) -> bool:
    patient = params.get("patient")
    if patient is not None:
        ref = (resource.get("subject") or resource.get("patient") or {}).get("reference")
        if ref != f"Patient/{patient}":
            return False
    if params.get("category") == "laboratory" and not _observation_matches(resource)[0]:
        return False
    if "code" in params:
        wanted = set(params["code"].split(","))
        codes = {
            f"{c.get('system')}|{c.get('code')}"
            for c in (resource.get("code") or {}).get("coding") or []
        }
        if not wanted & codes:
            return False
    return True


def fhir_app(
    resources: list[dict[str, Any]],
    mode: str = "normal",
    *,
    app: FastAPI | None = None,
    authorized: Callable[[str | None], bool] | None = None,
) -> tuple[FastAPI, Counter[str]]:
    """A FHIR server of ``resources`` under ``/fhir`` (added to ``app`` if given); a request
    passes when ``authorized(its Authorization header)`` (default: the bearer FHIR_TOKEN)."""
    app = app or FastAPI()
    hits: Counter[str] = Counter()
    allowed = authorized or (lambda header: header == f"Bearer {FHIR_TOKEN}")

    @app.get("/fhir/{rtype}/{rid}")
    async def read(rtype: str, rid: str, request: Request) -> JSONResponse:
        hits[f"{rtype}/read"] += 1
        if not allowed(request.headers.get("authorization")):
            return JSONResponse({"resourceType": "OperationOutcome"}, status_code=401)
        if mode == "read_outcome_200":  # a broken server: the read failed, the status says 200
            return JSONResponse(ERROR_OUTCOME)
        for r in resources:
            if r["resourceType"] == rtype and r.get("id") == rid:
                return JSONResponse(r)
        return JSONResponse({"resourceType": "OperationOutcome"}, status_code=404)

    @app.get("/fhir/{rtype}")
    async def search(rtype: str, request: Request) -> JSONResponse:
        hits[rtype] += 1
        if not allowed(request.headers.get("authorization")):
            return JSONResponse({"resourceType": "OperationOutcome"}, status_code=401)
        if mode == "slow":
            await asyncio.sleep(2)
        # broken servers, all answering 200: a search failed, or answered with a Patient
        if mode == "search_outcome_200":
            return JSONResponse(ERROR_OUTCOME)
        if mode == "search_patient_200":
            return JSONResponse(next(r for r in resources if r["resourceType"] == "Patient"))
        params = dict(request.query_params)
        offset = int(params.pop("_offset", "0"))
        size = min(int(params.pop("_count", "10")), PAGE_SIZE)
        matched = [r for r in resources if r["resourceType"] == rtype and _matches(r, params)]
        if mode == "search_outcome_entry":  # the search failed: no matches, an error outcome
            matched = []
        page = matched[offset : offset + size]
        base = str(request.base_url).rstrip("/")
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matched),
            "entry": [
                {
                    "fullUrl": f"{base}/fhir/{rtype}/{r['id']}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in page
            ]
            + [
                {
                    # search_outcome_entry: the search failed and says so in its outcome entry
                    "resource": ERROR_OUTCOME
                    if mode == "search_outcome_entry"
                    else {"resourceType": "OperationOutcome", "issue": []},
                    "search": {"mode": "outcome"},
                }
            ],
            "link": [{"relation": "self", "url": str(request.url)}],
        }
        if offset + size < len(matched):
            query = "&".join(f"{k}={v}" for k, v in params.items())
            host = "http://127.0.0.2:1" if mode == "next_elsewhere" else base
            # next_traversal: a link whose text starts with the base but that leaves it
            path = "/fhir/../admin" if mode == "next_traversal" else "/fhir"
            bundle["link"].append(
                {
                    "relation": "next",
                    "url": f"{host}{path}/{rtype}?{query}&_count={size}&_offset={offset + size}",
                }
            )
        if mode == "entry_not_list":  # a broken server: entry and link of the wrong type
            bundle["entry"], bundle["link"] = 5, 7
        return JSONResponse(bundle)

    return app, hits


@dataclass
class SmartServer:
    """What the SMART authorization server knows: its one registered client, the launches the
    EHR issued, the codes and tokens it granted, and what it was sent (for the tests to check)."""

    patient_id: str
    client_id: str = "riskcalc-test"
    redirect_uri: str = ""
    client_secret: str | None = None
    launch: str = "xyz-launch-opaque"
    s256: bool = True
    deny: bool = False
    #: replaces entries of the SMART configuration
    configuration: dict[str, Any] = field(default_factory=dict)
    #: the scope the token answer grants (None: the one asked for)
    scope_granted: str | None = None
    #: the access token handed out (None: a random one)
    token_value: str | None = None
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)


def _s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def smart_app(resources: list[dict[str, Any]], server: SmartServer) -> tuple[FastAPI, Counter[str]]:
    """The FHIR server at ``/fhir`` with SMART App Launch: discovery at
    ``/fhir/.well-known/smart-configuration``, ``/auth/authorize`` (signs the user in at once and
    redirects back: there is no login page to drive) and ``/auth/token`` (checks the code, the
    client, the redirect URI and the PKCE verifier). FHIR requests need a token it granted."""
    app = FastAPI()

    @app.get("/fhir/.well-known/smart-configuration")
    async def configuration(request: Request) -> JSONResponse:
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/auth/authorize",
                "token_endpoint": f"{base}/auth/token",
                "capabilities": ["launch-ehr", "launch-standalone", "client-public"],
                "code_challenge_methods_supported": ["S256"] if server.s256 else ["plain"],
                "scopes_supported": ["launch", "launch/patient", "patient/*.rs"],
                **server.configuration,
            }
        )

    @app.get("/auth/authorize")
    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        server.authorize_requests.append(params)
        if params.get("client_id") != server.client_id or params.get("redirect_uri") != (
            server.redirect_uri or params.get("redirect_uri")
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        back = params["redirect_uri"]
        if server.deny:
            query = {"error": "access_denied", "error_description": "the user said no"}
        elif params.get("code_challenge_method") != "S256" or "code_challenge" not in params:
            query = {"error": "invalid_request", "error_description": "PKCE S256 required"}
        elif "launch" in params and params["launch"] != server.launch:
            query = {"error": "invalid_request", "error_description": "unknown launch"}
        else:
            code = secrets.token_urlsafe(16)
            server.codes[code] = params
            query = {"code": code}
        query["state"] = params.get("state", "")
        query["iss"] = str(request.base_url).rstrip("/")  # RFC 9207, as servers now send it
        sep = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{sep}{urlencode(query)}", status_code=302)

    @app.post("/auth/token")
    async def token(
        request: Request,
        grant_type: str = Form(),
        code: str = Form(),
        redirect_uri: str = Form(),
        code_verifier: str = Form(""),
        client_id: str = Form(""),
    ) -> JSONResponse:
        sent = {
            "grant_type": grant_type,
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
            "client_id": client_id,
            "authorization": request.headers.get("authorization", ""),
        }
        server.token_requests.append(sent)
        if server.client_secret is not None:
            basic = base64.b64encode(f"{server.client_id}:{server.client_secret}".encode())
            if sent["authorization"] != f"Basic {basic.decode()}":
                return JSONResponse({"error": "invalid_client"}, status_code=401)
        elif client_id != server.client_id:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        granted = server.codes.pop(code, None)  # a code is good once
        if (
            grant_type != "authorization_code"
            or granted is None
            or redirect_uri != granted["redirect_uri"]
            or _s256(code_verifier) != granted["code_challenge"]
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        access = server.token_value or secrets.token_urlsafe(24)
        server.tokens.add(access)
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": granted.get("scope", "")
                if server.scope_granted is None
                else server.scope_granted,
                "patient": server.patient_id,
            },
            headers={"Cache-Control": "no-store"},
        )

    def authorized(header: str | None) -> bool:
        return header is not None and header.removeprefix("Bearer ") in server.tokens

    return fhir_app(resources, app=app, authorized=authorized)
