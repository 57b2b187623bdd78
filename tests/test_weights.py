"""Trained weights in, safely (hetcalc.weights, ``--weights``, ``--pretrained``,
``--calibration``): tensors only, never code; a file that does not fit the model is one line
naming the mismatches; ``--pretrained`` reads torch's hub cache and never downloads."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from hetcalc.errors import InvalidArgument
from hetcalc.models import build, resolve
from hetcalc.weights import read_state_dict, read_tensor

MODEL = "resnet56_cifar"


class _Planted:
    """Unpickling this would create the file ``marker``: code run by loading."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture(scope="module")
def state():
    torch.manual_seed(0)
    return build(resolve(MODEL), "random").state_dict()


@pytest.fixture(scope="module")
def weights_file(state, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "resnet56.safetensors"
    save_file(state, str(path))
    return path


def _one_line(code: int, out: str, err: str) -> str:
    assert code == 2, err
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(cli, tmp_path, state):
    marker = tmp_path / "marker"
    path = tmp_path / "planted.pt"
    torch.save({**state, "planted": _Planted(marker)}, path)
    assert not marker.exists()
    with pytest.raises(InvalidArgument, match="refused: it holds more than tensors"):
        read_state_dict(path)
    assert not marker.exists()
    err = _one_line(*cli("analyze", MODEL, "--P", "4", "--weights", str(path), "--no-count"))
    assert err.startswith(f"hetcalc: --weights {path}: refused") or f"--weights {path}" in err
    assert "never code" in err
    assert not marker.exists()
    torch.save(_Planted(marker), tmp_path / "tensor.pt")
    _one_line(*cli("analyze", MODEL, "--P", "4", "--weights", str(path),
                   "--calibration", str(tmp_path / "tensor.pt")))
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, pickle.HIGHEST_PROTOCOL])
def test_a_plain_pickle_that_would_run_code_is_one_line_and_runs_nothing(cli, tmp_path,
                                                                         protocol):
    """Not torch.save's zip file but a bare pickle, of any protocol: one line (torch's own
    warning about the protocol is not shown), and the code in it never runs."""
    marker = tmp_path / "marker"
    path = tmp_path / "bare.pkl"
    path.write_bytes(pickle.dumps({"fc.weight": _Planted(marker)}, protocol=protocol))
    err = _one_line(*cli("analyze", MODEL, "--P", "4", "--weights", str(path), "--no-count"))
    assert f"--weights {path}" in err and "Warning" not in err
    assert not marker.exists()


def test_a_state_dict_saved_with_torch_save_reads_as_the_safetensors_file(tmp_path, state,
                                                                          weights_file):
    torch.save({"state_dict": state}, tmp_path / "wrapped.pt")
    a, b = read_state_dict(tmp_path / "wrapped.pt"), read_state_dict(weights_file)
    assert a.keys() == b.keys() == state.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_file_that_does_not_fit_names_the_first_mismatches(cli, tmp_path, state):
    changed = dict(state)
    del changed["fc.weight"]
    changed["extra.weight"] = torch.zeros(1)
    changed["conv1.weight"] = torch.zeros(16, 3, 5, 5)
    path = tmp_path / "other.safetensors"
    save_file(changed, str(path))
    err = _one_line(*cli("analyze", MODEL, "--P", "4", "--weights", str(path), "--no-count"))
    assert f"--weights {path}: does not match the model" in err
    assert '1 missing keys ("fc.weight")' in err
    assert '1 unexpected keys ("extra.weight")' in err
    assert '"conv1.weight" is [16, 3, 5, 5], the model\'s [16, 3, 3, 3]' in err


@pytest.mark.parametrize("content", [b"", b"not a weights file at all", b"\x08" + b"\0" * 7 + b"{"])
def test_garbage_is_one_line(cli, tmp_path, content):
    path = tmp_path / "garbage.bin"
    path.write_bytes(content)
    err = _one_line(*cli("analyze", MODEL, "--weights", str(path), "--no-count"))
    assert f"--weights {path}:" in err


def test_analyze_json_has_the_fidelity_keys(cli, weights_file):
    code, out, err = cli("analyze", MODEL, "--P", "4", "--weights", str(weights_file),
                         "--no-count", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    replaced = [layer for layer in data["layers"] if layer["substituted"]]
    assert replaced and all(0 < layer["energy_kept"] < 1 and layer["output_error"] > 0
                            for layer in replaced)
    kept = [layer for layer in data["layers"] if not layer["substituted"]]
    assert all(layer["energy_kept"] is None for layer in kept)
    result = data["result"]
    assert -1 <= result["output_cosine"] <= 1
    # 8 calibration inputs, a [8, 10] output: agreement is a whole number of eighths
    assert result["top1_agreement"] * 8 == round(result["top1_agreement"] * 8)
    assert data["weights"]["file"] == str(weights_file)


def test_without_weights_the_json_is_as_it_was(cli):
    code, out, _ = cli("analyze", MODEL, "--P", "4", "--no-count", "--format", "json")
    data = json.loads(out)
    assert "output_cosine" not in data["result"] and "weights" not in data
    assert "energy_kept" not in data["layers"][0]


def test_a_calibration_file_is_the_batch(cli, tmp_path, weights_file):
    save_file({"x": torch.randn(3, 3, 32, 32)}, str(tmp_path / "batch.safetensors"))
    code, out, err = cli("analyze", MODEL, "--P", "2", "--weights", str(weights_file),
                         "--calibration", str(tmp_path / "batch.safetensors"), "--no-count",
                         "--format", "json")
    assert code == 0, err
    assert json.loads(out)["result"]["top1_agreement"] * 3 in (0, 1, 2, 3)
    torch.save(torch.randn(2, 3, 16, 16), tmp_path / "small.pt")
    assert read_tensor(tmp_path / "small.pt").shape == (2, 3, 16, 16)
    err = _one_line(*cli("analyze", MODEL, "--weights", str(weights_file),
                         "--calibration", str(tmp_path / "small.pt")))
    assert "--calibration" in err and "[2, 3, 16, 16]" in err and "[batch, 3, 32, 32]" in err


@pytest.mark.parametrize("args,message", [
    (["--weights", "{w}", "--pretrained"], "give either --weights or --pretrained, not both"),
    (["--calibration", "{w}"], "--calibration needs --weights or --pretrained"),
    (["--weights", "{tmp}/missing.safetensors"], "missing.safetensors: no such file"),
    (["--weights", "/dev/null"], "not a regular file"),
])
def test_weights_options_fail_before_any_work(cli, tmp_path, weights_file, args, message):
    args = [a.format(w=weights_file, tmp=tmp_path) for a in args]
    err = _one_line(*cli("analyze", MODEL, *args))
    assert message in err


def test_pretrained_reads_the_torch_hub_cache_and_never_downloads(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    expected = tmp_path / "torch" / "hub" / "checkpoints" / "squeezenet1_1-b8a52dc0.pth"
    err = _one_line(*cli("analyze", "squeezenet1_1", "--P", "2", "--pretrained"))
    assert f"--pretrained: squeezenet1_1-b8a52dc0.pth is not in the torch hub cache: no file " \
           f"at {expected}" in err
    expected.parent.mkdir(parents=True)
    torch.manual_seed(1)
    torch.save(build(resolve("squeezenet1_1"), "random").state_dict(), expected)
    code, out, err = cli("analyze", "squeezenet1_1", "--P", "2", "--pretrained", "--no-count",
                         "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["weights"]["file"] == "pretrained (torch hub cache)"
    assert any(layer["energy_kept"] is not None for layer in data["layers"])
    assert os.listdir(expected.parent) == [expected.name]  # nothing else fetched or written


def test_pretrained_is_for_torchvision_models(cli):
    err = _one_line(*cli("analyze", MODEL, "--pretrained"))
    assert "--pretrained: resnet56_cifar has no torchvision weights" in err


def test_plan_keep_energy_needs_weights_and_beats_keep_kxk(cli, weights_file):
    err = _one_line(*cli("plan", MODEL, "--max-flops", "60M", "--keep", "energy"))
    assert "--keep energy needs trained weights" in err
    rows = {}
    for keep in ("kxk", "energy"):
        code, out, err = cli("plan", MODEL, "--max-flops", "60M", "--weights", str(weights_file),
                             "--keep", keep, "--format", "json")
        assert code == 0, err
        data = json.loads(out)
        assert data["keep"] == keep and data["result"]["flops"] <= 60_000_000
        rows[keep] = data["result"]["energy_kept"]
    assert rows["energy"] >= rows["kxk"]


def test_compare_puts_each_variants_fidelity_beside_its_costs(cli, weights_file):
    code, out, err = cli("compare", MODEL, "--variants", "p2,p8", "--no-latency", "--weights",
                         str(weights_file), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    p2, p8 = data["variants"]
    assert p2["energy_kept"] > p8["energy_kept"]  # random weights: about 1/P + (1 - 1/P)/9
    assert p2["energy_kept"] == pytest.approx(1 / 2 + 1 / 2 / 9, abs=0.02)
    assert p8["energy_kept"] == pytest.approx(1 / 8 + 7 / 8 / 9, abs=0.02)
    assert all(-1 <= v["output_cosine"] <= 1 and v["top1_agreement"] is not None
               for v in (p2, p8))
    assert data["weights"]["file"] == str(weights_file)


def test_a_budget_entry_takes_weights(cli, tmp_path, weights_file):
    (tmp_path / "w.safetensors").write_bytes(weights_file.read_bytes())
    budget = tmp_path / "budgets.toml"
    budget.write_text(f'[[model]]\nmodel = "{MODEL}"\nvariant = "p4"\nmax_flops = "60M"\n'
                      'weights = "w.safetensors"\n')
    code, out, err = cli("check", str(budget), "--format", "json")
    assert code == 0, err
    (entry,) = json.loads(out)["entries"]
    assert entry["fidelity"]["weights"] == str(tmp_path / "w.safetensors")
    assert entry["fidelity"]["energy_kept"] == pytest.approx(1 / 4 + 3 / 4 / 9, abs=0.02)
    budget.write_text(budget.read_text().replace("w.safetensors", "gone.safetensors"))
    err = _one_line(*cli("check", str(budget)))
    assert 'weights: "gone.safetensors": no such file (read relative to the budget file)' in err
