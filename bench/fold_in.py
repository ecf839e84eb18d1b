"""New users on a catalog, in ranking metrics: fold-in from k ratings against the recommender trained with them.

The catalog is the text tutorial's (`nbs/12_text_catalog.ipynb`): the shapes world's captions as 3,000 text items,
embedded by the packaged all-MiniLM-L6-v2, 48 raters whose tastes are known, 20 ratings per user held out for
validation and 20 for test. A quarter of the users are held out of training (`rebeca.foldin.fold_in_experiment`);
each is folded back in from k of their training ratings and ranked by generate-then-retrieve, beside:
  retrained   the recommender fitted on every user (`bench/catalog.py shapes-text` makes it; read from --out/base);
  item-kNN    the content baseline, given the same k ratings (the sum of similarities to the liked ones among them);
  popularity  the items liked most often by the other users;
  random      a random order.
Every row ranks the whole catalog less the user's non-test ratings, on the same held-out likes (the test split), at
k = 10; `true_like` is the world's P(like) of the ten items.

    python bench/fold_in.py [--out bench/out/catalog-shapes-text]
"""
import argparse, time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rebeca.embeddings import embed_texts
from rebeca.foldin import fold_in_experiment, fold_in_methods
from rebeca.recommend import ItemKNN, Popularity, Recommender, fit, held_out, ranking_metrics, retrieve_scores, _top_k
from rebeca.metrics import unit_rows
from rebeca.sampling import load_samples, sample_embeddings


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="bench/out/catalog-shapes-text", help="the catalog benchmark's folder (its base fit is reused)")
    p.add_argument("--ks", type=int, nargs="*", default=[5, 10, 20, 50, 0], help="ratings to fold in from (0: all)")
    p.add_argument("--steps", type=int, default=200, help="fold-in steps")
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    from rebeca.shapes.world import make_world
    world = make_world(n_images=3000, n_users=48, seed=0)
    items = pd.DataFrame(dict(item=world.captions.image, text=world.captions["content"] + " " + world.captions["style"]))
    table = world.ratings.rename(columns=dict(user_id="user"))
    factors = world.factors.set_index("image")
    cache = out/"minilm.npy"
    X = np.load(cache) if cache.is_file() else embed_texts(items.text, progress=False)
    np.save(cache, X)
    ids = items.item.tolist()
    base = Recommender.load(out/"base") if (out/"base"/"recommender.json").is_file() else \
        fit(table, (ids, X), out=out/"base", n_val=20, n_test=20, progress=False)
    s = base.settings
    print(f"retrained: {base}", flush=True)
    t0 = time.time()
    exp = fold_in_experiment(base.ratings, base.catalog, out/"fold_in", base.prior.config, ks=[k or None for k in args.ks],
                             methods=fold_in_methods(args.steps), n=s["n"],
                             guidance_scale=s["guidance"], steps=s["steps"], scheduler=s["scheduler"], progress=True)
    print(f"experiment: {time.time() - t0:.0f} s (the prior of the kept users included, unless it was there)", flush=True)
    held = exp["held"]
    task = held_out(base.ratings, base.catalog, "test")
    at = {u: j for j, u in enumerate(task.users)}
    keep = [at[u] for u in held if u in at]
    users = task.users[keep]
    relevant, seen = [task.relevant[j] for j in keep], [task.seen[j] for j in keep]
    Xn = unit_rows(X, dtype=np.float32)

    def score_lists(S):
        "(ranking metrics, true like) of the lists of `users` from scores S (len(users), n_items), seen items masked."
        S = np.array(S, dtype=np.float32)
        for j in range(len(users)): S[j, seen[j]] = -np.inf
        top = _top_k(S, 10)
        m = ranking_metrics(top, relevant, 10).mean()
        like = world.p_like(np.repeat([base.ratings.user_ids[u] for u in users], 10), factors.loc[np.asarray(ids)[top.ravel()]].reset_index())
        return dict(ndcg=m.ndcg, precision=m.precision, recall=m.recall, hit_rate=m.hit_rate, true_like=float(np.mean(like)))

    def from_samples(S, owners):
        return np.stack([retrieve_scores(S[owners == u], Xn, s["rule"], s["temperature"]) for u in users])

    rows = []
    for name, path in exp["files"].items():
        S, owners, _ = load_samples(path)
        method, k = name.rsplit("_k", 1)
        rows.append(dict(method=method, k=k, **score_lists(from_samples(S, owners))))
    for k in dict.fromkeys(exp["draws"]):
        d = exp["draws"][k]
        likes = d[d.like == 1]
        knn = ItemKNN(X, {u: base.catalog.rows(g.item) for u, g in likes.groupby("user")})
        rows.append(dict(method="item-kNN", k=k, **score_lists(knn.scores(users))))
    S, owners = sample_embeddings(base.prior, users, s["n"], guidance_scale=s["guidance"], scheduler=s["scheduler"],
                                  num_inference_steps=s["steps"], generator=torch.Generator().manual_seed(0))
    rows.append(dict(method="retrained", k="", **score_lists(from_samples(S, owners))))
    others = base.ratings.df[~base.ratings.df.user.isin(held)]
    rows.append(dict(method="popularity (other users)", k="", **score_lists(Popularity.fit(
        type(base.ratings)(others, base.ratings.user_ids, None, ""), base.catalog).scores(users))))
    rows.append(dict(method="random", k="", **score_lists(np.random.default_rng(0).random((len(users), len(ids))))))
    result = pd.DataFrame(rows)
    times = exp["times"].groupby(["method", "k"]).seconds.mean().rename("seconds_per_user").reset_index()
    result = result.merge(times.astype({"k": str}), on=["method", "k"], how="left")
    result.to_csv(out/"fold_in_ranking.csv", index=False)
    print(f"\n{len(users)} held-out users with test likes, {len(ids)} items; ranking metrics at 10 over the catalog")
    print(result.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__": main()
