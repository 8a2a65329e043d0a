"""A report as plain text, for the CLI and logs a person reads."""

from __future__ import annotations

from riskcalc.report._model import ReportStatus, RiskReport


def render_text(report: RiskReport) -> str:
    """Readable summary of a report: the number first, then what drove it and its basis."""
    lines = [f"Patient {report.patient_id}, assessed as of {report.as_of.isoformat()}"]
    if report.status is ReportStatus.NOT_APPLICABLE or report.risk is None:
        lines.append(f"No estimate: {report.not_applicable_reason}")
    else:
        risk = report.risk
        lines.append(
            f"Risk of metastatic relapse or cancer death within {risk.horizon_months} months: "
            f"{risk.probability:.1%} ({round(risk.interval_level * 100)}% interval "
            f"{risk.interval_low:.1%}–{risk.interval_high:.1%})"
        )
    if report.awakening is not None:
        wake = report.awakening
        lines.append(
            f"Awakening score (exploratory): {wake.score:.2f} "
            f"(background {wake.background:.2f}; hazard multiplier {wake.hazard_multiplier:.2f})"
        )
        for c in wake.contributions:
            il6 = "n/a" if c.il6_peak_pg_ml is None else f"{c.il6_peak_pg_ml:.0f} pg/mL"
            source = "assumed" if c.il6_assumed else "measured"
            lines.append(
                f"  {c.onset.isoformat()} {c.pathogen.value:<11} {c.severity.value:<12} "
                f"IL-6 {il6} ({source}): +{c.contribution:.2f}"
            )
    if report.drivers:
        lines.append("Main drivers (change in probability if absent):")
        lines.extend(
            f"  {d.label}: {d.effect_pp:+.1f} points ({d.direction} the risk)"
            for d in report.drivers
        )
    if report.counterfactuals:
        lines.append("Model-based hypotheticals (not observations):")
        lines.extend(
            f"  {c.label}: {c.probability:.1%} ({c.delta_pp:+.1f} points)"
            for c in report.counterfactuals
        )
    if report.warnings:
        lines.append(f"Data-quality warnings ({len(report.warnings)}):")
        lines.extend(f"  [{w.code}] {w.message}" for w in report.warnings)
    lines.append(f"Based on {len(report.basis)} record(s).")
    model = report.model
    lines.append(
        f"Model {model.model_id} {model.version} (riskcalc {report.riskcalc_version}); "
        f"trained on {model.trained_on}."
    )
    lines.append(report.research_use_statement)
    return "\n".join(lines)
