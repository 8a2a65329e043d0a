"""Generate docs/integrators/fhir-input-codes.md from the code-set files in riskcalc/codes/data/.

Lists every ``system|code`` (and ICD-10 prefix) the reader recognises, per concept, with the file
version and source. Run ``.venv/bin/python docs/tools/gen_codes.py`` after changing a code-set
file, or ``… --check`` to see whether the page is current.
"""

from __future__ import annotations

import importlib.resources
import sys
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DOCS, generated_header, main

from riskcalc import codes

TARGET = DOCS / "integrators" / "fhir-input-codes.md"

#: Which FHIR elements each file is matched against (riskcalc/fhir/_extract.py).
WHERE = {
    "cancer": "`Condition.code`; also `Observation.valueCodeableConcept` of a cause-of-death "
    "Observation",
    "encounter": "`Encounter.class` (`hospitalised`, `mild`) and `Encounter.type` (`icu`)",
    "infection": "`Condition.code`",
    "lab": "`Observation.code` (tests, IL-6, stage group, disease status, cause of death) and "
    "`Observation.valueCodeableConcept` (test results, disease-status values)",
    "medication": "`MedicationRequest`/`MedicationStatement`/`MedicationAdministration`"
    " `.medicationCodeableConcept`, or the `Medication.code` a `medicationReference` points to",
    "metastasis": "`Condition.code`; also the value of a cause-of-death Observation",
    "procedure": "`Procedure.code`",
    "vaccine": "`Immunization.vaccineCode`",
}

SYSTEM_NAMES = {
    "http://snomed.info/sct": "SNOMED CT",
    "http://loinc.org": "LOINC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://hl7.org/fhir/sid/cvx": "CVX",
    "http://terminology.hl7.org/CodeSystem/v3-ActCode": "HL7 v3 ActCode",
    "icd-10": "ICD-10 (prefix)",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").strip() or "—"


def _file_section(name: str) -> list[str]:
    raw = importlib.resources.files("riskcalc.codes").joinpath("data", f"{name}.json")
    doc: dict[str, Any] = orjson.loads(raw.read_bytes())
    total = sum(len(v) for v in doc["sets"].values())
    out = [
        f"## `{name}`",
        "",
        f"- file: `riskcalc/codes/data/{name}.json`, version **{doc['version']}**, "
        f"{total} entries in {len(doc['sets'])} concepts",
        f"- matched against: {WHERE.get(name, '(see docs/fhir-input.md)')}",
        f"- what it is: {doc.get('description', '')}",
        f"- source: {doc['source']}",
    ]
    for set_name, concepts in doc["sets"].items():
        out += [
            "",
            f"### `{name}` / `{set_name}`",
            "",
            "| system | code | display |",
            "|---|---|---|",
        ]
        for concept in concepts:
            system = concept["system"]
            label = SYSTEM_NAMES.get(system, "")
            shown = f"{label} `{system}`" if label and system != "icd-10" else f"`{system}`"
            if "prefix" in concept:
                code = f"`{concept['prefix']}`… (prefix)"
                shown = "ICD-10-CM / WHO / GM"
            else:
                code = f"`{concept['code']}`"
            out.append(f"| {shown} | {code} | {_cell(concept.get('display', ''))} |")
    return out


def render() -> str:
    icd = ", ".join(f"`{s}`" for s in sorted(codes.ICD10_SYSTEMS))
    versions = sorted({codes.load(n).version for n in codes.NAMES})
    intro = [
        "# Codes riskcalc recognises",
        "",
        "Every `system|code` the FHIR reader matches, per concept, as shipped in",
        "`riskcalc/codes/data/` (code-set version " + ", ".join(versions) + "). How the matched",
        "records become a patient history (episode merging, severity, at-risk start) is in",
        "[FHIR input](../fhir-input.md); this page is only the lists.",
        "",
        "Rules:",
        "",
        "- Matching is on `system` **and** `code`, never on display text. A coding with the right",
        "  code but another `system` URI does not match.",
        "- An ICD-10 entry is a **prefix** that matches codes of any of these systems, dots ignored",
        f"  (`C50` matches `C50.911`): {icd}.",
        "- A CodeableConcept matches on its first coding that is in a set; other codings of the",
        "  same concept in that set are recorded as well.",
        "- Empty display means the file gives none (CVX codes are listed by number only).",
        "- To recognise more codes, write a file of the same shape and load it with",
        "  `riskcalc.codes.load_file(path)`; the shipped files are package data, never downloaded.",
        "",
        "Files: " + ", ".join(f"[`{n}`](#{n})" for n in codes.NAMES) + ".",
    ]
    body: list[str] = []
    for name in codes.NAMES:
        body += ["", *_file_section(name)]
    return generated_header("gen_codes.py") + "\n".join(intro + body) + "\n"


if __name__ == "__main__":
    raise SystemExit(main(render, TARGET))
