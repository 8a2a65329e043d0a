"""The CDS Hooks service (``riskcalc serve``; needs the ``service`` extra).

Build the application with :func:`create_app` and serve it with any ASGI server::

    from riskcalc.service import ServiceSettings, create_app
    app = create_app(ServiceSettings(service_url="https://cds.example.org",
                                     jwks_url="https://ehr.example.org/.well-known/jwks.json",
                                     issuers=("https://ehr.example.org",)))

See ``docs/integrators/cds-hooks.md`` for the endpoints, the security model and the cards.
"""

from __future__ import annotations

from riskcalc.service._app import HOOK, SERVICE_ID, create_app, discovery, library_assessor
from riskcalc.service._auth import AuthError, TokenVerifier, VerifiedClient
from riskcalc.service._cards import data_problem_card, render_card
from riskcalc.service._fetch import fetch_queries
from riskcalc.service._prefetch import (
    PREFETCH_TEMPLATES,
    combine_prefetch,
    prefetch_from_bundle,
)
from riskcalc.service._settings import LinkType, ServiceSettings

__all__ = [
    "HOOK",
    "PREFETCH_TEMPLATES",
    "SERVICE_ID",
    "AuthError",
    "LinkType",
    "ServiceSettings",
    "TokenVerifier",
    "VerifiedClient",
    "combine_prefetch",
    "create_app",
    "data_problem_card",
    "discovery",
    "fetch_queries",
    "library_assessor",
    "prefetch_from_bundle",
    "render_card",
]
