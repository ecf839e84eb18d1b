"""Full-size dry run: the paper's pretrained models, loaded by rebeca's real factories from a Hugging Face cache of
random weights at the real sizes, each run once at real size, offline.

It checks, without network and without the real weights, that the files `rebeca.weights.WEIGHTS` lists, laid out as
the Hub lays them out, are all the factories need (`HF_HUB_OFFLINE=1`), and measures what each model costs:

  1. builds the cache with `rebeca.testing.fake_hub_cache(DIR, full=True)`, one model per child process (about
     12.6 GB), or reuses the models that `check_weights` already finds whole;
  2. runs each model in its own child process, through the factory a run uses:
       openclip-vit-h-14         make_embedder(source="open_clip") embeds two 512x512 images -> (2, 1024)
       sd15-ip-adapter           make_decoder("sd15-ip-adapter", steps=2) decodes one 512x512 image from one
                                 1024-d embedding under each prompt preset T0, T1, T2 (the T0 image is kept)
       clip-vit-l-14-336         make_cmmd_features featurises the T0 image -> (1, 768); its load includes
                                 converting OpenAI's pickle to safetensors, as a first use does
       inception                 make_fid_features featurises the T0 image -> (1, 2048)
       ip-adapter-image-encoder  make_embedder(source="transformers") embeds the two images -> (2, 1024)
  3. prints one table (load seconds, compute seconds, peak memory per model), the cache's build time and its size.

On 2 CPU cores it takes about 5 minutes: under 2 to build the cache, 2 for SD1.5's three decodes (a kept cache is
reused, which saves the build). Peak memory is under 9 GB (ViT-H-14's load). Exit status 1 if any step fails; its
error is printed.

    python bench/full_size.py                                       # a temporary cache, removed at the end
    python bench/full_size.py --cache /tmp/fullsize-cache --keep    # kept, and reused by the next run
    python bench/full_size.py --models inception clip-vit-l-14-336

With `--pipeline` it then runs the whole flickr-aes profile through `rebeca reproduce`, every stage and notebook, on a
fake FLICKR-AES at small counts, with these full-size models in place of the smoke run's tiny ones and captions from a
local server. It measures each stage's throughput (its work over its time, less the model's load time measured in
step 2) and, on a GPU, writes them into `rebeca/throughput.yaml` as a section `<gpu>-pipeline` beside the benchmarks'
own (`rebeca reproduce --plan --gpu <gpu>-pipeline` plans with it). The defaults are sized for one H100/H200 (minutes);
on a CPU, `--users 3 --images 40 --n 2 --decode-n 1 --steps 2 --prompts T0` runs the same chain in about 20 minutes:

    python bench/full_size.py --cache /data/fullsize-cache --pipeline --device cuda
    python bench/full_size.py --cache /tmp/fullsize-cache --pipeline --users 3 --images 40 --n 2 --decode-n 1 --steps 2 --prompts T0
"""
import argparse, json, os, resource, shutil, subprocess, sys, tempfile, time
from pathlib import Path

STEPS = {                       # what the dry run runs, in this order -> the WEIGHTS entries it reads
    "openclip-vit-h-14": ("openclip-vit-h-14",),
    "sd15-ip-adapter": ("sd15", "ip-adapter-sd15"),
    "clip-vit-l-14-336": ("clip-vit-l-14-336",),
    "inception": ("inception",),
    "ip-adapter-image-encoder": ("ip-adapter-image-encoder",),
}
DECODED = "dry-run-T0.png"      # SD1.5's T0 image, in the cache folder, for the metrics' networks


def timed(f):
    "(f(), seconds it took)."
    start = time.perf_counter()
    out = f()
    return out, time.perf_counter() - start


def check(ok, message):
    if not ok: raise AssertionError(message)


# ---- in a child process: one model

def random_images(n, size=512, seed=0):
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(n)]


def decoded_image(cache):
    "SD1.5's T0 image if the decoding step made one, else a random image."
    from PIL import Image
    path = Path(cache)/DECODED
    return (Image.open(path).convert("RGB"), "the T0 image") if path.is_file() else (random_images(1, seed=1)[0], "a random image")


def run_embedder(args, source):
    import numpy as np
    from rebeca.embeddings import make_embedder
    embedder, load = timed(lambda: make_embedder("openclip-vit-h-14", source=source, device=args.device, dtype=args.dtype))
    E, compute = timed(lambda: embedder.embed(random_images(2)))
    check(E.shape == (2, 1024) and np.isfinite(E).all(), f"embeddings of shape {E.shape}, finite: {np.isfinite(E).all()}")
    return load, compute, "embed 2 images 512x512 -> (2, 1024)"


def run_decoder(args):
    import numpy as np
    from rebeca.decoding import make_decoder
    decoder, load = timed(lambda: make_decoder("sd15-ip-adapter", steps=2, device=args.device, dtype=args.dtype))
    E = np.random.default_rng(0).normal(size=(1, 1024)).astype(np.float32)
    seconds = {}
    for preset in ("T0", "T1", "T2"):
        images, seconds[preset] = timed(lambda: decoder.decode(E, seed=0, prompt=preset))
        pixels = np.asarray(images[0])
        check(len(images) == 1 and images[0].size == (512, 512), f"{preset}: {len(images)} images of size {images[0].size}")
        check(pixels.std() > 0, f"{preset}: a flat image (NaN latents decode to black)")
        if preset == "T0": images[0].save(Path(args.cache)/DECODED)
    each = "/".join(f"{s:.0f}" for s in seconds.values())
    return load, sum(seconds.values()), f"decode 1 image 512x512, 2 steps, under T0/T1/T2 ({each} s)"


def run_cmmd(args):
    from rebeca.metrics import make_cmmd_features
    from rebeca.weights import fetch
    _, convert = timed(lambda: fetch("clip-vit-l-14-336"))       # a first use converts the pickle; the factory then finds the copy
    embedder, load = timed(lambda: make_cmmd_features("clip-vit-l-14-336", device=args.device))
    image, what = decoded_image(args.cache)
    F, compute = timed(lambda: embedder.embed([image]))
    check(F.shape == (1, 768), f"features of shape {F.shape}")
    return convert + load, compute, f"featurise {what} -> (1, 768); load: {convert:.0f} s converting the .bin, then the factory"


def run_inception(args):
    from rebeca.metrics import make_fid_features
    embedder, load = timed(lambda: make_fid_features("inception", device=args.device))
    image, what = decoded_image(args.cache)
    F, compute = timed(lambda: embedder.embed([image]))
    check(F.shape == (1, 2048), f"features of shape {F.shape}")
    return load, compute, f"featurise {what} -> (1, 2048)"


RUNNERS = {"openclip-vit-h-14": lambda a: run_embedder(a, "open_clip"), "sd15-ip-adapter": run_decoder,
           "clip-vit-l-14-336": run_cmmd, "inception": run_inception,
           "ip-adapter-image-encoder": lambda a: run_embedder(a, "transformers")}


def child(args):
    "Build one model's files (`--_build`) or run one step (`--_run`); the last line printed is `RESULT {json}`."
    if args._build:
        from rebeca.testing import fake_hub_cache
        _, seconds = timed(lambda: fake_hub_cache(args.cache, full=True, names=[args._build]))
        result = dict(seconds=seconds)
    else:
        load, compute, what = RUNNERS[args._run](args)
        result = dict(load=load, compute=compute, what=what)
    result["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9    # kB on Linux
    print("RESULT " + json.dumps(result), flush=True)


# ---- in the parent: build, run, report

def cache_env(cache):
    "The environment that points rebeca and huggingface_hub at the fake cache, offline."
    return dict(HF_HUB_CACHE=str(cache/"hub"), REBECA_CACHE=str(cache/"rebeca"), HF_HUB_OFFLINE="1", HF_HUB_DISABLE_PROGRESS_BARS="1")


def in_child(flag, value, args):
    "Run this script on one model in a child process: its RESULT, or {'error': the end of its output}."
    cmd = [sys.executable, __file__, flag, value, "--cache", str(args.cache), "--device", args.device]
    if args.dtype: cmd += ["--dtype", args.dtype]
    p = subprocess.run(cmd, env=os.environ | cache_env(args.cache), capture_output=True, text=True)
    results = [line for line in p.stdout.splitlines() if line.startswith("RESULT ")]
    if p.returncode == 0 and results: return json.loads(results[-1].removeprefix("RESULT "))
    output = (p.stdout + p.stderr).strip().splitlines()
    return {"error": f"exit status {p.returncode}:\n    " + "\n    ".join(output[-25:])}


def build_cache(args, names):
    "Write the models `names` that are not already whole; per model: ('built' or 'reused', RESULT)."
    from rebeca.weights import check_weights, converted_folder
    shutil.rmtree(converted_folder(), ignore_errors=True)          # so that the CMMD step converts the pickle, as a first use does
    done = {}
    for name in names:
        if (check_weights([name]).state == "ok").all(): done[name] = ("reused", {"seconds": 0.0})
        else:
            print(f"building {name} ...", flush=True)
            done[name] = ("built", in_child("--_build", name, args))
    return done


def folder_size(folder):
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def size_check(names):
    "How the weights files written compare with the sizes WEIGHTS lists for the real ones."
    from rebeca.weights import WEIGHTS, local_file
    files = [(f, local_file(WEIGHTS[name], f)) for name in names for f in WEIGHTS[name].files if f.size > 1_000_000]
    if any(path is None for _, path in files): return "some weights files are missing"
    off = [abs(path.stat().st_size - f.size) / f.size for f, path in files]
    if not any(off): return f"all {len(files)} weights files exactly their published size"
    return f"{off.count(0)} of {len(files)} weights files exactly their published size, the others within {max(off):.2%}"


def report(runs, built, args, build_seconds):
    from rebeca.weights import WEIGHTS, human_size
    print(f"\n{'model':<26}{'load s':>8}{'compute s':>11}{'peak GB':>9}  computation")
    for step, r in runs.items():
        if "error" in r: print(f"{step:<26}{'FAILED':>8}"); continue
        print(f"{step:<26}{r['load']:>8.1f}{r['compute']:>11.1f}{r['peak_gb']:>9.2f}  {r['what']}")
    each = ", ".join(f"{name} {r['seconds']:.0f} s / {r['peak_gb']:.1f} GB peak" if how == "built" else f"{name} reused"
                     for name, (how, r) in built.items() if "error" not in r)
    listed = sum(WEIGHTS[name].size for name in built)
    print(f"\ncache {args.cache}: built in {build_seconds:.0f} s ({each})")
    print(f"on disk {human_size(folder_size(args.cache))} after the run (WEIGHTS lists {human_size(listed)} for these models; "
          f"the rest is CMMD's converted copy and the T0 image); {size_check(built)}")
    print(f"device {args.device}, dtype {args.dtype or 'the default'}")
    failed = {k: r["error"] for k, r in runs.items() if "error" in r} | {k: r["error"] for k, (_, r) in built.items() if "error" in r}
    for k, error in failed.items(): print(f"\n{k} FAILED, {error}")
    return not failed


def parent(args):
    steps = [s for s in STEPS if s in args.models]
    names = list(dict.fromkeys(n for s in steps for n in STEPS[s]))
    args.cache = Path(args.cache or tempfile.mkdtemp(prefix="rebeca-full-size-")).resolve()
    args.cache.mkdir(parents=True, exist_ok=True)
    os.environ.update(cache_env(args.cache))                      # for check_weights here
    built, build_seconds = timed(lambda: build_cache(args, names))
    runs = {}
    if not any("error" in r for _, r in built.values()):
        for step in steps:
            print(f"running {step} ...", flush=True)
            runs[step] = in_child("--_run", step, args)
    ok = report(runs, built, args, build_seconds)
    args.loads = {step: r.get("load", 0.0) for step, r in runs.items()}
    if args.keep or args.given_cache: print(f"kept {args.cache}")
    else: shutil.rmtree(args.cache, ignore_errors=True)
    return ok


# ---- the whole profile with the full-size models

PAPER_MODELS = ["openclip-vit-h-14", "sd15-ip-adapter", "clip-vit-l-14-336", "inception"]


def pipeline_profile(args):
    "The flickr-aes profile at the smoke run's settings, but with the real (here: fake full-size) models and the counts asked for."
    from dataclasses import replace
    from rebeca.profile import load_profile
    p = load_profile("flickr-aes", overlays=["smoke"])
    return replace(p,
                   data=replace(p.data, fake=dict(images=args.images, users=args.users, seed=0), min_likes=3, n_val=1, n_test=1),
                   embeddings=replace(p.embeddings, embedder="openclip-vit-h-14", batch_size=64),
                   sampling=replace(p.sampling, n=args.n, sweep=[10.0], diverse=dict(oversample=3, guidance_scale=1.0, alpha=8, k=5, steps=10)),
                   decoding=replace(p.decoding, decoder="sd15-ip-adapter", steps=args.steps, n=args.decode_n, sweep_n=args.decode_n, prompts=list(args.prompts)),
                   metrics=replace(p.metrics, fid="inception", cmmd_features="clip-vit-l-14-336", real_pool="likes"))      # every like: at small counts the test split's are too few for FID


def stage_work(out, p):
    "What each stage of the run in `out` did, in the units of throughput.yaml."
    import pandas as pd
    from rebeca.sampling import load_samples
    out = Path(out)
    images = len(json.loads((out/"embeddings"/"index.json").read_text()))
    priors = [json.loads((out/"prior"/name/"prior.json").read_text()) for name in ("REBECA", "NoUE") if (out/"prior"/name).is_dir()]
    trained = sum(r["epochs"] * len(r["workers"]) * r["config"]["samples_per_user"] for r in priors)
    users = len(priors[0]["workers"])
    steps = p.sampling.steps or priors[0]["config"]["num_train_timesteps"]
    sampled = sum(len(load_samples(f)[1]) for f in (out/"samples").glob("*.safetensors") if f.stem != "REBECA_diverse") * steps
    sampled += users * p.sampling.n * int(p.sampling.diverse["oversample"]) * int(p.sampling.diverse["steps"])
    decoded = sum(len(pd.read_csv(f)) for f in (out/"decoded").glob("*/metadata.csv"))
    real = len(list((out/"metrics").glob("real-*/*.png")))
    return dict(embeddings=images, prior=trained, sampling=sampled, decoding=decoded * p.decoding.steps, metrics=2 * (decoded + real))


def throughput_section(name, gpu, rates, base):
    "A throughput.yaml section: the measured rates, and the base section's other numbers (so that --plan can use it whole)."
    import yaml
    keys = dict(embeddings="embed_images_per_s", prior="prior_train_samples_per_s", sampling="prior_sampling_steps_per_s",
                metrics="features_images_per_s")
    section = dict(base) | {"gpu": f"{gpu} (bench/full_size.py --pipeline)"} | {keys[k]: round(v, 1) for k, v in rates.items() if k in keys}
    if "decoding" in rates: section["sd_image_steps_per_s"] = dict(base["sd_image_steps_per_s"]) | {"float16": round(rates["decoding"], 2)}
    note = (f"# {name}: measured by bench/full_size.py --pipeline on {gpu}, {time.strftime('%Y-%m-%d')}: the flickr-aes profile's stages\n"
            f"# at small counts with full-size models; each rate is the stage's work over its time less its model's load\n"
            f"# (measured: {', '.join(rates) or 'none'}; the rest is the benchmarks' section)\n")
    return note + yaml.safe_dump({name: section}, sort_keys=False)


def write_section(path, name, text):
    "Replace the section `name` of the throughput file at `path` (its comment lines and its block), or append it; every other line stays."
    lines = Path(path).read_text().splitlines()
    key = next((i for i, line in enumerate(lines) if line.startswith(f"{name}:")), None)
    if key is not None:
        start = key
        while start > 0 and lines[start - 1].startswith("# "): start -= 1
        end = key + 1
        while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()): end += 1
        lines = lines[:start] + lines[end:]
    Path(path).write_text("\n".join(lines).rstrip("\n") + "\n" + text)


def pipeline(args):
    "Run the flickr-aes profile with the full-size models; print each stage's time and throughput; write them on a GPU."
    import torch, yaml
    from rebeca.reproduce import THROUGHPUT, reproduce
    os.environ.update(cache_env(args.cache))
    p, out = pipeline_profile(args), Path(args.cache)/"pipeline-run"
    print(f"\nthe flickr-aes profile, full-size models, {args.images} images, {args.users} raters, into {out} ...", flush=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    timings = reproduce(p, out, device=args.device, progress=False)    # a stage finished by an earlier run is reused, and not timed
    stage_of = {"01_embeddings": "embeddings", "02_prior": "prior", "03_sampling": "sampling", "04_decoding": "decoding", "07_metrics": "metrics"}
    loads = dict(embeddings=args.loads.get("openclip-vit-h-14", 0), decoding=args.loads.get("sd15-ip-adapter", 0),
                 metrics=args.loads.get("clip-vit-l-14-336", 0) + args.loads.get("inception", 0))
    work = stage_work(out, p)
    units = dict(embeddings="images/s", prior="samples/s", sampling="embedding-steps/s", decoding="image-steps/s", metrics="images/s")
    rates = {}
    print(f"\n{'notebook':<16}{'seconds':>9}{'less load':>11}  throughput")
    for nb, seconds in timings.items():
        stage = stage_of.get(nb)
        folder = out/{"prior": "prior/REBECA", "sampling": "samples", "decoding": "decoded"}.get(stage, stage or "")
        reused = stage is not None and json.loads((folder/"stage.json").read_text())["finished"] < started
        if stage is None or reused: print(f"{nb:<16}{seconds:>9.1f}" + ("  (reused from an earlier run: not timed)" if reused else "")); continue
        net = max(seconds - loads.get(stage, 0), 1e-3)
        rates[stage] = work[stage] / net
        print(f"{nb:<16}{seconds:>9.1f}{net:>11.1f}  {rates[stage]:,.1f} {units[stage]} ({work[stage]:,} in all)")
    print(f"total {sum(timings.values()) / 60:.1f} min; tables in {out/'tables'}")
    cuda = str(args.device).startswith("cuda") and torch.cuda.is_available()
    path = args.throughput or (THROUGHPUT if cuda else None)
    if path is not None:
        gpu = torch.cuda.get_device_name(0) if cuda else "cpu"
        table = yaml.safe_load(Path(THROUGHPUT).read_text())
        key = next((k for k in table if k in gpu.lower()), None)
        name = f"{key or gpu.lower().replace(' ', '-')}-pipeline"
        write_section(path, name, throughput_section(name, gpu, rates, table[key or next(iter(table))]))
        print(f"throughputs written to {path}, section {name!r}")
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", help="the fake cache's folder (kept, and reused when whole); default: a temporary folder")
    ap.add_argument("--keep", action="store_true", help="keep the temporary cache folder")
    ap.add_argument("--models", nargs="+", choices=list(STEPS), default=list(STEPS), help="the steps to run (default: all)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", choices=["float16", "bfloat16", "float32"], help="default: float16 on a GPU, float32 on a CPU")
    ap.add_argument("--_build", help=argparse.SUPPRESS)
    ap.add_argument("--_run", help=argparse.SUPPRESS)
    ap.add_argument("--pipeline", action="store_true", help="then run the flickr-aes profile with these models (see above)")
    ap.add_argument("--images", type=int, default=2000, help="--pipeline: images of the fake FLICKR-AES")
    ap.add_argument("--users", type=int, default=20, help="--pipeline: its raters")
    ap.add_argument("--n", type=int, default=10, help="--pipeline: sampled embeddings per user and set")
    ap.add_argument("--decode-n", type=int, default=4, help="--pipeline: decoded images per user of each set but REBECA-T0")
    ap.add_argument("--steps", type=int, default=20, help="--pipeline: SD1.5's denoising steps")
    ap.add_argument("--prompts", nargs="+", default=["T0", "T1", "T2"], help="--pipeline: the prompt presets")
    ap.add_argument("--throughput", help="--pipeline: the throughput file to write (default: rebeca/throughput.yaml on a GPU, none on a CPU)")
    args = ap.parse_args()
    if args._build or args._run: return child(args)
    args.given_cache = args.cache is not None
    if args.pipeline: args.keep = True                              # the pipeline reads the cache after the steps
    ok = parent(args)
    if ok and args.pipeline: ok = pipeline(args)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
