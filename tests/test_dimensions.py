"""1-D and 3-D models end to end: the layers substitute and counted equals analytic."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).parent / "data"


def test_a_conv1d_model_from_a_file(cli):
    code, out, err = cli("analyze", f"{DATA / 'audio_net.py'}:build", "--P", "4",
                         "--input-shape", "1,1,16000", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert layers["0"]["kernel"] == [9] and not layers["0"]["substituted"]  # the first conv
    # 16000 -> 4000 -> 4000 -> 2000 samples; HetConv P=4: Eq. 2 + Eq. 3 per layer
    assert layers["2"]["flops_analytic"] == 4000 * (32 // 4) * 64 * 5 + 4000 * 64 * (32 - 32 // 4)
    assert layers["5"]["flops_analytic"] == 2000 * (64 // 4) * 64 * 5 + 2000 * 64 * (64 - 64 // 4)
    for layer in data["layers"]:
        assert layer["flops_counted"] == layer["flops_counted_torch"] == layer["flops_analytic"]
    assert data["result"]["flops_counted"] == data["result"]["flops_analytic"]


def test_r3d_18_substitutes_its_3d_convs(cli):
    code, out, err = cli("analyze", "r3d_18", "--P", "4", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["input_shape"] == [1, 3, 16, 112, 112]
    replaced = [layer for layer in data["layers"] if layer["substituted"]]
    assert len(replaced) == 16 and all(len(layer["kernel"]) == 3 for layer in replaced)
    first = replaced[0]  # layer1.0.conv1.0: 64 -> 64, 3x3x3, 16x56x56
    assert first["flops_analytic"] == 16 * 56 * 56 * (64 // 4 * 64 * 27 + 64 * (64 - 64 // 4))
    assert all(layer["flops_counted"] == layer["flops_analytic"] for layer in data["layers"])
    assert data["result"]["flops_counted"] == data["result"]["flops_analytic"]
