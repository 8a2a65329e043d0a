"""riskcalc app: entry point (`riskcalc app`, `make app`). Holds no logic: calls riskcalc and draws.

Pages: Patient (clinician view with what-ifs), Cohort (researchers: score many patients) and
Model card. Every page opens with the research-use statement and the model version.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run` puts this folder on sys.path; make sure of it for other runners too.
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import common  # noqa: E402

st.set_page_config(
    page_title="riskcalc (research use only)",
    # An emoji: Streamlit draws it as an inline SVG favicon. A ":material/…:" page icon is
    # fetched from fonts.gstatic.com on every load (offline it fails; from a clinical network
    # it is a request to the outside). The icons inside the page use the bundled font.
    page_icon="🔬",
    layout="wide",
)
page = st.navigation(
    [
        st.Page("views/patient.py", title="Patient", icon=":material/person:", default=True),
        st.Page("views/cohort.py", title="Cohort (researchers)", icon=":material/groups:"),
        st.Page("views/model_card.py", title="Model card", icon=":material/description:"),
    ],
    position="top",
)
# Less empty space above the banner, so the statement and the result fit without scrolling.
st.html('<style>[data-testid="stMainBlockContainer"]{padding-top:3.5rem}</style>')
common.banner()
page.run()
