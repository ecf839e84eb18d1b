"""Embedding throughput, measured side by side in one run.

Compares, on the same images and the same device:
  A. a plain loop: fp32, batch 16, images decoded on the main process (how the embedding pass is usually written);
  B. this project's path: `extract_embeddings` with half precision, large batches and data-loader workers.
On a GPU it builds OpenCLIP ViT-H-14 at its real size with random weights (no download); on CPU a tiny model of the
same structure. Prints images/s for both and the ratio B/A, and how long FLICKR-AES (40,988 images) would take.

    python bench/embed_throughput.py            # GPU if there is one
    python bench/embed_throughput.py --tiny     # quick CPU check of the script itself
"""
import argparse, tempfile, time
from pathlib import Path

import numpy as np
import torch

from rebeca.embeddings import OpenCLIPEmbedder, vit_h14_config, extract_embeddings, Catalog, list_images, read_image
from rebeca.testing import tiny_openclip_config
from rebeca.shapes.world import make_world, save_world


def plain_loop(embedder, folder, names, batch_size):
    "Decode, preprocess and embed in the main process, batch by batch."
    rows = []
    for i in range(0, len(names), batch_size):
        images = [read_image(folder/n)[0] for n in names[i:i + batch_size]]
        rows.append(embedder.embed(images))
    return np.concatenate(rows)


def timed(f, sync):
    sync(); t = time.perf_counter(); out = f(); sync()
    return out, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--tiny", action="store_true", help="tiny model (CPU check)")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    half = torch.float16 if device == "cuda" else torch.float32
    config = tiny_openclip_config() if args.tiny else vit_h14_config()
    tmp = Path(tempfile.mkdtemp())
    save_world(make_world(n_images=args.images, n_users=8, seed=0), tmp/"world", progress=False)
    folder, names = list_images(tmp/"world")
    fp32 = OpenCLIPEmbedder.from_config(config, name="vit-h14-random", device=device)
    print(f"device {device} ({torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}), model "
          f"{'tiny' if args.tiny else 'ViT-H-14'} with {sum(p.numel() for p in fp32.model.visual.parameters()) / 1e6:.1f} M "
          f"vision parameters, {len(names)} images of 64x64 resized to {config['vision_cfg']['image_size']}")
    plain_loop(fp32, folder, names[:32], 16)                                  # warm-up
    a, t_a = timed(lambda: plain_loop(fp32, folder, names, 16), sync)
    fast = OpenCLIPEmbedder.from_config(config, name="vit-h14-random", device=device)
    fast.model.to(half); fast.dtype = half
    extract_embeddings(folder, tmp/"warm", fast, batch_size=args.batch, chunk_size=args.batch, loaders=args.workers, progress=False)
    _, t_b = timed(lambda: extract_embeddings(folder, tmp/"store", fast, batch_size=args.batch, chunk_size=4096,
                                              loaders=args.workers, progress=False), sync)
    b = Catalog.load(tmp/"store").X
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    print(f"A plain loop, fp32, batch 16:               {len(names) / t_a:9.1f} images/s")
    print(f"B extract_embeddings, {str(half).split('.')[1]}, batch {args.batch}, {args.workers} workers: {len(names) / t_b:9.1f} images/s")
    print(f"ratio B/A: {t_a / t_b:.1f}x   (cosine(A, B) min {cos.min():.4f}: same embeddings up to precision)")
    print(f"FLICKR-AES (40,988 images): A {40988 / (len(names) / t_a) / 60:.1f} min, B {40988 / (len(names) / t_b) / 60:.1f} min")


if __name__ == "__main__":
    main()
