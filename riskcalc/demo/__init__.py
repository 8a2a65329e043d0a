"""Demo patients: small synthetic FHIR R4 Bundles shipped with the package.

Each bundle was written by hand (no real person, no simulator) with the codes the reader
recognises, to show the app's views on typical histories: no infection, one mild COVID-19,
repeated infections over years, a hospitalised influenza with IL-6 measured, and a critical
COVID-19 treated with tocilizumab (IL-6 blockade). Every Patient carries the meta tag
``urn:riskcalc:demo|synthetic``.

>>> [p.name for p in list_demo_patients()][:2]
['no-infection', 'mild-covid']
>>> import riskcalc
>>> riskcalc.read_history(demo_bundle("mild-covid")).infections[0].pathogen.value
'covid19'
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from riskcalc.errors import ConfigError

__all__ = ["DemoPatient", "demo_bundle", "list_demo_patients"]


@dataclass(frozen=True)
class DemoPatient:
    """A bundled demo patient.

    Attributes
    ----------
    name
        Key for :func:`demo_bundle` (the file ``riskcalc/demo/data/<name>.json``).
    label
        Short label for a picker.
    description
        What the record holds, in a sentence or two.
    """

    name: str
    label: str
    description: str


_PATIENTS = (
    DemoPatient(
        "no-infection",
        "No infection",
        "Woman born 1968, breast cancer stage IIA (2017): lumpectomy, radiotherapy, tamoxifen; "
        "in remission since January 2018. Yearly influenza vaccination, no respiratory "
        "infection recorded.",
    ),
    DemoPatient(
        "mild-covid",
        "One mild COVID-19",
        "Woman born 1972, breast cancer stage I (2018), in remission since March 2019. Three "
        "COVID-19 vaccine doses in 2021; one mild COVID-19 (January 2023, PCR-confirmed, seen as "
        "an outpatient).",
    ),
    DemoPatient(
        "repeated-infections",
        "Repeated infections (flu, COVID-19, RSV)",
        "Woman born 1961, breast cancer stage IIB (2016), in remission since April 2017. Four "
        "mild respiratory infections over seven years: influenza 2018, COVID-19 2020, RSV 2023, "
        "influenza A 2025.",
    ),
    DemoPatient(
        "hospitalised-flu",
        "Hospitalised influenza, IL-6 measured",
        "Woman born 1957, breast cancer stage IIA (2016), in remission since September 2017. "
        "Influenza A pneumonia in January 2024: admitted for 8 days with oxygen; IL-6 210 pg/mL "
        "on day 3, 64 pg/mL on day 7.",
    ),
    DemoPatient(
        "severe-covid-blockade",
        "Critical COVID-19 with tocilizumab",
        "Woman born 1955, breast cancer stage IIIA (2017), in remission since November 2017. "
        "Critical COVID-19 in January 2021 (ICU, mechanical ventilation), IL-6 118 pg/mL, "
        "treated with tocilizumab (IL-6 blockade) and dexamethasone.",
    ),
)


def list_demo_patients() -> list[DemoPatient]:
    """The bundled demo patients, in a fixed teaching order (simplest record first)."""
    return list(_PATIENTS)


def demo_bundle(name: str) -> bytes:
    """The FHIR R4 Bundle (JSON, UTF-8) of a demo patient.

    Raises
    ------
    ConfigError
        ``config.invalid`` if ``name`` is not one of :func:`list_demo_patients`.
    """
    names = [p.name for p in _PATIENTS]
    if name not in names:
        raise ConfigError("config.invalid", f"no demo patient {name!r}; choose one of {names}")
    return resources.files("riskcalc.demo").joinpath("data", f"{name}.json").read_bytes()
