"""Training: split, fit one calibrated model per horizon, evaluate on the held-out split, save."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import GroupShuffleSplit

from riskcalc._meta import __version__
from riskcalc.config import MAX_HORIZON_MONTHS
from riskcalc.errors import ConfigError, ModelError
from riskcalc.model._artifact import clean_json, save_model
from riskcalc.model._card import build_card, card_markdown, hti1_source_attributes
from riskcalc.model._cohort import LabelledCohort
from riskcalc.model._estimator import (
    fit_calibrated,
    fit_interval_scale,
    logit_spread,
    member_probabilities,
    recalibrate,
    require_outcomes,
)
from riskcalc.model._evaluate import MIN_EVENTS_TO_EVALUATE, EvaluationReport, evaluate
from riskcalc.model._labels import MIN_MONTHS_AFTER_AT_RISK_START
from riskcalc.model._risk_model import COMPARISON_FEATURES, RiskModel, feature_ranges
from riskcalc.report import ModelInfo

DEFAULT_HORIZONS_MONTHS: tuple[int, ...] = (12, 24, 36, 60)
DEFAULT_HORIZON_MONTHS = 24
#: Interval scale used when the training cohort has no known true risks: the value measured for
#: the default model on simulated data with known risks (docs/researchers/model.md).
DEFAULT_INTERVAL_SCALE = 1.0


def index_date_policy(
    index_dates_per_patient: int = 1, post_infection_days: int | None = None
) -> str:
    """The index-date policy in words, for the training description and the model card."""
    count = (
        "one index date per patient"
        if index_dates_per_patient == 1
        else f"{index_dates_per_patient} index dates per patient (independent draws; folds and "
        "the held-out split grouped by patient)"
    )
    extra = (
        ""
        if post_infection_days is None
        else f", plus one index date {post_infection_days} days after the end of each recorded "
        "infection episode (when inside the same window)"
    )
    return (
        f"{count}, drawn uniformly (seeded by seed and patient id) between the at-risk start + "
        f"{MIN_MONTHS_AFTER_AT_RISK_START:g} months and the cohort's data cut-off (latest last "
        f"contact){extra}; patients not in remission, dead or out of follow-up at a date are "
        "excluded for that date and counted"
    )


INDEX_DATE_POLICY = index_date_policy(1)


def holdout_split(
    cohort: LabelledCohort, *, seed: int, test_fraction: float = 0.25
) -> tuple[LabelledCohort, LabelledCohort]:
    """Patient-grouped split into (train, held-out test).

    ``riskcalc recalibrate`` splits its local cohort the same way with ``test_fraction=0.5``.

    Raises
    ------
    ModelError
        ``model.training_failed`` when the cohort has fewer than 2 eligible patients (nothing to
        split); the message gives the exclusions by reason.
    """
    if len(set(cohort.patient_ids.tolist())) < 2:
        raise ModelError(
            "model.training_failed",
            f"the cohort cannot be split into a fitting and a held-out part: "
            f"{cohort.eligibility()}; at least 2 eligible patients are needed, and in practice "
            "thousands. Use a larger cohort or a longer follow-up",
        )
    split = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
    train_rows, test_rows = next(split.split(cohort.features, groups=cohort.patient_ids))
    return cohort.subset(train_rows), cohort.subset(test_rows)


def train_model(
    cohort: LabelledCohort,
    *,
    horizons_months: Sequence[int] = DEFAULT_HORIZONS_MONTHS,
    default_horizon_months: int = DEFAULT_HORIZON_MONTHS,
    seed: int = 0,
    test_fraction: float = 0.25,
    model_id: str = "riskcalc-relapse",
    version: str | None = None,
    trained_on: str,
    simulated: bool,
    interval_scale: float | None = None,
    n_boot: int = 200,
    out_dir: str | Path | None = None,
    training_extra: dict[str, Any] | None = None,
    index_dates_per_patient: int = 1,
    post_infection_days: int | None = None,
) -> tuple[RiskModel, EvaluationReport]:
    """Train the model on a labelled cohort and (optionally) write the artifact folder.

    A patient-grouped ``test_fraction`` is held out; the model is fitted on the rest and the
    evaluation report computed on the held-out split. The interval scale is fitted on the
    held-out split when the cohort has known true risks (rows with NaN true risk are skipped),
    else ``interval_scale`` (default :data:`DEFAULT_INTERVAL_SCALE`).
    """
    horizons = tuple(sorted(set(int(h) for h in horizons_months)))
    if not horizons or not 1 <= horizons[0] <= horizons[-1] <= MAX_HORIZON_MONTHS:
        raise ConfigError(
            "config.invalid",
            f"horizons {list(horizons)}: give one or more, each 1 to {MAX_HORIZON_MONTHS} months",
        )
    if default_horizon_months not in horizons:
        raise ConfigError(
            "config.invalid",
            f"default horizon {default_horizon_months} is not among the horizons {horizons}",
        )
    _require_trainable(cohort, horizons)
    train, test = holdout_split(cohort, seed=seed, test_fraction=test_fraction)
    test_labels = test.labels(default_horizon_months)
    require_outcomes(
        test_labels.label,
        test_labels.weight,
        purpose=f"evaluate the model on the held-out split at {default_horizon_months} months",
        minimum=MIN_EVENTS_TO_EVALUATE,
        context=f"the held-out {test_fraction:.0%} of the cohort ({len(test)} rows)",
    )
    groups = train.patient_ids if len(set(train.patient_ids)) < len(train) else None
    models = {}
    scales: dict[int, float] = {}
    for h in horizons:
        labels = train.labels(h)
        models[h] = fit_calibrated(
            train.features,
            labels.label,
            labels.weight,
            seed=seed,
            groups=groups,
            purpose=f"train at {h} months",
            context=f"the training split ({1 - test_fraction:.0%} of the cohort, "
            f"{len(train)} rows)",
        )
        if h in test.true_risk and np.isfinite(test.true_risk[h]).any():
            prob, sd = logit_spread(member_probabilities(models[h], test.features))
            scales[h] = fit_interval_scale(prob, sd, test.true_risk[h])
        else:
            scales[h] = DEFAULT_INTERVAL_SCALE if interval_scale is None else interval_scale
    labels = train.labels(default_horizon_months)
    comparison = fit_calibrated(
        train.features.loc[:, list(COMPARISON_FEATURES)],
        labels.label,
        labels.weight,
        seed=seed,
        groups=groups,
    )
    info = ModelInfo(
        model_id=model_id,
        version=version or f"{__version__}+{dt.date.today().isoformat()}",
        trained_on=trained_on,
        trained_on_simulated_data=simulated,
    )
    training = {
        "description": trained_on,
        "simulated": simulated,
        "n_rows": len(cohort),
        "n_patients": len(set(cohort.patient_ids.tolist())),
        "n_train": len(train),
        "n_test": len(test),
        "excluded": dict(cohort.excluded),
        "index_date_policy": index_date_policy(index_dates_per_patient, post_infection_days),
        "index_date_range": [
            min(cohort.index_dates).isoformat(),
            max(cohort.index_dates).isoformat(),
        ]
        if len(cohort)
        else None,
        "events_by_horizon_train": {str(h): int(train.labels(h).label.sum()) for h in horizons},
        "censoring": "IPCW, Kaplan-Meier of censoring from the index date",
        "seed": seed,
        "riskcalc_version": __version__,
        **(training_extra or {}),
    }
    model = RiskModel(
        models=models,
        default_horizon_months=default_horizon_months,
        interval_scale=scales,
        feature_ranges=feature_ranges(train.features),
        info=info,
        comparison=comparison,
        training=training,
    )
    if out_dir is not None:  # one evaluation: the artifact's (with figures) is the report
        _, report = _write_artifact(model, test, out_dir, n_boot=n_boot, seed=seed)
    else:
        report = evaluate(model, test, n_boot=n_boot, seed=seed)
        model.card = build_card(
            info=info.model_dump(mode="json"),
            training=training,
            metrics=report.metrics,
            horizons_months=horizons,
            default_horizon_months=default_horizon_months,
        )
    return model, report


def _require_trainable(cohort: LabelledCohort, horizons: tuple[int, ...]) -> None:
    """Refuse, before any fitting, a cohort that lacks the known events and non-events training
    needs at some horizon (:func:`require_outcomes`), naming the horizon and the exclusions."""
    for h in horizons:
        labels = cohort.labels(h)
        require_outcomes(
            labels.label,
            labels.weight,
            purpose=f"train at {h} months"
            + (" (or leave it out of the horizons: --horizons)" if len(horizons) > 1 else ""),
            context=cohort.eligibility(),
        )


def update_history(model: RiskModel) -> list[str]:
    """The versions from the first trained model to ``model``: the history its card carries (a
    card written before the history was kept gives its own version), then ``model``'s version
    if not already last (HTI-1 ``update_history``)."""
    card = model.card
    history = [str(v) for v in card.get("update_history") or []]
    if not history and "version" in card.get("model_details", {}):
        history = [str(card["model_details"]["version"])]
    if not history or history[-1] != model.info.version:
        history.append(model.info.version)
    return history


def write_artifact(
    model: RiskModel,
    test: LabelledCohort,
    out_dir: str | Path,
    *,
    n_boot: int = 200,
    seed: int = 0,
    quality: dict[str, Any] | None = None,
    evaluated_on: str | None = None,
) -> Path:
    """Save the model with its evaluation report (metrics.json, figures), card and HTI-1 file.

    ``test`` is what the card's metrics are computed on: for a trained model its held-out split,
    for a recalibrated one (its ``training`` has ``recalibrated_on``) the local evaluation
    cohort; ``evaluated_on`` says it in other words if neither fits.

    Raises
    ------
    ModelError
        ``model.evaluation_failed`` when ``test`` has no event or no non-event at the default
        horizon (:func:`riskcalc.model.evaluate`); nothing is written then.
    """
    return _write_artifact(
        model, test, out_dir, n_boot=n_boot, seed=seed, quality=quality, evaluated_on=evaluated_on
    )[0]


def _write_artifact(
    model: RiskModel,
    test: LabelledCohort,
    out_dir: str | Path,
    *,
    n_boot: int,
    seed: int,
    quality: dict[str, Any] | None = None,
    evaluated_on: str | None = None,
) -> tuple[Path, EvaluationReport]:
    """:func:`write_artifact`, and the evaluation report it wrote (figures in the artifact)."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        report = evaluate(model, test, out_dir=scratch, n_boot=n_boot, seed=seed)
        card = build_card(
            info=model.info.model_dump(mode="json", exclude={"sha256"}),
            training=model.training,
            metrics=report.metrics,
            horizons_months=model.horizons_months,
            default_horizon_months=model.default_horizon_months,
            quality=quality,
            evaluated_on=evaluated_on,
            update_history=update_history(model),
        )
        model.card = card

        def copy(name: str) -> Any:
            def writer(path: Path) -> None:
                path.write_bytes((Path(scratch) / name).read_bytes())

            return writer

        def text(content: str) -> Any:
            def writer(path: Path) -> None:
                path.write_text(content)

            return writer

        extra = {
            "metrics.json": copy("metrics.json"),
            **{f"figures/{p.name}": copy(f"figures/{p.name}") for p in report.figures.values()},
            "model_card.json": text(json.dumps(clean_json(card), indent=2) + "\n"),
            "model_card.md": text(card_markdown(card)),
            "hti1_source_attributes.json": text(
                json.dumps(clean_json(hti1_source_attributes(card)), indent=2) + "\n"
            ),
        }
        folder = save_model(model, out_dir, extra_files=extra)
    figures = {name: folder / "figures" / path.name for name, path in report.figures.items()}
    return folder, dataclasses.replace(report, figures=figures)


def recalibrate_model(
    model: RiskModel,
    cohort: LabelledCohort,
    *,
    method: str = "sigmoid",
    version_suffix: str = "recalibrated",
) -> RiskModel:
    """The model recalibrated on a local cohort, every horizon (``FrozenEstimator``, sigmoid).

    The new version is the old one with ``+{version_suffix}``; its card's update history is the
    old model's with the new version appended.

    Raises
    ------
    ModelError
        ``model.training_failed`` when the cohort has fewer known events or non-events at a
        horizon than training needs (:func:`riskcalc.model._estimator.require_outcomes`),
        checked at every horizon before any is recalibrated.
    """
    for h in model.horizons_months:
        labels = cohort.labels(h)
        require_outcomes(
            labels.label,
            labels.weight,
            purpose=f"recalibrate the model's {h}-month classifier",
            context=f"the recalibration cohort's {cohort.eligibility()} (riskcalc recalibrate "
            "recalibrates on half of the local cohort and evaluates on the other half)",
        )
    models = {}
    for h, clf in model.models.items():
        labels = cohort.labels(h)
        models[h] = recalibrate(clf, cohort.features, labels.label, labels.weight, method=method)
    info = model.info.model_copy(
        update={
            "version": f"{model.info.version}+{version_suffix}",
            "sha256": None,
            "trained_on": f"{model.info.trained_on}; recalibrated on a local cohort of "
            f"{len(cohort)} patients",
        }
    )
    training = {
        **model.training,
        "recalibrated_on": {"n": len(cohort), "excluded": dict(cohort.excluded)},
    }
    new = RiskModel(
        models=models,
        default_horizon_months=model.default_horizon_months,
        interval_scale=dict(model.interval_scale),
        feature_ranges=dict(model.feature_ranges),
        info=info,
        card={**model.card, "update_history": [*update_history(model), info.version]},
        comparison=model.comparison,
        comparison_loader=model.comparison_loader,
        training=training,
        interval_level=model.interval_level,
    )
    return new
