"""Record-based features: schema order, no look-ahead, windows, missing policy."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskcalc import awakening
from riskcalc.errors import ConfigError
from riskcalc.features import (
    FEATURE_NAMES,
    INFECTION_FEATURES,
    SCHEMA,
    MissingPolicy,
    feature_matrix,
    infection_feature_name,
    record_features,
    schema_json,
)
from riskcalc.history import (
    AtRiskBasis,
    Cancer,
    CancerSite,
    InfectionEpisode,
    Pathogen,
    PatientHistory,
    Severity,
    Treatment,
    TreatmentKind,
    Vaccination,
    VaccineKind,
)

INDEX = dt.date(2022, 1, 1)


def _ep(
    onset: dt.date,
    pathogen: Pathogen = Pathogen.COVID19,
    severity: Severity = Severity.MILD,
    **kw: object,
) -> InfectionEpisode:
    return InfectionEpisode.model_validate(
        {
            "pathogen": pathogen,
            "onset": onset,
            "end": onset + dt.timedelta(days=10),
            "severity": severity,
            **kw,
        }
    )


def _history(**kw: object) -> PatientHistory:
    base: dict[str, object] = {
        "patient_id": "p1",
        "birth_date": dt.date(1962, 1, 1),
        "sex": "female",
        "at_risk_start": dt.date(2015, 1, 1),
        "at_risk_start_basis": AtRiskBasis.ABATEMENT,
        "last_contact": dt.date(2023, 1, 1),
        "cancers": (
            Cancer(site=CancerSite.BREAST, codes=("x|1",), onset=dt.date(2014, 3, 1), stage="IIA"),
        ),
    }
    base.update(kw)
    return PatientHistory.model_validate(base)


def test_schema_is_consistent() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES) == len(SCHEMA)
    assert set(INFECTION_FEATURES) < set(FEATURE_NAMES)
    assert "awakening_score" in INFECTION_FEATURES and "age_years" not in INFECTION_FEATURES
    assert all(s.allowed_range[0] <= s.allowed_range[1] for s in SCHEMA)
    assert [f["name"] for f in schema_json()["features"]] == list(FEATURE_NAMES)


def test_demographic_cancer_treatment() -> None:
    h = _history(
        treatments=(
            Treatment(kind=TreatmentKind.SURGERY, start=dt.date(2014, 4, 1)),
            Treatment(kind=TreatmentKind.ENDOCRINE, start=dt.date(2023, 1, 1)),
        )
    )
    f = record_features(h, index_date=INDEX)
    assert abs(f["age_years"] - 60.0) < 0.01
    assert f["sex_female"] == 1.0
    assert f["site_breast"] == 1.0 and f["site_lung"] == 0.0
    assert f["stage_group"] == 2.0
    assert abs(f["years_since_at_risk_start"] - 7.0) < 0.01
    assert f["tx_surgery"] == 1.0 and f["tx_endocrine"] == 0.0  # started after the index date


def test_missing_policy() -> None:
    h = _history(birth_date=None, sex="unknown", cancers=())
    f = record_features(h, index_date=INDEX)
    by_name = {s.name: s for s in SCHEMA}
    for name, value in f.items():
        if math.isnan(value):
            assert by_name[name].missing is MissingPolicy.NATIVE_NAN, name


def test_infection_windows_and_no_look_ahead() -> None:
    h = _history(
        infections=(
            _ep(dt.date(2014, 6, 1)),  # before the at-risk start: not counted
            _ep(
                dt.date(2017, 1, 1), Pathogen.INFLUENZA, Severity.HOSPITALISED, il6_peak_pg_ml=120.0
            ),
            _ep(dt.date(2020, 4, 1), Pathogen.COVID19, Severity.CRITICAL, il6_blockade=True),
            _ep(dt.date(2021, 6, 1)),
            _ep(dt.date(2022, 6, 1)),  # after the index date: not counted
        ),
        vaccinations=(
            Vaccination(vaccine=VaccineKind.INFLUENZA, date=dt.date(2021, 10, 1)),
            Vaccination(vaccine=VaccineKind.INFLUENZA, date=dt.date(2020, 10, 1)),
            Vaccination(vaccine=VaccineKind.COVID19, date=dt.date(2021, 2, 1)),
            Vaccination(vaccine=VaccineKind.COVID19, date=dt.date(2022, 2, 1)),
        ),
    )
    f = record_features(h, index_date=INDEX)
    assert f["inf_total_count"] == 3
    assert f[infection_feature_name(Pathogen.INFLUENZA, Severity.HOSPITALISED, "over_36m")] == 1
    assert f[infection_feature_name(Pathogen.COVID19, Severity.CRITICAL, "12_36m")] == 1
    assert f[infection_feature_name(Pathogen.COVID19, Severity.MILD, "0_12m")] == 1
    assert f["il6_peak_max_pg_ml"] == 120.0
    assert f["inf_il6_blockade_count"] == 1
    assert abs(f["years_since_last_infection"] - 214 / 365.25) < 1e-9
    assert f["vacc_influenza_12m_count"] == 1
    assert f["vacc_covid19_count"] == 1


@settings(max_examples=60, deadline=None)
@given(
    onsets=st.lists(st.integers(min_value=0, max_value=4000), max_size=8),
    shift=st.integers(min_value=1, max_value=400),
)
def test_adding_future_records_changes_nothing(onsets: list[int], shift: int) -> None:
    start = dt.date(2012, 1, 1)
    eps = tuple(_ep(start + dt.timedelta(days=d)) for d in onsets)
    index = start + dt.timedelta(days=4000)
    future = _ep(index + dt.timedelta(days=shift))
    a = record_features(_history(at_risk_start=start, infections=eps), index_date=index)
    b = record_features(_history(at_risk_start=start, infections=(*eps, future)), index_date=index)
    assert a.keys() == b.keys()
    assert all((a[k] == b[k]) or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)
    counts = [v for k, v in a.items() if k.startswith("inf_") and k.endswith("m_count")]
    assert sum(counts) == a["inf_total_count"] == len(onsets)


def test_feature_matrix_takes_the_awakening_scores_of_a_caller_that_has_them() -> None:
    histories = [
        PatientHistory(patient_id="a", at_risk_start=dt.date(2019, 1, 1)),
        PatientHistory(
            patient_id="b",
            at_risk_start=dt.date(2019, 1, 1),
            infections=(_ep(dt.date(2021, 3, 1)), _ep(dt.date(2020, 5, 1), Pathogen.INFLUENZA)),
        ),
    ]
    dates = [INDEX, dt.date(2021, 6, 1)]
    scores = [r.score for r in awakening.score_each(histories, as_of=dates)]
    computed = feature_matrix(histories, dates)
    given = feature_matrix(histories, dates, awakening_scores=scores)
    assert computed.tobytes() == given.tobytes()
    assert list(given[:, FEATURE_NAMES.index("awakening_score")]) == scores
    with pytest.raises(ConfigError):
        feature_matrix(histories, dates, awakening_scores=scores[:1])


def test_histories_sharing_their_records_get_each_its_own_features() -> None:
    """Copies that differ only in infections share the other records' features, nothing more."""
    patient = _history(
        infections=(_ep(dt.date(2020, 5, 1)), _ep(dt.date(2021, 3, 1), Pathogen.INFLUENZA)),
        vaccinations=(Vaccination(vaccine=VaccineKind.COVID19, date=dt.date(2021, 6, 1)),),
        treatments=(Treatment(kind=TreatmentKind.SURGERY, start=dt.date(2014, 4, 1)),),
    )
    copies = [
        patient.model_copy(update={"infections": ()}),
        patient.model_copy(update={"infections": patient.infections[:1]}),
        patient.model_copy(update={"sex": "male"}),
        patient.model_copy(update={"at_risk_start": dt.date(2020, 6, 1)}),
    ]
    histories = [patient, *copies, patient]
    dates = [INDEX, INDEX, INDEX, INDEX, INDEX, dt.date(2021, 1, 1)]
    together = feature_matrix(histories, dates, awakening_scores=[0.0] * len(histories))
    for row, history, day in zip(together, histories, dates, strict=True):
        alone = feature_matrix([history], [day], awakening_scores=[0.0])[0]
        assert row.tobytes() == alone.tobytes()
