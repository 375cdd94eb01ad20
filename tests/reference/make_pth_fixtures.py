"""Generates the PyTorch-checkpoint fixtures under tests/TransReID.Tests/Fixtures/pth/.

What the C# tests read (never run in CI; the files are committed):
  * tensors_zip.pth / tensors_legacy.pth: the same special tensors (F16, BF16, F64, a transposed view, a row of a
    shared storage, a strided slice, an expanded stride-0 view, a 0-d scalar, an int64 count), the zip one a plain
    OrderedDict, the legacy one wrapped as {'state_dict': ..., 'epoch', 'optimizer'};
    tensors_expected.safetensors: each as contiguous float32 (count as I64).
  * transreid_zip.pth (F32, 'module.' prefix, the state dict's _metadata, zip) and transreid_legacy_f16.pth (F16/F64 mix, wrapped in 'model',
    legacy) of the tiny TransReID config 'pth_sie' (camera SIE, JPM); transreid_expected.safetensors: inputs and
    the reference embeddings of the F32 weights and of the F16-rounded ones.
  * imagenet_zip.pth (timm names, 4x4 pos-embed grid, a head), imagenet_legacy_linear.pth (legacy, the patchify
    weight stored linear [D, 3*P*P]), deit_tiny_distilled.pth (dist_token, head_dist, 2 + 16 pos rows) for the
    config 'pth_imagenet' (no SIE, JPM, grid 7x3); imagenet_expected.safetensors: inputs, the resized pos_embed
    computed by F.interpolate (float32), and the embeddings after the official load_param (float64 reference).
  * bad input: forbidden_global.pth (an argparse.Namespace entry), evil_reduce.pth (a __reduce__ to posix.system),
    unknown_dtype.pth (complex64), missing_storage.pth (a data/ entry removed), past_storage.pth (a size patched
    so that the tensor runs past its storage).

Run: /usr/bin/python3 tests/reference/make_pth_fixtures.py
"""
from __future__ import annotations

import argparse
import copy
import io
import json
import math
import os
import sys
import zipfile
from collections import OrderedDict

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import randomise_  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402
from transreid_ref import TransReID, TransReIDConfig  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "tests", "TransReID.Tests", "Fixtures", "pth")

# C#: tests/TransReID.Tests/Model/PthModels.cs
SIE = TransReIDConfig(image_height=48, image_width=24, patch_size=8, stride_y=6, stride_x=6, depth=2, embed_dim=16,
                      heads=2, mlp_ratio=2.0, cameras=2, jpm=True, classes=3, neck_feature="Before")
IMAGENET = TransReIDConfig(image_height=48, image_width=24, patch_size=8, stride_y=6, stride_x=6, depth=2, embed_dim=16,
                           heads=2, mlp_ratio=2.0, cameras=0, jpm=True, classes=3, neck_feature="Before")
PRETRAINED_GRID = 4   # the ImageNet file's pos_embed grid (4 x 4 + cls)


def save(obj, name, legacy=False):
    path = os.path.join(OUT, name)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return os.path.getsize(path)


def embed64(cfg, state, images, cams):
    m = TransReID(cfg).double()
    m.load_state_dict(OrderedDict((k, v.double() if v.is_floating_point() else v) for k, v in state.items()))
    m.eval()
    with torch.no_grad():
        return m(images.double(), cams, cams).float()


def tensors_fixture(sizes):
    torch.manual_seed(11)
    big = torch.randn(4, 6)
    col = torch.randn(3, 1)
    h = torch.randn(4, 5).half()
    t = OrderedDict()
    t["f32"] = torch.randn(3, 4)
    t["f16"] = torch.randn(2, 3).half()
    t["bf16"] = torch.randn(5).bfloat16()
    t["f64"] = torch.randn(2, 2).double()
    t["transposed"] = big.t()            # non-contiguous view of big's storage
    t["shared_row"] = big[2]             # offset 12 into the same storage
    t["shared_full"] = big
    t["strided"] = big[:, ::2]           # stride (6, 2)
    t["expanded"] = col.expand(3, 4)     # stride (1, 0)
    t["half_view"] = h[1:, 1::2]         # F16, offset 6, stride (5, 2)
    t["scalar"] = torch.tensor(3.5)
    t["count"] = torch.tensor(7, dtype=torch.long)
    t["param"] = torch.nn.Parameter(torch.randn(2, 2))   # pickled through torch._utils._rebuild_parameter
    expected = OrderedDict()
    for k, v in t.items():
        expected[k] = v.detach().contiguous() if v.dtype == torch.long else v.detach().float().contiguous()
    sizes["tensors_zip.pth"] = save(t, "tensors_zip.pth")
    wrapped = {"state_dict": t, "epoch": 3, "optimizer": {"state": {0: {"momentum_buffer": torch.ones(2)}}, "param_groups": [{"lr": 0.01}]}}
    sizes["tensors_legacy.pth"] = save(wrapped, "tensors_legacy.pth", legacy=True)
    sizes["tensors_expected.safetensors"] = write_safetensors(os.path.join(OUT, "tensors_expected.safetensors"), expected)


def transreid_fixture(sizes):
    torch.manual_seed(21)
    model = TransReID(SIE)
    randomise_(model)
    state = model.state_dict()
    b = 3
    images = torch.rand(b, 3, SIE.image_height, SIE.image_width) * 2 - 1
    cams = torch.tensor([0, 1, 1])
    ddp = OrderedDict(("module." + k, v) for k, v in state.items())
    ddp._metadata = state._metadata   # as a DDP module's state_dict(): the pickle BUILDs the OrderedDict's attributes
    sizes["transreid_zip.pth"] = save(ddp, "transreid_zip.pth")
    half = OrderedDict()
    for i, (k, v) in enumerate(state.items()):
        # F16 for most floats, F64 for the BN buffers: every float dtype goes through the reader
        half[k] = v if not v.is_floating_point() else (v.double() if "running" in k else v.half())
    sizes["transreid_legacy_f16.pth"] = save({"model": half, "epoch": 120}, "transreid_legacy_f16.pth", legacy=True)
    expected = OrderedDict()
    expected["images"] = images
    expected["cameras"] = cams.to(torch.int32)
    expected["embeddings"] = embed64(SIE, state, images, cams)
    expected["embeddings_f16"] = embed64(SIE, OrderedDict((k, v.float() if v.is_floating_point() else v) for k, v in half.items()), images, cams)
    sizes["transreid_expected.safetensors"] = write_safetensors(os.path.join(OUT, "transreid_expected.safetensors"), expected)


def resize_pos_embed(posemb, posemb_new, height, width):
    """The official resize_pos_embed (vit_pytorch.py), as docs/model.md#position-embedding-resize describes it."""
    ntok_new = posemb_new.shape[1]
    posemb_token, posemb_grid = posemb[:, :1], posemb[0, 1:]
    gs_old = int(math.sqrt(len(posemb_grid)))
    posemb_grid = posemb_grid.reshape(1, gs_old, gs_old, -1).permute(0, 3, 1, 2)
    posemb_grid = F.interpolate(posemb_grid, size=(height, width), mode="bilinear")
    posemb_grid = posemb_grid.permute(0, 2, 3, 1).reshape(1, height * width, -1)
    assert 1 + height * width == ntok_new
    return torch.cat([posemb_token, posemb_grid], dim=1)


def official_load_param(model, param_dict, model_path):
    """Port of the official VisionTransformer.load_param, then the b1/b2 deep copies of build_transformer_local."""
    base = model.base
    if "model" in param_dict:
        param_dict = param_dict["model"]
    if "state_dict" in param_dict:
        param_dict = param_dict["state_dict"]
    for k, v in param_dict.items():
        if "head" in k or "dist" in k:
            continue
        if "patch_embed.proj.weight" in k and len(v.shape) < 4:
            o, i, h, w = base.patch_embed.proj.weight.shape
            v = v.reshape(o, -1, h, w)
        elif k == "pos_embed" and v.shape != base.pos_embed.shape:
            if "distilled" in model_path:
                v = torch.cat([v[:, 0:1], v[:, 2:]], dim=1)
            v = resize_pos_embed(v, base.pos_embed, IMAGENET.grid_y, IMAGENET.grid_x)
        with torch.no_grad():
            base.state_dict()[k].copy_(v)
    with torch.no_grad():
        for seq in (model.b1, model.b2):
            seq[0].load_state_dict(base.blocks[-1].state_dict())
            seq[1].load_state_dict(base.norm.state_dict())


def imagenet_fixture(sizes):
    torch.manual_seed(31)
    donor = TransReID(IMAGENET)
    randomise_(donor)
    d = IMAGENET.embed_dim
    timm = OrderedDict()
    timm["cls_token"] = donor.base.cls_token.detach().clone()
    timm["pos_embed"] = torch.randn(1, 1 + PRETRAINED_GRID * PRETRAINED_GRID, d) * 0.5
    for k, v in donor.base.state_dict().items():
        if k.startswith(("patch_embed.", "blocks.", "norm.")):
            timm[k] = v.clone()
    timm["head.weight"] = torch.randn(10, d)
    timm["head.bias"] = torch.randn(10)
    sizes["imagenet_zip.pth"] = save(timm, "imagenet_zip.pth")
    linear = OrderedDict((k, v.reshape(d, -1) if k == "patch_embed.proj.weight" else v) for k, v in timm.items())
    sizes["imagenet_legacy_linear.pth"] = save(linear, "imagenet_legacy_linear.pth", legacy=True)

    deit = OrderedDict()
    for k, v in timm.items():
        deit[k] = v
        if k == "cls_token":
            deit["dist_token"] = torch.randn(1, 1, d)
    deit["pos_embed"] = torch.randn(1, 2 + PRETRAINED_GRID * PRETRAINED_GRID, d) * 0.5
    deit["head_dist.weight"] = torch.randn(10, d)
    deit["head_dist.bias"] = torch.randn(10)
    sizes["deit_tiny_distilled.pth"] = save({"model": deit}, "deit_tiny_distilled.pth")

    b = 3
    images = torch.rand(b, 3, IMAGENET.image_height, IMAGENET.image_width) * 2 - 1
    expected = OrderedDict()
    expected["images"] = images
    for name, sd, path in (("timm", timm, "imagenet_zip.pth"), ("deit", {"model": deit}, "deit_tiny_distilled.pth")):
        model = TransReID(IMAGENET)
        official_load_param(model, sd, path)
        expected[f"{name}.pos_embed"] = model.base.pos_embed.detach().clone()
        expected[f"{name}.embeddings"] = embed64(IMAGENET, model.state_dict(), images, torch.zeros(b, dtype=torch.long))
    sizes["imagenet_expected.safetensors"] = write_safetensors(os.path.join(OUT, "imagenet_expected.safetensors"), expected)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned-by-a-checkpoint",))


def rewrite_zip(src, dst, drop=None, patch=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            if drop and info.filename.endswith(drop):
                continue
            data = zin.read(info.filename)
            if patch and info.filename.endswith("data.pkl"):
                data = patch(data)
            zout.writestr(info.filename, data)
    return os.path.getsize(dst)


def bad_fixtures(sizes):
    sizes["forbidden_global.pth"] = save({"w": torch.zeros(2), "args": argparse.Namespace(lr=0.1)}, "forbidden_global.pth")
    sizes["evil_reduce.pth"] = save({"w": torch.zeros(2), "x": _Evil()}, "evil_reduce.pth")
    sizes["unknown_dtype.pth"] = save(OrderedDict(w=torch.zeros(2, dtype=torch.complex64)), "unknown_dtype.pth")
    good = os.path.join(OUT, "_good.pth")
    torch.save(OrderedDict(a=torch.arange(6, dtype=torch.float32).reshape(2, 3), b=torch.ones(4)), good)
    sizes["missing_storage.pth"] = rewrite_zip(good, os.path.join(OUT, "missing_storage.pth"), drop="data/1")

    def grow(pkl: bytes) -> bytes:
        # size (2, 3) of 'a' -> (2, 4): BININT1 2, BININT1 3, TUPLE2 -> BININT1 2, BININT1 4, TUPLE2
        old = b"K\x02K\x03\x86"
        assert pkl.count(old) == 1, pkl
        return pkl.replace(old, b"K\x02K\x04\x86")

    sizes["past_storage.pth"] = rewrite_zip(good, os.path.join(OUT, "past_storage.pth"), patch=grow)
    os.remove(good)


def main():
    os.makedirs(OUT, exist_ok=True)
    sizes = OrderedDict()
    tensors_fixture(sizes)
    transreid_fixture(sizes)
    imagenet_fixture(sizes)
    bad_fixtures(sizes)
    config = {"pth_sie": SIE.to_json_dict(), "pth_imagenet": IMAGENET.to_json_dict(), "pretrained_grid": PRETRAINED_GRID,
              "torch": torch.__version__}
    with open(os.path.join(OUT, "config.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(config, indent=2) + "\n")
    print(json.dumps({"bytes": sizes, "total": sum(sizes.values())}))


if __name__ == "__main__":
    main()
