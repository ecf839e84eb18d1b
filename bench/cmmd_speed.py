"""CMMD and FID speed on CLIP-sized features: this project's implementations against naive ones, side by side in one run.

CMMD on n x n unit vectors of width d (default 10,000 x 10,000 x 768, CLIP ViT-L/14@336's size), three kernel means
over n^2 pairs each:
  A. pair by pair: the definition as a Python double loop, one numpy call per pair (timed on a subset);
  B. broadcast: (x[:, None] - y[None]) ** 2 summed over d, an n x m x d tensor (timed on a subset: at full size that
     tensor alone would take n * n * d * 4 bytes, 307 GB);
  C. full matrices: the reference implementation's formula (google-research/cmmd distance.py) in float32 numpy, each
     n x n kernel matrix at once (full size, about 1.6 GB of memory);
  D. `rebeca.metrics.cmmd`: blocks of rows, the symmetric halves only, float32 kernel minus one, float64 sums.
Every rate is in kernel pairs per second, so subsets and the full size compare directly; the ratio is D's over each.

Fréchet distance on n x d features (the same matrices):
  E. the common formula: scipy.linalg.sqrtm of the product of the two covariances (clean-fid's `frechet_distance`);
  F. `rebeca.metrics.frechet_distance`: two symmetric eigendecompositions.

    python bench/cmmd_speed.py                 # 10,000 x 10,000 x 768 on the CPU
    python bench/cmmd_speed.py --n 2000        # quicker
"""
import argparse, os, time

import numpy as np
import torch
from scipy import linalg

from rebeca.metrics import cmmd, frechet_distance, CMMD_SIGMA, CMMD_SCALE

GAMMA = 1 / (2 * CMMD_SIGMA ** 2)


def pair_by_pair(x, y):
    "A: the definition, one pair at a time."
    k = lambda a, b: np.exp(-GAMMA * np.sum((a - b) ** 2))
    mean = lambda A, B: sum(k(a, b) for a in A for b in B) / (len(A) * len(B))
    return CMMD_SCALE * (mean(x, x) + mean(y, y) - 2 * mean(x, y))


def broadcast(x, y):
    "B: all squared distances at once through an (n, m, d) tensor."
    mean = lambda A, B: np.exp(-GAMMA * ((A[:, None] - B[None]) ** 2).sum(-1)).mean()
    return CMMD_SCALE * (mean(x, x) + mean(y, y) - 2 * mean(x, y))


def full_matrices(x, y):
    "C: the reference implementation's formula, every n x m kernel matrix at once, in the inputs' float32."
    sx, sy = (x * x).sum(1), (y * y).sum(1)
    mean = lambda A, B, sa, sb: np.exp(-GAMMA * (-2 * (A @ B.T) + sa[:, None] + sb[None, :])).mean()
    return CMMD_SCALE * (mean(x, x, sx, sx) + mean(y, y, sy, sy) - 2 * mean(x, y, sx, sy))


def sqrtm_frechet(X, Y):
    "E: clean-fid's formula: sqrtm of the covariance product, real part, with its retry for singular products."
    m1, m2 = X.mean(0, dtype=np.float64), Y.mean(0, dtype=np.float64)
    s1, s2 = np.cov(X, rowvar=False), np.cov(Y, rowvar=False)
    covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(s1)) * 1e-6
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def timed(f, *args):
    t = time.perf_counter()
    out = f(*args)
    return out, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="rows in each set")
    ap.add_argument("--dim", type=int, default=768, help="feature width (768: CLIP ViT-L/14@336)")
    ap.add_argument("--loop-n", type=int, default=120, help="subset size for the pair-by-pair loop")
    ap.add_argument("--broadcast-n", type=int, default=300, help="subset size for the broadcast form")
    ap.add_argument("--skip-full", action="store_true", help="skip C (it needs about 1.6 GB at n = 10,000)")
    args = ap.parse_args()
    n, d = args.n, args.dim
    rng = np.random.default_rng(0)
    unit = lambda M: (M / np.linalg.norm(M, axis=1, keepdims=True)).astype(np.float32)
    X = unit(rng.normal(size=(n, d)))
    Y = unit(rng.normal(size=(n, d)) + 0.05 * rng.normal(size=d))      # a shifted distribution
    print(f"cpu: {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads; load average "
          f"{os.getloadavg()[0]:.1f}; features {n:,} x {n:,} x {d} float32, unit rows")

    pairs = lambda k: 3 * k * k                                         # kernel evaluations in the three means
    cmmd(X[:500], Y[:500], device="cpu")                                 # warm-up
    v_d, t_d = timed(cmmd, X, Y, 2048, "cpu")
    rate_d = pairs(n) / t_d
    rows = []
    k = args.loop_n
    v_a, t_a = timed(pair_by_pair, X[:k].astype(np.float64), Y[:k].astype(np.float64))
    rows.append(("A pair by pair (Python loop)", k, t_a, pairs(k) / t_a, v_a, cmmd(X[:k], Y[:k], device="cpu")))
    k = args.broadcast_n
    v_b, t_b = timed(broadcast, X[:k], Y[:k])
    rows.append(("B broadcast (n x m x d tensor)", k, t_b, pairs(k) / t_b, v_b, cmmd(X[:k], Y[:k], device="cpu")))
    if not args.skip_full:
        v_c, t_c = timed(full_matrices, X, Y)
        rows.append(("C full matrices (reference formula)", n, t_c, pairs(n) / t_c, v_c, v_d))
    rows.append(("D rebeca.metrics.cmmd (blocked)", n, t_d, rate_d, v_d, v_d))
    print(f"\nCMMD (sigma {CMMD_SIGMA:g}, scale {CMMD_SCALE:g}, biased)")
    print(f"  {'method':38s} {'rows':>6s} {'seconds':>9s} {'pairs/s':>10s} {'D faster by':>12s}   value (D on the same rows)")
    for name, rows_, t, rate, v, ref in rows:
        est = f"  (full size: {pairs(n) / rate:,.0f} s)" if rows_ != n else ""
        print(f"  {name:38s} {rows_:6d} {t:9.2f} {rate:10.3g} {rate_d / rate:11.1f}x   {v:.6f} ({ref:.6f}){est}")

    print(f"\nFréchet distance on {n:,} x {d} features (means, covariances and the trace term)")
    v_e, t_e = timed(sqrtm_frechet, X, Y)
    v_f, t_f = timed(frechet_distance, X, Y)
    print(f"  E sqrtm of the covariance product (clean-fid's formula): {t_e:7.2f} s   {v_e:.6f}")
    print(f"  F rebeca.metrics.frechet_distance (two eigh):          {t_f:7.2f} s   {v_f:.6f}   F faster by {t_e / t_f:.1f}x")


if __name__ == "__main__":
    main()
