"""Exports the PyTorch reference of the official model to ONNX with torch.onnx.export (never run in CI).

    dotnet bench/TransReID.Benchmarks/bin/Release/net10.0/TransReID.Benchmarks.dll weights /tmp/w.safetensors 0 market
    /usr/bin/python3 tests/reference/export_torch_onnx.py market-vit-transreid-stride /tmp/w.safetensors /tmp/torch.onnx

This is the model a user of the official code deploys with ONNX Runtime: the official module structure traced as it
runs (b1 over every token, b2 once per JPM part), not our compiled plan. PRESET is market-vit-transreid-stride
(256x128, patch 16, stride 12, ViT-B, 6 cameras, JPM 4, neck feature before) or tiny-demo (`weights PATH 0 tiny`; the
test fixture Fixtures/onnx/tiny_demo_torch.onnx). Inputs and output carry the names of our export (images float32
[N, 3, H, W], cameras int64 [N]; features [N, FeatureDim]), so `transreid bench --peer onnxruntime --peer-model FILE`
can time it against Embed on the same inputs; with the bench's weights (seed 0, as above) the features must agree.
Prints one JSON line.
"""
from __future__ import annotations

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors  # noqa: E402
from transreid_ref import TransReID, market_config  # noqa: E402


PRESETS = {
    "market-vit-transreid-stride": {},
    "tiny-demo": dict(image_height=64, image_width=32, patch_size=8, stride_y=6, stride_x=6, depth=3, embed_dim=48,
                      heads=3, cameras=3, classes=30),
}


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] not in PRESETS:
        sys.exit(f"usage: export_torch_onnx.py {{{'|'.join(PRESETS)}}} WEIGHTS.safetensors OUT.onnx")
    preset, weights, out = sys.argv[1:]
    cfg = market_config(**PRESETS[preset])    # tiny-demo: the Market settings at tiny sizes
    model = TransReID(cfg)
    state, _ = read_safetensors(weights)
    model.load_state_dict(state)
    model.eval()
    images = torch.rand(2, 3, cfg.image_height, cfg.image_width) * 2 - 1
    cameras = torch.tensor([0, cfg.cameras - 1], dtype=torch.int64)
    with torch.no_grad():
        expected = model(images, cameras)
        torch.onnx.export(model, (images, cameras), out + ".tmp", input_names=["images", "cameras"],
                          output_names=["features"], opset_version=17, do_constant_folding=True,
                          dynamic_axes={"images": {0: "N"}, "cameras": {0: "N"}, "features": {0: "N"}})
    os.replace(out + ".tmp", out)
    print(json.dumps({"preset": preset, "onnx": out, "torch": torch.__version__, "opset": 17, "features": list(expected.shape),
                      "bytes": os.path.getsize(out)}))


if __name__ == "__main__":
    main()
