"""The site's JSON(P) endpoints: unwrapping, UPS play info, and shared reply checks.

Parsing here is pure (``unwrap_jsonp``, ``parse_play_info``); the small checkers
(``_obj``, ``_list``, ``_int``) are shared with ``comments.py``, the comment API.
API refusals become ``TokenRejected`` (re-obtain the token), bodies that do not parse
become ``MalformedResponse``, and videos that cannot play become ``VideoUnavailable``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import MalformedResponse, TokenRejected, VideoUnavailable
from .models import PlayInfo, SegmentRef

__all__ = [
    "parse_play_info",
    "unwrap_jsonp",
]

# --- JSON(P) ----------------------------------------------------------------------

# What may precede the JSON value: `/**/`, `try{`, `typeof cb === 'function' && `, `cb(`.
_JSONP_HEAD = re.compile(
    r"""\s*(?:/\*.*?\*/\s*)?(?:try\s*\{\s*)?
        (?:typeof\s+[\w$.]+\s*===?\s*(['"])function\1\s*&&\s*)?
        [A-Za-z_$][\w$.]*\s*\(\s*""",
    re.VERBOSE | re.DOTALL,
)
# What may follow it: `)`, `;`, `}catch(e){}`.
_JSONP_TAIL = re.compile(r"\s*\)\s*;?\s*(?:\}\s*catch\s*\(\s*[\w$]*\s*\)\s*\{[^}]*\}\s*;?\s*)?")
_DECODER = json.JSONDecoder()


def unwrap_jsonp(text: str) -> Any:
    """Parse plain JSON or a JSONP call such as ``/**/ cb({...});``; ``MalformedResponse`` else."""
    body = text.lstrip("\ufeff").strip()
    if not body:
        raise MalformedResponse("empty body")
    if body[0] in "{[":
        return _decode(body, 0, tail=None)
    head = _JSONP_HEAD.match(body)
    if head is None:
        raise MalformedResponse(f"neither JSON nor JSONP: starts {body[:40]!r}")
    return _decode(body, head.end(), tail=_JSONP_TAIL)


def _decode(body: str, start: int, *, tail: re.Pattern[str] | None) -> Any:
    try:
        value, end = _DECODER.raw_decode(body, start)
    except json.JSONDecodeError as exc:
        raise MalformedResponse(f"bad JSON at char {exc.pos}: {exc.msg}") from exc
    rest = body[end:]
    if (tail.fullmatch(rest) is None) if tail else rest.strip():
        raise MalformedResponse(f"unexpected text after JSON: {rest[:40]!r}")
    return value


def _load(body: str | Any) -> Any:
    return unwrap_jsonp(body) if isinstance(body, str) else body


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedResponse(f"{what}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedResponse(f"{what}: expected an array, got {type(value).__name__}")
    return value


def _int(value: Any, what: str, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    try:
        return int(float(value)) if isinstance(value, str) else int(value)
    except (TypeError, ValueError) as exc:
        raise MalformedResponse(f"{what}: expected a number, got {value!r}") from exc


# --- UPS play info ------------------------------------------------------------------

_VIDEO_EXTRA = ("title", "userid", "username", "encodeid", "logo", "tags", "category_id")
_STREAM_EXTRA = ("width", "height", "size")


def parse_play_info(body: str | Any, *, streams: tuple[str, ...] = ("mp4sd",)) -> PlayInfo:
    """Choose the first of ``streams`` (in preference order) from a UPS reply.

    Raises ``TokenRejected`` for -6004/-6005 and ``VideoUnavailable`` for other API
    errors. A reply without a wanted stream is not an error: it is returned with
    ``stream_type=None`` and ``unavailable`` saying what the video has instead.
    """
    data = _obj(_obj(_load(body), "UPS reply").get("data"), "UPS data")
    if (error := data.get("error")) is not None:
        _raise_ups_error(_obj(error, "UPS error"))
    video = _obj(data.get("video", {}), "UPS video")
    seconds = None if video.get("seconds") is None else _int(video["seconds"], "video.seconds")
    extra = {key: video[key] for key in _VIDEO_EXTRA if key in video}
    if "id" in video:
        extra["video_id"] = video["id"]
    candidates = [
        _obj(s, "UPS stream")
        for s in _list(data.get("stream"), "UPS streams")
        if not (isinstance(s, dict) and s.get("channel_type") == "tail")
    ]
    chosen = _choose_stream(candidates, streams)
    if chosen is None:
        has = ", ".join(dict.fromkeys(str(s.get("stream_type")) for s in candidates)) or "none"
        unavailable = f"no {'/'.join(streams)} stream (has: {has})"
        return PlayInfo(stream_type=None, unavailable=unavailable, seconds=seconds, extra=extra)
    extra.update({f"stream_{k}": chosen[k] for k in _STREAM_EXTRA if k in chosen})
    segs = _list(chosen.get("segs"), "UPS segs")
    return PlayInfo(
        stream_type=str(chosen["stream_type"]),
        segments=tuple(_segment(i, _obj(s, "UPS seg")) for i, s in enumerate(segs)),
        seconds=seconds,
        extra=extra,
    )


def _raise_ups_error(error: dict[str, Any]) -> None:
    code = _int(error.get("code"), "error.code", default=0)
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
        size=_int(seg.get("size"), "seg.size"),
        url=seg.get("cdn_url") or None,
        fileid=seg.get("fileid") or None,
    )
