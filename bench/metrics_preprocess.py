"""How long FID's and CMMD's image preprocessing takes per 512 x 512 image, and what loader workers do to it.

The metrics stage passes every decoded image (about 100,000 in the paper's run) through two feature extractors:
clean-fid's Inception (a bicubic resize to 299 pixels in floating point) and CLIP ViT-L/14@336 (a centre crop, a
bicubic resize to 336 pixels and CLIP's normalisation). On a GPU the networks are fast; the reading and resizing on
the CPU is what costs. This script times, side by side in one run:

- before: every image read and preprocessed in the main process, one after another (what the metrics stage did);
- after: `folder_features` with loader workers, one per CPU core of this machine.

The per-image, per-core seconds it prints are `features_preprocess_s` in `rebeca/throughput.yaml`, which
`rebeca reproduce --plan` divides by the loader workers. The images are PNGs of smooth colour fields with noise,
about the size of SD1.5's decoded ones. No network, no weights: the networks are left out (a mean over pixels
stands in), since only the CPU side is timed.

    python bench/metrics_preprocess.py [--images 96] [--workers N]
"""
import argparse, os, tempfile, time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from rebeca.embeddings import Embedder, list_images, read_image
from rebeca.metrics import CMMDEmbedder, InceptionEmbedder, folder_features


def photo_like(folder:Path, n:int, size:int=512, seed:int=0) -> Path:
    "`n` PNGs of smooth colour fields with pixel noise: they compress about as decoded photographs do."
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        a = rng.uniform(0, 6, (3, 2))
        field = np.stack([np.sin(a[c, 0] * x + a[c, 1] * y + rng.uniform(0, 6)) for c in range(3)], -1)
        pixels = (127 + 100 * field + rng.normal(0, 12, field.shape)).clip(0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder/f"{i:05d}.png")
    return folder


class Preprocessing(Embedder):
    "An extractor's preprocessing with a pixel mean in place of its network."
    def __init__(self, name, preprocess): self.name, self._pre, self.dim, self.device = name, preprocess, 3, "cpu"
    def preprocess(self, image): return self._pre(image)
    def forward(self, pixels): return pixels.float().mean(dim=(2, 3))


def extractors() -> dict:
    "name -> preprocessing, exactly as the metrics stage's extractors do it."
    from transformers import CLIPImageProcessor
    inception = InceptionEmbedder(model=None, mode="clean")
    clip = CMMDEmbedder.__new__(CMMDEmbedder)                       # the reference's preprocessing, without CLIP's weights
    clip.image_size, clip.processor = 336, CLIPImageProcessor(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})
    return {"inception": inception.preprocess, "clip-vit-l-14-336": lambda im: CMMDEmbedder.preprocess(clip, im)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        folder = photo_like(Path(d)/"decoded", args.images)
        mb = sum(p.stat().st_size for p in folder.iterdir()) / args.images / 1e6
        print(f"{args.images} PNGs of 512 x 512, {mb:.2f} MB each; {args.workers} workers on {os.cpu_count()} CPU cores\n")
        print(f"{'extractor':<20}{'before: s/image':>18}{'after: s/image':>17}{'ratio':>8}")
        for name, pre in extractors().items():
            names = list_images(folder)[1]
            start = time.perf_counter()
            for n in names: pre(read_image(folder/n)[0])
            before = (time.perf_counter() - start) / len(names)
            start = time.perf_counter()
            folder_features(folder, Preprocessing(name, pre), batch_size=32, loaders=args.workers)
            after = (time.perf_counter() - start) / len(names)
            print(f"{name:<20}{before:>18.4f}{after:>17.4f}{before / after:>7.1f}x")
        print("\nbefore is the seconds per image on one core: features_preprocess_s in rebeca/throughput.yaml")


if __name__ == "__main__":
    main()
