"""The public surface is exactly what __all__ lists, and every name in it exists."""

from __future__ import annotations

import pytest

import riskcalc


def test_all_names_exist() -> None:
    for name in riskcalc.__all__:
        assert hasattr(riskcalc, name), name


def test_all_is_sorted_and_unique() -> None:
    assert len(set(riskcalc.__all__)) == len(riskcalc.__all__)


def test_every_name_of_the_model_package_resolves() -> None:
    """riskcalc.model imports training and evaluation when first used: each name in its __all__
    must still be there (its lazy table and its imports kept in step)."""
    import riskcalc.model

    for name in riskcalc.model.__all__:
        assert getattr(riskcalc.model, name) is not None, name
    with pytest.raises(AttributeError):
        riskcalc.model.no_such_name  # noqa: B018


def test_error_categories_subclass_builtins() -> None:
    assert issubclass(riskcalc.InputError, ValueError)
    assert issubclass(riskcalc.InputError, riskcalc.RiskCalcError)
    assert issubclass(riskcalc.ModelError, RuntimeError)
    err = riskcalc.InputError("input.json_syntax", "bad", location="line 3")
    assert err.code == "input.json_syntax"
    assert "line 3" in str(err)


def test_import_riskcalc_leaves_the_heavy_libraries_unloaded() -> None:
    """pandas, pyarrow and scikit-learn load when used, not on `import riskcalc` (0.5 s saved)."""
    import subprocess
    import sys

    code = (
        "import sys, riskcalc; "
        "print(sorted(m for m in ('pandas', 'pyarrow', 'sklearn', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_assessing_with_the_default_model_leaves_scikit_learn_unloaded() -> None:
    """The model predicts from its compiled arrays: no scikit-learn, skops, pandas or scipy.stats
    to import (1.6 s) and no skops file to read (1.9 s); the classifiers when first needed."""
    import subprocess
    import sys

    code = (
        "import sys, datetime as dt, riskcalc\n"
        "from riskcalc.demo import demo_bundle, list_demo_patients\n"
        "from riskcalc.model import load_model\n"
        "model = load_model()\n"
        "bundle = demo_bundle(list_demo_patients()[1].name)\n"
        "report = riskcalc.assess(bundle, as_of=dt.date(2026, 1, 1), model=model)\n"
        "heavy = ('pandas', 'sklearn', 'skops', 'scipy.stats')\n"
        "print(report.status.value, sorted(m for m in heavy if m in sys.modules))\n"
        "model.models[model.default_horizon_months]\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, second = out.stdout.strip().splitlines()
    assert first == "ok []", first  # scored: the model predicted
    assert "sklearn" in second and "skops" in second  # and the classifier read when asked for
