"""The catalog of registered models (hetcalc/catalog.json) answers without torch, and says what
the registry says."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hetcalc import catalog, models


def test_the_catalog_is_the_registry():
    """Rewrite it with ``python -m hetcalc.models.write_catalog`` when this fails after a registry change."""
    data = json.loads(catalog.CATALOG.read_text(encoding="utf-8"))
    if data["torchvision"] != catalog.installed_torchvision():
        pytest.skip(f"the catalog is for torchvision {data['torchvision']}, this is "
                    f"{catalog.installed_torchvision()}: the registry answers instead")
    assert [(m.name, m.input_shape, m.source) for m in catalog.listed()] == [
        (e.name, tuple(e.input_shape), e.source) for e in models.list_models()]
    assert ("vgg16_cifar", (1, 3, 32, 32), "paper (CIFAR-10)") in [
        (m.name, m.input_shape, m.source) for m in catalog.listed()]


def test_another_torchvision_makes_the_registry_answer(monkeypatch):
    monkeypatch.setattr(catalog, "installed_torchvision", lambda: "0.0.0")
    catalog.listed.cache_clear()
    try:
        assert catalog.listed() is None and catalog.matching("resnet*") is None
        catalog.check_spec("resnet5")  # not refused here: the registry will decide
    finally:
        catalog.listed.cache_clear()


def _run(*args: str) -> tuple[bool, int, str]:
    """Run the CLI in a fresh interpreter: (torch imported?, exit code, stderr)."""
    code = ("import sys\nfrom hetcalc.cli import main\n"
            f"code = main({list(args)!r})\n"
            "print('torch' in sys.modules, code, file=sys.stdout)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    imported, exit_code = done.stdout.split()[-2:]
    return imported == "True", int(exit_code), done.stderr


@pytest.mark.parametrize("args, says", [
    (["analyze", "resnet5"], "did you mean resnet50"),
    (["compare", "vgg16_cifr"], "did you mean vgg16_cifar"),
    (["plan", "resnet5", "--max-flops", "1G"], "did you mean resnet50"),
    (["analyze", "nofile.py:build"], "file nofile.py does not exist"),
    (["analyze", "dir/nofile.py:build"], "file dir/nofile.py does not exist"),
])
def test_a_misspelt_name_or_missing_file_fails_before_torch(args, says):
    imported, code, err = _run(*args)
    assert (imported, code) == (False, 2), err
    assert err.startswith("hetcalc: error: ") and err.count("\n") == 1 and says in err, err


def test_models_lists_without_torch():
    code = ("import sys\nfrom hetcalc.cli import main\nmain(['models', 'resnet*', '-f', 'json'])\n"
            "print('torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    listing, imported = done.stdout.rsplit("\n", 2)[:2]
    assert imported == "False", done.stderr
    names = [m["name"] for m in json.loads(listing)]
    # resnet18, 34, 50, 101, 152, resnet56_cifar: six names, sorted
    assert names == ["resnet101", "resnet152", "resnet18", "resnet34", "resnet50",
                     "resnet56_cifar"]


def test_a_misspelt_model_in_a_budget_file_fails_before_torch(tmp_path):
    budget = tmp_path / "budgets.toml"
    budget.write_text('[[model]]\nmodel = "resnet5"\nmax_flops = "5G"\n', encoding="utf-8")
    imported, code, err = _run("check", str(budget))
    assert (imported, code) == (False, 2), err
    assert "did you mean resnet50" in err
