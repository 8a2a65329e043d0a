"""What every page shares: the banner (model version + research-use statement), the model,
errors shown with their code, and reading an upload. Drawing only: numbers come from riskcalc."""

from __future__ import annotations

import hashlib
import re

import streamlit as st

import riskcalc
from riskcalc import RESEARCH_USE_STATEMENT, Limits, RiskCalcError
from riskcalc.errors import ERROR_CODES
from riskcalc.model import RiskModel, load_model

#: Largest upload accepted, MB (also passed to `streamlit run` as server.maxUploadSize).
MAX_UPLOAD_MB = 50
UPLOAD_LIMITS = Limits(max_bytes=MAX_UPLOAD_MB * 1024 * 1024 * 4)
UPLOAD_TYPES = ["json", "ndjson", "gz", "bz2"]


def model_or_error() -> tuple[RiskModel | None, RiskCalcError | None]:
    """The default model, or the error that says why there is none (never raises)."""
    try:
        return load_model(), None
    except RiskCalcError as exc:
        return None, exc


def banner() -> None:
    """Research-use statement and model version: first thing on every page."""
    model, error = model_or_error()
    if model is not None:
        info = model.info
        simulated = (
            " (simulated data)"
            if info.trained_on_simulated_data and "simulated" not in info.trained_on.lower()
            else ""
        )
        line = (
            f"Risk model **{info.model_id} {info.version}**, trained on {info.trained_on}"
            f"{simulated} · riskcalc {riskcalc.__version__}"
        )
    else:
        code = error.code if error is not None else "model.not_found"
        line = (
            f"Risk model **not available** ({code}): no calibrated risk can be shown · "
            f"riskcalc {riskcalc.__version__}"
        )
    st.warning(f"**{RESEARCH_USE_STATEMENT}**  \n{line}", icon=":material/science:")


#: ASCII punctuation, which CommonMark lets a backslash make literal.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def literal(text: str) -> str:
    """``text`` to show as it is in Markdown: no link, image, emphasis or HTML made of it.

    Error messages quote what came in (a file's text, a URL's query parameters), and a
    crafted one must not put a link of someone else's on the page.
    """
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def show_error(exc: RiskCalcError, what: str) -> None:
    """A library error as a clear message with its stable code (and JSON location if known)."""
    where = f" (at {literal(exc.location)})" if exc.location else ""
    info = ERROR_CODES.get(exc.code)
    action = f"  \nWhat to do: {info.action}" if info is not None else ""
    st.error(
        f"{what}: {literal(exc.message)}{where}{action}  \nError code: `{exc.code}`",
        icon=":material/error:",
    )


def upload_too_large(data: bytes) -> bool:
    return len(data) > MAX_UPLOAD_MB * 1024 * 1024


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]
