"""The bundled demo patients: readable by the reader, and each shows what its label says."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import riskcalc
from riskcalc.demo import demo_bundle, list_demo_patients
from riskcalc.history import Pathogen, Severity, TreatmentKind

NAMES = [p.name for p in list_demo_patients()]


def _history(name: str) -> riskcalc.PatientHistory:
    return riskcalc.read_history(demo_bundle(name))


def test_five_patients_with_unique_names_and_text() -> None:
    patients = list_demo_patients()
    assert len(patients) == 5
    assert len(set(NAMES)) == 5
    for p in patients:
        assert p.label and p.description


@pytest.mark.parametrize("name", NAMES)
def test_each_bundle_is_a_synthetic_r4_bundle_read_without_warnings(name: str) -> None:
    bundle = json.loads(demo_bundle(name))
    assert bundle["resourceType"] == "Bundle"
    patients = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    assert len(patients) == 1
    assert patients[0]["meta"]["tag"][0]["code"] == "synthetic"
    history = _history(name)
    assert history.warnings == ()
    assert history.cancers and history.at_risk_start is not None
    assert history.birth_date is not None
    assert all(e.onset >= history.at_risk_start for e in history.infections)
    assert history.last_contact is not None and history.last_contact <= dt.date.today()
    # every reference in the basis is an entry of the bundle
    ids = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    assert set(history.basis) <= ids


def test_no_infection() -> None:
    assert _history("no-infection").infections == ()


def test_mild_covid() -> None:
    (episode,) = _history("mild-covid").infections
    assert episode.pathogen is Pathogen.COVID19 and episode.severity is Severity.MILD


def test_repeated_infections_cover_three_pathogens_over_years() -> None:
    episodes = _history("repeated-infections").infections
    assert {e.pathogen for e in episodes} == {Pathogen.INFLUENZA, Pathogen.COVID19, Pathogen.RSV}
    assert (episodes[-1].onset - episodes[0].onset).days > 5 * 365


def test_hospitalised_flu_has_measured_il6_peak() -> None:
    (episode,) = _history("hospitalised-flu").infections
    assert episode.pathogen is Pathogen.INFLUENZA
    assert episode.severity is Severity.HOSPITALISED
    assert episode.il6_peak_pg_ml == pytest.approx(210.0)


def test_severe_covid_with_blockade() -> None:
    history = _history("severe-covid-blockade")
    (episode,) = history.infections
    assert episode.severity is Severity.CRITICAL and episode.il6_blockade
    assert TreatmentKind.IL6_BLOCKADE in {t.kind for t in history.treatments}


def test_unknown_name_is_a_config_error() -> None:
    with pytest.raises(riskcalc.ConfigError) as info:
        demo_bundle("nobody")
    assert info.value.code == "config.invalid"
