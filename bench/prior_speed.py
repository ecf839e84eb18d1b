"""Prior training and sampling speed: the authors' style against this project's, side by side in one run.

Training (samples/s):
  A. authors' style: a DataLoader over CPU tensors, batch 64, fp32, every batch copied to the device;
  B. this project's `train_prior` inner loop: data on the device, one gather per batch, large batches, bf16 autocast on CUDA.
Sampling (embeddings/s), classifier-free guidance at w = 10:
  A. authors' style: conditional and unconditional passes run separately, batch 10, fp32, ancestral DDPM over every
     training step (timed over a slice of the steps and extrapolated, since the full run takes hours);
  B. `sample_embeddings`: both passes batched, all users at once, bf16 autocast on CUDA, DDIM with 50 steps.
On a GPU the model is the paper's (1024-d, 8 layers, 16 heads, 94 users, 6000 steps); with --small (the default on
CPU) it is the shapes configuration over 64-d embeddings. Weights are random: speed does not depend on them.

    python bench/prior_speed.py            # the paper's size on a GPU
    python bench/prior_speed.py --small    # CPU
"""
import argparse, time

import numpy as np
import torch

from rebeca.prior import RebecaPrior, PRIOR_CONFIGS, make_scheduler, prior_loss, NULL_RATING
from rebeca.sampling import sample_embeddings


class _Prior:  # the slice of TrainedPrior that sample_embeddings uses
    def __init__(self, model, sched_config, device):
        self.model, self.scheduler_config, self.device = model, sched_config, device
        self.n_users = model.config.n_users
    def user_indices(self, users): return np.arange(self.n_users) if users == "all" else np.asarray(users)


def sync(dev):
    if dev == "cuda": torch.cuda.synchronize()


def train_speed(model, cfg, Z, users, ratings, batch, steps, dev, fast):
    sched = make_scheduler(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-5)
    g = torch.Generator(device=dev).manual_seed(0)
    model.train()
    if fast:
        Zd, ud, rd = Z.to(dev), users.to(dev), ratings.to(dev)
        def batches():
            while True:
                i = torch.randint(0, len(Zd), (batch,), device=dev, generator=g)
                yield Zd[i], ud[i], rd[i]
    else:
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Z, users, ratings), batch_size=batch, shuffle=True)
        def batches():
            while True:
                for z, u, r in loader: yield z.to(dev), u.to(dev), r.to(dev)
    it = batches()
    def step():
        z, u, r = next(it)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=fast and dev == "cuda"):
            loss = prior_loss(model, sched, z, u, r, cfg, model.config.n_users, generator=g)
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    for _ in range(5): step()
    sync(dev); t = time.perf_counter()
    for _ in range(steps): step()
    sync(dev)
    return steps * batch / (time.perf_counter() - t)


@torch.no_grad()
def authors_sampling_speed(model, sched_config, n_users, batch, steps, dev, w=10.0):
    "Embedding-steps/s of two separate fp32 passes per ancestral DDPM step, `batch` chains at a time."
    from diffusers import DDPMScheduler
    sched = DDPMScheduler.from_config(sched_config); sched.set_timesteps(sched.config.num_train_timesteps, device=dev)
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn((batch, model.config.embed_dim), generator=g).to(dev)
    u = torch.zeros(batch, dtype=torch.long, device=dev); r = torch.ones_like(u)
    nu, nr = torch.full_like(u, model.null_user), torch.full_like(u, NULL_RATING)
    ts = sched.timesteps[:steps + 3]
    def one(t):
        nonlocal x
        tt = torch.full((batch,), int(t), device=dev, dtype=torch.long)
        cond, uncond = model(x, tt, u, r), model(x, tt, nu, nr)
        x = sched.step(uncond + w * (cond - uncond), t, x, generator=g).prev_sample
    for t in ts[:3]: one(t)
    sync(dev); t0 = time.perf_counter()
    for t in ts[3:]: one(t)
    sync(dev)
    return batch * steps / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="the shapes configuration (default on CPU)")
    ap.add_argument("--fast-batch", type=int, default=None, help="training batch of the fast path")
    ap.add_argument("--per-user", type=int, default=50, help="embeddings per user for sampling")
    ap.add_argument("--end-to-end", action="store_true", help="also time train_prior itself on random data of FLICKR-AES's size")
    args = ap.parse_args()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    small = args.small or dev == "cpu"
    cfg = PRIOR_CONFIGS["shapes" if small else "paper"]
    D, U = (64, 60) if small else (1024, 94)
    torch.manual_seed(0)
    model = RebecaPrior(embed_dim=D, n_users=U, width=cfg.width, n_layers=cfg.n_layers, n_heads=cfg.n_heads,
                        n_user_tokens=cfg.n_user_tokens, ff_dim=cfg.ff_dim, dropout=cfg.dropout).to(dev)
    n = 177_278 if not small else 37_585
    Z, users, ratings = torch.randn(n, D), torch.randint(0, U, (n,)), torch.randint(0, 2, (n,))
    name = torch.cuda.get_device_name() if dev == "cuda" else "cpu"
    print(f"device {dev} ({name}); prior {'shapes' if small else 'paper'} configuration: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M "
          f"parameters, {D}-d embeddings, {U} users, {cfg.num_train_timesteps} diffusion steps")
    fast_batch = args.fast_batch or (8192 if dev == "cuda" else 1024)
    a = train_speed(model, cfg, Z, users, ratings, 64, 60 if dev == "cuda" else 20, dev, fast=False)
    b = train_speed(model, cfg, Z, users, ratings, fast_batch, 40 if dev == "cuda" else 5, dev, fast=True)
    print(f"training  A authors' style (DataLoader, batch 64, fp32):        {a:10.0f} samples/s")
    print(f"training  B on-device gather, batch {fast_batch}, {'bf16' if dev == 'cuda' else 'fp32'}:          {b:10.0f} samples/s   ratio B/A {b / a:.1f}x")
    epoch = U * cfg.samples_per_user
    print(f"          one balanced epoch ({U} users x {cfg.samples_per_user}) takes A {epoch / a:.2f} s, B {epoch / b:.3f} s")
    if args.end_to_end:
        import dataclasses, tempfile
        from rebeca.prior import PriorData, train_prior
        n_img = 40_988 if not small else 8_000
        rows = torch.randint(0, n_img, (n,))
        split = lambda k: dict(user=users[:k], rating=ratings[:k], row=rows[:k])
        data = PriorData(torch.randn(n_img, D), {"train": split(n), "val": split(min(n, 940)), "test": split(10)}, U, [f"W{u}" for u in range(U)])
        for batch in (cfg.batch_size, fast_batch):
            c = dataclasses.replace(cfg, batch_size=batch, max_epochs=4)
            t = time.perf_counter()
            _, hist = train_prior(data, tempfile.mkdtemp() + "/run", c, progress=False, checkpoint_every=1e9)
            per_epoch = (hist[-1]["seconds"] - hist[0]["seconds"]) / (len(hist) - 1)
            print(f"train_prior end to end, batch {batch}: {per_epoch:.3f} s per balanced epoch ({U * c.samples_per_user / per_epoch:.0f} samples/s "
                  f"with validation), {time.perf_counter() - t:.1f} s for {len(hist)} epochs incl. setup and saving")
    model.eval()
    sched_config = dict(make_scheduler(cfg).config)
    T = cfg.num_train_timesteps
    rate_a = authors_sampling_speed(model, sched_config, U, 10, 40 if dev == "cuda" else 10, dev)
    total = U * args.per_user
    hours_a = total * T / rate_a / 3600
    prior = _Prior(model, sched_config, dev)
    sample_embeddings(prior, "all", n=2, num_inference_steps=5)                              # warm-up
    sync(dev); t = time.perf_counter()
    X, _ = sample_embeddings(prior, "all", n=args.per_user, guidance_scale=10.0, scheduler="ddim", num_inference_steps=50,
                             generator=torch.Generator().manual_seed(0))
    sync(dev); t_b = time.perf_counter() - t
    print(f"sampling  A two fp32 passes, batch 10, DDPM x {T}: {rate_a:10.0f} embedding-steps/s -> {total} embeddings "
          f"({U} users x {args.per_user}) in {hours_a:.2f} h ({total / (hours_a * 3600):.2f} embeddings/s)")
    print(f"sampling  B batched CFG, all users, {'bf16' if dev == 'cuda' else 'fp32'}, DDIM x 50:   {total} embeddings in {t_b:.2f} s "
          f"({total / t_b:.0f} embeddings/s)   ratio B/A {hours_a * 3600 / t_b:.0f}x")


if __name__ == "__main__":
    main()
