"""PyTorch reference of TransReID, written from an implementation specification of the
official code (the model that docs/model.md describes, from #patch-embedding to #loss-combination, #gotchas and
#parameter-table).

Used only to generate test fixtures for the C# implementation; never run in CI.

Module tree and state-dict names follow the official checkpoint:
  base.cls_token, base.pos_embed, [base.sie_embed], base.patch_embed.proj.*, base.blocks.{i}.*,
  base.norm.*, base.fc.* (unused), and
  * without JPM: bottleneck.*, classifier.weight
  * with JPM:    b1.0.*, b1.1.*, b2.0.*, b2.1.*, bottleneck{,_1..K}.*, classifier{,_1..K}.weight
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------

@dataclass
class TransReIDConfig:
    image_height: int = 256
    image_width: int = 128
    patch_size: int = 16
    stride_y: int = 12
    stride_x: int = 12
    depth: int = 12
    embed_dim: int = 768
    heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    layer_norm_eps: float = 1e-6
    cameras: int = 0           # 0 (or 1) = camera SIE off
    views: int = 0             # 0 (or 1) = view SIE off
    sie_coefficient: float = 3.0
    jpm: bool = False
    jpm_parts: int = 4         # K (MODEL.DEVIDE_LENGTH)
    jpm_shift: int = 5         # MODEL.SHIFT_NUM (effective roll = shift - 1)
    jpm_shuffle_groups: int = 2
    jpm_rearrange: bool = True
    classes: int = 751
    neck_feature: str = "Before"   # "Before" | "After" (TEST.NECK_FEAT)
    drop_path: float = 0.0     # stochastic depth of the last block (linspace over depth)

    # ---- derived sizes ----
    @property
    def grid_y(self) -> int:
        return (self.image_height - self.patch_size) // self.stride_y + 1

    @property
    def grid_x(self) -> int:
        return (self.image_width - self.patch_size) // self.stride_x + 1

    @property
    def num_patches(self) -> int:
        return self.grid_y * self.grid_x

    @property
    def tokens(self) -> int:
        return self.num_patches + 1

    @property
    def part_length(self) -> int:
        return self.num_patches // self.jpm_parts if self.jpm else 0

    @property
    def mlp_hidden(self) -> int:
        return int(self.embed_dim * self.mlp_ratio)

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.heads

    @property
    def feature_dim(self) -> int:
        return self.embed_dim * (1 + self.jpm_parts) if self.jpm else self.embed_dim

    @property
    def sie_rows(self) -> int:
        """Rows of base.sie_embed (docs/model.md#side-information-embedding); 0 = no table. A count of 1 counts as 'off'."""
        c, v = self.cameras, self.views
        if c > 1 and v > 1:
            return c * v
        if c > 1:
            return c
        if v > 1:
            return v
        return 0

    def sie_index(self, cams: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
        c, v = self.cameras, self.views
        if c > 1 and v > 1:
            return cams.long() * v + views.long()
        if c > 1:
            return cams.long()
        return views.long()

    def validate(self) -> None:
        if self.image_height < self.patch_size or self.image_width < self.patch_size:
            raise ValueError(f"image {self.image_height}x{self.image_width} smaller than patch {self.patch_size}")
        if self.embed_dim % self.heads:
            raise ValueError(f"EmbedDim {self.embed_dim} not divisible by Heads {self.heads}")
        if self.neck_feature not in ("Before", "After"):
            raise ValueError(f"NeckFeature must be 'Before' or 'After', got {self.neck_feature!r}")
        if self.jpm:
            n, g = self.num_patches, self.jpm_shuffle_groups
            if not 1 <= self.jpm_parts <= n:
                raise ValueError(f"JpmParts {self.jpm_parts} must be in 1..N={n}")
            if self.jpm_rearrange:
                if not 1 <= self.jpm_shift <= n:
                    raise ValueError(f"JpmShift {self.jpm_shift} must be in 1..N={n}")
                if g < 1 or (n % g != 0 and (n + 1) % g != 0):
                    raise ValueError(f"JpmShuffleGroups {g} divides neither N={n} nor N+1")

    # ---- config.json (C# attribute names) ----
    def to_json_dict(self) -> Dict[str, object]:
        return {
            "ImageHeight": self.image_height, "ImageWidth": self.image_width,
            "PatchSize": self.patch_size, "StrideY": self.stride_y, "StrideX": self.stride_x,
            "Depth": self.depth, "EmbedDim": self.embed_dim, "Heads": self.heads,
            "MlpRatio": float(self.mlp_ratio), "QkvBias": self.qkv_bias,
            "LayerNormEps": self.layer_norm_eps, "Cameras": self.cameras, "Views": self.views,
            "SieCoefficient": float(self.sie_coefficient), "Jpm": self.jpm, "JpmParts": self.jpm_parts,
            "JpmShift": self.jpm_shift, "JpmShuffleGroups": self.jpm_shuffle_groups,
            "JpmRearrange": self.jpm_rearrange, "Classes": self.classes, "NeckFeature": self.neck_feature,
        }

    @staticmethod
    def from_json_dict(d: Dict[str, object]) -> "TransReIDConfig":
        names = {
            "ImageHeight": "image_height", "ImageWidth": "image_width", "PatchSize": "patch_size",
            "StrideY": "stride_y", "StrideX": "stride_x", "Depth": "depth", "EmbedDim": "embed_dim",
            "Heads": "heads", "MlpRatio": "mlp_ratio", "QkvBias": "qkv_bias",
            "LayerNormEps": "layer_norm_eps", "Cameras": "cameras", "Views": "views",
            "SieCoefficient": "sie_coefficient", "Jpm": "jpm", "JpmParts": "jpm_parts",
            "JpmShift": "jpm_shift", "JpmShuffleGroups": "jpm_shuffle_groups",
            "JpmRearrange": "jpm_rearrange", "Classes": "classes", "NeckFeature": "neck_feature",
        }
        kwargs = {}
        for k, v in d.items():
            if k == "Batch":
                continue
            if k not in names:
                raise KeyError(f"config.json: unknown key {k!r}")
            kwargs[names[k]] = v
        return TransReIDConfig(**kwargs)


# --------------------------------------------------------------------------------------------
# Backbone pieces (docs/model.md#patch-embedding, #token-assembly, #transformer-block)
# --------------------------------------------------------------------------------------------

class DropPath(nn.Module):
    """Per-sample stochastic depth; kept branches are divided by keep = 1 - p. Identity in eval or p = 0."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device)
        mask.bernoulli_(keep)
        return x * mask / keep


class PatchEmbed(nn.Module):
    """Overlapping patch embedding: Conv2d(3, D, P, stride=(sy, sx)), flattened row-major (y outer)."""

    def __init__(self, cfg: TransReIDConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.proj = nn.Conv2d(3, cfg.embed_dim, kernel_size=cfg.patch_size,
                              stride=(cfg.stride_y, cfg.stride_x), padding=0, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        if (c, h, w) != (3, self.cfg.image_height, self.cfg.image_width):
            raise ValueError(f"input image shape {tuple(x.shape)} does not match "
                             f"[B,3,{self.cfg.image_height},{self.cfg.image_width}]")
        x = self.proj(x)                       # [B, D, ny, nx]
        return x.flatten(2).transpose(1, 2)    # [B, N, D], token p = y*nx + x


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, qkv_bias: bool) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.heads
        # qkv channels: [Q | K | V] blocks of d, heads contiguous inside each block.
        qkv = self.qkv(x).reshape(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]                  # [B, h, T, dh]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        o = (attn @ v).transpose(1, 2).reshape(b, t, d)
        return self.proj(o)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()          # exact erf form
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, cfg: TransReIDConfig, drop_path: float) -> None:
        super().__init__()
        d = cfg.embed_dim
        self.norm1 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.attn = Attention(d, cfg.heads, cfg.qkv_bias)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.mlp = Mlp(d, cfg.mlp_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x


class VisionTransformer(nn.Module):
    """The `base` module. `local_feature=True` (JPM) runs blocks 0..Depth-2 and returns all tokens
    without the final norm; otherwise all blocks + norm and the [cls] token."""

    def __init__(self, cfg: TransReIDConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.embed_dim
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.tokens, d))
        if cfg.sie_rows > 0:
            self.sie_embed = nn.Parameter(torch.zeros(cfg.sie_rows, 1, d))
        else:
            self.sie_embed = None
        self.patch_embed = PatchEmbed(cfg)
        if cfg.depth > 1:
            rates = [cfg.drop_path * i / (cfg.depth - 1) for i in range(cfg.depth)]
        else:
            rates = [cfg.drop_path]
        self.blocks = nn.ModuleList([Block(cfg, r) for r in rates])
        self.norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.fc = nn.Linear(d, 1000)   # unused ImageNet head, present in the checkpoint

    def embed_tokens(self, x: torch.Tensor, cams: Optional[torch.Tensor],
                     views: Optional[torch.Tensor]) -> torch.Tensor:
        b = x.shape[0]
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1)
        x = x + self.pos_embed
        if self.sie_embed is not None:
            cfg = self.cfg
            cams = torch.zeros(b, dtype=torch.long) if cams is None else cams
            views = torch.zeros(b, dtype=torch.long) if views is None else views
            idx = cfg.sie_index(cams, views)
            if idx.min() < 0 or idx.max() >= cfg.sie_rows:
                raise IndexError(f"SIE index out of range 0..{cfg.sie_rows - 1}: cams={cams.tolist()} "
                                 f"views={views.tolist()}")
            x = x + cfg.sie_coefficient * self.sie_embed[idx]   # [B,1,D] broadcast to every token
        return x

    def forward(self, x: torch.Tensor, cams: Optional[torch.Tensor] = None,
                views: Optional[torch.Tensor] = None, local_feature: bool = False) -> torch.Tensor:
        x = self.embed_tokens(x, cams, views)
        if local_feature:
            for blk in self.blocks[:-1]:
                x = blk(x)
            return x
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)[:, 0]


# --------------------------------------------------------------------------------------------
# JPM rearrangement (docs/model.md#jigsaw-patch-module)
# --------------------------------------------------------------------------------------------

def shuffle_unit(features: torch.Tensor, shift: int, groups: int) -> torch.Tensor:
    """features [B, T, D] with token 0 = [cls]; returns the rearranged patch tokens u [B, N(+1), D].

    Shift: s = F[:, shift:] ++ F[:, 1:shift] (roll of the N patch tokens by shift - 1).
    Shuffle: if N % groups != 0 the second-to-last token of s is appended once; then view as
    [groups, M], transpose to [M, groups], flatten: u[j*groups + k] = s[k*M + j]."""
    b, t, d = features.shape
    s = torch.cat([features[:, shift:], features[:, 1:shift]], dim=1)
    if s.shape[1] % groups != 0:
        s = torch.cat([s, s[:, -2:-1]], dim=1)
        if s.shape[1] % groups != 0:
            raise ValueError(f"shuffle: {t - 1} patch tokens (+1) not divisible by {groups} groups")
    m = s.shape[1] // groups
    return s.view(b, groups, m, d).transpose(1, 2).reshape(b, groups * m, d)


def jpm_parts(features: torch.Tensor, cfg: TransReIDConfig) -> List[torch.Tensor]:
    """Splits the block-(Depth-2) token sequence into K parts, each [B, L+1, D] with [cls] first."""
    n = features.shape[1] - 1
    length = n // cfg.jpm_parts                 # from the ORIGINAL N (before any odd-N append)
    cls = features[:, 0:1]
    if cfg.jpm_rearrange:
        u = shuffle_unit(features, cfg.jpm_shift, cfg.jpm_shuffle_groups)
    else:
        u = features[:, 1:]
    return [torch.cat([cls, u[:, k * length:(k + 1) * length]], dim=1) for k in range(cfg.jpm_parts)]


# --------------------------------------------------------------------------------------------
# Full model (docs/model.md#jigsaw-patch-module, #bnnecks-and-classifiers, #feature-output)
# --------------------------------------------------------------------------------------------

def _bnneck(d: int) -> nn.BatchNorm1d:
    bn = nn.BatchNorm1d(d, eps=1e-5, momentum=0.1)
    bn.bias.requires_grad_(False)     # BNNeck beta frozen
    return bn


class TransReID(nn.Module):
    """Training mode: forward returns (logits list, pre-BN feature list) — length 1 without JPM,
    1 + K with JPM (global first). Eval mode: forward returns the test feature [B, FeatureDim]."""

    def __init__(self, cfg: TransReIDConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        d = cfg.embed_dim
        self.base = VisionTransformer(cfg)
        if cfg.jpm:
            last = self.base.blocks[-1]
            self.b1 = nn.Sequential(copy.deepcopy(last), copy.deepcopy(self.base.norm))
            self.b2 = nn.Sequential(copy.deepcopy(last), copy.deepcopy(self.base.norm))
        # same registration order as the official module: classifiers, then BNNecks
        n_heads = 1 + (cfg.jpm_parts if cfg.jpm else 0)
        suffixes = [""] + [f"_{k}" for k in range(1, n_heads)]
        for s in suffixes:
            setattr(self, f"classifier{s}", nn.Linear(d, cfg.classes, bias=False))
        for s in suffixes:
            setattr(self, f"bottleneck{s}", _bnneck(d))

    def heads(self) -> List[Tuple[nn.BatchNorm1d, nn.Linear]]:
        n = 1 + (self.cfg.jpm_parts if self.cfg.jpm else 0)
        names = [("bottleneck", "classifier")] + [(f"bottleneck_{k}", f"classifier_{k}") for k in range(1, n)]
        return [(getattr(self, b), getattr(self, c)) for b, c in names]

    def features(self, x: torch.Tensor, cams: Optional[torch.Tensor],
                 views: Optional[torch.Tensor]) -> List[torch.Tensor]:
        """Raw (pre-BN) features [f_g, f_l1..f_lK]."""
        cfg = self.cfg
        if not cfg.jpm:
            return [self.base(x, cams, views, local_feature=False)]
        f = self.base(x, cams, views, local_feature=True)    # blocks 0..Depth-2, no norm
        out = [self.b1(f)[:, 0]]
        for part in jpm_parts(f, cfg):
            out.append(self.b2(part)[:, 0])                    # b2 shared by all parts
        return out

    def forward(self, x: torch.Tensor, cams: Optional[torch.Tensor] = None,
                views: Optional[torch.Tensor] = None):
        feats = self.features(x, cams, views)
        heads = self.heads()
        if self.training:
            logits = [cls(bn(f)) for f, (bn, cls) in zip(feats, heads)]
            return logits, feats
        if self.cfg.neck_feature == "After":
            feats = [bn(f) for f, (bn, _) in zip(feats, heads)]
        k = float(self.cfg.jpm_parts)
        return torch.cat([feats[0]] + [f / k for f in feats[1:]], dim=1)


def market_config(**kw) -> TransReIDConfig:
    """market-vit-transreid-stride (configs/Market/vit_transreid_stride.yml): 256x128, patch 16, stride 12, ViT-B,
    6 cameras, JPM, 751 ids, neck feature before; keyword arguments override (e.g. drop_path=0.1 for training)."""
    base = dict(image_height=256, image_width=128, patch_size=16, stride_y=12, stride_x=12, depth=12,
                embed_dim=768, heads=12, cameras=6, views=0, jpm=True, classes=751)
    base.update(kw)
    return TransReIDConfig(**base)


# --------------------------------------------------------------------------------------------
# Losses (docs/model.md#id-loss, #triplet-loss, #loss-combination)
# --------------------------------------------------------------------------------------------

def id_loss(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: bool = False,
            epsilon: float = 0.1) -> torch.Tensor:
    if not label_smoothing:
        return F.cross_entropy(logits, labels.long())
    c = logits.shape[1]
    logp = F.log_softmax(logits, dim=1)
    target = torch.zeros_like(logp).scatter_(1, labels.long().unsqueeze(1), 1.0)
    target = (1.0 - epsilon) * target + epsilon / c
    return (-target * logp).mean(0).sum()


def euclidean_dist(x: torch.Tensor) -> torch.Tensor:
    sq = (x * x).sum(1, keepdim=True)
    d2 = sq + sq.t() - 2.0 * (x @ x.t())
    return d2.clamp(min=1e-12).sqrt()


def triplet_soft_margin(feats: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Batch-hard triplet with soft margin on raw features: mean log(1 + exp(-(d_an - d_ap)))."""
    d = euclidean_dist(feats)
    same = labels.view(-1, 1) == labels.view(1, -1)
    if (~same).sum(1).min() == 0:
        raise ValueError("triplet loss: some anchor has no negative in the batch")
    inf = torch.tensor(float("inf"), dtype=d.dtype)
    d_ap = torch.where(same, d, -inf).max(dim=1).values     # includes the anchor itself
    d_an = torch.where(same, inf, d).min(dim=1).values
    return F.softplus(-(d_an - d_ap)).mean()


def transreid_loss(logits: Sequence[torch.Tensor], feats: Sequence[torch.Tensor],
                   labels: torch.Tensor, label_smoothing: bool = False) -> Dict[str, torch.Tensor]:
    """Returns id_global, id_parts (mean over parts), triplet_global, triplet_parts, total."""
    idg = id_loss(logits[0], labels, label_smoothing)
    trg = triplet_soft_margin(feats[0], labels)
    zero = torch.zeros((), dtype=idg.dtype)
    if len(logits) == 1:
        return {"id_global": idg, "id_parts": zero, "triplet_global": trg, "triplet_parts": zero,
                "total": idg + trg}
    idp = sum(id_loss(z, labels, label_smoothing) for z in logits[1:]) / (len(logits) - 1)
    trp = sum(triplet_soft_margin(f, labels) for f in feats[1:]) / (len(feats) - 1)
    total = (0.5 * idg + 0.5 * idp) + (0.5 * trg + 0.5 * trp)
    return {"id_global": idg, "id_parts": idp, "triplet_global": trg, "triplet_parts": trp, "total": total}


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load_config_json(path: str) -> Tuple[TransReIDConfig, int]:
    with open(path, "r", encoding="utf-8") as f:
        d = json.load(f)
    return TransReIDConfig.from_json_dict(d), int(d.get("Batch", 0))
