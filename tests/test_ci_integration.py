"""What a user of the command line meets first: install hints that work from a clone, the
GitHub Action (action.yml) run step by step here, and the pre-commit hook manifest."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# ---------------------------------------------------------------------------------------------
# Install hints: every `pip install`, `pipx install|inject` and `uv tool install` in the package's
# strings and in the docs names something that installs for someone who has a clone: a path (the
# clone, its extras), a git URL, or a package from PyPI that the project knows (never `hetcalc`,
# which no index has), at the version range pyproject.toml asks for.

COMMAND = re.compile(r"\b(pip3?\s+install|pipx\s+install|pipx\s+inject|uv\s+tool\s+install)\b")
# a token: 'quoted', "quoted-without-spaces", or a run of characters that cannot end a command
TOKEN = re.compile(r"""[ \t]*('[^'\n]*'|"[^"\s]*"|[^\s'"`()\\;|&]+)""")
# words after which a hint is prose again: "pip install 'timm>=1.0' into hetcalc's environment"
PROSE = {"into", "in", "from", "or", "and", "then", "to", "for", "inside", "on", "again"}
TAKES_VALUE = {"-i", "--index-url", "--extra-index-url", "--index", "--default-index", "-f",
               "--find-links", "-r", "--requirement", "-c", "--constraint", "--constraints",
               "--pip-args", "--python", "--torch-backend", "--backend", "--index-strategy",
               "--suffix", "--upgrade-strategy", "-t", "--target", "--prefix",
               "--reinstall-package", "--upgrade-package", "-P"}
VALUE_IS_REQUIREMENT = {"-e", "--editable", "-w", "--with", "--with-editable", "--preinstall"}
# Packages the docs may tell a user to install by name; all of them are on PyPI.
KNOWN = {"torch", "torchvision", "timm", "matplotlib", "pipx", "uv", "pre-commit"}
NAME = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _wanted_ranges() -> dict[str, str]:
    """Package name -> the specifier pyproject.toml gives it (dependencies and extras)."""
    wanted = {}
    reqs = [*PYPROJECT["project"]["dependencies"]]
    for extra in PYPROJECT["project"]["optional-dependencies"].values():
        reqs += extra
    for req in reqs:
        m = NAME.fullmatch(req.strip())
        assert m is not None, req
        wanted[_norm(m[1])] = m[3]
    return wanted


WANTED = _wanted_ranges()
EXTRAS = set(PYPROJECT["project"]["optional-dependencies"])


def _same_range(a: str, b: str) -> bool:
    return sorted(a.replace(" ", "").split(",")) == sorted(b.replace(" ", "").split(","))


def requirement_problem(req: str) -> str | None:
    """Why ``req`` (one requirement of a hint, quotes removed) does not install from a clone."""
    if req in ("...", "./...") or req.startswith(("$", "<")):
        return None  # a placeholder or a shell variable (the action's own checkout)
    extras = re.search(r"\[([^\]]*)\]", req)
    if req.startswith((".", "/", "~")):  # a path: the clone, perhaps with extras
        unknown = [e for e in (extras[1].split(",") if extras else []) if e.strip() not in EXTRAS]
        return f"{req}: no extra {', '.join(unknown)} in pyproject.toml" if unknown else None
    if req.startswith("git+") or re.match(r"[\w.-]+(\[[^\]]*\])?\s*@\s*(git\+|https?://|file:)", req):
        return None  # a direct reference: installs without any index
    m = NAME.fullmatch(req)
    if m is None:
        return f"{req}: not a requirement"
    name, spec = _norm(m[1]), m[3]
    if name == "hetcalc":
        return f"{req}: no package index has hetcalc; install the clone (-e .) or a git URL"
    if name not in KNOWN:
        return f"{req}: {name} is not a package these docs install"
    if spec and name in WANTED and not _same_range(spec, WANTED[name]):
        return f"{req}: pyproject.toml asks for {name}{WANTED[name]}"
    return None


def hint_problems(text: str) -> tuple[int, list[str]]:
    """(how many requirements the hints in ``text`` name, what is wrong with them)."""
    count, problems = 0, []
    for match in COMMAND.finditer(text):
        command = match[1].split()
        pos, positional, tokens = match.end(), 0, []
        while (tok := TOKEN.match(text, pos)) is not None:
            token = tok[1]
            if token.startswith("#") or token in PROSE:
                break
            tokens.append(token[1:-1] if token[0] in "'\"" else token)
            pos = tok.end()
        skip = False
        for i, token in enumerate(tokens):
            if skip:
                skip = False
                continue
            option, _, value = token.partition("=")
            if token.startswith("-"):
                if option in VALUE_IS_REQUIREMENT:
                    req = value or (tokens[i + 1] if i + 1 < len(tokens) else "")
                    skip = not value
                    if req:
                        count += 1
                        if (problem := requirement_problem(req)) is not None:
                            problems.append(problem)
                elif option in TAKES_VALUE and not value:
                    skip = True
                continue
            positional += 1
            if command[-1] == "inject" and positional == 1:
                if token != "hetcalc":
                    problems.append(f"pipx inject {token}: hetcalc's pipx environment is hetcalc")
                continue
            count += 1
            if (problem := requirement_problem(token)) is not None:
                problems.append(problem)
    return count, problems


def _python_strings(path: Path) -> str:
    """Every string in a module, implicitly concatenated pieces joined as Python joins them."""
    pieces = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            pieces.append(node.value)
    return "\n".join(pieces)


def _action_scripts() -> str:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    return "\n".join(step.get("run", "") for step in action["runs"]["steps"])


def _hint_sources() -> dict[str, str]:
    sources = {str(p.relative_to(ROOT)): _python_strings(p) for p in (ROOT / "hetcalc").rglob("*.py")}
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        sources[str(page.relative_to(ROOT))] = page.read_text(encoding="utf-8")
    sources["action.yml"] = _action_scripts()
    return sources


def test_every_install_hint_installs_from_a_clone():
    counts, problems = {}, []
    for name, text in _hint_sources().items():
        counts[name], found = hint_problems(text)
        problems += [f"{name}: {p}" for p in found]
    assert problems == []
    # the hints are really seen, so that the check above cannot pass by finding none
    for name in ("hetcalc/plot.py", "hetcalc/cli/options.py", "hetcalc/models/__init__.py",
                 "README.md", "docs/install.md", "docs/ci.md", "docs/models.md",
                 "docs/compare.md", "docs/curve.md", "action.yml"):
        assert counts[name] >= 1, name


@pytest.mark.parametrize(("text", "problems"), [
    ("pip install hetcalc", 1),
    ("pip install 'hetcalc[timm]'", 1),
    ("pipx install hetcalc", 1),
    ("uv tool install hetcalc --index https://x", 1),
    ("pip install --extra-index-url https://x hetcalc", 1),
    ("pip install -e '.[nosuch]'", 1),
    ("pipx inject hetcalc-venv 'timm>=1.0'", 1),
    ("pip install 'torch>=2.0'", 1),          # not hetcalc's range
    ("pip install 'matplotlib>=3.1'", 1),     # not the plot extra's range
    ("pip install numpyy", 1),
    ("`pip install 'hetcalc[plot]'` and `pip install hetcalc`", 2),
    ("pip install -e '.[timm]'", 0),
    ("pip install 'timm>=1.0' into hetcalc's environment", 0),
    ("pipx inject hetcalc 'matplotlib>=3.7'", 0),
    ("pipx install ./ --pip-args='--extra-index-url https://x'", 0),
    ("uv tool install . --with 'timm>=1.0' --index https://x", 0),
    ("pip install 'hetcalc[plot] @ git+https://github.com/<owner>/hetcalc@<rev>'", 0),
    ("pip install torch torchvision --index-url https://x && pip install -e .", 0),
    ("uv tool install --reinstall-package hetcalc . --index https://x", 0),
])
def test_the_hint_check_tells_what_does_not_install(text, problems):
    assert len(hint_problems(text)[1]) == problems


# ---------------------------------------------------------------------------------------------
# The GitHub Action

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
STEPS = ACTION["runs"]["steps"]


def _step(name: str) -> dict:
    (step,) = [s for s in STEPS if s.get("name") == name]
    return step


def test_action_inputs_and_defaults():
    inputs = ACTION["inputs"]
    assert {k: v["default"] for k, v in inputs.items()} == {
        "budgets": "budgets.toml",
        "python-version": "3.11",
        "torch-index": "https://download.pytorch.org/whl/cpu",
        "junit": "hetcalc-junit.xml",
        "artifact-name": "hetcalc-junit",
        "install": "",
        "args": "",
    }
    assert all(v["description"] and v["required"] is False for v in inputs.values())
    assert ACTION["outputs"]["exit-code"]["value"] == "${{ steps.check.outputs.exit-code }}"


def test_action_steps():
    assert ACTION["runs"]["using"] == "composite"
    assert [s["name"] for s in STEPS] == ["Set up Python", "Install torch and torchvision",
                                          "Install hetcalc", "hetcalc check",
                                          "Upload the JUnit report"]
    setup = _step("Set up Python")
    assert setup["uses"] == "actions/setup-python@v5"
    assert setup["with"] == {"python-version": "${{ inputs.python-version }}"}
    assert _step("Install torch and torchvision")["if"] == "inputs.torch-index != ''"
    assert _step("Install hetcalc")["env"]["HETCALC_SOURCE"] == "${{ github.action_path }}"
    assert _step("hetcalc check")["id"] == "check"
    upload = _step("Upload the JUnit report")
    assert upload["uses"] == "actions/upload-artifact@v4"
    assert upload["if"] == "always() && inputs.junit != ''"
    assert upload["with"]["path"] == "${{ inputs.junit }}"
    for step in STEPS:
        if "run" in step:
            assert step["shell"] == "bash"  # a composite action's run step must name its shell
            # inputs reach the scripts through env, never spliced into the script's text
            assert "${{" not in step["run"], step["name"]


def _run_step(name: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run one step's script as GitHub Actions runs `shell: bash`."""
    step = _step(name)
    script = cwd / f"{step.get('id', 'step')}.sh"
    script.write_text(step["run"], encoding="utf-8")
    full = {**os.environ, **env}
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                          cwd=cwd, env=full, capture_output=True, text=True, timeout=600)


@pytest.fixture
def fake_python(tmp_path):
    """A `python` first on PATH that writes its arguments, one a line, instead of installing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "python"
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@" >> "$ARGS_FILE"\n', encoding="utf-8")
    stub.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "ARGS_FILE": str(tmp_path / "args")}


def test_action_install_steps_install_cpu_torch_then_the_checkout(tmp_path, fake_python):
    torch = _run_step("Install torch and torchvision", tmp_path,
                      {**fake_python, "TORCH_INDEX": CPU_INDEX})
    assert torch.returncode == 0, torch.stderr
    hetcalc = _run_step("Install hetcalc", tmp_path,
                        {**fake_python, "HETCALC_SOURCE": "/actions/hetcalc dir",
                         "EXTRA_INSTALL": "-e .  'timm>=1.0' *"})
    assert hetcalc.returncode == 0, hetcalc.stderr
    assert (tmp_path / "args").read_text(encoding="utf-8").splitlines() == [
        "-m", "pip", "install", "--disable-pip-version-check",
        "torch>=2.9,<2.15", "torchvision>=0.24,<0.30", "--index-url", CPU_INDEX,
        "-m", "pip", "install", "--disable-pip-version-check",
        "/actions/hetcalc dir", "-e", ".", "'timm>=1.0'", "*",   # split at blanks, no globbing
    ]
    # the torch range is hetcalc's own (pyproject.toml)
    assert WANTED["torch"] == ">=2.9,<2.15" and WANTED["torchvision"] == ">=0.24,<0.30"


def _budgets(directory: Path, limit: str) -> None:
    (directory / "budgets.toml").write_text(
        f'[[model]]\nmodel = "vgg16_cifar"\nmax_flops = "{limit}"\n', encoding="utf-8")


def _check_env(tmp_path: Path, budgets: str, args: str = "") -> dict[str, str]:
    (tmp_path / "summary.md").write_text("", encoding="utf-8")
    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "BUDGETS": budgets, "JUNIT": "report.xml", "HETCALC_ARGS": args,
        "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }


@pytest.mark.skipif(shutil.which("hetcalc", path=str(Path(sys.executable).parent)) is None,
                    reason="needs the hetcalc command installed beside this Python (pip install -e .)")
def test_action_check_step_passes_then_fails(tmp_path):
    # vgg16_cifar as it is: 314.02M MACs (docs/reproduction.md), under 320M and over 100M
    _budgets(tmp_path, "320M")
    ok = _run_step("hetcalc check", tmp_path,
                   _check_env(tmp_path, "budgets.toml", "--write-baseline  baseline.json"))
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "output").read_text(encoding="utf-8") == "exit-code=0\n"
    assert (tmp_path / "baseline.json").is_file()  # args reached hetcalc check
    suites = ET.parse(tmp_path / "report.xml").getroot()
    assert (suites.get("tests"), suites.get("failures")) == ("1", "0")
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "| vgg16_cifar | std | FLOPs (MACs) | 314.02M | max 320.00M |" in summary

    # no budgets input: check finds budgets.toml itself
    _budgets(tmp_path, "100M")
    (tmp_path / "output").unlink()
    over = _run_step("hetcalc check", tmp_path, _check_env(tmp_path, ""))
    assert over.returncode == 1
    assert (tmp_path / "output").read_text(encoding="utf-8") == "exit-code=1\n"
    assert "hetcalc check: FAIL: budgets.toml: 1 of 1 check over budget." in over.stderr
    suites = ET.parse(tmp_path / "report.xml").getroot()
    (case,) = suites.iter("testcase")
    assert (case.get("classname"), case.get("name")) == ("vgg16_cifar", "std max_flops")
    assert case.find("failure") is not None
    assert "| vgg16_cifar | std | FLOPs (MACs) | 314.02M | max 100.00M | -214.02% | FAIL |" in (
        tmp_path / "summary.md").read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("hetcalc", path=str(Path(sys.executable).parent)) is None,
                    reason="needs the hetcalc command installed beside this Python (pip install -e .)")
def test_action_check_step_invalid_budgets_is_exit_2(tmp_path):
    _budgets(tmp_path, "2.9X")
    bad = _run_step("hetcalc check", tmp_path, _check_env(tmp_path, "budgets.toml"))
    assert bad.returncode == 2
    assert (tmp_path / "output").read_text(encoding="utf-8") == "exit-code=2\n"
    assert bad.stderr.startswith("hetcalc: error: budgets.toml: ")
    assert not (tmp_path / "report.xml").exists()


def test_ci_page_documents_the_action_and_the_hook():
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    assert "uses: <owner>/hetcalc@<rev>" in text
    for name in ACTION["inputs"]:
        assert f"`{name}`" in text, name
    assert "id: hetcalc-check" in text and "repo: https://github.com/<owner>/hetcalc" in text


# ---------------------------------------------------------------------------------------------
# pre-commit

MANIFEST_KEYS = {  # pre-commit's hook manifest keys (pre-commit.com, "Creating new hooks")
    "id", "name", "entry", "language", "files", "exclude", "types", "types_or", "exclude_types",
    "always_run", "fail_fast", "verbose", "pass_filenames", "require_serial", "description",
    "language_version", "minimum_pre_commit_version", "args", "stages", "additional_dependencies",
    "alias", "log_file",
}


def test_pre_commit_manifest():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = hooks
    assert set(hook) <= MANIFEST_KEYS
    assert {k: hook[k] for k in ("id", "entry", "language", "pass_filenames")} == {
        "id": "hetcalc-check", "entry": "hetcalc check", "language": "python",
        "pass_filenames": False}
    assert hook["entry"].split()[0] in PYPROJECT["project"]["scripts"]
    files = re.compile(hook["files"])
    for path in ("budgets.toml", "ci/budgets.toml", "model-budgets.toml", "pyproject.toml",
                 "budgets-baseline.json", "src/net.py"):
        assert files.search(path), path
    for path in ("README.md", "docs/ci.md", "budgets.toml.bak", "net.pyc"):
        assert not files.search(path), path


def test_pre_commit_validates_the_manifest():
    pytest.importorskip("pre_commit", reason="pre-commit is not installed in this environment")
    done = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest",
                           str(ROOT / ".pre-commit-hooks.yaml")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
