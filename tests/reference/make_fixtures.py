"""Generates the whole-model fixtures under tests/TransReID.Tests/Fixtures/<name>/.

Deterministic (torch.manual_seed per config). Everything is computed in float64 from weights and
inputs that are exactly representable in float32, then stored as float32. A float32 re-run of the
same forward/backward is compared against the float64 result and the differences are printed.

Run (never in CI):
    /usr/bin/python3 tests/reference/make_fixtures.py
"""
from __future__ import annotations

import json
import math
import os
import sys
from collections import OrderedDict
from typing import Dict, Tuple

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402
from transreid_ref import TransReID, TransReIDConfig, parameter_count, transreid_loss  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_ROOT = os.path.join(REPO, "tests", "TransReID.Tests", "Fixtures")

# name -> (config, ids in batch, images per id, seed)
CONFIGS: Dict[str, Tuple[TransReIDConfig, int, int, int]] = {
    "tiny_jpm_sie": (TransReIDConfig(
        image_height=64, image_width=32, patch_size=8, stride_y=6, stride_x=6, depth=3, embed_dim=48,
        heads=3, mlp_ratio=4.0, qkv_bias=True, cameras=3, views=0, sie_coefficient=3.0, jpm=True,
        jpm_parts=4, jpm_shift=5, jpm_shuffle_groups=2, jpm_rearrange=True, classes=5,
        neck_feature="Before"), 4, 2, 101),
    "tiny_base": (TransReIDConfig(
        image_height=32, image_width=16, patch_size=8, stride_y=8, stride_x=8, depth=2, embed_dim=32,
        heads=2, mlp_ratio=4.0, qkv_bias=True, cameras=0, views=0, sie_coefficient=3.0, jpm=False,
        classes=3, neck_feature="After"), 3, 2, 202),
    "tiny_view_odd": (TransReIDConfig(
        image_height=56, image_width=40, patch_size=8, stride_y=8, stride_x=8, depth=2, embed_dim=32,
        heads=4, mlp_ratio=2.0, qkv_bias=False, cameras=2, views=3, sie_coefficient=1.5, jpm=True,
        jpm_parts=3, jpm_shift=3, jpm_shuffle_groups=2, jpm_rearrange=True, classes=4,
        neck_feature="After"), 4, 2, 303),
}


def randomise_(model: TransReID) -> None:
    """Overwrites every state-dict entry with random values scaled to keep activations O(1)."""
    with torch.no_grad():
        for name, t in model.state_dict(keep_vars=True).items():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "num_batches_tracked":
                t.fill_(int(torch.randint(1, 100, ()).item()))
            elif leaf == "running_mean":
                t.copy_(torch.randn(t.shape) * 0.3)
            elif leaf == "running_var":
                t.copy_(torch.rand(t.shape) * 1.5 + 0.5)                    # in [0.5, 2)
            elif name.endswith(("cls_token", "pos_embed")):
                t.copy_(torch.randn(t.shape) * 0.5)
            elif name.endswith("sie_embed"):
                t.copy_(torch.randn(t.shape) * 0.15)
            elif name in ("base.norm.weight", "b1.1.weight", "b2.1.weight"):
                # final LayerNorms produce the raw features used by the triplet loss: keep their
                # norms ~1 so the soft margin is not deep in its linear regime
                t.copy_(torch.rand(t.shape) * 0.2 + 0.1)                    # in [0.1, 0.3)
            elif t.dim() == 1 and leaf == "weight":                          # LayerNorm / BN gamma
                t.copy_(torch.rand(t.shape) * 0.8 + 0.6)                    # in [0.6, 1.4)
            elif leaf == "bias":
                t.copy_(torch.randn(t.shape) * 0.1)
            elif t.dim() == 2:                                               # Linear [out, in]
                t.copy_(torch.randn(t.shape) / math.sqrt(t.shape[1]))
            elif t.dim() == 4:                                               # conv [D, 3, P, P]
                t.copy_(torch.randn(t.shape) / math.sqrt(t[0].numel()))
            else:
                raise RuntimeError(f"randomise_: no rule for {name} {tuple(t.shape)}")


def make_inputs(cfg: TransReIDConfig, ids: int, per_id: int) -> Dict[str, torch.Tensor]:
    b = ids * per_id
    # Images of one identity share a common component so that positives tend to be closer than
    # negatives (keeps the soft-margin triplet loss out of its linear regime). Values stay in [-1, 1].
    shape = (3, cfg.image_height, cfg.image_width)
    base = torch.rand((ids,) + shape) * 2.0 - 1.0
    noise = torch.rand((b,) + shape) * 2.0 - 1.0
    images = 0.6 * base.repeat_interleave(per_id, dim=0) + 0.4 * noise
    chosen = torch.randperm(cfg.classes)[:ids]
    labels = chosen.repeat_interleave(per_id).to(torch.int32)
    cams = torch.randint(0, cfg.cameras, (b,), dtype=torch.int32) if cfg.cameras > 1 else torch.zeros(b, dtype=torch.int32)
    views = torch.randint(0, cfg.views, (b,), dtype=torch.int32) if cfg.views > 1 else torch.zeros(b, dtype=torch.int32)
    return OrderedDict(images=images, cameras=cams, views=views, labels=labels)


def run(model: TransReID, inputs: Dict[str, torch.Tensor], dtype: torch.dtype):
    """Eval embedding, then one train-mode forward/backward. Returns (emb, losses, grads, bn stats)."""
    m = model.to(dtype)
    x = inputs["images"].to(dtype)
    cams, views, labels = inputs["cameras"].long(), inputs["views"].long(), inputs["labels"].long()
    m.eval()
    with torch.no_grad():
        emb = m(x, cams, views)
    m.train()
    m.zero_grad(set_to_none=True)
    logits, feats = m(x, cams, views)
    losses = transreid_loss(logits, feats, labels)
    losses["total"].backward()
    grads = OrderedDict((n, p.grad.detach().clone()) for n, p in m.named_parameters() if p.grad is not None)
    stats = OrderedDict()
    for bn_name in [n for n, mod in m.named_modules() if isinstance(mod, torch.nn.BatchNorm1d)]:
        bn = getattr(m, bn_name)
        stats[f"{bn_name}.running_mean"] = bn.running_mean.detach().clone()
        stats[f"{bn_name}.running_var"] = bn.running_var.detach().clone()
    return emb, {k: v.detach() for k, v in losses.items()}, grads, stats


def max_rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp(min=1e-30))


def generate(name: str, cfg: TransReIDConfig, ids: int, per_id: int, seed: int) -> Dict[str, object]:
    torch.manual_seed(seed)
    model = TransReID(cfg)
    randomise_(model)
    weights = OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())
    inputs = make_inputs(cfg, ids, per_id)

    # float64 reference (weights/inputs are exact float32 values)
    m64 = TransReID(cfg).double()
    m64.load_state_dict(weights)
    emb64, loss64, grads64, stats64 = run(m64, inputs, torch.float64)
    # float32 re-run for the report
    m32 = TransReID(cfg)
    m32.load_state_dict(weights)
    emb32, loss32, grads32, stats32 = run(m32, inputs, torch.float32)
    diff = {
        "embeddings_max_rel": max_rel(emb32, emb64),
        "loss_total_abs": abs(float(loss32["total"]) - float(loss64["total"])),
        # keys whose float64 gradient is ~0 analytically (final-LN beta of b1/b2: BN + distances are
        # shift invariant) are reported by absolute value instead
        "grads_worst_max_rel": max(max_rel(grads32[k], grads64[k]) for k in grads64
                                   if float(grads64[k].abs().max()) > 1e-10),
        "grads_zero_f64_keys_f32_absmax": {k: float(grads32[k].abs().max()) for k in grads64
                                           if float(grads64[k].abs().max()) <= 1e-10},
        "bn_stats_max_rel": max(max_rel(stats32[k], stats64[k]) for k in stats64),
    }
    for k in loss64:
        if not math.isfinite(float(loss64[k])):
            raise RuntimeError(f"{name}: loss {k} is not finite")

    expected: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    expected["embeddings"] = emb64.float()
    for k in ("id_global", "id_parts", "triplet_global", "triplet_parts", "total"):
        expected[f"loss.{k}"] = loss64[k].float().reshape(1)
    for k, g in grads64.items():
        expected[f"grad.{k}"] = g.float()
    for k, s in stats64.items():
        expected[f"after.{k}"] = s.float()

    out_dir = os.path.join(OUT_ROOT, name)
    os.makedirs(out_dir, exist_ok=True)
    meta = {"config": name, "generator": "tests/reference/make_fixtures.py", "seed": str(seed),
            "precision": "computed in float64, stored as float32"}
    sizes = {}
    sizes["weights.safetensors"] = write_safetensors(
        os.path.join(out_dir, "weights.safetensors"), weights, meta)
    sizes["inputs.safetensors"] = write_safetensors(
        os.path.join(out_dir, "inputs.safetensors"), inputs, meta)
    sizes["expected.safetensors"] = write_safetensors(
        os.path.join(out_dir, "expected.safetensors"), expected, meta)
    cfg_json = cfg.to_json_dict()
    cfg_json["Batch"] = ids * per_id
    text = json.dumps(cfg_json, indent=2) + "\n"
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    sizes["config.json"] = len(text.encode("utf-8"))

    return {
        "name": name, "N": cfg.num_patches, "T": cfg.tokens, "grid": [cfg.grid_y, cfg.grid_x],
        "L": cfg.part_length, "FeatureDim": cfg.feature_dim, "SieRows": cfg.sie_rows,
        "params": parameter_count(model), "state_dict_keys": len(weights),
        "grad_keys": len(grads64), "grad_params": sum(g.numel() for g in grads64.values()),
        "losses": {k: float(v) for k, v in loss64.items()},
        "f32_vs_f64": diff, "bytes": sizes, "total_bytes": sum(sizes.values()),
    }


def main() -> None:
    only = sys.argv[1:]
    for name, (cfg, ids, per_id, seed) in CONFIGS.items():
        if only and name not in only:
            continue
        print(json.dumps(generate(name, cfg, ids, per_id, seed)))


if __name__ == "__main__":
    main()
