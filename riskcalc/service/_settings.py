"""Settings of the CDS Hooks service: security, limits, card thresholds and links."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from riskcalc.errors import ConfigError

#: The JWS algorithms CDS Hooks 2.0 names for the client's token. Everything else (HS*, none,
#: ES256, …) is refused: an HS384 token "signed" with the public key is the classic confusion.
SPEC_ALGORITHMS: tuple[str, ...] = ("ES384", "RS384")


class LinkType(StrEnum):
    """CDS Hooks link types: ``smart`` launches the app through the EHR; ``absolute`` opens it."""

    SMART = "smart"
    ABSOLUTE = "absolute"


class ServiceSettings(BaseModel):
    """Everything :func:`riskcalc.service.create_app` needs; frozen, validated at construction.

    Parameters
    ----------
    service_url
        The base URL at which CDS clients reach this service (scheme, host, port and any path
        prefix, no trailing slash), e.g. ``https://cds.example.org``. A token's ``aud`` must equal
        the endpoint called: ``{service_url}/cds-services/{id}`` (or ``…/feedback``).
        Required when authentication is on.
    jwks_url, jwks_file
        Where the CDS clients' public keys are (a JWK Set). Exactly one when authentication is on.
    issuers
        Allow-list of token issuers (``iss``). Required when authentication is on.
    dev_no_auth
        Turn authentication off (local development only; logged loudly on every start).
    max_request_bytes
        Largest request body accepted, bytes; larger ones get 413.
    max_token_lifetime_s
        Longest accepted ``exp - iat``, seconds; bounds the replay store.
    replay_store
        SQLite file for the seen ``jti`` values, shared by several worker processes; None keeps
        them in memory (one process).
    clock_skew_s
        Tolerance for ``exp``/``iat`` between the client's clock and ours, seconds.
    warning_at_probability
        Risk (0–1) from which the card's indicator is ``warning`` rather than ``info``. The
        service never uses ``critical``: this is a research tool.
    app_url, link_type
        Where the card's link opens the full view, and how (``smart`` or ``absolute``).
    feedback_file
        JSON Lines file that feedback is appended to; None keeps no record.
    horizon_months
        Horizon passed to :func:`riskcalc.assess`; None uses the model's default.
    model_path
        Model artifact folder; None uses the shipped default model.
    include_system_actions
        Return the FHIR ``RiskAssessment`` as a ``systemActions`` ``create`` entry.
    fhir_server_allow
        URL prefixes of FHIR servers the service may query when prefetch is missing. Empty:
        any ``https`` server (plain ``http`` only when listed here).
    fetch_timeout_s, fetch_max_response_bytes, fetch_max_pages
        Bounds on each request to a FHIR server (seconds), on the bytes fetched for one hook
        call, and on the pages followed through each searchset's ``next`` links.
    fetch_page_size
        ``_count`` asked of the FHIR server for searches (servers may cap it lower).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    service_url: str | None = None
    jwks_url: str | None = None
    jwks_file: Path | None = None
    issuers: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = SPEC_ALGORITHMS
    dev_no_auth: bool = False
    max_request_bytes: int = Field(20 * 1024 * 1024, gt=0)
    max_token_lifetime_s: int = Field(300, gt=0)
    clock_skew_s: int = Field(30, ge=0)
    max_replay_entries: int = Field(1_000_000, gt=0)
    replay_store: Path | None = None
    warning_at_probability: float = Field(0.20, gt=0, le=1)
    app_url: str | None = None
    link_type: LinkType = LinkType.ABSOLUTE
    feedback_file: Path | None = None
    horizon_months: int | None = Field(None, gt=0)
    model_path: Path | None = None
    include_system_actions: bool = False
    fhir_server_allow: tuple[str, ...] = ()
    fetch_timeout_s: float = Field(5.0, gt=0)
    fetch_max_response_bytes: int = Field(50 * 1024 * 1024, gt=0)
    fetch_max_pages: int = Field(20, gt=0)
    fetch_page_size: int = Field(200, gt=0)

    def check_complete(self) -> None:
        """Raise :class:`~riskcalc.errors.ConfigError` unless the settings can run a service.

        Cross-field rules live here rather than in a pydantic validator, which would wrap the
        error in its own ``ValidationError``.
        """
        bad = sorted(set(self.algorithms) - set(SPEC_ALGORITHMS))
        if bad:
            raise ConfigError(
                "config.invalid",
                f"algorithms {bad} are not allowed; CDS Hooks names only {list(SPEC_ALGORITHMS)}",
            )
        if self.dev_no_auth:
            return
        missing = []
        if not self.service_url:
            missing.append("service_url (--audience): the URL clients call this service at")
        if (self.jwks_url is None) == (self.jwks_file is None):
            missing.append("exactly one of jwks_url (--jwks-url) and jwks_file (--jwks-file)")
        if not self.issuers:
            missing.append("at least one allowed issuer (--issuer)")
        if missing:
            raise ConfigError(
                "config.invalid",
                "authentication is on, so the service needs "
                + "; ".join(missing)
                + " (or --dev-no-auth for local development only)",
            )

    @property
    def base_url(self) -> str:
        """``service_url`` without a trailing slash ("" when unset)."""
        return (self.service_url or "").rstrip("/")
