"""Validating budget files (``hetcalc check``, exit 2): every way a file can be wrong gives one
line naming the file, the entry, the key and the value; every problem of a file is collected in
one error; and validating imports or runs no code the file names. No model is traced here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from checking import run, write

from hetcalc import analysis, budget
from hetcalc.errors import ModelLoadError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_tracing(monkeypatch):
    """Validation happens before any model is built or traced."""
    def fail(*args, **kwargs):
        raise AssertionError("a model was traced before the budget file was validated")
    monkeypatch.setattr(analysis, "trace_spec", fail)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


ENTRY = '[[model]]\nmodel = "vgg16_cifar"\n'
NUMBER_FORMS = "an integer or a number with a K, M, G or T suffix, e.g. 2.9G, 850M, 17_000_000"
SHAPE_FORMS = ('positive integers N,C,L, N,C,H,W or N,C,D,H,W such as [1, 3, 224, 224] or '
               '"1,3,224,224" (a list of shapes for several inputs)')
SPEC_FORMS = "expected path/to/file.py:fn or package.module:fn"

INVALID = [
    ("unknown-top-level-key", 'tolerance = 1\n' + ENTRY + 'max_flops = "1G"\n',
     "unknown key 'tolerance'; expected one of defaults, model"),
    ("unknown-key-in-entry", ENTRY + 'max_flop = "1G"\n',
     "entry 1 (vgg16_cifar): unknown key 'max_flop'; did you mean 'max_flops'? expected one "
     "of model, name, input_shape, variant,"),
    ("unknown-key-in-defaults", '[defaults]\nvarient = "p4"\n' + ENTRY + 'max_flops = "1G"\n',
     "[defaults]: unknown key 'varient'; did you mean 'variant'?"),
    ("wrong-type", ENTRY + 'max_params = true\n',
     f"entry 1 (vgg16_cifar): max_params: expected {NUMBER_FORMS}, got the boolean true"),
    ("wrong-type-shape", ENTRY + 'input_shape = 32\nmax_flops = "1G"\n',
     f"entry 1 (vgg16_cifar): input_shape: expected {SHAPE_FORMS}, got the integer 32"),
    ("missing-model", '[[model]]\nname = "fast"\nmax_flops = "1G"\n',
     'entry 1 "fast": model: missing; every entry names a model, e.g. model = "resnet50"'),
    ("model-not-a-string", '[[model]]\nmodel = 16\nmax_flops = "1G"\n',
     'entry 1: model: expected a model name such as "resnet50", got the integer 16'),
    ("unknown-model", '[[model]]\nmodel = "resnet5O"\nmax_flops = "1G"\n',
     "entry 1 (resnet5O): model: unknown model 'resnet5O'; did you mean resnet50"),
    ("bad-function-name", '[[model]]\nmodel = "pkg.mod:1fn"\nmax_flops = "1G"\n',
     f"entry 1 (pkg.mod:1fn): model: {SPEC_FORMS}, got the string 'pkg.mod:1fn'"),
    ("bad-module-name", '[[model]]\nmodel = "my-pkg:build"\nmax_flops = "1G"\n',
     f"entry 1 (my-pkg:build): model: {SPEC_FORMS}, got the string 'my-pkg:build'"),
    ("no-module", '[[model]]\nmodel = ":build"\nmax_flops = "1G"\n',
     f"entry 1 (:build): model: {SPEC_FORMS}, got the string ':build'"),
    ("path-not-py", '[[model]]\nmodel = "nets/tiny:build"\nmax_flops = "1G"\n',
     f"entry 1 (nets/tiny:build): model: {SPEC_FORMS}, got the string 'nets/tiny:build' "
     "(a file must end in .py)"),
    ("timm-without-name", '[[model]]\nmodel = "timm:"\nmax_flops = "1G"\n',
     "entry 1 (timm:): model: expected timm:NAME, e.g. timm:resnet50"),
    ("bad-number", ENTRY + 'max_flops = "2.9X"\n',
     f"entry 1 (vgg16_cifar): max_flops: bad number '2.9X'; expected {NUMBER_FORMS}"),
    ("negative-limit", ENTRY + 'max_flops = -5\n',
     "entry 1 (vgg16_cifar): max_flops: must be positive, got the integer -5"),
    ("negative-limit-suffix", ENTRY + 'max_params = "-5M"\n',
     "entry 1 (vgg16_cifar): max_params: must be positive, got the string '-5M'"),
    ("limit-too-large", ENTRY + 'max_flops = "1e400"\n',
     "entry 1 (vgg16_cifar): max_flops: too large, got the string '1e400'; a count is at "
     "most 1e18"),
    ("limit-far-too-large", ENTRY + 'max_flops = "1e1000000"\n',
     "entry 1 (vgg16_cifar): max_flops: too large, got the string '1e1000000'"),
    ("limit-infinite", ENTRY + 'max_flops = 1e400\n',  # TOML reads 1e400 as inf
     "entry 1 (vgg16_cifar): max_flops: expected a finite number, got the float inf"),
    ("limit-rounds-to-zero", ENTRY + 'max_flops = "1e-400"\n',
     "entry 1 (vgg16_cifar): max_flops: rounds to 0, got the string '1e-400'"),
    ("fractional-count", ENTRY + 'max_params = 0.4\n',
     "entry 1 (vgg16_cifar): max_params: rounds to 0, got the float 0.4; a count is a whole "
     "number, at least 1"),
    ("integer-beyond-toml", ENTRY + f'max_flops = {"9" * 5000}\n', "not valid TOML: "),
    ("zero-latency", ENTRY + 'max_latency_ms = 0\n',
     "entry 1 (vgg16_cifar): max_latency_ms: must be a positive number, got the integer 0"),
    ("bad-input-shape", ENTRY + 'input_shape = "1,3"\nmax_flops = "1G"\n',
     f"entry 1 (vgg16_cifar): input_shape: expected {SHAPE_FORMS}, got the string '1,3'"),
    ("bad-input-shape-array", ENTRY + 'input_shape = [1, 3, 0, 32]\nmax_flops = "1G"\n',
     f"entry 1 (vgg16_cifar): input_shape: expected {SHAPE_FORMS}, got the array [1, 3, 0, 32]"),
    ("bad-variant", ENTRY + 'variant = "p4x"\nmax_flops = "1G"\n',
     "entry 1 (vgg16_cifar): variant: unknown variant 'p4x'; valid forms: std, p1,"),
    ("min-reduction-out-of-range", ENTRY + 'variant = "p4"\nmin_reduction = "125%"\n',
     "entry 1 (vgg16_cifar): min_reduction: must be below 100% (a fraction under 1), "
     "got the string '125%'"),
    ("min-reduction-without-variant", ENTRY + 'min_reduction = 0.5\n',
     'entry 1 (vgg16_cifar): min_reduction: needs a variant (e.g. variant = "p4"); '
     "variant std reduces nothing"),
    ("bad-device", ENTRY + 'max_latency_ms = 5\ndevice = "tpu"\n',
     "entry 1 (vgg16_cifar): device: expected one of auto, cpu, cuda, got the string 'tpu'"),
    ("bad-batch-size", ENTRY + 'max_latency_ms = 5\nbatch_size = 1.5\n',
     "entry 1 (vgg16_cifar): batch_size: expected a positive integer, got the float 1.5"),
    ("empty-name", '[[model]]\nname = ""\nmodel = "vgg16_cifar"\nmax_flops = 1\n',
     "entry 1 (vgg16_cifar): name: expected a non-empty string, got the string ''"),
    ("toml-syntax-error", '[[model]\nmodel = "vgg16_cifar"\n',
     "not valid TOML: Expected ']]' at the end of an array declaration (at line 1, column 8)"),
    ("no-entries", '[defaults]\nvariant = "p4"\n',
     "no entries; add at least one [[model]] table with a model and a limit"),
    ("model-not-an-array", 'model = "resnet18"\n',
     "model: expected an array of tables [[model]], got the string 'resnet18'"),
    ("defaults-not-a-table", 'defaults = 3\n' + ENTRY + 'max_flops = 1\n',
     "defaults: expected a table [defaults], got the integer 3"),
    ("no-limit", ENTRY + 'variant = "p4"\n',
     "entry 1 (vgg16_cifar): no limit; give at least one of max_flops, max_params, "
     "min_reduction, max_latency_ms (here or in [defaults])"),
    ("duplicate-entry", ENTRY + 'max_flops = "1G"\n' + ENTRY + 'max_params = "1G"\n',
     "entry 2 (vgg16_cifar): duplicates entry 1 (vgg16_cifar std 1,3,32,32); give one of them "
     "a distinct name"),
]


@pytest.mark.parametrize(("text", "message"), [case[1:] for case in INVALID],
                         ids=[case[0] for case in INVALID])
def test_invalid_budget_file_exits_2_naming_entry_key_and_value(tmp_path, capsys, text,
                                                                 message):
    path = write(tmp_path, text)
    code, out, err = run(capsys, str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"hetcalc: error: {path}: {message}")
    assert err.count("\n") == 1


def test_model_file_must_exist_relative_to_the_budget_file(tmp_path, capsys, monkeypatch):
    path = write(tmp_path, '[[model]]\nmodel = "nets/tiny.py:build"\nmax_flops = "1G"\n')
    monkeypatch.chdir(tmp_path.parent)
    code, out, err = run(capsys, str(path))
    assert (code, out) == (2, "")
    assert err == (f"hetcalc: error: {path}: entry 1 (nets/tiny.py:build): model: file "
                   f"nets/tiny.py does not exist (looked for {tmp_path / 'nets' / 'tiny.py'})\n")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_latency_on_cuda_without_cuda_fails_before_any_model_is_built(tmp_path, capsys):
    path = write(tmp_path, ENTRY + 'max_latency_ms = 5\ndevice = "cuda"\n')
    code, _, err = run(capsys, str(path))
    assert code == 2
    assert err.startswith(f"hetcalc: error: {path}: entry 1 (vgg16_cifar): max_latency_ms: "
                          "device cuda: no CUDA device is available here")


THREE_MISTAKES = """
[[model]]
model = "vgg16_cifar"
max_flop = "1G"

[[model]]
model = "resnet5O"
max_flops = "1G"

[[model]]
model = "resnet18"
max_params = "1e400"
"""


def test_every_problem_of_a_file_is_collected_in_one_error(tmp_path, capsys):
    path = write(tmp_path, THREE_MISTAKES)
    with pytest.raises(budget.BudgetError, match=r"^budgets\.toml: entry 1 \(vgg16_cifar\): "
                                                 r"unknown key 'max_flop'") as info:
        budget.load_budget_file(path, "budgets.toml", check=budget.preflight)
    first, second, third = info.value.problems
    assert first.startswith("budgets.toml: entry 1 (vgg16_cifar): unknown key 'max_flop'; "
                            "did you mean 'max_flops'?")
    assert second.startswith("budgets.toml: entry 2 (resnet5O): model: unknown model "
                             "'resnet5O'; did you mean resnet50")
    assert third == ("budgets.toml: entry 3 (resnet18): max_params: too large, got the string "
                     "'1e400'; a count is at most 1e18")

    code, out, err = run(capsys, str(path))
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"hetcalc: error: {path}: {problem.split(': ', 1)[1]}"
                                for problem in (first, second, third)]


def test_several_problems_are_one_line_each_and_the_library_error_counts_them(tmp_path,
                                                                             capsys):
    path = write(tmp_path, ENTRY + 'max_flops = "2.9X"\nmax_params = "x"\nvariant = 4\n')
    with pytest.raises(budget.BudgetError) as info:
        budget.load_budget_file(path, "budgets.toml")
    assert str(info.value) == (f"budgets.toml: entry 1 (vgg16_cifar): max_flops: bad number "
                               f"'2.9X'; expected {NUMBER_FORMS} (and 2 more problems in this "
                               "file)")
    code, out, err = run(capsys, str(path))
    assert (code, out) == (2, "")
    assert [line.split(": ")[4] for line in err.splitlines()] == [
        "max_flops", "max_params", "variant"]
    assert all(line.startswith(f"hetcalc: error: {path}: entry 1 (vgg16_cifar): ")
               for line in err.splitlines())


@pytest.mark.parametrize(("text", "keys"), [
    # no "no limit" beside a key that may be the limit, misspelt or mistyped
    (ENTRY + 'max_flop = "1G"\n', ["unknown key 'max_flop'"]),
    (ENTRY + 'max_flops = "1X"\n', ["max_flops"]),
    # a bad value beside an unknown model name: both
    ('[[model]]\nmodel = "resnet5O"\nmax_flops = "1X"\n', ["max_flops", "model"]),
    # a bad value beside a floor that the variant cannot meet: both
    (ENTRY + 'min_reduction = 0.5\nmax_params = "x"\n', ["max_params", "min_reduction"]),
    # a bad variant: the floor is not judged against it
    (ENTRY + 'min_reduction = 0.5\nvariant = "q4"\n', ["variant"]),
    # a bad default and a bad key of the entry's own
    ('[defaults]\nvariant = 4\n' + ENTRY + 'max_params = "x"\n', ["variant", "max_params"]),
])
def test_an_entry_with_several_mistakes_names_each(tmp_path, text, keys):
    path = write(tmp_path, text)
    with pytest.raises(budget.BudgetError) as info:
        budget.load_budget_file(path, "budgets.toml", check=budget.preflight)
    assert len(info.value.problems) == len(keys), info.value.problems
    for problem, key in zip(info.value.problems, keys, strict=True):
        assert f": {key}" in problem, (problem, key)


def test_an_unknown_top_level_key_stands_for_missing_entries(tmp_path):
    """``[[models]]``, misspelt: one problem, not also "no entries"."""
    path = write(tmp_path, '[[models]]\nmodel = "vgg16_cifar"\nmax_flops = 1\n')
    with pytest.raises(budget.BudgetError) as info:
        budget.load_budget_file(path, "budgets.toml")
    assert info.value.problems == ["budgets.toml: unknown key 'models'; did you mean 'model'? "
                                   "expected one of defaults, model"]


def test_without_the_installation_check_validation_is_syntax_only(tmp_path):
    """Without ``check`` nothing is looked up: the unknown name waits for evaluation."""
    path = write(tmp_path, THREE_MISTAKES)
    with pytest.raises(budget.BudgetError, match=r"unknown key 'max_flop'") as info:
        budget.load_budget_file(path, "budgets.toml")
    assert [p.split(": ")[1] for p in info.value.problems] == [
        "entry 1 (vgg16_cifar)", "entry 3 (resnet18)"]


def test_invalid_file_raises_budget_error_with_every_problem(tmp_path):
    path = write(tmp_path, ENTRY + 'max_flops = "2.9X"\nmax_params = "x"\nvariant = 4\n')
    with pytest.raises(budget.BudgetError, match=r"max_flops: bad number '2\.9X'") as info:
        budget.load_budget_file(path, "budgets.toml")
    assert [p.split(": ")[2] for p in info.value.problems] == [
        "max_flops", "max_params", "variant"]


# ------------------------------------------------------------------ no code runs while validating

BUILDER = """
from pathlib import Path

Path(__file__).with_name("imported.marker").write_text("imported")


def build():
    Path(__file__).with_name("called.marker").write_text("called")
    from torch import nn
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1))


build.input_shape = (1, 3, 8, 8)
"""


@pytest.mark.parametrize("form", ["file", "module"])
def test_an_invalid_file_runs_none_of_the_code_it_names(tmp_path, capsys, monkeypatch, form):
    """A model builder named by a file that is invalid elsewhere is neither imported nor called:
    validation is syntax, the file's code runs only when its entry is evaluated."""
    module = f"budget_builder_{form}"
    write(tmp_path, BUILDER, name=f"{module}.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = f"{module}.py:build" if form == "file" else f"{module}:build"
    path = write(tmp_path, f'[[model]]\nmodel = "{spec}"\nmax_flops = "1G"\n'
                           + ENTRY + 'max_flops = "2.9X"\n')
    code, out, err = run(capsys, str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"hetcalc: error: {path}: entry 2 (vgg16_cifar): max_flops: bad number")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["budgets.toml", f"{module}.py"])
    assert module not in sys.modules


def test_a_valid_file_runs_the_code_it_names_only_when_evaluated(tmp_path, monkeypatch):
    """Entry by entry: the builder of entry 1 has run when entry 2's (os.getcwd, which returns
    no model) fails; validating had called neither."""
    write(tmp_path, BUILDER, name="nets.py")
    path = write(tmp_path, '[[model]]\nmodel = "nets.py:build"\nmax_flops = "1G"\n'
                           '[[model]]\nmodel = "os:getcwd"\nmax_flops = "1G"\n')
    loaded = budget.load_budget_file(path, check=budget.preflight)
    assert [e.input_shape for e in loaded.entries] == [None, None]  # only importing tells
    assert not (tmp_path / "imported.marker").exists()
    monkeypatch.undo()  # evaluate for real: trace the builder's model
    first, second = budget.evaluate(loaded)
    assert first.evaluated and first.failure is None
    assert second.failure is not None and isinstance(second.failure.error, ModelLoadError)
    assert second.failure.message == ("model: model 'os:getcwd': the builder returned str, "
                                      "not an nn.Module (nor a pair (module, "
                                      "example_inputs))")
    assert (tmp_path / "imported.marker").exists() and (tmp_path / "called.marker").exists()


# ------------------------------------------------------------------ arguments and files

@pytest.mark.parametrize(("args", "message"), [
    (["missing.toml"], "missing.toml: no such file"),
    (["pyproject.toml"], "pyproject.toml: no [tool.hetcalc] table; add "
                         "[tool.hetcalc.defaults] and [[tool.hetcalc.model]] entries, or keep "
                         "the budgets in budgets.toml"),
    (["budgets.toml", "--baseline", "base.json", "--tolerance", "1x"],
     "--tolerance: expected a fraction such as 0.25 or a percentage such as '25%', got the "
     "string '1x'; e.g. 1% or 0.01"),
    (["budgets.toml", "--baseline", "base.json", "--tolerance", "-1%"],
     "--tolerance: must be 0 or more, got the string '-1%'"),
    (["budgets.toml", "--tolerance", "1%"], "--tolerance needs --baseline FILE to compare with"),
    (["budgets.toml", "--baseline", "nope.json"],
     "nope.json: no such baseline file; write one with hetcalc check --write-baseline "
     "nope.json"),
    (["budgets.toml", "--baseline", "budgets.toml"],
     "budgets.toml: not a hetcalc baseline file: Expecting value: line 1 column 3 (char 2)"),
    (["budgets.toml", "--format", "xml"], "Invalid value for '--format' / '-f'"),
])
def test_invalid_file_or_argument_exits_2(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, '[project]\nname = "mine"\n', name="pyproject.toml")
    write(tmp_path, ENTRY + 'max_flops = "1G"\n')
    write(tmp_path, '{"hetcalc_baseline": 1, "entries": []}', name="base.json")
    code, out, err = run(capsys, *args)
    assert (code, out) == (2, "")
    assert err.startswith(f"hetcalc: error: {message}")
    assert err.count("\n") == 1


# ------------------------------------------------------------------ discovery without FILE

def test_no_budget_file_found(tmp_path, capsys, monkeypatch):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")  # a repository to git
    write(tmp_path, '[project]\nname = "mine"\n', name="pyproject.toml")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert err == (f"hetcalc: error: no budget file: found neither budgets.toml nor a "
                   f"pyproject.toml with a [tool.hetcalc] table in {tmp_path.resolve()} or its "
                   "parents; give the file: hetcalc check FILE\n")


@pytest.mark.skipif(any((d / ".git").exists() for d in Path("/tmp").resolve().parents),
                    reason="the temporary directory is inside a git repository")
def test_outside_a_git_repository_parents_are_not_searched(tmp_path, capsys, monkeypatch):
    """A budgets.toml above a directory that is in no repository is no part of the project."""
    write(tmp_path, ENTRY + 'max_flops = "1G"\n')
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert err == (f"hetcalc: error: no budget file: found neither budgets.toml nor a "
                   f"pyproject.toml with a [tool.hetcalc] table in {tmp_path.resolve() / 'sub'} "
                   "(not in a git repository, so its parents were not searched); give the "
                   "file: hetcalc check FILE\n")


def test_discovery_stops_at_the_git_root(tmp_path):
    write(tmp_path, ENTRY + 'max_flops = "1G"\n')  # above the repository: not the project's
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / "repo" / "src").mkdir()
    with pytest.raises(budget.BudgetError, match=r"^no budget file: .* or its parents;"):
        budget.find_budget_file(tmp_path / "repo" / "src")
    found = write(tmp_path / "repo", ENTRY + 'max_flops = "1G"\n')
    assert budget.find_budget_file(tmp_path / "repo" / "src") == found.resolve()


def test_budget_files_in_docs_are_valid(tmp_path):
    """Every ```toml block of docs/ci.md validates (its first line names the file it shows)."""
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = [block.split("```")[0] for block in text.split("```toml\n")[1:]]
    assert [block.splitlines()[0] for block in blocks] == ["# budgets.toml", "# pyproject.toml"]
    for block in blocks:
        name = block.splitlines()[0].removeprefix("# ")
        loaded = budget.load_budget_file(write(tmp_path, block, name=name),
                                         check=budget.preflight)
        assert loaded.entries and all(entry.limits for entry in loaded.entries)
