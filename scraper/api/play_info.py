"""The UPS play-info API: which stream and segments a reply offers.

Parsing here is pure. API refusals become ``TokenRejected`` (re-obtain the token),
bodies that do not parse become ``MalformedResponse``, and videos that cannot play
become ``VideoUnavailable``.
"""

from __future__ import annotations

from typing import Any

from ..errors import TokenRejected, VideoUnavailable
from ..models import PlayInfo, SegmentRef
from .jsonp import as_int, as_list, as_object, load_body

__all__ = ["parse_play_info"]

# --- UPS play info ------------------------------------------------------------------

_VIDEO_EXTRA = ("title", "userid", "username", "encodeid", "logo", "tags", "category_id")
_STREAM_EXTRA = ("width", "height", "size")


def parse_play_info(body: str | Any, *, streams: tuple[str, ...] = ("mp4sd",)) -> PlayInfo:
    """Choose the first of ``streams`` (in preference order) from a UPS reply.

    Raises ``TokenRejected`` for -6004/-6005 and ``VideoUnavailable`` for other API
    errors. A reply without a wanted stream is not an error: it is returned with
    ``stream_type=None`` and ``unavailable`` saying what the video has instead.
    """
    data = as_object(as_object(load_body(body), "UPS reply").get("data"), "UPS data")
    if (error := data.get("error")) is not None:
        _raise_ups_error(as_object(error, "UPS error"))
    video = as_object(data.get("video", {}), "UPS video")
    seconds = None if video.get("seconds") is None else as_int(video["seconds"], "video.seconds")
    extra = {key: video[key] for key in _VIDEO_EXTRA if key in video}
    if "id" in video:
        extra["video_id"] = video["id"]
    candidates = [
        as_object(s, "UPS stream")
        for s in as_list(data.get("stream"), "UPS streams")
        if not (isinstance(s, dict) and s.get("channel_type") == "tail")
    ]
    chosen = _choose_stream(candidates, streams)
    if chosen is None:
        has = ", ".join(dict.fromkeys(str(s.get("stream_type")) for s in candidates)) or "none"
        unavailable = f"no {'/'.join(streams)} stream (has: {has})"
        return PlayInfo(stream_type=None, unavailable=unavailable, seconds=seconds, extra=extra)
    extra.update({f"stream_{k}": chosen[k] for k in _STREAM_EXTRA if k in chosen})
    segs = as_list(chosen.get("segs"), "UPS segs")
    return PlayInfo(
        stream_type=str(chosen["stream_type"]),
        segments=tuple(_segment(i, as_object(s, "UPS seg")) for i, s in enumerate(segs)),
        seconds=seconds,
        extra=extra,
    )


def _raise_ups_error(error: dict[str, Any]) -> None:
    code = as_int(error.get("code"), "error.code", default=0)
    note = str(error.get("note") or "")
    if code in (-6004, -6005):
        raise TokenRejected(f"UPS refused the token ({code}: {note})")
    if code == -6001:
        raise VideoUnavailable("unknown video")
    if "私密" in note:
        raise VideoUnavailable(f"private: {note}")
    if "版权" in note:
        raise VideoUnavailable(f"blocked: {note}")
    raise VideoUnavailable(f"UPS error {code}: {note}")


def _choose_stream(
    candidates: list[dict[str, Any]], wanted: tuple[str, ...]
) -> dict[str, Any] | None:
    for stream_type in wanted:
        for stream in candidates:
            if stream.get("stream_type") == stream_type:
                return stream
    return None


def _segment(index: int, seg: dict[str, Any]) -> SegmentRef:
    return SegmentRef(
        index=index,
        size=as_int(seg.get("size"), "seg.size"),
        url=seg.get("cdn_url") or None,
        fileid=seg.get("fileid") or None,
    )
