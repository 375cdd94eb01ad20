"""Self-checks of the PyTorch reference against the model description (docs/model.md; never run in CI).

    /usr/bin/python3 tests/reference/check_reference.py          # all checks (~1 min, builds ViT-B)
    /usr/bin/python3 tests/reference/check_reference.py --quick  # skip the ViT-B-sized checks
"""
from __future__ import annotations

import copy
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from make_fixtures import CONFIGS as FIXTURE_CONFIGS  # noqa: E402
from transreid_ref import (TransReID, TransReIDConfig, jpm_parts, load_config_json,  # noqa: E402
                           market_config, parameter_count, shuffle_unit, transreid_loss)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "TransReID.Tests", "Fixtures")


def patch_order(n: int, shift: int, groups: int, parts: int, rearrange: bool = True):
    """Runs the real rearrangement code on a [1, N+1, 1] tensor holding token ids (-1 = cls)."""
    feats = (torch.arange(n + 1, dtype=torch.float64) - 1).view(1, n + 1, 1)
    cfg = TransReIDConfig(jpm=True, jpm_parts=parts, jpm_shift=shift, jpm_shuffle_groups=groups,
                          jpm_rearrange=rearrange)
    u = [int(v) for v in shuffle_unit(feats, shift, groups)[0, :, 0]] if rearrange else None
    ps = [[int(v) for v in p[0, :, 0]] for p in jpm_parts(feats, cfg)]
    return u, ps


def check_index_examples() -> None:
    # docs/model.md#jpm-index-examples: N = 12, m = 5, g = 2, K = 4
    u, ps = patch_order(12, 5, 2, 4)
    assert u == [4, 10, 5, 11, 6, 0, 7, 1, 8, 2, 9, 3], u
    assert ps == [[-1, 4, 10, 5], [-1, 11, 6, 0], [-1, 7, 1, 8], [-1, 2, 9, 3]], ps
    # docs/model.md#jpm-index-examples: N = 210, m = 5, g = 2, K = 4, L = 52
    u, ps = patch_order(210, 5, 2, 4)
    assert len(u) == 210
    for j in range(105):
        assert u[2 * j] == (j + 4) % 210 and u[2 * j + 1] == (j + 109) % 210, j
    assert all(len(p) == 53 and p[0] == -1 for p in ps)
    assert ps[0][1:] == [v for j in range(26) for v in (4 + j, 109 + j)]
    assert ps[3][1:] == [v for j in range(26) for v in (82 + j, (187 + j) % 210)]
    assert u[208:] == [108, 3]
    assert sorted(v for p in ps for v in p[1:]) == sorted(set(range(210)) - {108, 3})
    # stride 16: N = 128, nothing dropped
    u, ps = patch_order(128, 5, 2, 4)
    for j in range(64):
        assert u[2 * j] == (j + 4) % 128 and u[2 * j + 1] == (j + 68) % 128, j
    assert sorted(v for p in ps for v in p[1:]) == list(range(128))
    # odd N (256x256 stride 12: N = 441, m = 8): s[-2] appended once, L = 110 from the original N
    u, ps = patch_order(441, 8, 2, 4)
    s = [(i + 7) % 441 for i in range(441)]
    s.append(s[-2])
    assert u == [s[k * 221 + j] for j in range(221) for k in range(2)]
    assert all(len(p) == 111 for p in ps)
    # tiny_view_odd: N = 35, m = 3, K = 3 -> L = 11, 36 tokens after the append, 3 dropped
    u, ps = patch_order(35, 3, 2, 3)
    s = [(i + 2) % 35 for i in range(35)] + [0]
    assert u == [s[k * 18 + j] for j in range(18) for k in range(2)]
    assert [p[1:] for p in ps] == [u[0:11], u[11:22], u[22:33]]
    assert u[33:] == [1, 19, 0]          # dropped; p0 also appears inside part 2 (u[31])
    # no rearrange: contiguous stripes
    _, ps = patch_order(12, 5, 2, 4, rearrange=False)
    assert ps == [[-1, 0, 1, 2], [-1, 3, 4, 5], [-1, 6, 7, 8], [-1, 9, 10, 11]]
    print("index examples (spec 4.3, 4.4, N=128, N=441, N=35): OK")


def check_market_inventory() -> None:
    cfg = market_config()
    torch.manual_seed(0)
    model = TransReID(cfg)
    sd = model.state_dict()
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    expected = {"base.cls_token": (1, 1, 768), "base.pos_embed": (1, 211, 768), "base.sie_embed": (6, 1, 768),
                "base.patch_embed.proj.weight": (768, 3, 16, 16), "base.patch_embed.proj.bias": (768,),
                "base.norm.weight": (768,), "base.fc.weight": (1000, 768), "base.fc.bias": (1000,),
                "b1.1.weight": (768,), "b2.1.bias": (768,), "classifier_4.weight": (751, 768),
                "bottleneck_4.running_var": (768,), "bottleneck_4.num_batches_tracked": ()}
    for k, v in expected.items():
        assert shapes[k] == v, (k, shapes.get(k))
    block = ["norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
             "attn.proj.bias", "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
             "mlp.fc2.weight", "mlp.fc2.bias"]
    keys = ["base.cls_token", "base.pos_embed", "base.sie_embed", "base.patch_embed.proj.weight",
            "base.patch_embed.proj.bias"]
    keys += [f"base.blocks.{i}.{s}" for i in range(12) for s in block]
    keys += ["base.norm.weight", "base.norm.bias", "base.fc.weight", "base.fc.bias"]
    for b in ("b1", "b2"):
        keys += [f"{b}.0.{s}" for s in block] + [f"{b}.1.weight", f"{b}.1.bias"]
    heads = [""] + [f"_{k}" for k in range(1, 5)]
    keys += [f"classifier{h}.weight" for h in heads]
    keys += [f"bottleneck{h}.{s}" for h in heads
             for s in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]
    assert sorted(sd.keys()) == sorted(keys), set(sd.keys()) ^ set(keys)
    blk = sum(p.numel() for n, p in model.named_parameters() if n.startswith("base.blocks.0."))
    assert blk == 7_087_872, blk
    total = parameter_count(model)
    assert total == 103_653_352, total
    buffers = sum(b.numel() for b in model.buffers())
    assert buffers == 7_685, buffers
    assert parameter_count(TransReID(market_config(stride_y=16, stride_x=16))) == 103_590_376
    assert parameter_count(TransReID(market_config(stride_y=16, stride_x=16, cameras=0, jpm=False))) == 87_093_736
    print(f"Market stride inventory: {len(sd)} keys, {total} parameters, {buffers} buffer values: OK")

    # Which parameters get gradients (train step) and which are on the 'Before' inference path.
    model.train()
    x = torch.rand(4, 3, 256, 128) * 2 - 1
    cams = torch.tensor([0, 1, 2, 3])
    labels = torch.tensor([0, 0, 1, 1])
    logits, feats = model(x, cams)
    transreid_loss(logits, feats, labels)["total"].backward()
    grad_count = sum(p.numel() for p in model.parameters() if p.grad is not None)
    assert grad_count == 95_791_104, grad_count
    no_grad = sorted(n for n, p in model.named_parameters() if p.grad is None)
    assert no_grad == sorted([f"base.blocks.11.{s}" for s in block] + ["base.norm.weight", "base.norm.bias",
                              "base.fc.weight", "base.fc.bias"] + [f"bottleneck{h}.bias" for h in heads]), no_grad
    model.zero_grad(set_to_none=True)
    model.eval()
    emb = model(x[:1], cams[:1])
    assert emb.shape == (1, 3840)
    emb.sum().backward()
    path = sum(p.numel() for p in model.parameters() if p.grad is not None)
    assert path == 92_903_424, path
    print(f"train-step gradients cover {grad_count} parameters, 'Before' inference path {path}: OK")


def tiny_config(**kw) -> TransReIDConfig:
    base = dict(image_height=32, image_width=24, patch_size=8, stride_y=6, stride_x=6, depth=2, embed_dim=16,
                heads=2, cameras=2, views=3, sie_coefficient=2.0, jpm=True, jpm_parts=2, jpm_shift=3,
                classes=3, qkv_bias=True)
    base.update(kw)
    return TransReIDConfig(**base)


def check_finite_differences() -> None:
    sys.path.insert(0, HERE)
    from make_fixtures import randomise_
    for cfg in (tiny_config(), tiny_config(jpm=False, views=0, neck_feature="After"),
                tiny_config(image_width=32, jpm_parts=3, jpm_shift=4)):
        torch.manual_seed(7)
        model = TransReID(cfg)
        randomise_(model)
        model = model.double().train()
        b = 6
        x = torch.rand(b, 3, cfg.image_height, cfg.image_width, dtype=torch.float64) * 2 - 1
        cams = torch.randint(0, 2, (b,))
        views = torch.randint(0, 3, (b,))
        labels = torch.tensor([0, 0, 2, 2, 1, 1])
        state = copy.deepcopy(model.state_dict())

        def loss_fn() -> torch.Tensor:
            model.load_state_dict(state)   # BN running stats must not drift between evaluations
            logits, feats = model(x, cams, views)
            return transreid_loss(logits, feats, labels)["total"]

        model.zero_grad(set_to_none=True)
        loss_fn().backward()
        params = dict(model.named_parameters())
        names = [n for n, p in params.items() if p.grad is not None]
        picks = [n for n in names if any(s in n for s in
                 ("cls_token", "pos_embed", "sie_embed", "patch_embed.proj.weight", "blocks.0.attn.qkv.weight",
                  "blocks.0.norm1.weight", "mlp.fc1.bias", "b1.0.attn.proj.weight", "b2.0.mlp.fc2.weight",
                  "b2.1.weight", "bottleneck_1.weight", "classifier_2.weight", "bottleneck.weight", "norm.weight"))]
        gen = torch.Generator().manual_seed(3)
        worst = 0.0
        checked = 0
        for n in picks:
            p = params[n]
            grad = p.grad.detach().clone().view(-1)
            for _ in range(3):
                i = int(torch.randint(0, p.numel(), (1,), generator=gen))
                eps = 1e-6
                with torch.no_grad():
                    orig = state[n].view(-1)[i].item()
                    state[n].view(-1)[i] = orig + eps
                    lp = loss_fn().item()
                    state[n].view(-1)[i] = orig - eps
                    lm = loss_fn().item()
                    state[n].view(-1)[i] = orig
                fd = (lp - lm) / (2 * eps)
                err = abs(fd - grad[i].item()) / max(1e-6, abs(fd), abs(grad[i].item()))
                worst = max(worst, err if abs(fd) > 1e-8 else abs(fd - grad[i].item()))
                checked += 1
                assert err < 1e-5 or abs(fd - grad[i].item()) < 1e-9, (n, i, fd, grad[i].item())
        print(f"finite differences ({'JPM' if cfg.jpm else 'plain'}, N={cfg.num_patches}): "
              f"{checked} entries of {len(picks)} tensors, worst rel err {worst:.2e}: OK")


def check_safetensors_roundtrip() -> None:
    t = {"a": torch.randn(3, 5), "b": torch.arange(7, dtype=torch.int32), "c": torch.tensor(42, dtype=torch.int64),
         "d": torch.zeros(0, 4)}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "x.safetensors")
        size = write_safetensors(path, t, {"k": "v"})
        assert os.path.getsize(path) == size
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
        assert (8 + n) % 8 == 0
        back, meta = read_safetensors(path)
        assert meta == {"k": "v"} and list(back) == list(t)
        for k in t:
            assert back[k].dtype == t[k].dtype and back[k].shape == t[k].shape and torch.equal(back[k], t[k])
    print("safetensors round trip: OK")


def check_fixtures() -> None:
    """Re-runs every whole-model fixture make_fixtures.py writes (not the pth/ and onnx/ folders beside them) from its
    files and checks self-consistency + sensitivity."""
    if not os.path.isdir(FIXTURES):
        print("no fixtures directory; skipped")
        return
    for name in sorted(FIXTURE_CONFIGS):
        d = os.path.join(FIXTURES, name)
        cfg, batch = load_config_json(os.path.join(d, "config.json"))
        w, _ = read_safetensors(os.path.join(d, "weights.safetensors"))
        inp, _ = read_safetensors(os.path.join(d, "inputs.safetensors"))
        exp, _ = read_safetensors(os.path.join(d, "expected.safetensors"))
        assert inp["images"].shape == (batch, 3, cfg.image_height, cfg.image_width)
        assert float(inp["images"].abs().max()) <= 1.0

        def embed(c: TransReIDConfig, cams=None) -> torch.Tensor:
            m = TransReID(c).double()
            m.load_state_dict({k: (v.double() if v.is_floating_point() else v) for k, v in w.items()})
            m.eval()
            with torch.no_grad():
                return m(inp["images"].double(), inp["cameras"] if cams is None else cams, inp["views"])

        ref = embed(cfg)
        err = float((ref.float() - exp["embeddings"]).abs().max())
        assert err == 0.0, (name, err)
        scale = float(ref.abs().max())
        names = (["shift+1", "no rearrange"] if cfg.jpm else []) + (["other camera"] if cfg.sie_rows else [])
        variants = {}
        for v in names:
            c = copy.deepcopy(cfg)
            cams = None
            if v == "shift+1":
                c.jpm_shift += 1
            elif v == "no rearrange":
                c.jpm_rearrange = False
            elif v == "other camera":
                cams = (inp["cameras"] + 1) % max(cfg.cameras, 1)
            diff = float((embed(c, cams) - ref).abs().max()) / scale
            assert diff > 1e-3, (name, v, diff)
            variants[v] = diff
        c = copy.deepcopy(cfg)
        c.neck_feature = "After" if cfg.neck_feature == "Before" else "Before"
        variants["other neck"] = float((embed(c) - ref).abs().max()) / scale
        assert variants["other neck"] > 1e-3
        print(f"fixture {name}: embeddings reproduce exactly; relative change if "
              + ", ".join(f"{k}: {v:.3f}" for k, v in variants.items()) + ": OK")


def main() -> None:
    quick = "--quick" in sys.argv
    check_index_examples()
    check_safetensors_roundtrip()
    check_finite_differences()
    check_fixtures()
    if not quick:
        check_market_inventory()
    print("all checks passed")


if __name__ == "__main__":
    main()
