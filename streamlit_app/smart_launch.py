"""Opening a patient from the EHR: SMART App Launch (riskcalc.smart) on the Patient page.

The EHR opens the app at ``…/?iss=<FHIR base>&launch=<opaque>`` (EHR launch), or the user
begins a standalone launch in the sidebar (``?iss=`` alone does the same). The page shows a
sign-in link to the EHR's authorization server, which
sends the browser back to the app with ``?code=…&state=…``; the record is then read from the
FHIR server and kept in this session's memory, with the access token, and nowhere else.
Drawing and session state only: the protocol is in riskcalc.smart.
"""

from __future__ import annotations

import hashlib
import html
import math
import os
import time
from dataclasses import dataclass

import common
import orjson
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from riskcalc import RiskCalcError
from riskcalc.smart import (
    LAUNCH_TTL_S,
    LaunchStore,
    PendingLaunch,
    SmartClient,
    authorization_error,
    begin_launch,
    client_from_environment,
    complete_launch,
    fetch_record,
)

#: The Patient page's "Record from" choice for a record opened from the EHR.
SOURCE = "From the EHR"
_RECORD = "smart_record"
_PENDING = "smart_pending"
_LAUNCH_PARAMS = ("iss", "launch")
#: What the redirect back carries (RFC 9207 adds the authorization server's ``iss``): all of it
#: leaves the address bar, or the next rerun would redeem the code again or begin a new launch.
_ANSWER_PARAMS = ("code", "state", "error", "error_description", "error_uri", "iss", "launch")
#: Streamlit's XSRF cookie: re-masked on every page, the token under the mask stays the same.
_XSRF_COOKIE = "_streamlit_xsrf"


@dataclass(frozen=True)
class EhrRecord:
    """A record read from the EHR in this session."""

    data: bytes
    iss: str
    patient_id: str


@st.cache_resource
def _store() -> LaunchStore:
    """Launches waiting for their sign-in, shared by every session of this server: the redirect
    back from the authorization server opens a new session."""
    return LaunchStore()


def _client() -> SmartClient | None:
    return client_from_environment(os.environ)


def ehr_record() -> EhrRecord | None:
    """The record opened from the EHR in this session, if any."""
    record = st.session_state.get(_RECORD)
    return record if isinstance(record, EhrRecord) else None


def handle_launch() -> bool:
    """Act on SMART parameters in the page's URL. True while a launch is in progress (the page
    then shows the sign-in step or the error, and nothing else)."""
    params = st.query_params.to_dict()
    if not any(k in params for k in (*_LAUNCH_PARAMS, "code", "error")):
        return False
    try:
        client = _client()
        if client is None:
            st.info(
                "This page was opened with a SMART launch, but this app is not registered with "
                "an EHR (set RISKCALC_SMART_CLIENT_ID, RISKCALC_SMART_REDIRECT_URI and "
                "RISKCALC_SMART_ISS; see docs/integrators/smart-launch.md). Pick a demo patient "
                "or upload a file instead."
            )
            return False
        if "code" in params or "error" in params:
            _finish(params, client)
            return False
        _sign_in_step(params, client)
    except RiskCalcError as exc:
        common.show_error(exc, "The patient could not be opened from the EHR")
    return True


def _browser() -> str | None:
    """A secret of this browser, to tie a launch to the browser that began it: a hash of the
    token in Streamlit's XSRF cookie (``2|mask|masked token|time``, the token the mask XORed
    with the masked token). None when the cookie is missing (XSRF protection turned off)."""
    raw = st.context.cookies.get(_XSRF_COOKIE)
    if not isinstance(raw, str) or not raw:  # (under AppTest there are no cookies)
        return None
    raw = raw.strip("\"'")
    parts = raw.split("|")
    token = raw.encode()  # a version 1 token is the token itself
    if len(parts) == 4 and parts[0] == "2":
        try:
            mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
        except ValueError:
            return None
        if mask:
            token = bytes(t ^ mask[i % len(mask)] for i, t in enumerate(masked))
    return hashlib.sha256(token).hexdigest()


def _begun(iss: str, launch: str | None, client: SmartClient) -> PendingLaunch:
    """The launch of this session for ``(iss, launch)``: begun once, not on every rerun, and
    again when it is about to expire in the store."""
    pending: tuple[tuple[str, str | None], PendingLaunch] | None = st.session_state.get(_PENDING)
    age_s = time.monotonic() - pending[1].started_s if pending is not None else math.inf
    if pending is not None and pending[0] == (iss, launch) and age_s < LAUNCH_TTL_S - 60:
        return pending[1]
    begun = begin_launch(iss, launch, client)
    _store().put(begun, browser=_browser())
    st.session_state[_PENDING] = ((iss, launch), begun)
    return begun


def _sign_in_link(begun: PendingLaunch, where: DeltaGenerator) -> None:
    where.markdown(
        f'<a href="{html.escape(begun.authorize_url)}" target="_self" '
        'data-testid="smart-sign-in">Sign in at the EHR →</a>',
        unsafe_allow_html=True,
    )
    where.caption("The access token is kept in this session's memory only, and never written.")


def _sign_in_step(params: dict[str, str], client: SmartClient) -> None:
    begun = _begun(params.get("iss", ""), params.get("launch"), client)
    st.subheader("Open the patient from the EHR")
    st.markdown(
        f"The EHR at `{begun.iss}` launched this app. Sign in there to let it read this "
        "patient's record (conditions, laboratory results, encounters, procedures, "
        "medications and immunizations; read only)."
    )
    _sign_in_link(begun, st.container())


def configured() -> bool:
    """True if this app is registered with an EHR (a half registration counts: it says so)."""
    try:
        return _client() is not None
    except RiskCalcError:
        return True


def standalone() -> None:
    """Sidebar: a standalone launch, begun here: pick the EHR, sign in, pick the patient there."""
    try:
        client = _client()
        if client is None:
            return
        servers = list(client.issuers)
        if not servers:
            st.sidebar.caption("No EHR is listed in RISKCALC_SMART_ISS.")
            return
        iss = st.sidebar.selectbox("EHR (FHIR server)", servers, key="smart_iss")
        begun = _begun(iss, None, client)
    except RiskCalcError as exc:
        common.show_error(exc, "The EHR could not be reached")
        return
    st.sidebar.caption("Sign in at the EHR and choose the patient there; the record opens here.")
    _sign_in_link(begun, st.sidebar)
    st.info("Sign in at the EHR in the sidebar to open a patient's record from it.")


def _finish(params: dict[str, str], client: SmartClient) -> None:
    """The redirect back: exchange the code, read the record, open it in this session."""
    for key in _ANSWER_PARAMS:  # a rerun must not redeem the code again
        st.query_params.pop(key, None)
    # first the launch this browser began (an answer for none is no news, whatever it says)
    pending = _store().take(params.get("state", ""), browser=_browser())
    denied = authorization_error(params)
    if denied is not None:
        raise denied
    with st.spinner(f"Reading the record from {pending.iss}…"):
        session = complete_launch(pending, params.get("code", ""), client)
        bundle = fetch_record(session, client)
    st.session_state[_RECORD] = EhrRecord(orjson.dumps(bundle), session.iss, session.patient_id)
    st.session_state.pop(_PENDING, None)
    st.session_state["source"] = SOURCE  # the Patient page's radio, not drawn yet in this run
