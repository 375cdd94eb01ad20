#!/usr/bin/env python3
"""NumPy reference for the re-identification evaluation (docs/model.md#evaluation-protocol) and k-reciprocal re-ranking.

Writes the fixtures used by tests/TransReID.Tests/Evaluation/*:
    /usr/bin/python3 tests/reference/eval_ref.py            # writes TestData/Evaluation/eval_case.json
    /usr/bin/python3 tests/reference/eval_ref.py --check    # recomputes and compares with the committed file

Deviations from the upstream code, made on purpose and mirrored by the C# implementation:
  * every argsort is stable (ties broken by index), where upstream uses NumPy's default quicksort;
  * re-ranking keeps V, V_qe, temp_min and jaccard_dist in float32; upstream stores them as float16.
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "TransReID.Tests", "TestData", "Evaluation", "eval_case.json")


# ----------------------------------------------------------------------------------------------------------------
# distances


def f32list(values):
    """Shortest decimal that round-trips each value as float32 (the C# side parses with JsonElement.GetSingle)."""
    return [float(str(np.float32(v))) for v in values]


def l2_normalize(x):
    """x / max(||x||, 1e-12) row-wise, in float32 like torch.nn.functional.normalize."""
    x = x.astype(np.float32)
    norm = np.sqrt((x.astype(np.float64) ** 2).sum(axis=1, keepdims=True))
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


def squared_euclidean(a, b):
    """||a||^2 + ||b||^2 - 2 a.b computed in float64, returned as float32."""
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    d = (a64 ** 2).sum(axis=1)[:, None] + (b64 ** 2).sum(axis=1)[None, :] - 2.0 * a64 @ b64.T
    return d.astype(np.float32)


# ----------------------------------------------------------------------------------------------------------------
# official protocol (market1501 style, as utils/metrics.py eval_func, plus mINP as FastReID/torchreid)


def eval_func(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50):
    num_q, num_g = distmat.shape
    if num_g < max_rank:
        max_rank = num_g
    indices = np.argsort(distmat, axis=1, kind="stable")
    matches = (g_pids[indices] == q_pids[:, np.newaxis]).astype(np.int32)

    all_cmc, all_ap, all_inp = [], [], []
    for q_idx in range(num_q):
        order = indices[q_idx]
        remove = (g_pids[order] == q_pids[q_idx]) & (g_camids[order] == q_camids[q_idx])
        keep = np.invert(remove)
        raw_cmc = matches[q_idx][keep]
        if not np.any(raw_cmc):
            continue

        cmc = raw_cmc.cumsum()
        last = np.max(np.where(raw_cmc == 1)[0])
        all_inp.append(cmc[last] / (last + 1.0))

        cmc[cmc > 1] = 1
        cmc = cmc[:max_rank]
        if len(cmc) < max_rank:  # fewer kept items than max_rank: the curve stays at its final value (1)
            cmc = np.concatenate([cmc, np.full(max_rank - len(cmc), cmc[-1])])
        all_cmc.append(cmc)

        num_rel = raw_cmc.sum()
        tmp_cmc = raw_cmc.cumsum()
        tmp_cmc = np.asarray([x / (i + 1.0) for i, x in enumerate(tmp_cmc)]) * raw_cmc
        all_ap.append(tmp_cmc.sum() / num_rel)

    assert len(all_cmc) > 0, "Error: all query identities do not appear in gallery"
    all_cmc = np.asarray(all_cmc).astype(np.float64).sum(0) / len(all_cmc)
    return {
        "mAP": float(np.mean(all_ap)),
        "cmc": [float(v) for v in all_cmc],
        "mINP": float(np.mean(all_inp)),
        "valid": len(all_ap),
    }


# ----------------------------------------------------------------------------------------------------------------
# k-reciprocal re-ranking (Zhong et al. 2017), same steps as TransReID utils/reranking.py but with the
# q x g, q x q and g x g blocks of the squared-Euclidean distance given separately


def re_ranking(q_g, q_q, g_g, k1, k2, lambda_value):
    q_g = q_g.astype(np.float32)
    query_num = q_g.shape[0]
    original_dist = np.concatenate(
        [np.concatenate([q_q, q_g], axis=1), np.concatenate([q_g.T, g_g], axis=1)], axis=0
    ).astype(np.float32)
    all_num = original_dist.shape[0]
    gallery_num = all_num
    original_dist = np.transpose(original_dist / np.max(original_dist, axis=0)).astype(np.float32)
    V = np.zeros_like(original_dist).astype(np.float32)  # upstream: float16
    initial_rank = np.argsort(original_dist, kind="stable").astype(np.int32)

    half = int(np.around(k1 / 2))
    for i in range(all_num):
        forward_k_neigh_index = initial_rank[i, : k1 + 1]
        backward_k_neigh_index = initial_rank[forward_k_neigh_index, : k1 + 1]
        fi = np.where(backward_k_neigh_index == i)[0]
        k_reciprocal_index = forward_k_neigh_index[fi]
        k_reciprocal_expansion_index = k_reciprocal_index
        for j in range(len(k_reciprocal_index)):
            candidate = k_reciprocal_index[j]
            candidate_forward = initial_rank[candidate, : half + 1]
            candidate_backward = initial_rank[candidate_forward, : half + 1]
            fi_candidate = np.where(candidate_backward == candidate)[0]
            candidate_k_reciprocal_index = candidate_forward[fi_candidate]
            if len(np.intersect1d(candidate_k_reciprocal_index, k_reciprocal_index)) > 2 / 3 * len(
                candidate_k_reciprocal_index
            ):
                k_reciprocal_expansion_index = np.append(k_reciprocal_expansion_index, candidate_k_reciprocal_index)

        k_reciprocal_expansion_index = np.unique(k_reciprocal_expansion_index)
        weight = np.exp(-original_dist[i, k_reciprocal_expansion_index])
        V[i, k_reciprocal_expansion_index] = weight / np.sum(weight)

    original_dist = original_dist[:query_num]
    if k2 != 1:
        V_qe = np.zeros_like(V, dtype=np.float32)  # upstream: float16
        for i in range(all_num):
            V_qe[i, :] = np.mean(V[initial_rank[i, :k2], :], axis=0)
        V = V_qe
    del initial_rank

    inv_index = [np.where(V[:, i] != 0)[0] for i in range(gallery_num)]
    jaccard_dist = np.zeros_like(original_dist, dtype=np.float32)  # upstream: float16
    for i in range(query_num):
        temp_min = np.zeros(shape=[1, gallery_num], dtype=np.float32)  # upstream: float16
        ind_non_zero = np.where(V[i, :] != 0)[0]
        ind_images = [inv_index[ind] for ind in ind_non_zero]
        for j in range(len(ind_non_zero)):
            temp_min[0, ind_images[j]] = temp_min[0, ind_images[j]] + np.minimum(
                V[i, ind_non_zero[j]], V[ind_images[j], ind_non_zero[j]]
            )
        jaccard_dist[i] = 1 - temp_min / (2 - temp_min)

    final_dist = jaccard_dist * (1 - lambda_value) + original_dist * lambda_value
    return final_dist[:query_num, query_num:].astype(np.float32)


# ----------------------------------------------------------------------------------------------------------------
# fixture


def make_case(seed=20240601, num_q=12, num_g=40, dim=16):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((9, dim)).astype(np.float32)

    # query pids 1..6 (pid 6 has gallery images only in its own camera -> skipped; pid 7 is not in the gallery)
    q_pids = np.array([1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 7, 4], dtype=np.int64)
    q_cams = np.array([1, 2, 1, 3, 2, 4, 1, 2, 3, 2, 1, 3], dtype=np.int64)
    g_pids = np.array(
        [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6, 6, 8, 8, 8,
         0, 1, 2, 3, 4, 5, 8, 0],
        dtype=np.int64,
    )
    g_cams = np.array(
        [1, 2, 3, 4, 1, 2, 1, 2, 3, 4, 1, 1, 2, 3, 4, 1, 2, 3, 4, 2, 1, 2, 3, 2, 3, 4, 1, 2, 2, 1, 2, 3,
         4, 3, 2, 1, 4, 1, 4, 3],
        dtype=np.int64,
    )
    assert len(g_pids) == num_g and len(g_cams) == num_g

    def feats(pids):
        noise = rng.standard_normal((len(pids), dim)).astype(np.float32)
        base = np.stack([centres[p] if p != 0 else np.zeros(dim, np.float32) for p in pids])
        return (base + 0.9 * noise).astype(np.float32)

    qf = feats(q_pids)
    gf = feats(g_pids)

    qn, gn = l2_normalize(qf), l2_normalize(gf)
    q_g = squared_euclidean(qn, gn)
    q_q = squared_euclidean(qn, qn)
    g_g = squared_euclidean(gn, gn)
    q_g_raw = squared_euclidean(qf, gf)

    case = {
        "note": "generated by tests/reference/eval_ref.py; do not edit by hand",
        "numQuery": num_q,
        "numGallery": num_g,
        "dim": dim,
        "queryFeatures": f32list(qf.ravel()),
        "galleryFeatures": f32list(gf.ravel()),
        "queryIds": [int(v) for v in q_pids],
        "queryCams": [int(v) for v in q_cams],
        "galleryIds": [int(v) for v in g_pids],
        "galleryCams": [int(v) for v in g_cams],
        "distQG": f32list(q_g.ravel()),
        "distQQ": f32list(q_q.ravel()),
        "distGG": f32list(g_g.ravel()),
        "distQGUnnormalized": f32list(q_g_raw.ravel()),
        "metrics": eval_func(q_g, q_pids, g_pids, q_cams, g_cams),
        "metricsMaxRank10": eval_func(q_g, q_pids, g_pids, q_cams, g_cams, max_rank=10),
        "rerank": [],
    }
    for k1, k2, lam in [(20, 6, 0.3), (5, 1, 0.5), (50, 15, 0.3)]:
        d = re_ranking(q_g, q_q, g_g, k1, k2, lam)
        case["rerank"].append(
            {
                "k1": k1,
                "k2": k2,
                "lambda": lam,
                "dist": f32list(d.ravel()),
                "metrics": eval_func(d, q_pids, g_pids, q_cams, g_cams),
            }
        )
    return case


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="compare with the committed fixture instead of writing")
    args = parser.parse_args()
    case = make_case()
    text = json.dumps(case, separators=(",", ":")).replace(',"', ',\n"') + "\n"
    if args.check:
        with open(FIXTURE, encoding="utf-8") as f:
            same = f.read() == text
        print("fixture up to date" if same else "fixture differs")
        return 0 if same else 1
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    tmp = FIXTURE + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, FIXTURE)
    m = case["metrics"]
    print(f"wrote {os.path.relpath(FIXTURE)}: mAP={m['mAP']:.6f} R1={m['cmc'][0]:.6f} mINP={m['mINP']:.6f} valid={m['valid']}")
    for r in case["rerank"]:
        rm = r["metrics"]
        print(f"  rerank k1={r['k1']} k2={r['k2']} lambda={r['lambda']}: mAP={rm['mAP']:.6f} R1={rm['cmc'][0]:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
