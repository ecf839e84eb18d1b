"""SD1.5 + IP-Adapter decoding speed: the paper's settings against fast settings, side by side in one run.

  A. the paper's settings: fp32, one image at a time, 100 denoising steps (DDIM here; the scheduler's own cost is
     negligible next to the UNet's);
  B. fast settings: fp16, batches of 16, DPM-Solver++ with 25 steps.
On a GPU the UNet, VAE and text encoder are built at SD1.5's real size from their configs with random weights, and
the IP-Adapter is random too, so nothing is downloaded; image quality is meaningless here, only speed is measured.
With --tiny (the default on CPU) the tiny test pipeline is used.

    python bench/decode_throughput.py          # GPU
    python bench/decode_throughput.py --tiny   # CPU check of the script
"""
import argparse, time

import numpy as np
import torch

from rebeca.decoding import SD15IPAdapterDecoder
from rebeca.testing import random_ip_adapter, tiny_sd_pipeline


def sd15_pipeline(seed=0):
    "A StableDiffusionPipeline at SD1.5's size with random weights (no tokenizer)."
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel, AutoencoderKL, DDIMScheduler
    from transformers import CLIPTextModel, CLIPTextConfig
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
                                down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                                up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, cross_attention_dim=768, attention_head_dim=8)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, block_out_channels=(128, 256, 512, 512),
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512)
    text = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                                        vocab_size=49408, max_position_embeddings=77))
    return StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=None, unet=unet, scheduler=DDIMScheduler(clip_sample=False),
                                   safety_checker=None, feature_extractor=None, image_encoder=None, requires_safety_checker=False)


def build(tiny, device, dtype, steps, scheduler):
    from diffusers import DPMSolverMultistepScheduler
    pipe = tiny_sd_pipeline(0) if tiny else sd15_pipeline(0)
    dim = 16 if tiny else 1024
    pipe.load_ip_adapter(random_ip_adapter(pipe.unet, dim, 0), subfolder="", weight_name="", image_encoder_folder=None)
    if scheduler == "dpm": pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config, algorithm_type="dpmsolver++")
    pipe = pipe.to(device=device, dtype=dtype)
    size = 16 if tiny else 512
    return SD15IPAdapterDecoder(pipe, num_inference_steps=steps, height=size, width=size), dim


def timed(decoder, e, batch, dev):
    for i in range(0, min(len(e), batch), batch): decoder.decode(e[:batch])          # warm-up
    if dev == "cuda": torch.cuda.synchronize()
    t = time.perf_counter()
    for i in range(0, len(e), batch): decoder.decode(e[i:i + batch], seed=i)
    if dev == "cuda": torch.cuda.synchronize()
    return len(e) / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--n-slow", type=int, default=3, help="images for A")
    ap.add_argument("--n-fast", type=int, default=64, help="images for B")
    args = ap.parse_args()
    dev = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    tiny = args.tiny or dev == "cpu"
    half = torch.float16 if dev == "cuda" else torch.float32
    a_dec, dim = build(tiny, dev, torch.float32, 100, "ddim")
    e = np.random.default_rng(0).normal(size=(max(args.n_slow, args.n_fast), dim)).astype(np.float32)
    print(f"device {dev} ({torch.cuda.get_device_name() if dev == 'cuda' else 'cpu'}), "
          f"{'tiny pipeline' if tiny else 'SD1.5-size pipeline, random weights'}, {a_dec.height}x{a_dec.width}")
    a = timed(a_dec, e[:args.n_slow], 1, dev)
    del a_dec
    if dev == "cuda": torch.cuda.empty_cache()
    b_dec, _ = build(tiny, dev, half, 25, "dpm")
    b = timed(b_dec, e[:args.n_fast], 16, dev)
    print(f"A paper settings (fp32, batch 1, 100 steps):        {a:8.3f} images/s")
    print(f"B fast ({str(half).split('.')[1]}, batch 16, DPM-Solver++ 25 steps): {b:8.3f} images/s   ratio B/A {b / a:.1f}x")
    print(f"94 users x 50 images: A {4700 / a / 3600:.2f} h, B {4700 / b / 60:.1f} min")


if __name__ == "__main__":
    main()
