"""Web-playable proxies of videos that browsers cannot play as uploaded (HEVC, MPEG-4 Part 2, ProRes,
anything in MOV or MKV).

Browsers play H.264, VP8, VP9 and AV1 in MP4 or WebM; such originals are played as they are. Others
get a proxy: H.264 (libx264, ``veryfast``, CRF 23, yuv420p, High profile) in MP4 with the index at the
front (``faststart``, so playback starts before the whole file arrives), AAC audio when the original
has sound, the longest side capped at ``VIDEO_PROXY_MAX_SIDE``, upright (the rotation applied to the
pixels). H.264 because every current browser plays it and PyAV's bundled FFmpeg has libx264 (VP9 and
AV1 encoders are there too, but older Safari does not play them). An FFmpeg build without libx264
falls back to VP9 (libvpx-vp9) with Opus in WebM.

The proxy is encoded to a temporary file under ``VAR_DIR/tmp`` (MP4's faststart rewrites the file
after encoding, so it cannot be streamed as it is written), then handed to Django's storage API,
which copies it in chunks. No Django imports: callers pass the paths and limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

import av
import av.error
from av.video.frame import VideoFrame

from media.video import VideoRejected, error_text, frame_rotation, open_video, stream_start_pts, turn_upright

WEB_CONTAINERS = {"MP4", "WEBM"}
WEB_CODECS = {"h264", "vp8", "vp9", "av1"}


@dataclass(frozen=True)
class ProxyFormat:
    video_codec: str
    audio_codec: str
    container: str  # FFmpeg muxer
    extension: str
    mime_type: str
    options: dict[str, str]
    container_options: dict[str, str]


H264_MP4 = ProxyFormat(
    "libx264", "aac", "mp4", "mp4", "video/mp4",
    {"preset": "veryfast", "crf": "23", "profile": "high"}, {"movflags": "+faststart"},
)
VP9_WEBM = ProxyFormat(
    "libvpx-vp9", "libopus", "webm", "webm", "video/webm",
    {"crf": "33", "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}, {},
)


def needs_proxy(*, container: str, codec: str) -> bool:
    """Whether browsers may fail to play this original (``container`` as Asset.format, e.g. ``MP4``)."""
    return container.upper() not in WEB_CONTAINERS or codec.lower() not in WEB_CODECS


def proxy_format() -> ProxyFormat:
    """H.264/MP4 when this FFmpeg build can encode it, else VP9/WebM."""
    available = av.codecs_available
    if H264_MP4.video_codec in available:
        return H264_MP4
    if VP9_WEBM.video_codec in available:
        return VP9_WEBM
    raise RuntimeError("This FFmpeg build has neither libx264 nor libvpx-vp9: no web-playable proxy can be made.")


def proxy_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Upright size within ``max_side``, both sides even (4:2:0 chroma needs it)."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _scaled(frame: VideoFrame, size: tuple[int, int], rotation: int) -> VideoFrame:
    width, height = size
    if rotation == 0:
        return frame.reformat(width=width, height=height, format="yuv420p", interpolation="AREA")
    # Rare (phone portrait clips): turn the pixels, since not every player honours MP4's display matrix.
    coded = (height, width) if rotation in (90, 270) else (width, height)
    image = turn_upright(frame.to_image(width=coded[0], height=coded[1], interpolation="AREA"), rotation)
    return VideoFrame.from_image(image).reformat(format="yuv420p")


def make_proxy(source: IO[bytes], target: str, *, max_side: int, max_pixels: int) -> ProxyFormat:
    """Transcode the video in ``source`` into the new local file ``target`` (a temporary path: MP4's
    faststart reopens the file by name to move the index to the front).

    Frames keep their timestamps, so the proxy lasts as long as the original. Raises VideoRejected
    when the original cannot be read.
    """
    fmt = proxy_format()
    with open_video(source, max_pixels=max_pixels) as (container, stream):
        audio_in = next(iter(container.streams.audio), None)
        first = None
        rotation = 0
        size = (0, 0)
        with av.open(target, mode="w", format=fmt.container, options=fmt.container_options) as output:
            video_out = None
            audio_out = None
            streams = [stream] + ([audio_in] if audio_in is not None else [])
            start = stream_start_pts(stream)
            try:
                for packet in container.demux(streams):
                    if packet.stream is audio_in:
                        if audio_out is None:
                            audio_out = output.add_stream(fmt.audio_codec, rate=audio_in.rate or 48000)
                        for audio_frame in packet.decode():
                            audio_frame.pts = None  # the encoder numbers samples itself
                            for encoded in audio_out.encode(audio_frame):
                                output.mux(encoded)
                        continue
                    for frame in packet.decode():
                        if frame.pts is None:
                            continue
                        if video_out is None:
                            first = frame
                            rotation = frame_rotation(frame)
                            upright = (frame.height, frame.width) if rotation in (90, 270) else (frame.width,
                                                                                                frame.height)
                            size = proxy_size(*upright, max_side)
                            video_out = output.add_stream(fmt.video_codec, rate=stream.average_rate or 30)
                            video_out.width, video_out.height = size
                            video_out.pix_fmt = "yuv420p"
                            video_out.time_base = stream.time_base
                            video_out.codec_context.time_base = stream.time_base
                            video_out.options = fmt.options
                        scaled = _scaled(frame, size, rotation)
                        scaled.pts = frame.pts - start
                        scaled.time_base = stream.time_base
                        for encoded in video_out.encode(scaled):
                            output.mux(encoded)
            except (av.error.FFmpegError, ValueError) as error:
                if first is None:
                    raise VideoRejected("corrupt_video", f"The video could not be decoded ({error_text(error)}).",
                                        status=400) from None
                # A damaged tail: the proxy keeps what could be decoded, as a player would.
            if video_out is None:
                raise VideoRejected("no_frames", "The video has no frame that could be decoded.", status=400)
            for encoded in video_out.encode():
                output.mux(encoded)
            if audio_out is not None:
                for encoded in audio_out.encode():
                    output.mux(encoded)
    return fmt
