"""Every command's JSON validates against the JSON Schema the package holds for it
(``hetcalc/schemas/COMMAND.json``, printed by ``hetcalc schema COMMAND``), in every form it
takes: timed and untimed, with a device model, for a plan, with entries over budget and entries
that could not be evaluated. Each output is also checked against a strict copy of its schema
(no property the schema does not name), so every key printed today is described there; the
schemas themselves allow added keys.

The runs use a three-layer model (3 -> 8 -> 16 -> 16 channels at 8x8) written to a temporary
directory, the Conv1d model of ``tests/data/audio_net.py``, and timings of 0.01 s.
"""

from __future__ import annotations

import copy
import enum
import json
import runpy
import subprocess
import sys
import textwrap
import typing
from pathlib import Path
from typing import Annotated

import jsonschema
import pytest
import torch

from hetcalc.cli.application import COMMANDS
from hetcalc.schemas import SCHEMA_COMMANDS, SCHEMA_VERSION, schema

SCHEMAS = Path(__file__).parent.parent / "hetcalc" / "schemas"
DATA = Path(__file__).parent / "data"

MODEL = """\
from torch import nn


def build() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(16, 16, 3, padding=1))


build.input_shape = (1, 3, 8, 8)
"""

# Entry 1 over budget (its p4 model runs far more than 1,000 MACs), entry 2 timed and within
# budget, entry 3 naming a function the file does not have (not evaluated: exit 2).
BUDGET = """\
[[model]]
model = "{model}"
variant = "p4"
max_flops = 1000

[[model]]
name = "timed"
model = "{model}"
variant = "p2"
max_params = "10M"
max_latency_ms = 1000
min_run_time = 0.01
"""
BROKEN = """
[[model]]
model = "{folder}/tiny.py:nothing"
variant = "p2"
max_params = "10M"
"""

FAST = ["--time-budget", "0.01"]

# name: (command line, exit code); {model} is the model's spec, {folder} the temporary folder.
CASES = {
    "analyze": (["analyze", "{model}", "--P", "4"], 0),
    "analyze-latency-device": (["analyze", "{model}", "--P", "2", "--latency", *FAST,
                                "--device-spec", "h100"], 0),
    "analyze-no-count": (["analyze", "{model}", "--variant", "gwc2", "--no-count"], 0),
    "analyze-plan": (["analyze", "{model}", "--plan", "{folder}/mild.toml"], 0),
    "analyze-conv1d": (["analyze", f"{DATA}/audio_net.py:build", "--P", "4"], 0),
    "analyze-tree": (["analyze", "{model}", "--P", "4", "--tree", "--depth", "2"], 0),
    "analyze-weights": (["analyze", "{model}", "--P", "4", "--weights", "{folder}/w.pt"], 0),
    "compare-weights": (["compare", "{model}", "--variants", "p2,p4", "--no-latency",
                         "--weights", "{folder}/w.pt"], 0),
    "plan-energy": (["plan", "{model}", "--max-flops", "60K", "--weights", "{folder}/w.pt",
                     "--keep", "energy"], 0),
    "check-weights": (["check", "{folder}/weighted.toml"], 0),
    "compare": (["compare", "{model}", "--variants", "p2,p4,dwc,gwc2-se", "--no-latency"], 0),
    "compare-timed-plan-device": (["compare", "{model}", "--variants",
                                   "p4,{folder}/mild.toml", *FAST, "--device-spec", "t4"], 0),
    "plan": (["plan", "{model}", "--max-flops", "60K"], 0),
    "plan-latency": (["plan", "{model}", "--max-latency-ms", "1000", "--impl", "exact", *FAST],
                     0),
    "check": (["check", "{folder}/budgets.toml"], 1),
    "check-error": (["check", "{folder}/broken.toml"], 2),
    "check-baseline": (["check", "{folder}/budgets.toml", "--baseline", "{folder}/base.json"],
                       1),
    "models": (["models", "resnet*"], 0),
    "curve": (["curve", "--kernel", "5", "--max-part", "8"], 0),
    "designs": (["designs", "--max-length", "4"], 0),
    "designs-budget": (["designs", "--channels", "64", "--out", "128",
                        "--bottleneck-channels", "32", "--budget-params", "100000"], 0),
    "device-spec": (["device", "--spec", "h100"], 0),
    "device-list": (["device", "--list"], 0),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The model, a plan for it, budget files and a baseline, written once for the module."""
    from hetcalc.cli import main

    where = tmp_path_factory.mktemp("schemas")
    (where / "tiny.py").write_text(MODEL, encoding="utf-8")
    model = f"{where}/tiny.py:build"
    budget = BUDGET.format(model=model)
    (where / "budgets.toml").write_text(budget, encoding="utf-8")
    (where / "broken.toml").write_text(budget + BROKEN.format(folder=where), encoding="utf-8")
    plan = main(["plan", model, "--max-flops", "60K", "-o", str(where / "mild.toml")])
    torch.manual_seed(0)  # trained weights: the model's own, saved as a state dict
    torch.save(runpy.run_path(str(where / "tiny.py"))["build"]().state_dict(), where / "w.pt")
    (where / "weighted.toml").write_text(f'[[model]]\nmodel = "{model}"\nvariant = "p2"\n'
                                         'max_params = "10M"\nweights = "w.pt"\n',
                                         encoding="utf-8")
    baseline = main(["check", str(where / "budgets.toml"), "--write-baseline",
                     str(where / "base.json"), "-o", str(where / "report.txt")])
    assert (plan, baseline) == (0, 1)  # entry 1 is over budget, the baseline written all the same
    return where


_OUTPUTS: dict[tuple[Path, str], str] = {}


def _run(cli, folder: Path, case: str) -> object:
    """The JSON of a case, run once for the module (a fresh copy each time)."""
    if (folder, case) not in _OUTPUTS:
        args, expected = CASES[case]
        args = [a.format(model=f"{folder}/tiny.py:build", folder=folder) for a in args]
        code, out, err = cli(*args, "--format", "json")
        assert code == expected, err
        _OUTPUTS[folder, case] = out
    return json.loads(_OUTPUTS[folder, case])


def _strict(node):
    """The schema with every ``additionalProperties: true`` made false: no key it does not
    name (maps, whose ``additionalProperties`` is a schema, keep it)."""
    if isinstance(node, dict):
        return {key: False if key == "additionalProperties" and value is True else _strict(value)
                for key, value in node.items()}
    if isinstance(node, list):
        return [_strict(value) for value in node]
    return node


def _problems(command: str, data: object, strict: bool = False) -> list[str]:
    checked = schema(command)
    validator = jsonschema.Draft202012Validator(_strict(checked) if strict else checked)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
            for e in validator.iter_errors(data)]


def _commands_with_json() -> set[str]:
    """The registered commands with a ``--format`` whose choices include json."""
    found = set()
    for name, function in COMMANDS.items():
        for hint in typing.get_type_hints(function, include_extras=True).values():
            choices = typing.get_args(hint)[0] if typing.get_origin(hint) is Annotated else hint
            if isinstance(choices, enum.EnumMeta) and "json" in {m.value for m in choices}:
                found.add(name)
    return found


def test_every_command_that_prints_json_has_a_schema_and_a_case():
    assert _commands_with_json() == set(SCHEMA_COMMANDS)
    assert {path.stem for path in SCHEMAS.glob("*.json")} == set(SCHEMA_COMMANDS)
    assert {case.split("-")[0] for case in CASES} == set(SCHEMA_COMMANDS)


@pytest.mark.parametrize("command", SCHEMA_COMMANDS)
def test_each_schema_is_a_draft_2020_12_schema_of_version_1(command):
    document = schema(command)
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"] == f"urn:hetcalc:schema:{command}:1"
    assert SCHEMA_VERSION == 1
    if command == "models":  # a list: its version is the $id's
        assert document["type"] == "array"
        return
    for form in document.get("oneOf", [document]):  # designs: two forms
        assert form["required"][0] == "schema_version"
        assert form["properties"]["schema_version"]["const"] == 1
        assert form["additionalProperties"] is True  # keys may be added within a version


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_output_validates_and_every_key_is_described(case, folder, cli):
    command = case.split("-")[0]
    data = _run(cli, folder, case)
    assert _problems(command, data) == []
    assert _problems(command, data, strict=True) == []
    if command != "models":
        assert next(iter(data)) == "schema_version" and data["schema_version"] == 1


def test_the_variants_of_output_the_cases_mean_to_cover(folder, cli):
    """The cases do reach the forms they are named for (else the validation above proves
    less than it says)."""
    timed = _run(cli, folder, "analyze-latency-device")
    assert timed["latency"]["rounds"] >= 1 and timed["result"]["device"]["name"]
    assert "latency_variant_ms" in timed["layers"][1] and "predicted_ms" in timed["layers"][1]
    assert _run(cli, folder, "analyze-no-count")["result"]["flops_counted"] is None
    assert "plan" in _run(cli, folder, "analyze-plan")
    assert _run(cli, folder, "analyze-conv1d")["layers"][0]["kernel"] == [9]
    assert [row["depth"] for row in _run(cli, folder, "analyze-tree")["tree"]][:2] == [0, 1]
    weighted = _run(cli, folder, "analyze-weights")
    assert "output_cosine" in weighted["result"] and "energy_kept" in weighted["layers"][1]
    assert "output_cosine" in _run(cli, folder, "compare-weights")["variants"][0]
    assert _run(cli, folder, "plan-energy")["keep"] == "energy"
    assert "fidelity" in _run(cli, folder, "check-weights")["entries"][0]
    compared = _run(cli, folder, "compare-timed-plan-device")
    assert compared["environment"]["rounds"] >= 1 and compared["device_model"]
    assert compared["variants"][-1]["variant"] == "mild.toml"
    assert _run(cli, folder, "plan-latency")["environment"]["device"] == "cpu"
    failed = _run(cli, folder, "check-error")
    assert [e["verdict"] for e in failed["entries"]] == ["fail", "pass", "error"]
    assert failed["entries"][2]["error"] and "iqr" in failed["entries"][1]["checks"]["latency_ms"]
    assert _run(cli, folder, "check-baseline")["entries"][0]["regression"]["in_baseline"]


def test_the_schemas_refuse_what_would_break_a_reader(folder, cli):
    data = _run(cli, folder, "analyze")
    assert _problems("analyze", data) == []
    added = copy.deepcopy(data)
    added["layers"][0]["added_later"] = 1  # a key added within the version: still valid
    assert _problems("analyze", added) == []
    assert _problems("analyze", added, strict=True) != []  # ...but not described
    removed = copy.deepcopy(data)
    del removed["layers"][0]["flops_analytic"]
    assert _problems("analyze", removed) == ["layers/0: 'flops_analytic' is a required property"]
    retyped = copy.deepcopy(data)
    retyped["result"]["flops_analytic"] = "2M"
    assert _problems("analyze", retyped) == ["result/flops_analytic: '2M' is not of type "
                                             "'integer'"]
    versioned = {**data, "schema_version": 2}
    assert _problems("analyze", versioned) == ["schema_version: 1 was expected"]
    models = _run(cli, folder, "models")
    assert _problems("models", [{**models[0], "input_shape": [1, 3]}]) == [
        "0/input_shape: [1, 3] is too short"]


@pytest.mark.parametrize("command", SCHEMA_COMMANDS)
def test_schema_command_prints_the_package_file(command, cli):
    code, out, err = cli("schema", command)
    assert (code, err) == (0, "")
    assert out == (SCHEMAS / f"{command}.json").read_text(encoding="utf-8")
    assert json.loads(out) == schema(command)


def test_schema_command_writes_a_file(cli, tmp_path):
    target = tmp_path / "compare.schema.json"
    code, out, err = cli("schema", "compare", "-o", str(target))
    assert (code, out, err) == (0, "", "")
    assert json.loads(target.read_text(encoding="utf-8"))["$id"] == "urn:hetcalc:schema:compare:1"


@pytest.mark.parametrize("name", ["analyse", "schema", "", "ANALYZE "])
def test_schema_command_refuses_a_command_without_json(name, cli):
    code, out, err = cli("schema", name)
    if name == "ANALYZE ":  # any case, spaces around: the name is what counts
        assert code == 0 and json.loads(out)["$id"] == "urn:hetcalc:schema:analyze:1"
        return
    assert (code, out) == (2, "")
    assert err == (f"hetcalc: error: no JSON schema for {name!r}; the commands with JSON output "
                   "are analyze, compare, plan, check, models, curve, designs, device\n")


def test_schema_command_answers_without_torch():
    code = textwrap.dedent("""
        import sys
        from hetcalc.cli import main
        code = main(["schema", "plan"])
        print(code, "torch" in sys.modules, file=sys.stderr)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stderr.split() == ["0", "False"], done.stderr
    assert json.loads(done.stdout)["title"] == "hetcalc plan --format json"
