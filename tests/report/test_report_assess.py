"""assess() on real FHIR records: numbers where the model applies, reasons where it does not."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.riskassessment import RiskAssessment

import riskcalc
from riskcalc import awakening
from riskcalc.demo import demo_bundle
from riskcalc.report import ReportStatus, assess_histories, counterfactual_histories, risk_curve

COLON_COVID = "synthea-blaze/ad0b4b7a-2285-7a3c-5fd2-edbe4d67b7e7.json.bz2"
BREAST_NO_INFECTION = "synthea-blaze/dd92a3e7-d1db-c15a-f8fe-e3847b7f07b1.json.bz2"


def _find(fixtures: Path, pattern: str) -> Path:
    folder, prefix = pattern.split("/")
    return next((fixtures / folder).glob(prefix.split("-")[0] + "*"))


def test_colon_cancer_survivor_with_covid(fixtures: Path, default_model: Any) -> None:
    path = _find(fixtures, COLON_COVID)
    report = riskcalc.assess(path, as_of=dt.date(2021, 1, 1), model=default_model)
    assert report.status is ReportStatus.OK
    assert report.risk is not None and report.awakening is not None
    risk = report.risk
    assert 0 < risk.interval_low <= risk.probability <= risk.interval_high < 1
    assert risk.horizon_months == default_model.default_horizon_months
    (episode,) = report.awakening.contributions
    assert episode.pathogen.value == "covid19" and episode.onset == dt.date(2020, 3, 8)
    assert report.awakening.score > report.awakening.background
    assert report.awakening.hazard_multiplier > 1
    names = {c.name for c in report.counterfactuals}
    assert {"no_infections", "latest_prevented", "latest_blockade"} <= names
    [prevented] = [c for c in report.counterfactuals if c.name == "latest_prevented"]
    assert prevented.label.startswith("Had the latest infection (COVID-19, 2020-03-08)")
    assert all(c.hypothetical for c in report.counterfactuals)
    assert any(ref.startswith("Condition/") for ref in report.basis)
    assert report.model.trained_on_simulated_data
    assert report.research_use_statement == riskcalc.RESEARCH_USE_STATEMENT
    RiskAssessment.model_validate(report.to_fhir())


def test_basis_holds_only_the_records_up_to_as_of(fixtures: Path, default_model: Any) -> None:
    """An assessment before the 2020 COVID-19 episode did not use it: its Encounter and
    Condition are not in the basis, in the report or in the RiskAssessment."""
    path = _find(fixtures, COLON_COVID)
    history = riskcalc.read_history(path)
    (episode,) = history.infections
    before = riskcalc.assess(history, as_of=dt.date(2016, 1, 1), model=default_model)
    after = riskcalc.assess(history, as_of=dt.date(2021, 1, 1), model=default_model)
    assert set(episode.sources) <= set(after.basis)
    assert not set(episode.sources) & set(before.basis)
    assert set(before.basis) < set(after.basis) == set(history.basis)
    fhir_basis = {b["reference"] for b in before.to_fhir()["basis"]}
    assert fhir_basis == set(before.basis)


def test_no_infection_means_no_counterfactuals(fixtures: Path, default_model: Any) -> None:
    report = riskcalc.assess(
        _find(fixtures, BREAST_NO_INFECTION), as_of=dt.date(2020, 1, 1), model=default_model
    )
    # breast cancer in remission since 2015-02-16 (disease status), no infection on record
    assert report.status is ReportStatus.OK
    assert report.counterfactuals == ()
    assert report.awakening is not None and report.awakening.contributions == ()
    assert report.awakening.score == pytest.approx(report.awakening.background)


def test_not_applicable_without_cancer(fixtures: Path, default_model: Any) -> None:
    covid_child = next((fixtures / "nimbus" / "synthea-covid").glob("Bibi254*"))
    report = riskcalc.assess(covid_child, as_of=dt.date(2021, 1, 1), model=default_model)
    assert report.status is ReportStatus.NOT_APPLICABLE
    assert report.risk is None
    assert "no cancer" in (report.not_applicable_reason or "")
    resource = report.to_fhir()
    assert "prediction" not in resource


def test_not_applicable_before_remission(fixtures: Path, default_model: Any) -> None:
    report = riskcalc.assess(
        _find(fixtures, COLON_COVID), as_of=dt.date(2014, 1, 1), model=default_model
    )
    assert report.status is ReportStatus.NOT_APPLICABLE
    assert "not in remission" in (report.not_applicable_reason or "")


def test_counterfactual_no_infections_equals_history_without_them(
    fixtures: Path, default_model: Any
) -> None:
    history = riskcalc.read_history(_find(fixtures, COLON_COVID))
    as_of = dt.date(2021, 1, 1)
    report = riskcalc.assess(history, as_of=as_of, model=default_model)
    no_inf = history.model_copy(update={"infections": ()})
    direct = riskcalc.assess(no_inf, as_of=as_of, model=default_model)
    cf = next(c for c in report.counterfactuals if c.name == "no_infections")
    assert direct.risk is not None
    assert cf.probability == direct.risk.probability
    assert set(counterfactual_histories(no_inf, as_of)) == set()


def test_summary_and_hypotheticals_are_the_awakening_model_of_each_history(
    fixtures: Path, default_model: Any
) -> None:
    """One solve serves the patient and its hypotheticals: each gets its own history's result."""
    history = riskcalc.read_history(_find(fixtures, COLON_COVID))
    as_of = dt.date(2021, 1, 1)
    report = riskcalc.assess(history, as_of=as_of, model=default_model)
    wake = awakening.score(history, as_of=as_of)
    assert report.awakening is not None
    assert report.awakening.model_dump() == {
        **wake.summary(),
        "contributions": tuple(c.model_dump() for c in wake.contributions),
    }
    alternatives = counterfactual_histories(history, as_of)
    assert {c.name for c in report.counterfactuals} == set(alternatives)
    for cf in report.counterfactuals:
        _, altered = alternatives[cf.name]
        assert cf.awakening_score == awakening.score(altered, as_of=as_of).score


def test_report_contributions_have_the_awakening_model_fields() -> None:
    """The summary copies each contribution attribute by attribute: no field may be lost."""
    from riskcalc.report import EpisodeContribution

    assert (
        EpisodeContribution.model_fields.keys() == awakening.EpisodeContribution.model_fields.keys()
    )


def test_batch_equals_single(fixtures: Path, default_model: Any) -> None:
    paths = sorted((fixtures / "synthea-blaze").glob("*.json.bz2"))[2:8]
    histories = [riskcalc.read_history(p) for p in paths]
    as_of = dt.date(2022, 6, 1)
    batch = assess_histories(histories, as_of=as_of, model=default_model)
    for history, report in zip(histories, batch, strict=True):
        single = riskcalc.assess(history, as_of=as_of, model=default_model)
        assert single.model_dump() == report.model_dump()


def test_risk_curve_is_monotone_in_horizon(fixtures: Path, default_model: Any) -> None:
    history = riskcalc.read_history(_find(fixtures, COLON_COVID))
    curve = risk_curve(history, as_of=dt.date(2021, 1, 1), model=default_model)
    assert [h for h, *_ in curve] == list(default_model.horizons_months)
    for _, p, low, high in curve:
        assert low <= p <= high
    probabilities = [p for _, p, *_ in curve]
    assert probabilities == sorted(probabilities)  # cumulative risk cannot fall with time


def test_bad_as_of_is_a_config_error(fixtures: Path, default_model: Any) -> None:
    with pytest.raises(riskcalc.ConfigError):
        riskcalc.assess(_find(fixtures, COLON_COVID), as_of="yesterday", model=default_model)
    with pytest.raises(riskcalc.ConfigError):
        riskcalc.assess(
            _find(fixtures, COLON_COVID),
            as_of=dt.date(2021, 1, 1),
            horizon_months=7,
            model=default_model,
        )


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda h: riskcalc.assess(h, as_of="2026-01-01", model="/some/dir"), "model must be"),
        (lambda h: riskcalc.assess(h, as_of="2026-01-01", model=object()), "model must be"),
        (lambda h: riskcalc.assess(h, as_of="2026-01-01", horizon_months="24"), "whole number"),
        (lambda h: riskcalc.assess(h, as_of="2026-01-01", horizon_months=True), "whole number"),
        (lambda h: riskcalc.assess(h, as_of="2026-01-01", horizon_months=7), "not one the model"),
        (lambda h: riskcalc.assess(h, as_of="01/01/2026"), "as_of must be an ISO date"),
        (lambda h: riskcalc.assess(h, as_of=20260101), "as_of must be a date"),
        (lambda h: riskcalc.assess(h, as_of="2026-01-01", patient_id="other"), "history given"),
        (lambda h: riskcalc.read_history(demo_bundle("mild-covid"), today=5), "today must be"),
        (lambda h: riskcalc.read_history(demo_bundle("mild-covid"), limits={}), "riskcalc.Limits"),
        (lambda h: riskcalc.read_history(demo_bundle("mild-covid"), patient_id=5), "text"),
        (lambda h: next(riskcalc.read_histories(demo_bundle("mild-covid"), today="x")), "today"),
    ],
)
def test_a_wrong_argument_is_a_config_error(call: Any, expected: str) -> None:
    """Arguments of the wrong type or value are ConfigError config.invalid with a message that
    names the argument, never an AttributeError or TypeError from deep inside."""
    history = riskcalc.read_history(demo_bundle("mild-covid"))
    with pytest.raises(riskcalc.ConfigError, match=expected) as caught:
        call(history)
    assert caught.value.code == "config.invalid"


def test_dates_as_text_or_datetimes_read_as_dates() -> None:
    data = demo_bundle("mild-covid")
    as_text = riskcalc.read_history(data, today="2026-06-01")
    assert as_text == riskcalc.read_history(data, today=dt.date(2026, 6, 1))
    assert as_text == riskcalc.read_history(data, today=dt.datetime(2026, 6, 1, 23, 59))
    history = riskcalc.read_history(data)
    same = riskcalc.assess(history, as_of="2026-01-01", patient_id=history.patient_id)
    assert same.patient_id == history.patient_id


def _demo_with(change: Any) -> dict[str, Any]:
    import orjson

    bundle: dict[str, Any] = orjson.loads(demo_bundle("hospitalised-flu"))
    for entry in bundle["entry"]:
        change(entry["resource"])
    return bundle


def test_the_reason_names_a_cancer_left_out_rather_than_denying_it() -> None:
    """A cancer Condition that fails validation (a malformed onset) is left out with its own
    warning; the reason then says so instead of "no cancer diagnosis in the record"."""

    def break_cancer(r: dict[str, Any]) -> None:
        if r.get("id") == "demo-hospitalised-flu-condition-1":
            r["onsetDateTime"] = "2020-13-45"

    report = riskcalc.assess(_demo_with(break_cancer), as_of="2026-01-01")
    assert report.status is ReportStatus.NOT_APPLICABLE and report.not_applicable_reason
    assert report.not_applicable_reason.startswith("no usable cancer diagnosis")
    assert "Condition/demo-hospitalised-flu-condition-1 were left out" in (
        report.not_applicable_reason
    )
    skipped = [w for w in report.warnings if w.code == "resource.skipped_invalid"]
    assert [w.source for w in skipped] == ["Condition/demo-hospitalised-flu-condition-1"]


def test_the_reason_names_a_patient_left_out() -> None:
    def break_birth_date(r: dict[str, Any]) -> None:
        if r["resourceType"] == "Patient":
            r["birthDate"] = "2020-13-45"

    report = riskcalc.assess(_demo_with(break_birth_date), as_of="2026-01-01")
    assert report.not_applicable_reason == (
        "no usable birth date: Patient/demo-hospitalised-flu was left out (invalid FHIR or "
        "entered in error; see its warning); age is a required input"
    )


def test_a_condition_whose_code_cannot_be_read_is_warned() -> None:
    def break_code(r: dict[str, Any]) -> None:
        if r.get("id") == "demo-hospitalised-flu-condition-6":
            r["code"] = 5

    history = riskcalc.read_history(_demo_with(break_code))
    [warning] = [w for w in history.warnings if w.code == "resource.skipped_invalid"]
    assert warning.source == "Condition/demo-hospitalised-flu-condition-6"
    assert "code is not a CodeableConcept (5)" in warning.message
