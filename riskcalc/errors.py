"""Errors and warnings: part of riskcalc's public API.

Every failure that reaches a caller is a :class:`RiskCalcError` subclass with a stable ``code``
(listed in :data:`ERROR_CODES`, with its cause and what to do), a message a person can act on, and,
where known, the JSON location and the resource id. Categories also subclass the matching built-in
exception, so ``except ValueError`` keeps working for callers who do not know riskcalc.

Data-quality findings that do not stop a result are *issues* (:class:`Issue`) collected on the
result; their codes are listed in :data:`WARNING_CODES`. The typed :class:`RiskCalcWarning`
categories exist for callers who prefer Python's ``warnings`` machinery.

The CLI maps each category to an exit status (:attr:`RiskCalcError.exit_status`), documented in
``docs/errors.md`` (generated from the tables below).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True)
class CodeInfo:
    """What a stable code means: its cause and what the user should do about it."""

    cause: str
    action: str


class RiskCalcError(Exception):
    """Root of every error riskcalc raises on purpose.

    Parameters
    ----------
    code
        Stable machine-readable code, a key of :data:`ERROR_CODES`.
    message
        What went wrong, what was expected and what was found.
    location
        Where in the input, as a JSON path (``entry[3].resource.onsetDateTime``) or ``file:line``.
    resource_id
        ``ResourceType/id`` of the resource concerned, where known.
    """

    exit_status: int = 1

    def __init__(
        self,
        code: str,
        message: str,
        *,
        location: str | None = None,
        resource_id: str | None = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise KeyError(f"unregistered error code {code!r}; add it to riskcalc.errors")
        super().__init__(message)
        self.code = code
        self.message = message
        self.location = location
        self.resource_id = resource_id

    def __str__(self) -> str:
        where = [p for p in (self.resource_id, self.location) if p]
        suffix = f" (at {', '.join(where)})" if where else ""
        return f"[{self.code}] {self.message}{suffix}"

    def to_dict(self) -> dict[str, str | None]:
        """The error as plain data, for JSON output and error rows."""
        return {
            "code": self.code,
            "message": self.message,
            "location": self.location,
            "resource_id": self.resource_id,
        }


class InputError(RiskCalcError, ValueError):
    """The input could not be read as FHIR the library can use (bad JSON, limits, no patient)."""

    exit_status = 3


class ModelError(RiskCalcError, RuntimeError):
    """A model artifact is missing, altered, untrusted or incompatible."""

    exit_status = 4


class ConfigError(RiskCalcError, ValueError):
    """An argument or setting is out of its allowed range."""

    exit_status = 5


class RemoteError(RiskCalcError, ConnectionError):
    """A remote FHIR server could not be reached or answered badly."""

    exit_status = 6


ERROR_CODES: dict[str, CodeInfo] = {
    # reading
    "input.not_found": CodeInfo("The path does not exist.", "Check the path."),
    "input.unsupported_source": CodeInfo(
        "The source is not a path, bytes, str or dict, or the file type is unknown.",
        "Pass a .json/.ndjson file (optionally .gz or .bz2), a folder of them, bytes, str or a dict.",
    ),
    "input.decompression": CodeInfo(
        "A .gz or .bz2 file is corrupt or truncated.", "Re-export or re-download the file."
    ),
    "input.encoding": CodeInfo(
        "The bytes are not UTF-8 text.", "Export the data as UTF-8 JSON (FHIR requires UTF-8)."
    ),
    "input.json_syntax": CodeInfo(
        "The text is not valid JSON (for example an unclosed bracket or a truncated file).",
        "Fix the JSON at the reported location, or re-export the data.",
    ),
    "input.not_fhir": CodeInfo(
        "The JSON is not a FHIR resource: no object with a 'resourceType'.",
        "Pass a FHIR Bundle, NDJSON export or resource.",
    ),
    "input.too_large": CodeInfo(
        "The input is larger than the configured byte limit.",
        "Raise `Limits.max_bytes` if the file is trusted, or split the input.",
    ),
    "input.too_deep": CodeInfo(
        "The JSON nests deeper than the configured limit.",
        "Raise `Limits.max_depth` if the file is trusted; real FHIR rarely nests past 20.",
    ),
    "input.too_many_resources": CodeInfo(
        "A patient has more resources than the configured limit.",
        "Raise `Limits.max_resources_per_patient` if the record is trusted.",
    ),
    "input.invalid_resource": CodeInfo(
        "A resource the model needs failed FHIR R4 validation.",
        "Fix the resource at the reported location; the message names the field.",
    ),
    "input.no_patient": CodeInfo(
        "The input holds no Patient resource, so there is no one to assess.",
        "Include the Patient resource (and its records) in the Bundle or export.",
    ),
    "input.patient_repeated": CodeInfo(
        "A cohort read (read_histories) met a patient already read from another file of the "
        "same input: part of a record split over files, or the same patient exported twice. "
        "The history read first stands; this part is not in it, and is not read again as a "
        "second patient.",
        "Read the cohort with `whole_records=True` (CLI: `--whole-records`), which reads a "
        "record split over a folder's JSON files as one; or read that patient whole with "
        "`read_history(source, patient_id=…)` (CLI: `riskcalc history SOURCE --patient ID`); "
        "or keep each patient's record in one file.",
    ),
    "input.patient_not_found": CodeInfo(
        "The requested patient id is not in the input.", "Check the id, or omit it."
    ),
    "input.several_patients": CodeInfo(
        "The input holds several patients and no patient id was given.",
        "Pass `patient_id=` (CLI: --patient), or use read_histories / `riskcalc score`.",
    ),
    "input.unit_unknown": CodeInfo(
        "A measured quantity (such as IL-6) has a unit that cannot be converted.",
        "Report the value in a supported unit (IL-6: pg/mL or ng/L).",
    ),
    "input.value_invalid": CodeInfo(
        "A measured value is negative, not a number or infinite.",
        "Correct the value at its source.",
    ),
    # model
    "model.not_found": CodeInfo(
        "No model artifact at the given path.", "Train one (`riskcalc train`) or omit the path."
    ),
    "model.hash_mismatch": CodeInfo(
        "A file of the model artifact differs from its recorded SHA-256.",
        "The artifact was altered or damaged: restore it from its source or retrain.",
    ),
    "model.untrusted_type": CodeInfo(
        "The model file contains a type outside the allow-list.",
        "Do not load it; train a model with riskcalc or extend the allow-list after review.",
    ),
    "model.incompatible": CodeInfo(
        "The artifact was made for another feature schema or format version, or one of its "
        "files (a skops file, compiled.npz) cannot be read by this riskcalc.",
        "Retrain or recalibrate the model with this riskcalc version.",
    ),
    "model.training_failed": CodeInfo(
        "The cohort cannot train a model (too few patients or events, or one class only).",
        "Use a larger cohort, a longer follow-up or another horizon.",
    ),
    "model.evaluation_failed": CodeInfo(
        "The cohort cannot evaluate the model at the horizon: no patient is eligible at an "
        "index date, or among the rows with known status at the horizon there is no event or "
        "no non-event (discrimination is then undefined).",
        "Use a larger cohort, a longer follow-up or a shorter horizon (`--horizon-months`); "
        "the message gives the counts and the exclusions by reason.",
    ),
    # configuration
    "config.invalid": CodeInfo(
        "An argument is outside its allowed range or of the wrong kind.",
        "Correct the argument as the message says.",
    ),
    "config.output_unwritable": CodeInfo(
        "An output cannot be written where it was asked for: a folder on its path is missing "
        "and cannot be made, or is a file; permission is denied; or the file system is "
        "read-only or full. Nothing was written there.",
        "Choose an output path in a folder you can write to; check its permissions and the "
        "free space.",
    ),
    # remote FHIR servers (CDS Hooks fetch)
    "remote.unreachable": CodeInfo(
        "The FHIR server did not answer in time or refused the connection.",
        "Check fhirServer and the network; retry.",
    ),
    # a Dask scheduler (riskcalc.scale, --scheduler): a remote service, though not a FHIR one
    "remote.scheduler_unreachable": CodeInfo(
        "The Dask scheduler given (`--scheduler`, `scheduler=`) refused the connection or did "
        "not answer within 10 s.",
        "Check the address (tcp://host:port), that the scheduler runs and that this machine "
        "can reach it (for Kubernetes, port-forward its service); or omit it to run on a "
        "LocalCluster.",
    ),
    "remote.bad_response": CodeInfo(
        "The FHIR server answered with an error status or a body that is not FHIR.",
        "Check the server's logs and the access token's scopes.",
    ),
    "remote.too_large": CodeInfo(
        "The FHIR server's answer exceeded the service's response-size or page limit.",
        "Send the data as prefetch, or raise the service's fetch limits if the server is trusted.",
    ),
    # SMART App Launch (riskcalc.smart, the app's "From the EHR")
    "smart.untrusted_server": CodeInfo(
        "The launch names a FHIR server (iss) that the app does not accept launches from.",
        "Launch from a server in RISKCALC_SMART_ISS (SmartClient.issuers), or add it there.",
    ),
    "smart.discovery": CodeInfo(
        "The FHIR server publishes no usable /.well-known/smart-configuration (missing, not "
        "JSON, no https endpoints, or no PKCE S256).",
        "Check the server's SMART configuration; SMART App Launch 2.2 requires S256.",
    ),
    "smart.denied": CodeInfo(
        "The authorization server answered the sign-in with an error (such as access_denied).",
        "Sign in again and grant the access asked for, or ask the EHR's administrator.",
    ),
    "smart.state": CodeInfo(
        "The answer of the sign-in matches no launch waiting in this app (used, expired or begun "
        "elsewhere).",
        "Start the launch again from the EHR.",
    ),
    "smart.scope": CodeInfo(
        "The EHR granted read access to fewer resource types than the history reads, so the "
        "record would be incomplete.",
        "Grant the scopes the app asks for (docs/integrators/smart-launch.md), or ask the EHR's "
        "administrator.",
    ),
    "smart.token": CodeInfo(
        "The token endpoint refused the authorization code, or its answer has no bearer token "
        "or no patient in context.",
        "Check the app's client registration (client id, redirect URI) and the scopes granted.",
    ),
    # CDS Hooks service (riskcalc serve): the `code` of its JSON error bodies
    "service.unauthorized": CodeInfo(
        "The request's JWT bearer token is missing or failed verification (signature, issuer, "
        "audience, expiry, algorithm, key id or replayed jti).",
        "Send a fresh token signed with a key in the configured JWKS, with aud equal to the "
        "service endpoint URL.",
    ),
    "service.bad_request": CodeInfo(
        "The request body is not a valid CDS Hooks request or feedback.",
        "Fix the field named in the message.",
    ),
    "service.too_large": CodeInfo(
        "The request body exceeds the service's size limit.",
        "Send less prefetch data, or raise --max-request-mb if the client is trusted.",
    ),
    "service.not_found": CodeInfo("No CDS service with that id.", "Call GET /cds-services."),
    "service.data_unavailable": CodeInfo(
        "Prefetch data are missing and the FHIR server could not be queried for them.",
        "Send the prefetch the discovery document asks for, or fhirServer and fhirAuthorization.",
    ),
    "service.internal": CodeInfo(
        "An unexpected failure inside the service (a bug).",
        "Report it with the hookInstance; the service log has the error type.",
    ),
}


class Issue(BaseModel):
    """A data-quality finding collected on a result: the record was used, with this caveat."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    source: str | None = None


WARNING_CODES: dict[str, CodeInfo] = {
    "resource.skipped_invalid": CodeInfo(
        "A resource failed FHIR validation and was left out of the history.",
        "Fix the resource; the message names the field.",
    ),
    "resource.entered_in_error": CodeInfo(
        "A resource marked entered-in-error or refuted was ignored.", "None: this is by design."
    ),
    "resource.other_patient": CodeInfo(
        "A resource refers to another patient than the one being read and was not mixed in.",
        "None, unless the reference is wrong in the source.",
    ),
    "resource.unresolved_subject": CodeInfo(
        "A resource has no subject/patient reference that resolves to a patient and was left out.",
        "Add the subject reference.",
    ),
    "resource.duplicate": CodeInfo(
        "The same resource (type and id) appeared more than once; one copy was kept.",
        "None; check the export if copies differ.",
    ),
    "patient.no_id": CodeInfo(
        "The Patient resource has no id: the patient is named by its fullUrl or its place in "
        "the input, and a RiskAssessment names it by display only, not by a reference.",
        "Export the Patient with its id.",
    ),
    "resource.unknown_type": CodeInfo(
        "A resource type unknown to FHIR R4 was passed over.", "Check the export."
    ),
    "ndjson.bad_line": CodeInfo(
        "A line of an NDJSON file is not a JSON object, or nests deeper than "
        "`Limits.max_depth`, and was skipped.",
        "Fix or re-export that line; the location gives file and line.",
    ),
    "date.partial": CodeInfo(
        "A date was given only to the month or year and was widened to the whole period.",
        "None; give full dates where known.",
    ),
    "date.invalid": CodeInfo(
        "A date is malformed, before birth or in the future, and was not used.",
        "Correct the date at its source.",
    ),
    "cancer.active_without_end": CodeInfo(
        "The cancer stays 'active' with no abatement; the at-risk start follows the documented rule.",
        "Record abatement or an mCODE disease status where the patient is in remission.",
    ),
    "cancer.none": CodeInfo(
        "No cancer diagnosis was found in the record.", "None if the patient has had no cancer."
    ),
    "infection.unknown_severity": CodeInfo(
        "An infection's severity could not be determined and 'mild' was assumed.",
        "Link the Encounter that treated the infection.",
    ),
    "il6.unit_unknown": CodeInfo(
        "An IL-6 result had a unit that cannot be converted to pg/mL and was not used.",
        "Report IL-6 in pg/mL or ng/L.",
    ),
    "il6.value_invalid": CodeInfo(
        "An IL-6 result was negative, not a number or infinite (after unit conversion) and was "
        "not used.",
        "Correct the value at its source.",
    ),
    "cancer.no_onset": CodeInfo(
        "The primary cancer has no usable onset date (missing, malformed, before birth or in the "
        "future) and no abatement or remission status, so no at-risk start could be derived.",
        "Record the cancer's onset (Condition.onsetDateTime) or its abatement.",
    ),
    "record.undated": CodeInfo(
        "A recognised record (an infection, a virus test, an IL-6 result, a treatment, a "
        "vaccination, a cancer disease status) has no usable date, so it cannot be placed in "
        "time and is left out of the history.",
        "Record its date (onset, effective, performed or occurrence) at its source.",
    ),
    "cancer.returned_status": CodeInfo(
        "A cancer's clinical status is 'recurrence' or 'relapse': the record says it has come "
        "back, without a date, so the history cannot place it; the estimate assumes a survivor "
        "in remission and may not apply.",
        "Record the recurrence as a dated Condition (a metastasis, or the recurrent cancer's "
        "onset), or correct the clinical status.",
    ),
    "metastasis.undated": CodeInfo(
        "A metastasis is recorded with no usable onset or recorded date: metastatic disease at a "
        "time the record does not give, so no first relapse is estimated and no training label "
        "is made for the patient.",
        "Record the metastasis's onset (Condition.onsetDateTime) or its recorded date.",
    ),
    "assess.extrapolation": CodeInfo(
        "An input lies outside the range seen in training; the estimate is an extrapolation.",
        "Interpret the result with extra caution.",
    ),
    "evaluation.few_events": CodeInfo(
        "An evaluation at a horizon has fewer than 10 events or 10 non-events with known status: "
        "its confidence intervals, flexible calibration curve and ICI are not estimated (None), "
        "or, with no event or no non-event, nothing is estimated at that horizon.",
        "Read the point estimates as unreliable; evaluate on a larger cohort or a longer "
        "follow-up.",
    ),
    "assess.missing_input": CodeInfo(
        "An input the model uses was missing and was handled as documented in the feature schema.",
        "Record the missing data if it is known.",
    ),
    "awakening.before_at_risk": CodeInfo(
        "An infection began before the at-risk (remission) start and does not count in the "
        "awakening score, whose dormant pool starts then.",
        "None if the at-risk start is right; otherwise record remission correctly.",
    ),
    "awakening.no_at_risk_start": CodeInfo(
        "The history has no at-risk start; the awakening model started its dormant pool at the "
        "first counted infection (or at as_of), so the background is understated.",
        "Record the cancer's abatement or an mCODE disease status.",
    ),
}


class RiskCalcWarning(UserWarning):
    """Root of riskcalc's Python warning categories."""


class DataQualityWarning(RiskCalcWarning):
    """The input was used with a caveat (see :class:`Issue`)."""


class ExtrapolationWarning(RiskCalcWarning):
    """A prediction lies outside the training data's range."""


def is_registered(code: str) -> bool:
    """True if ``code`` is a registered error or warning code."""
    return code in ERROR_CODES or code in WARNING_CODES
