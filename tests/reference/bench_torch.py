"""CPU throughput of the PyTorch reference on the full Market stride config (never run in CI).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 tests/reference/bench_torch.py

market-vit-transreid-stride: 256x128, patch 16, stride 12, depth 12, D 768, 12 heads, 6 cameras, JPM 4,
751 classes, drop path 0.1. torch.set_num_threads(2). Prints one JSON line.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from transreid_ref import TransReID, market_config, parameter_count, transreid_loss  # noqa: E402


def main() -> None:
    torch.set_num_threads(2)
    torch.manual_seed(1234)
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    cfg = market_config(drop_path=0.1)
    model = TransReID(cfg)

    # ---- eval embedding, batch 8 ----
    model.eval()
    xe = torch.rand(8, 3, 256, 128) * 2 - 1
    ce = torch.randint(0, 6, (8,))
    embed_s, embed_cpu = [], []
    with torch.no_grad():
        model(xe, ce)                                   # warm-up
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            emb = model(xe, ce)
            embed_s.append(time.perf_counter() - t0)
            embed_cpu.append(time.process_time() - c0)
    assert emb.shape == (8, cfg.feature_dim)

    # ---- training step, batch 16 = 4 ids x 4 images, SGD momentum 0.9 ----
    model.train()
    bias = [p for n, p in model.named_parameters() if p.requires_grad and "bias" in n]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and "bias" not in n]
    opt = torch.optim.SGD([{"params": rest, "lr": 0.008}, {"params": bias, "lr": 0.016}],
                          lr=0.008, momentum=0.9, weight_decay=1e-4)
    xt = torch.rand(16, 3, 256, 128) * 2 - 1
    ct = torch.randint(0, 6, (16,))
    yt = torch.arange(4).repeat_interleave(4)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        logits, feats = model(xt, ct)
        loss = transreid_loss(logits, feats, yt)["total"]
        loss.backward()
        opt.step()
        return float(loss)

    step()                                              # warm-up
    train_s, train_cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = step()
        train_s.append(time.perf_counter() - t0)
        train_cpu.append(time.process_time() - c0)

    e_med = statistics.median(embed_s)
    t_med = statistics.median(train_s)
    print(json.dumps({
        "config": "market-vit-transreid-stride", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "params": parameter_count(model),
        "embed_batch": 8, "embed_runs_s": [round(s, 3) for s in embed_s], "embed_median_s": round(e_med, 3),
        "embed_img_per_s": round(8 / e_med, 2), "embed_cpu_s": [round(s, 3) for s in embed_cpu],
        "train_batch": 16, "train_runs_s": [round(s, 3) for s in train_s], "train_median_s": round(t_med, 3),
        "train_img_per_s": round(16 / t_med, 2), "train_cpu_s": [round(s, 3) for s in train_cpu],
        "last_loss": round(loss, 4), "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
