"""Video tagging throughput and memory: detect_video on a file vs the raw detector on the same frames.

    .venv/bin/python bench/video.py                          # 10 s of 1080p30 H.264, mobilenet on the CPU
    .venv/bin/python bench/video.py --model tests/fixtures/shapes_detector.pt --seconds 10

Raw detector: the sampled frames, already decoded and scaled to the model's input size, passed to
``Detector.detect`` (tensor conversion, forward pass, post-processing); only that is timed. Whole
path: ``tagging.video.detect_video`` on the encoded file (demux, decode, scene-cut thumbnails, RGB
conversion of the sampled frames, detection, tracking). The ratio is path speed / raw speed, by
this process's CPU time (steady on a shared machine) and by wall time.

Proxy (``--proxy-seconds``): time to transcode an HEVC 1080p clip into the web-playable H.264 proxy
(``media.video_proxy.make_proxy``), in wall and CPU seconds (encoder threads included).

Memory: resident memory of a fresh process after loading the model, and its peak while tagging a
short and a long clip (each in its own process); bounded memory means the two peaks are close.

Clips are synthetic 1080p: moving shapes over a gradient with sensor-like noise (so the encoder
cannot make decoding trivially cheap), H.264 at about 8 Mbit/s with a keyframe every second, as
phones write.

Without downloadable COCO weights (this machine is offline) the builder's architecture runs with
random weights: the computation per frame is the same, which is what is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="fasterrcnn_mobilenet_v3_large_fpn", help="builder name or checkpoint")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length for the throughput figures")
    parser.add_argument("--long-seconds", type=float, default=40.0, help="long clip for the memory figure (0: skip)")
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--sample-fps", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: all cores)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating raw/path rounds; the best of each counts")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--proxy-seconds", type=float, default=0.0,
                        help="also time the web-playable proxy of an HEVC clip this long (0: skip)")
    parser.add_argument("--proxy-only", action="store_true", help="only the proxy figure")
    parser.add_argument("--memory-probe", nargs=2, metavar=("MODEL", "CLIP"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def make_clip(path: Path, *, seconds: float, size: tuple[int, int], fps: int) -> None:
    import av
    import numpy as np

    from testkit.clips import Clip, MovingShape

    width, height = size
    scale = height / 320
    clip = Clip(
        shapes=(
            MovingShape("circle", 0.0, 1e9, (120 * scale, 100 * scale), (40 * scale, 3 * scale), int(96 * scale)),
            MovingShape("square", 1.3, 1e9, (400 * scale, 230 * scale), (-30 * scale, -4 * scale), int(96 * scale),
                        (30, 90, 200)),
        ),
        width=width, height=height, fps=fps, duration=seconds,
    )
    rng = np.random.default_rng(1)
    noise = [rng.normal(0, 6, (height, width, 3)).astype(np.int16) for _ in range(8)]  # with CRF 23: ~8 Mbit/s
    with av.open(str(path), "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23", "g": str(fps)}
        for index in range(clip.frame_count):
            # Shapes wrap around so they stay on screen in long clips.
            pixels = clip.frame(index % (fps * 10)).astype(np.int16) + noise[index % len(noise)]
            frame = av.VideoFrame.from_ndarray(np.clip(pixels, 0, 255).astype(np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)


def resolve_model(requested: str, workdir: Path) -> tuple[str, str]:
    import torch

    from tagging.detector import build_architecture, coco_weights_for, is_checkpoint_path, save_checkpoint

    if is_checkpoint_path(requested):
        return requested, "checkpoint"
    torch.manual_seed(0)
    categories = list(coco_weights_for(requested).meta["categories"])
    stand_in = workdir / f"{requested}-random.pt"
    save_checkpoint(stand_in, model=build_architecture(requested, num_classes=len(categories)),
                    architecture=requested, categories=categories, half=False)
    return str(stand_in), "random weights, same architecture (COCO weights not downloadable here)"


def load(model: str, device: str, threads: int):  # type: ignore[no-untyped-def]
    import torch

    from tagging.detector import DetectorConfig, load_detector

    if threads:
        torch.set_num_threads(threads)
    return load_detector(DetectorConfig(model=model, device=device, score_threshold=0.5))


def throughput(detector, clip: Path, *, sample_fps: float, batch: int, repeats: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from media.video_frames import SamplingStats, sample_frames
    from tagging.video import detect_video

    stats = SamplingStats()
    with open(clip, "rb") as handle:
        samples = list(sample_frames(handle, fps=sample_fps, max_pixels=10**9, size_for=detector.input_size_for,
                                     stats=stats))
    detector.detect([samples[0].image], original_sizes=[samples[0].original_size])  # warm-up
    raw_wall = path_wall = raw_cpu = path_cpu = float("inf")
    for _ in range(repeats):  # alternating, so a busy spell on a shared machine hits both sides
        wall, cpu = time.perf_counter(), time.process_time()
        for first in range(0, len(samples), batch):
            chunk = samples[first: first + batch]
            detector.detect([s.image for s in chunk], original_sizes=[s.original_size for s in chunk])
        raw_wall, raw_cpu = min(raw_wall, time.perf_counter() - wall), min(raw_cpu, time.process_time() - cpu)
        with open(clip, "rb") as handle:
            wall, cpu = time.perf_counter(), time.process_time()
            result = detect_video(detector, handle, sample_fps=sample_fps, batch_size=batch)
            path_wall, path_cpu = min(path_wall, time.perf_counter() - wall), min(path_cpu, time.process_time() - cpu)
    return {
        "samples": len(samples),
        "frames_decoded": stats.decoded,
        "raw_fps": len(samples) / raw_wall,
        "path_fps": result.samples / path_wall,
        "ratio_wall": raw_wall / path_wall,
        # CPU seconds of this process (all threads): what the work costs, whatever else the machine runs.
        "raw_cpu_per_frame": raw_cpu / len(samples),
        "path_cpu_per_frame": path_cpu / result.samples,
        "ratio_cpu": raw_cpu / path_cpu,
        "decode_seconds": result.decode_seconds,
        "detect_seconds": result.detect_seconds,
        "tracks": len(result.tracks),
    }


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def memory_probe(model: str, clip: str, device: str, sample_fps: float, batch: int) -> None:
    """Resident memory after loading the model, and its peak while the video is tagged (sampled every 20 ms:
    ru_maxrss would only show the model-loading peak, which is higher)."""
    import threading

    from tagging.video import detect_video

    detector = load(model, device, 0)
    loaded = _rss_mb()
    peak = loaded
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, _rss_mb())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with open(clip, "rb") as handle:
        result = detect_video(detector, handle, sample_fps=sample_fps, batch_size=batch)
    done.set()
    watcher.join()
    print(json.dumps({"loaded_mb": loaded, "peak_mb": max(peak, _rss_mb()), "samples": result.samples}))


def proxy_figures(work: Path, *, seconds: float, size: tuple[int, int], fps: int) -> dict[str, float]:
    """Transcode time of ``media.video_proxy.make_proxy`` (H.264, longest side 1280) for an HEVC clip."""
    import av

    from media.video_proxy import make_proxy

    source, hevc = work / "proxy-source.mp4", work / "proxy-hevc.mp4"
    make_clip(source, seconds=seconds, size=size, fps=fps)
    with av.open(str(source)) as inp, av.open(str(hevc), "w", format="mp4") as out:  # same pictures, as HEVC
        stream = out.add_stream("libx265", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23", "x265-params": "log-level=error"}
        for index, frame in enumerate(inp.decode(video=0)):
            frame.pts, frame.time_base = index, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    wall, cpu = time.perf_counter(), time.process_time()
    with open(hevc, "rb") as handle:
        make_proxy(handle, str(work / "proxy.mp4"), max_side=1280, max_pixels=10**9)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"seconds": seconds, "wall": wall, "cpu": cpu, "hevc_mb": hevc.stat().st_size / 1e6,
            "proxy_mb": (work / "proxy.mp4").stat().st_size / 1e6}


def main() -> None:
    args = parse_args()
    if args.memory_probe:
        memory_probe(*args.memory_probe, args.device, args.sample_fps, args.batch)
        return
    size = tuple(int(part) for part in args.size.split("x"))
    if args.proxy_seconds:
        with tempfile.TemporaryDirectory() as folder:
            proxy = proxy_figures(Path(folder), seconds=args.proxy_seconds, size=size, fps=args.fps)  # type: ignore[arg-type]
        print(f"proxy: {proxy['seconds']:g} s of {args.size} HEVC ({proxy['hevc_mb']:.1f} MB) -> H.264 1280 px "
              f"({proxy['proxy_mb']:.1f} MB) in {proxy['wall']:.1f} s wall, {proxy['cpu']:.1f} CPU s "
              f"({proxy['cpu'] / proxy['seconds']:.2f} CPU s per second of video), {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.2f}")
        if args.proxy_only:
            return
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        model, weights_note = resolve_model(args.model, work)
        clip = work / "clip.mp4"
        started = time.perf_counter()
        make_clip(clip, seconds=args.seconds, size=size, fps=args.fps)  # type: ignore[arg-type]
        print(f"clip: {args.seconds:g} s of {args.size} at {args.fps} fps, {clip.stat().st_size / 1e6:.1f} MB "
              f"(made in {time.perf_counter() - started:.0f} s); model {args.model} ({weights_note}) on {args.device}, "
              f"sampling {args.sample_fps:g}/s, batch {args.batch}, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.2f}")
        detector = load(model, args.device, args.threads)
        figures = throughput(detector, clip, sample_fps=args.sample_fps, batch=args.batch, repeats=args.repeats)
        print(f"raw detector: {figures['raw_fps']:.2f} frames/s, {figures['raw_cpu_per_frame']:.2f} CPU s/frame; "
              f"whole video path: {figures['path_fps']:.2f} frames/s, {figures['path_cpu_per_frame']:.2f} CPU s/frame; "
              f"path/raw: {figures['ratio_cpu'] * 100:.1f} % by CPU time, {figures['ratio_wall'] * 100:.1f} % by wall "
              f"time ({figures['samples']} samples, {figures['frames_decoded']} frames decoded; last round: decode "
              f"{figures['decode_seconds']:.1f} s, detect {figures['detect_seconds']:.1f} s)")
        del detector
        if args.long_seconds:
            long_clip = work / "long.mp4"
            make_clip(long_clip, seconds=args.long_seconds, size=size, fps=args.fps)  # type: ignore[arg-type]
            peaks = {}
            for name, path in (("short", clip), ("long", long_clip)):
                output = subprocess.run(
                    [sys.executable, __file__, "--memory-probe", model, str(path), "--device", args.device,
                     "--sample-fps", str(args.sample_fps), "--batch", str(args.batch)],
                    check=True, capture_output=True, text=True,
                ).stdout.strip().splitlines()[-1]
                peaks[name] = json.loads(output)
            figures["memory"] = peaks
            print(f"RSS while tagging: peak {peaks['short']['peak_mb']:.0f} MB for {args.seconds:g} s, "
                  f"{peaks['long']['peak_mb']:.0f} MB for {args.long_seconds:g} s "
                  f"(after loading the model: {peaks['short']['loaded_mb']:.0f} / {peaks['long']['loaded_mb']:.0f} MB)")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
