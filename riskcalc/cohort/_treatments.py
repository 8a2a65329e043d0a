"""Primary cancer treatment by site, stage and receptor status (shares are assumptions shaped on
NICE guidance NG101 (breast), NG151 (colorectal), NG122 (lung); see docs/science/cohort.md).

Only the codes agreed with the FHIR reader are used (every code is in riskcalc/codes/data; a test checks it): procedures
without an agreed code (prostatectomy, lobectomy, wide excision) are left out of the record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from riskcalc.cohort._params import YEAR_DAYS
from riskcalc.cohort._records import SimTreatment
from riskcalc.history import TreatmentKind

if TYPE_CHECKING:
    from riskcalc.cohort._engine import Baseline

SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

LUMPECTOMY = (SNOMED, "392021009", "Lumpectomy of breast")
MASTECTOMY = (SNOMED, "69031006", "Excision of breast tissue (mastectomy)")
COLECTOMY = (SNOMED, "23968004", "Colectomy")
RADIOTHERAPY = (SNOMED, "33195004", "Teleradiotherapy procedure")
CHEMO_PROC = (SNOMED, "367336001", "Chemotherapy")
TAMOXIFEN = (RXNORM, "10324", "tamoxifen")
AROMATASE = (
    (RXNORM, "84857", "anastrozole"),
    (RXNORM, "72965", "letrozole"),
    (RXNORM, "258494", "exemestane"),
)
TRASTUZUMAB = (RXNORM, "224905", "trastuzumab")
PERTUZUMAB = (RXNORM, "1298944", "pertuzumab")
AC_T = (
    (RXNORM, "3639", "doxorubicin"),
    (RXNORM, "3002", "cyclophosphamide"),
    (RXNORM, "56946", "paclitaxel"),
)
DOCETAXEL = (RXNORM, "72962", "docetaxel")

# P(chemotherapy) by stage I/II/III (assumption): breast, colorectal, lung.
CHEMO_P = {0: (0.25, 0.55, 0.9), 1: (0.0, 0.2, 0.8), 2: (0.1, 0.6, 0.8)}


def _t(
    kind: TreatmentKind, start: int, end: int, coding: tuple[str, str, str], resource: str
) -> SimTreatment:
    return SimTreatment(kind, start, end, coding[0], coding[1], coding[2], resource)


def _breast(
    u: np.ndarray, dx: int, rs: int, stage: int, er: bool, her2: bool, age: float
) -> list[SimTreatment]:
    span = rs - dx
    surgery = dx + span // 10
    out = [
        _t(
            TreatmentKind.SURGERY,
            surgery,
            surgery,
            LUMPECTOMY if u[0] < 0.6 else MASTECTOMY,
            "Procedure",
        )
    ]
    chemo = u[1] < CHEMO_P[0][stage] or (her2 and stage > 0) or (not er and stage > 0)
    c0, c1 = dx + span // 4, dx + (3 * span) // 4
    if chemo:
        out.append(_t(TreatmentKind.CHEMOTHERAPY, c0, c1, CHEMO_PROC, "Procedure"))
        for drug in AC_T if u[2] < 0.7 else (AC_T[1], DOCETAXEL):
            out.append(_t(TreatmentKind.CHEMOTHERAPY, c0, c1, drug, "MedicationRequest"))
    if u[0] < 0.6 or stage == 2:
        out.append(
            _t(TreatmentKind.RADIOTHERAPY, dx + (4 * span) // 5, rs - 1, RADIOTHERAPY, "Procedure")
        )
    if her2:
        out.append(_t(TreatmentKind.HER2_TARGETED, c0, c0 + 365, TRASTUZUMAB, "MedicationRequest"))
        if stage > 0 and u[3] < 0.5:
            out.append(
                _t(TreatmentKind.HER2_TARGETED, c0, c0 + 365, PERTUZUMAB, "MedicationRequest")
            )
    if er:
        drug = TAMOXIFEN if age < 50 else AROMATASE[int(u[4] * 3) % 3]
        out.append(
            _t(TreatmentKind.ENDOCRINE, rs - 10, rs + int(5 * YEAR_DAYS), drug, "MedicationRequest")
        )
    return out


def _other(u: np.ndarray, site: int, dx: int, rs: int, stage: int) -> list[SimTreatment]:
    span = rs - dx
    out = []
    if site == 1:
        s = dx + span // 10
        out.append(_t(TreatmentKind.SURGERY, s, s, COLECTOMY, "Procedure"))
    if site in CHEMO_P and u[1] < CHEMO_P[site][stage]:
        c0, c1 = dx + span // 4, dx + (3 * span) // 4
        out.append(_t(TreatmentKind.CHEMOTHERAPY, c0, c1, CHEMO_PROC, "Procedure"))
        if site == 2:
            out.append(_t(TreatmentKind.CHEMOTHERAPY, c0, c1, AC_T[2], "MedicationRequest"))
    radio = (site == 2 and stage == 2) or (site == 3 and u[2] < 0.5)
    if radio:
        out.append(
            _t(TreatmentKind.RADIOTHERAPY, dx + span // 2, rs - 1, RADIOTHERAPY, "Procedure")
        )
    return out


def treatment_plan(rng: np.random.Generator, base: Baseline) -> list[tuple[SimTreatment, ...]]:
    """Primary (and adjuvant) treatment of every patient of a chunk, dated before remission."""
    n = base.site.size
    u = rng.random((n, 5))
    plans: list[tuple[SimTreatment, ...]] = []
    for i in range(n):
        site, dx, rs, stage = (
            int(base.site[i]),
            int(base.diagnosis[i]),
            int(base.risk_start[i]),
            int(base.stage[i]),
        )
        if site == 0:
            age = (dx - int(base.birth[i])) / YEAR_DAYS
            plan = _breast(u[i], dx, rs, stage, bool(base.er[i]), bool(base.her2[i]), age)
        else:
            plan = _other(u[i], site, dx, rs, stage)
        plans.append(tuple(plan))
    return plans
