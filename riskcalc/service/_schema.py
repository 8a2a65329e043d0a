"""The CDS Hooks 2.0 messages the service reads and writes, as frozen pydantic models.

Requests are checked strictly where the service relies on a field (``hook``, ``hookInstance``,
``context.patientId``, the feedback outcome) and leniently elsewhere (unknown fields are kept,
as the specification lets clients add extensions).
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from riskcalc.service._fetch import B64TOKEN


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Indicator(StrEnum):
    """Card urgency. The service uses only ``info`` and ``warning`` (research tool)."""

    INFO = "info"
    WARNING = "warning"


# -- request ------------------------------------------------------------------------------------


class FhirAuthorization(_In):
    access_token: str = Field(pattern=f"^{B64TOKEN.pattern}$")
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None


class PatientViewContext(_In):
    userId: str = Field(min_length=1)
    patientId: str = Field(pattern=r"^[A-Za-z0-9\-.]{1,64}$")
    encounterId: str | None = None


class HookRequest(_In):
    hook: str
    hookInstance: str = Field(min_length=1, max_length=128)
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: PatientViewContext
    prefetch: dict[str, Any] | None = None


class OverrideReason(_In):
    reason: dict[str, Any] | None = None
    userComment: str | None = None


class AcceptedSuggestion(_In):
    id: str


#: A FHIR ``instant``: date, time to the second and a time zone, as CDS Hooks 2.0 feedback's
#: ``outcomeTimestamp`` is ("ISO8601 representation of the date and time in UTC").
_INSTANT = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))"
)


def _instant(text: str) -> str:
    """``text`` if it is a FHIR instant that names a real moment; the message never echoes it."""
    if _INSTANT.fullmatch(text) is not None:
        try:
            dt.datetime.fromisoformat(text[:19])  # a real day and time: not 02-30, not 25:00
        except ValueError:
            pass
        else:
            return text
    raise ValueError("must be an ISO 8601 instant with a time zone, e.g. 2024-06-01T10:00:00Z")


class FeedbackItem(_In):
    card: str = Field(min_length=1)
    outcome: Literal["accepted", "overridden"]
    outcomeTimestamp: Annotated[str, AfterValidator(_instant)]
    acceptedSuggestions: tuple[AcceptedSuggestion, ...] = ()
    overrideReason: OverrideReason | None = None


class FeedbackRequest(_In):
    feedback: tuple[FeedbackItem, ...] = Field(min_length=1)


# -- response -----------------------------------------------------------------------------------


class Coding(_Out):
    system: str
    code: str
    display: str | None = None


class Source(_Out):
    label: str
    url: str | None = None
    topic: Coding | None = None


class Link(_Out):
    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None


class Card(_Out):
    uuid: str
    summary: str = Field(max_length=140)
    indicator: Indicator
    source: Source
    detail: str | None = None
    links: tuple[Link, ...] = ()


class SystemAction(_Out):
    type: Literal["create"]
    description: str
    resource: dict[str, Any]


class HookResponse(_Out):
    cards: tuple[Card, ...] = ()
    systemActions: tuple[SystemAction, ...] = ()


class ServiceDescription(_Out):
    hook: str
    title: str
    description: str
    id: str
    prefetch: dict[str, str]
    usageRequirements: str | None = None


class Discovery(_Out):
    services: tuple[ServiceDescription, ...]
