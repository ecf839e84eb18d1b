"""How long `fit` and `recommend --users all` take on MovieLens-100k, before and after the speed-ups, side by side.

BEFORE is the code of commit e355a76 (its `fit` with its own defaults), run from a git worktree of that commit in a
subprocess; AFTER is this checkout's code with its defaults. Both read the same ratings, the same MiniLM embeddings
of each film's title, year and genres (bench/catalog.py's `movielens`), and the same split (split_seed 42, 5
validation and 5 test ratings per user). Per side, in a subprocess of its own:

  fit          wall seconds per phase: prior training (epochs it ran), guidance choice (the grid, the validation
               users), and the verifier if fit trains one (it does not: `evaluate` trains it, for its baselines);
  recommend    a freshly loaded recommender's `recommend(users='all', k=10)`, as `rebeca recommend --users all` runs it;
  quality      NDCG@10 +- its standard error over users, on the validation and on the test split's held-out likes,
               over the whole catalog less what each user rated outside the split, from the lists of that same
               recommend call (a user's samples do not depend on the split).

Each side's numbers are cached as JSON under bench/results/, keyed by what they measure: the hash of the code
(the package's sources; for BEFORE, the commit's), the settings and the data. A rerun measures only what changed and
prints cached numbers with a note.

    python bench/fit_speed.py --recbole-wheel recbole-1.2.1-py3-none-any.whl
    python bench/fit_speed.py --ml100k folder/with/ml-100k.inter --threads 2
"""
import argparse, hashlib, importlib.util, json, os, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# not the bench folder on the import path: a script there may shadow a standard module (bench/profile.py, `profile`)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT/"bench"]
BEFORE_COMMIT = "e355a76"
RESULTS = ROOT/"bench"/"results"


def source_hash(root:Path) -> str:
    "sha256 of the package's sources under `root` (rebeca/**/*.py and its packaged configs), path and content."
    h = hashlib.sha256()
    for p in sorted((root/"rebeca").rglob("*")):
        if p.is_file() and p.suffix in (".py", ".yaml", ".json") and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode()); h.update(b"\0"); h.update(p.read_bytes()); h.update(b"\0")
    return h.hexdigest()


def git(*args, cwd=ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def worktree(commit:str) -> Path:
    "A git worktree of `commit` under bench/out/ (made once)."
    path = ROOT/"bench"/"out"/f"worktree-{commit}"
    if not (path/"rebeca"/"recommend.py").is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        git("worktree", "add", "--detach", str(path), commit)
    return path


def data(args):
    "(ratings, items, split) of MovieLens-100k and the MiniLM embeddings, cached in bench/out/fit_speed/."
    spec = importlib.util.spec_from_file_location("bench_catalog", ROOT/"bench"/"catalog.py")
    catalog = importlib.util.module_from_spec(spec); spec.loader.exec_module(catalog)
    movielens = catalog.movielens
    ratings, items, _, split = movielens(args)
    cache = ROOT/"bench"/"out"/"fit_speed"/"minilm.npy"
    import numpy as np
    if not cache.is_file():
        from rebeca.embeddings import embed_texts
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, embed_texts(items.text, progress=False))
    return ratings, items, split, cache


def measure(spec:dict) -> dict:
    "Run in a subprocess whose `rebeca` is the side's code: fit with the side's settings, time each phase, then recommend for all."
    import numpy as np, torch
    import rebeca, rebeca.recommend as R
    from rebeca.recommend import Recommender, fit, held_out, ranking_metrics, _top_k, _mask
    assert Path(rebeca.__file__).resolve().is_relative_to(Path(spec["code_root"]).resolve()), rebeca.__file__
    args = argparse.Namespace(**spec["data_args"])
    ratings, items, split, cache = data(args)
    X = np.load(cache); ids = items.item.tolist()
    phases, cpu = {}, {}
    def timed(name, f):
        def wrapper(*a, **kw):
            t, c = time.perf_counter(), time.process_time()
            try: return f(*a, **kw)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - t
                cpu[name] = cpu.get(name, 0.0) + time.process_time() - c
        return wrapper
    R.train_prior, R.choose_guidance = timed("prior", R.train_prior), timed("guidance", R.choose_guidance)
    import rebeca.verifier as V
    V.train_verifier = timed("verifier", V.train_verifier)
    threads_set = []
    set_threads = torch.set_num_threads
    torch.set_num_threads = lambda n: (threads_set.append(int(n)), set_threads(n))[1]
    out = Path(spec["out"])
    import shutil; shutil.rmtree(out, ignore_errors=True)
    t, c = time.perf_counter(), time.process_time()
    rec = fit(ratings, (ids, X), out=out, **split, progress=False, **spec["fit"])
    fit_s, cpu["fit"] = time.perf_counter() - t, time.process_time() - c
    meta = json.loads((out/"prior"/"prior.json").read_text())
    curve = rec.guidance_curve
    n_val_users = None if curve is None else (rec.settings.get("guidance_users")
                                              or min(len(held_out(rec.ratings, rec.catalog, "val").users), 300))   # e355a76: at most 300

    loaded = Recommender.load(out)
    kept = {}
    scores = R.GenerateRetrieve.scores
    def keep(self, users):
        S = scores(self, users); kept["S"], kept["users"] = np.array(S), np.asarray(users); return S
    R.GenerateRetrieve.scores = keep
    t, c = time.perf_counter(), time.process_time()
    top = loaded.recommend("all", k=10)
    rec_s, cpu["recommend"] = time.perf_counter() - t, time.process_time() - c
    threads_fit, threads_recommend = threads_set[0], threads_set[-2]       # each block sets its count, then restores the old one
    R.GenerateRetrieve.scores = scores
    S, users = kept["S"], kept["users"]
    row = {int(u): j for j, u in enumerate(users)}
    quality = {}
    for name in ("val", "test"):
        task = held_out(loaded.ratings, loaded.catalog, name)
        nd = ranking_metrics(_top_k(_mask(S[[row[int(u)] for u in task.users]], task), 10), task.relevant, 10).ndcg.to_numpy()
        quality[name] = dict(ndcg=float(nd.mean()), se=float(nd.std(ddof=1) / np.sqrt(len(nd))), users=len(nd))
    s = rec.settings
    return dict(fit_s=round(fit_s, 1), phases={k: round(v, 1) for k, v in phases.items()}, cpu_s={k: round(v, 1) for k, v in cpu.items()},
                load_average=os.getloadavg(), epochs=meta["epochs"],
                best_epoch=int(min(meta["history"], key=lambda h: h["val_loss"])["epoch"]),
                guidance=s["guidance"], guidance_grid=None if curve is None else curve.guidance.tolist(),
                val_users_for_guidance=n_val_users,
                settings={k: s.get(k) for k in ("n", "steps", "scheduler", "rule", "threads", "config")},
                config={k: meta["config"].get(k) for k in ("max_epochs", "batch_size", "lr", "early_stopping_patience", "lr_schedule")},
                threads_fit=threads_fit, threads_recommend=threads_recommend, recommend_s=round(rec_s, 1), recommend_users=int(len(top) // 10), quality=quality,
                torch_threads_after=torch.get_num_threads(), cores=os.cpu_count())


def run_side(name:str, code_root:Path, fit_kw:dict, args, commit:str) -> dict:
    "The side's measurement: from the cache if its key is there, else measured in a subprocess."
    data_args = dict(recbole_wheel=args.recbole_wheel and str(Path(args.recbole_wheel).resolve()),
                     ml100k=args.ml100k and str(Path(args.ml100k).resolve()))
    dataset = "ml-100k:" + hashlib.sha256(Path(args.recbole_wheel or Path(args.ml100k)/"ml-100k.inter").read_bytes()).hexdigest()[:16]
    key_parts = dict(code=source_hash(code_root), commit=commit, fit=fit_kw, dataset=dataset, split=dict(n_val=5, n_test=5, split_seed=42),
                     measure="fit+recommend-all v1")
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True).encode()).hexdigest()[:16]
    path = RESULTS/f"fit_speed-{name}-{key}.json"
    if path.is_file() and not args.force:
        result = json.loads(path.read_text()); result["cached"] = True
        return result
    spec = dict(code_root=str(code_root), data_args=data_args, fit=fit_kw, out=str(ROOT/"bench"/"out"/"fit_speed"/f"{name}-{key}"))
    env = dict(os.environ, PYTHONPATH=str(code_root), REBECA_FIT_SPEED_SPEC=json.dumps(spec))
    print(f"measuring {name} ({code_root}) ...", flush=True)
    t = time.time()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--measure"], env=env, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode: raise SystemExit(f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result |= dict(key=key_parts, measured_at=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), wall_s=round(time.time() - t, 1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    result["cached"] = False
    return result


def table(before:dict, after:dict) -> str:
    def f(r, k): return r["phases"].get(k)
    def q(r, s): return f"{r['quality'][s]['ndcg']:.4f} +- {r['quality'][s]['se']:.4f}"
    def sec(v): return "-" if v is None else f"{v:.0f} s"
    def threads(r): return f"{r['threads_fit']} / {r['threads_recommend']}" if "threads_fit" in r else str(r["settings"]["threads"] or 1)
    def both(r, k, wall):
        c = r.get("cpu_s", {}).get(k)
        return sec(wall) + ("" if c is None else f" (cpu {c:.0f} s)")
    def verifier(r): return sec(f(r, "verifier")) if f(r, "verifier") else "none (fit trains no verifier)"
    rows = [("fit: prior training", both(before, "prior", f(before, "prior")), both(after, "prior", f(after, "prior"))),
            ("  epochs run (best epoch)", f"{before['epochs']} ({before['best_epoch']})", f"{after['epochs']} ({after['best_epoch']})"),
            ("  torch threads (fit / recommend)", threads(before), threads(after)),
            ("fit: guidance choice", both(before, "guidance", f(before, "guidance")), both(after, "guidance", f(after, "guidance"))),
            ("  grid / validation users", f"{before['guidance_grid']} / {before['val_users_for_guidance']}",
             f"{after['guidance_grid']} / {after['val_users_for_guidance']}"),
            ("  sampler", "{n} samples, {steps} {scheduler} steps".format(**before["settings"]),
             "{n} samples, {steps} {scheduler} steps".format(**after["settings"])),
            ("fit: verifier", verifier(before), verifier(after)),
            ("fit: total wall", both(before, "fit", before["fit_s"]), both(after, "fit", after["fit_s"])),
            ("chosen guidance", f"{before['guidance']:g}", f"{after['guidance']:g}"),
            (f"validation NDCG@10 +- SE ({before['quality']['val']['users']} users)", q(before, "val"), q(after, "val")),
            (f"recommend, all {before['recommend_users']} users, k=10", both(before, "recommend", before["recommend_s"]),
             both(after, "recommend", after["recommend_s"])),
            (f"test NDCG@10 +- SE ({before['quality']['test']['users']} users)", q(before, "test"), q(after, "test"))]
    w0, w1 = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows) + 2
    head = f"{'':{w0}}  {'BEFORE (e355a76)':{w1}}AFTER (this checkout)"
    return "\n".join([head, "-" * len(head)] + [f"{a:{w0}}  {b:{w1}}{c}" for a, b, c in rows])


def main():
    if "--measure" in sys.argv:
        print(json.dumps(measure(json.loads(os.environ["REBECA_FIT_SPEED_SPEC"])))); return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recbole-wheel"); p.add_argument("--ml100k")
    p.add_argument("--side", choices=["both", "before", "after"], default="both")
    p.add_argument("--force", action="store_true", help="measure again even when the cache has the numbers")
    p.add_argument("--after", default="{}", help="fit arguments for AFTER, as JSON (default: its defaults)")
    args = p.parse_args()
    if not (args.recbole_wheel or args.ml100k): raise SystemExit("pass --recbole-wheel or --ml100k")
    data(args)                                                                 # the embeddings, once, for both sides
    head = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--", "rebeca", "nbs"))
    sides = {}
    if args.side in ("both", "before"):
        sides["before"] = run_side("before", worktree(BEFORE_COMMIT), {}, args, git("rev-parse", BEFORE_COMMIT))
    if args.side in ("both", "after"):
        sides["after"] = run_side("after", ROOT, json.loads(args.after), args, head + ("+changes" if dirty else ""))
    for name, r in sides.items():
        print(f"{name}: {'CACHED, measured ' + r['measured_at'] + ' (--force to measure again)' if r['cached'] else 'measured now'}; "
              f"code {r['key']['commit']}, fit arguments {r['key']['fit'] or 'the defaults'}, {r['cores']} cores")
    if len(sides) == 2:
        print("\n" + table(sides["before"], sides["after"]))
        print("\nload average (1, 5, 15 min) at the end of each measurement, on", sides["after"]["cores"], "cores: " +
              "; ".join(f"{k} {tuple(round(x, 1) for x in r['load_average'])}" for k, r in sides.items() if "load_average" in r))
    else: print(json.dumps(next(iter(sides.values())), indent=1))


if __name__ == "__main__":
    main()
