"""Thirty recommendations, not one thirty times: like rate against per-user diversity on a finished shapes run.

Every row samples 30 embeddings for each user of the run's prior, reads what the scene decoder would paint from each
(`ShapesSceneDecoder.read`, the factors the ground truth's probe reads back from the painted image), and reports:
  like    the world's true P(like), averaged over users;
  vendi   the per-user Vendi score (cosine of catalog-standardised embeddings; `rebeca.metrics.vendi_score`);
  scenes  distinct (shape, colour, background) scenes among a user's 30;
  cost    sampling time over that of plain guidance (30 samples per user, 50 DDIM steps), measured in this run.

Rows: plain guidance at several w; guidance in a limited interval of noise levels (Kynkaanniemi et al. 2024); a guidance
scale rising over the steps; adaptive projected guidance (Sadat et al. 2024); particle guidance, a repulsion between a
user's samples (Corso et al. 2024); and the selection of `sample_diverse`: a pool at low guidance, scored by the
verifier (on the sample itself; as the mean over its 20 nearest catalog items; or through the round trip, its decoded
image embedded again, over its 10 nearest catalog items), then a quality-weighted DPP keeps 30, at several pool sizes
and alphas; then the oracle, catalog images drawn with probability proportional to p_like^a.

    python bench/diversity.py RUN            # RUN: a `rebeca reproduce --profile shapes` folder (prior, embeddings, verify, decoded)
    python bench/diversity.py RUN --quick    # fewer rows
"""
import argparse, time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rebeca.checkpoint import load_model
from rebeca.data import prepare_ratings
from rebeca.embeddings import Catalog
from rebeca.metrics import per_user_diversity
from rebeca.prior import NULL_RATING
from rebeca.decoding import RoundTrip
from rebeca.embeddings import store_embedder
from rebeca.sampling import TrainedPrior, knn_quality, make_sampler_scheduler, sample_embeddings, select_diverse
from rebeca.shapes.scene import ShapesSceneDecoder
from rebeca.shapes.truth import ShapesTruth
from rebeca.shapes.world import FACTORS, load_world
from rebeca.verifier import Verifier


@torch.no_grad()
def guided(prior, n, rule, steps=50, seed=0, repel=0.0):
    "DDIM with a guidance `rule(cond, uncond, s, state)` on the x0 prediction (s: 0 at pure noise, 1 at the end), and an optional repulsion."
    model, U = prior.model, prior.n_users
    g = torch.Generator().manual_seed(seed)
    users = torch.as_tensor(np.repeat(np.arange(U), n))
    B, null = len(users), model.null_user
    sched = make_sampler_scheduler("ddim", prior.scheduler_config); sched.set_timesteps(steps)
    x = torch.randn((B, model.config.embed_dim), generator=g) * sched.init_noise_sigma
    u2 = torch.cat([users, torch.full_like(users, null)])
    r2 = torch.cat([torch.ones_like(users), torch.full_like(users, NULL_RATING)])
    state, T = {}, len(sched.timesteps)
    for i, t in enumerate(sched.timesteps):
        c, un = model(sched.scale_model_input(torch.cat([x, x]), t), torch.full((2 * B,), int(t)), u2, r2).float().chunk(2)
        x0 = rule(c, un, i / (T - 1), state)
        if repel:                                 # RBF-kernel repulsion of each predicted x0 from its user's others (median bandwidth)
            Z = x0.view(U, n, -1)
            d2 = torch.cdist(Z, Z) ** 2
            h = d2.flatten(1).median(1).values.view(-1, 1, 1) / np.log(n) + 1e-8
            push = (torch.exp(-d2 / h).unsqueeze(-1) * (Z.unsqueeze(2) - Z.unsqueeze(1))).sum(2) * 2 / h
            x0 = (Z + repel * push / n).view(B, -1)
        x = sched.step(x0, t, x).prev_sample
    return model.denormalize(x).numpy(), users.numpy()

cfg = lambda w: (lambda c, un, s, st: un + w * (c - un))
interval = lambda w, lo, hi: (lambda c, un, s, st: un + (w if lo <= s <= hi else 1.0) * (c - un))
rising = lambda w, p: (lambda c, un, s, st: un + (1 + (w - 1) * s ** p) * (c - un))

def apg(w, eta=0.0):
    "Adaptive projected guidance: the guidance's component parallel to the conditional prediction scaled by eta."
    def rule(c, un, s, st):
        diff = c - un
        v = torch.nn.functional.normalize(c, dim=1)
        par = (diff * v).sum(1, keepdim=True) * v
        return c + (w - 1) * (diff - par + eta * par)
    return rule


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run"); ap.add_argument("--quick", action="store_true"); ap.add_argument("--out", default="bench/out/diversity.csv")
    a = ap.parse_args()
    run = Path(a.run)
    torch.set_num_threads(2)
    prior = TrainedPrior(run/"prior"/"REBECA")
    world = load_world(run/"world")
    decoder = ShapesSceneDecoder.from_pretrained(run/"decoded"/"scene_reader", size_range=world.config["size_range"])
    catalog = Catalog.load(run/"embeddings")
    ids, C = catalog.ids, catalog.X
    verifier = load_model(Verifier, run/"verify"/"verifier"/"model").eval()
    workers = np.asarray(prior.user_ids)
    rows = []

    def score(name, X, users, seconds, **settings):
        f = decoder.read(X)
        p = world.p_like(workers[users], f)
        div = per_user_diversity(X, users, reference=C)
        scenes = pd.DataFrame({k: f[k].to_numpy() for k in FACTORS}).assign(user=users).drop_duplicates().groupby("user").size()
        rows.append(dict(method=name, settings=", ".join(f"{k}={v}" for k, v in settings.items()), like=float(p.mean()),
                         vendi=float(div.vendi.mean()), scenes=float(scenes.mean()), seconds=round(seconds, 1)))
        print(f"{name:22s} {rows[-1]['settings']:45s} like {p.mean():.3f}  vendi {div.vendi.mean():5.2f}  scenes {scenes.mean():5.1f}  {seconds:6.1f}s", flush=True)

    def timed(fn):
        t = time.perf_counter(); out = fn(); return out, time.perf_counter() - t

    for w in ((1, 3, 10) if a.quick else (1, 2, 3, 5, 7.5, 10, 15)):
        (X, u), s = timed(lambda: sample_embeddings(prior, "all", 30, guidance_scale=w, scheduler="ddim", num_inference_steps=50))
        score("guidance", X, u, s, w=w)
    if not a.quick:
        for w, lo, hi in ((5, 0.2, 0.8), (10, 0.0, 0.5), (10, 0.2, 0.8), (10, 0.7, 1.0), (20, 0.0, 0.5)):
            (X, u), s = timed(lambda: guided(prior, 30, interval(w, lo, hi))); score("guidance interval", X, u, s, w=w, on=f"[{lo},{hi}]")
        for w, pw in ((10, 1), (10, 4), (20, 2)):
            (X, u), s = timed(lambda: guided(prior, 30, rising(w, pw))); score("rising guidance", X, u, s, w=w, power=pw)
        for w, eta in ((5, 0.0), (10, 0.0), (10, 0.5)):
            (X, u), s = timed(lambda: guided(prior, 30, apg(w, eta))); score("APG", X, u, s, w=w, eta=eta)
        for w, rep in ((5, 20.0), (5, 100.0), (10, 20.0), (10, 100.0)):
            (X, u), s = timed(lambda: guided(prior, 30, cfg(w), repel=rep)); score("particle guidance", X, u, s, w=w, repel=rep)
    P_catalog = verifier.probabilities(C)
    trip = RoundTrip(decoder, store_embedder(run/"embeddings"))
    pools = ((10, 1.0), (30, 1.0)) if not a.quick else ((10, 1.0),)
    for over, wp in pools:                     # one pool per size; every quality and alpha selects from the same pool
        (pool, owner), s_pool = timed(lambda: sample_embeddings(prior, "all", 30 * over, guidance_scale=wp, scheduler="ddim", num_inference_steps=25))
        (R, s_trip) = timed(lambda: trip(pool))
        qualities = {"verifier, 20 nearest": (knn_quality(P_catalog, C, k=20)(pool, owner), 0.0),
                     "verifier, round trip, 10 nearest": (knn_quality(P_catalog, C, k=10)(R, owner), s_trip)}
        if over == 10 and not a.quick:
            qualities["verifier on the sample"] = (verifier.probabilities(pool)[owner, np.arange(len(owner))], 0.0)
        for qname, (q, s_q) in qualities.items():
            for alpha in ((4, 8, 16) if not a.quick else (8,)):
                keep, s_sel = timed(lambda: np.concatenate([np.flatnonzero(owner == j)[select_diverse(pool[owner == j], q[owner == j], 30, alpha,
                                                            reference=(prior.model.embed_mean.numpy(), prior.model.embed_std.numpy()))]
                                                            for j in range(prior.n_users)]))
                score(f"select: {qname}", pool[keep], owner[keep], s_pool + s_q + s_sel, oversample=over, pool_w=wp, alpha=alpha)
    ratings = prepare_ratings(run/"world", min_likes=100, n_val=10, n_test=10)
    oracle = ShapesTruth(world).oracle_frontier(ratings, catalog)
    for r in oracle.itertuples():
        rows.append(dict(method="oracle (catalog ∝ p_like^a)", settings=f"a={r.exponent:g}", like=r.true_like, vendi=r.vendi, scenes=np.nan, seconds=np.nan))
    table = pd.DataFrame(rows)
    base = table.loc[(table.method == "guidance") & (table.settings == "w=10"), "seconds"]
    table["cost"] = table.seconds / float(base.iloc[0]) if len(base) else np.nan
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(a.out, index=False)
    print(table.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
