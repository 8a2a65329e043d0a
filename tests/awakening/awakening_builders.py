"""Small builders shared by the awakening tests (histories built directly, no FHIR)."""

from __future__ import annotations

import datetime as dt

from riskcalc.history import InfectionEpisode, Pathogen, PatientHistory, Severity

START = dt.date(2015, 1, 1)


def episode(
    onset: dt.date,
    pathogen: Pathogen | str = Pathogen.INFLUENZA,
    severity: Severity | str = Severity.MILD,
    *,
    il6: float | None = None,
    blockade: bool = False,
    steroids: bool = False,
    days: int = 7,
) -> InfectionEpisode:
    return InfectionEpisode(
        pathogen=Pathogen(pathogen),
        onset=onset,
        end=onset + dt.timedelta(days=days - 1),
        severity=Severity(severity),
        il6_peak_pg_ml=il6,
        il6_blockade=blockade,
        corticosteroids=steroids,
        sources=(f"Condition/{onset.isoformat()}",),
    )


def history(*episodes: InfectionEpisode, start: dt.date | None = START) -> PatientHistory:
    return PatientHistory(patient_id="test", at_risk_start=start, infections=tuple(episodes))


def days(n: int, base: dt.date = START) -> dt.date:
    return base + dt.timedelta(days=n)
