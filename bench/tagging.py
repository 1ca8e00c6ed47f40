"""Tagging throughput: the raw model alone vs the whole pipeline, on the same images and model.

    .venv/bin/python bench/tagging.py                      # default model for this device
    .venv/bin/python bench/tagging.py --model tests/fixtures/shapes_detector.pt --images 40

Raw model: decoded images already at the model's input size, as tensors; only ``model(batch)`` is
timed (batch 1 on CPU, 8 on a GPU). Pipeline: the same images stored as JPEG assets, tagged by
``tagging.pipeline.run_detection`` exactly as the worker does it (claim, read the file from
storage, decode, EXIF-rotate, resize, infer, write detections, summary and provenance).

Without downloadable COCO weights (this machine is offline) the builder's architecture is used
with random weights, saved as a checkpoint: the computation per image is the same, which is what
is timed. The script says which it used. It runs against a throw-away SQLite database under a
temporary VAR_DIR unless --database-url is given.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="", help="builder name or checkpoint (default: the device's default)")
    parser.add_argument("--images", type=int, default=24, help="images per measurement")
    parser.add_argument("--size", default="3000x2000", help="photo size WxH (default 6 MP, a phone-like photo)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=0, help="raw-model batch (default 1 on CPU, 8 on GPU)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating raw/pipeline rounds")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary directory")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def make_photos(count: int, size: tuple[int, int]) -> list[bytes]:
    """Phone-sized JPEGs of synthetic scenes with sensor-like noise (so they do not compress away)."""
    from PIL import Image

    from testkit.shapes import make_scene

    rng = random.Random(7)
    photos = []
    for _ in range(count):
        scene = make_scene(rng, size=(size[0] // 4, size[1] // 4))
        image = scene.image.resize(size, Image.Resampling.BILINEAR)
        noise = Image.effect_noise(size, 12).convert("RGB")
        image = Image.blend(image, noise, 0.08)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=88)
        photos.append(buffer.getvalue())
    return photos


def resolve_model(requested: str, device_name: str, workdir: Path) -> tuple[str, str]:
    """A model spec the detector can load here, and a note on which weights it carries."""
    import torch

    from tagging.detector import (
        build_architecture,
        coco_weights_for,
        default_model_for,
        is_checkpoint_path,
        resolve_device,
        save_checkpoint,
        weights_file_path,
    )

    name = requested or default_model_for(resolve_device(device_name))
    if is_checkpoint_path(name):
        return name, "checkpoint"
    from django.conf import settings

    weights = coco_weights_for(name)
    if weights_file_path(weights, settings.TAGGING_WEIGHTS_DIR).exists():
        return name, f"COCO weights {weights}"
    torch.manual_seed(0)
    categories = list(weights.meta["categories"])
    stand_in = workdir / f"{name}-random.pt"
    save_checkpoint(stand_in, model=build_architecture(name, num_classes=len(categories)), architecture=name,
                    categories=categories, half=False)
    return str(stand_in), "random weights, same architecture (COCO weights not downloadable here)"


def setup_django(database_url: str, var_dir: Path, model: str, device: str) -> None:
    os.environ["VAR_DIR"] = str(var_dir)
    os.environ["MEDIA_ROOT"] = str(var_dir / "media")
    os.environ["TAGGING_DEVICE"] = device
    os.environ["TAGGING_ALLOW_DOWNLOAD"] = "0"
    if model:
        os.environ["TAGGING_MODEL"] = model
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assetsite.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def create_assets(photos: list[bytes], tag: str) -> list:
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from media.services import asset_create

    owner, _ = get_user_model().objects.get_or_create(username=f"bench-{tag}")
    assets = []
    for index, data in enumerate(photos):
        # A byte appended after the JPEG's end marker keeps content hashes apart between rounds.
        unique = data + f"{tag}-{index}".encode()
        assets.append(asset_create(owner=owner, file=SimpleUploadedFile(f"{index}.jpg", unique)).asset)
    return assets


def prepare_tensors(detector, photos: list[bytes]) -> list:  # type: ignore[no-untyped-def]
    """The raw model's inputs, made before any timing: decoded, upright, at the model's input size."""
    from torchvision.transforms.functional import pil_to_tensor

    from media.imaging import open_upright_rgb

    tensors = []
    for data in photos:
        image = open_upright_rgb(io.BytesIO(data))
        image = image.resize(detector.input_size_for(*image.size))
        tensors.append(pil_to_tensor(image).to(detector.device).float().div_(255))
    return tensors


def raw_forward(detector, chunk: list) -> float:  # type: ignore[no-untyped-def]
    """Seconds for ``model(chunk)`` alone."""
    import torch

    with torch.inference_mode():
        if detector.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        if detector.device.type == "cuda" and detector.config.fp16:
            with torch.autocast("cuda", dtype=torch.float16):
                detector.model(chunk)
            torch.cuda.synchronize()
        else:
            detector.model(chunk)
        return time.perf_counter() - started


def pipeline_call(assets: list) -> float:
    """Seconds for run_detection on the first asset; with a batch size > 1 it claims the others."""
    from tagging.pipeline import run_detection

    started = time.perf_counter()
    outcomes = run_detection(asset_id=str(assets[0].pk), task_id=f"bench-{assets[0].pk}")
    elapsed = time.perf_counter() - started
    tagged = {outcome.asset_id for outcome in outcomes if outcome.status == "tagged"}
    if tagged != {str(asset.pk) for asset in assets}:
        raise RuntimeError(f"expected {len(assets)} assets tagged in one call, got {len(tagged)}")
    return elapsed


def interleaved_round(detector, tensors: list, assets: list, batch: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Images/s of the raw model and of the pipeline, alternating batch by batch on the same images,
    so that load from other processes falls on both alike."""
    raw_seconds = pipeline_seconds = 0.0
    for start in range(0, len(tensors), batch):
        raw_seconds += raw_forward(detector, tensors[start: start + batch])
        pipeline_seconds += pipeline_call(assets[start: start + batch])
    return len(tensors) / raw_seconds, len(assets) / pipeline_seconds


def time_pipeline(assets: list) -> None:
    for asset in assets:
        pipeline_call([asset])


def private_mb() -> int:
    """Memory only this process holds (not shared libraries' pages): what each extra worker costs."""
    fields = {}
    with open("/proc/self/smaps_rollup") as rollup:
        for line in rollup:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])
    return (fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)) // 1024


def memory_probe(args: argparse.Namespace) -> None:
    """What one worker process holds: Django, the model, and the pipeline over a few photos."""
    photos = make_photos(min(args.images, 8), tuple(int(v) for v in args.size.split("x")))
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(args.database_url, Path(tmp), args.model, args.device)
        from tagging.model_cache import get_detector

        get_detector()
        loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        time_pipeline(create_assets(photos, "memory"))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        private = private_mb()
    print(json.dumps({"after_load_mb": round(loaded), "peak_mb": round(peak), "private_mb": private}))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_probe:
        memory_probe(args)
        return 0
    size = tuple(int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        # Django first (settings give the weights folder), then decide the model and reload config.
        setup_django(args.database_url, workdir / "var", "", args.device)
        model, weights_note = resolve_model(args.model, args.device, workdir)
        from django.conf import settings

        settings.TAGGING_MODEL = model
        import torch

        from tagging.model_cache import batch_size_for, get_detector

        detector = get_detector()
        batch = args.batch or batch_size_for(detector)
        settings.TAGGING_BATCH_SIZE = batch
        photos = make_photos(args.images, size)
        tensors = prepare_tensors(detector, photos)
        raw_forward(detector, tensors[:batch])  # warm-up
        raw_rates, pipeline_rates = [], []
        for round_index in range(args.repeats):
            # Assets are created before the round, so thumbnails and uploads are not timed.
            raw_rate, pipeline_rate = interleaved_round(
                detector, tensors, create_assets(photos, f"r{round_index}"), batch
            )
            raw_rates.append(raw_rate)
            pipeline_rates.append(pipeline_rate)
        memory_args = [sys.executable, __file__, "--memory-probe", "--model", model, "--device", args.device,
                       "--size", args.size, "--images", str(args.images)]
        if args.database_url:
            memory_args += ["--database-url", args.database_url]
        probe = subprocess.run(memory_args, capture_output=True, text=True, check=True)
        memory = json.loads(probe.stdout.strip().splitlines()[-1])

    raw, pipeline = statistics.median(raw_rates), statistics.median(pipeline_rates)
    # Each round's ratio compares raw and pipeline under the same load; the median of those is
    # steadier on a shared machine than a ratio of medians.
    round_ratios = [p / r for p, r in zip(pipeline_rates, raw_rates, strict=True)]
    ratio = statistics.median(round_ratios)
    figures = {
        "model": detector.model_name,
        "weights": weights_note,
        "device": str(detector.device),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if detector.device.type == "cuda" else None,
        "photo_size": args.size,
        "images": args.images,
        "batch": batch,
        "raw_images_per_s": round(raw, 3),
        "pipeline_images_per_s": round(pipeline, 3),
        "pipeline_over_raw": round(ratio, 3),
        "round_ratios": [round(r, 3) for r in round_ratios],
        "raw_rounds": [round(r, 3) for r in raw_rates],
        "pipeline_rounds": [round(r, 3) for r in pipeline_rates],
        "worker_rss_after_load_mb": memory["after_load_mb"],
        "worker_peak_rss_mb": memory["peak_mb"],
        "worker_private_mb": memory["private_mb"],
    }
    target = 0.85 if detector.device.type == "cuda" else 0.90
    print(f"model      {figures['model']} ({weights_note}) on {figures['device']}"
          f"{' ' + figures['gpu'] if figures['gpu'] else ''}, {figures['torch_threads']} torch threads")
    print(f"images     {args.images} photos of {args.size}, batch {batch}, {args.repeats} rounds "
          "(raw and pipeline alternate batch by batch)")
    print(f"raw model  {raw:8.2f} images/s   rounds {figures['raw_rounds']}")
    print(f"pipeline   {pipeline:8.2f} images/s   rounds {figures['pipeline_rounds']}")
    print(f"ratio      {ratio:8.1%}   median of rounds {[f'{r:.1%}' for r in round_ratios]} (target ≥ {target:.0%})")
    print(f"worker RSS {memory['after_load_mb']} MB after loading the model, peak {memory['peak_mb']} MB "
          f"(target < 1500 MB on CPU); private to the process {memory['private_mb']} MB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
