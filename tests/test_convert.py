from __future__ import annotations

import pytest

from scraper.site.convert import (
    CONVERTER_NAMES,
    absolutize,
    converter,
    count_step,
    parse_count,
    parse_duration,
    parse_int,
    parse_strip,
    parse_text,
    parse_url,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("378", 378),
        ("0", 0),
        ("1,322", 1322),
        ("12,345,678", 12345678),
        ("2.2万", 22000),
        ("104万", 1040000),
        ("1.05万", 10500),
        ("3.5亿", 350000000),
        ("1.2345亿", 123450000),
        (" 2.2万 ", 22000),
        ("\n\t1,322\u00a0", 1322),
        ("2.2 万", 22000),
        ("10万+", 100000),
        ("2.2w", 22000),
        ("1.23456万", 12346),  # rounded half up, never a float artefact
    ],
)
def test_parse_count(text: str, expected: int) -> None:
    assert parse_count(text) == expected


@pytest.mark.parametrize(("text", "step"), [
    ("378", 1), ("1,322", 1), ("4.1万", 1000), ("50.3万", 1000), ("104万", 10_000),
    ("1.05万", 100), ("1.2亿", 10_000_000), ("3亿", 100_000_000), ("10万+", 10_000),
    ("2.2k", 100), ("abc", None), ("", None),
])
def test_count_step_is_the_resolution_of_the_shown_count(text: str, step: int | None) -> None:
    assert count_step(text) == step


@pytest.mark.parametrize("text", ["", "  ", "abc", "万", "1.2.3万", "-5", "2.2万万", "1e5", "--"])
def test_parse_count_invalid_is_none(text: str) -> None:
    assert parse_count(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("00:41", 41), ("01:05", 65), ("12:05", 725), ("1:02:03", 3723), (" 00:00 ", 0),
     ("41", 41), ("10:00:00", 36000)],
)
def test_parse_duration(text: str, expected: int) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1:60", "1:02:60", "a:bc", "1:2:3:4", "1:", "-1:00", "１:00"])
def test_parse_duration_invalid_is_none(text: str) -> None:
    assert parse_duration(text) is None


def test_parse_int() -> None:
    assert parse_int(" 7\n") == 7
    assert parse_int("67") == 67
    assert parse_int("7.5") is None
    assert parse_int("") is None


def test_text_and_strip() -> None:
    assert parse_text("  a  b \n") == "a  b"
    assert parse_strip("\n    央视新闻\n") == "央视新闻"
    assert parse_strip(" a \n  b ") == "a b"
    assert parse_text(" \n ") is None
    assert parse_strip("") is None


@pytest.mark.parametrize(
    ("url", "scheme", "base", "expected"),
    [
        ("//v.youku.test/v_show/id_X==.html", "http", None, "http://v.youku.test/v_show/id_X==.html"),
        ("//v.youku.com/v_show/id_X==.html", "https", None, "https://v.youku.com/v_show/id_X==.html"),
        ("https://a.test/x", "http", None, "https://a.test/x"),
        ("/index/jrrm", "http", None, "/index/jrrm"),
        ("/index/jrrm", "http", "http://news.youku.test/index/x", "http://news.youku.test/index/jrrm"),
        ("  //a.test/p  ", "http", None, "http://a.test/p"),
    ],
)
def test_absolutize(url: str, scheme: str, base: str | None, expected: str) -> None:
    assert absolutize(url, scheme, base=base) == expected


def test_parse_url_rejects_non_links() -> None:
    assert parse_url("javascript:void(0);", scheme="http") is None
    assert parse_url("#", scheme="http") is None
    assert parse_url("  ", scheme="http") is None
    assert parse_url("//i.youku.test/i/U1==", scheme="http") == "http://i.youku.test/i/U1=="


def test_converter_registry() -> None:
    assert CONVERTER_NAMES == {"text", "strip", "int", "count", "duration", "url",
                               "bool_present"}
    assert converter("count", scheme="http")("2.2万") == 22000
    assert converter("url", scheme="https")("//x.test/a") == "https://x.test/a"
    assert converter("url", scheme="http", base_url="http://h.test/a/b")("c") == "http://h.test/a/c"
    with pytest.raises(KeyError):
        converter("money", scheme="http")
