"""The pages ``test_relocate.py`` repairs selectors on, built from seeded fake videos.

The 2018 layout (site-spec §2, §3) and a redesign of the same data: the redesign renames
every class and id the 2018 selectors use, reorders the cards' children, changes tags,
moves values between attribute and text, adds an ad card of the same class and a banner
repeating a card's title, and puts decoys on video pages. ``Video`` holds the data a page
came from, so a test can compare what it extracts field by field.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from html import escape
from typing import Any

from scraper.site.convert import parse_count, parse_duration

__all__ = [
    "MOD",
    "PAGES",
    "PER_PAGE",
    "Video",
    "catalogue_2018",
    "catalogue_new",
    "page_href",
    "page_videos",
    "video",
    "video_2018",
    "video_new",
]

MOD, PAGES, PER_PAGE = 225659, 12, 15
WORDS = ("男子", "深夜", "街头", "监控", "拍下", "台风", "登陆", "大国重器", "首次", "亮相",
         "军事", "演习", "暴雨", "救援", "民警", "高速", "车祸", "全过程", "现场", "曝光")
CHANNELS = ("新华社", "央视新闻", "人民日报", "澎湃新闻", "梨视频", "看看新闻")
TAGS = ("社会", "军事", "科技", "国际", None)

# --- the data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Video:
    n: int
    vid: str
    title: str
    thumb: str
    duration: str
    plays: str
    comments: str
    channel: str
    uid: str
    tag: str | None

    @property
    def href(self) -> str:
        return f"//v.youku.test/v_show/id_{self.vid}==.html"

    def card_known(self) -> dict[str, Any]:
        return {"vid": self.vid, "url": "http:" + self.href, "title": self.title,
                "thumb_url": f"http://vthumb.ykimg.test/{self.thumb}",
                "duration_text": self.duration, "duration_s": parse_duration(self.duration),
                "stat_play_text": self.plays, "stat_play": parse_count(self.plays),
                "stat_cmt_text": self.comments, "stat_cmt": parse_count(self.comments)}

    def page_known(self) -> dict[str, Any]:
        return {"subtitle": self.title, "channel_name": self.channel,
                "channel_link": f"http://i.youku.test/i/{self.uid}==",
                "category": self.tag or "未分类", "stat_play_text": self.plays,
                "stat_play": parse_count(self.plays)}


def _count(rng: random.Random) -> str:
    value = rng.choice([rng.randrange(0, 1000), rng.randrange(1000, 10000),
                        rng.randrange(10000, 2_000_000)])
    return f"{value / 10000:.1f}万".replace(".0万", "万") if value >= 10000 else f"{value:,}"


def video(n: int) -> Video:
    rng = random.Random(n)
    numeric = 400_000_000 + n * 7919
    seconds = rng.choice([rng.randrange(20, 600), rng.randrange(600, 3600),
                          rng.randrange(3600, 7200)])
    minutes, secs = divmod(seconds, 60)
    duration = (f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60
                else f"{minutes:02d}:{secs:02d}")
    plays = _count(rng)
    # Some cards show the same figure twice: play and comment fields must not swap.
    comments = plays if n % 6 == 0 else _count(rng)
    return Video(n=n, vid="X" + base64.b64encode(str(numeric * 4).encode()).decode().rstrip("="),
                 title="".join(rng.sample(WORDS, 5)) + f" 第{n}期",
                 thumb=f"{rng.getrandbits(128):032x}", duration=duration, plays=plays,
                 comments=comments, channel=rng.choice(CHANNELS), uid=f"UMT{n:05d}",
                 tag=TAGS[n % len(TAGS)])


def page_videos(page: int) -> list[Video]:
    return [video((page - 1) * PER_PAGE + i) for i in range(PER_PAGE)]


def page_href(n: int) -> str:
    base = "//news.youku.test/index/jrrm"
    return base if n == 1 else f"{base}/_page{MOD}_{n}_cmodid_{MOD}"


# --- the 2018 layout ---------------------------------------------------------------------


def card_2018(v: Video) -> str:
    t = escape(v.title)
    return (f'<div class="yk-col4"><div class="v">\n<div class="v-thumb">'
            f'<img src="//vthumb.ykimg.test/{v.thumb}" alt="{t}"><div class="v-thumb-tagrb">'
            f'<span class="v-time">{v.duration}</span></div></div>\n<div class="v-link">'
            f'<a href="{v.href}" title="{t}" target="video"></a></div>\n<div class="v-meta va">'
            f'<div class="v-meta-title"><a href="{v.href}" target="video">{t}</a></div>\n'
            f'<div class="v-meta-entry"><i class="ibg ico-statplay" title="播放"></i>'
            f'<span class="v-num">{v.plays}</span><i class="ibg ico-statcomment" title="评论">'
            f'</i><span class="v-num">{v.comments}</span></div></div>\n</div></div>')


def _link_2018(n: int, text: str, title: str = "") -> str:
    attr = f' title="{title}"' if title else ""
    return (f'<a href="{page_href(n)}"{attr} onclick="nova_update(\'m_{MOD}\',this.href);'
            f'return false;">{text}</a>')


def catalogue_2018(page: int) -> str:
    window = range(max(1, page - 3), min(PAGES, max(1, page - 3) + 6) + 1)
    numbers = "".join(f'<span class="current">{n}</span>' if n == page else _link_2018(n, str(n))
                      for n in window)
    prev = (f'<span class="prev">{_link_2018(page - 1, "上一页", "上一页")}</span>'
            if page > 1 else "")
    nxt = (f'<span class="next">{_link_2018(page + 1, "下一页", "下一页")}</span>'
           if page < PAGES else "")
    cards = "\n".join(card_2018(v) for v in page_videos(page))
    return (f'<html><head><title>今日热门</title></head><body><div class="mod mod-new" '
            f'id="m_{MOD}"><div class="h"><h2>今日热门</h2></div><div class="c">'
            f'<div class="yk-row">\n{cards}\n</div><div class="yk-pager"><div class="LPageBar">'
            f'<div class="page_index">{prev}<span class="pages">{numbers}</span>{nxt}'
            f'{_link_2018(PAGES, "末页", "末页")}</div></div></div></div></div></body></html>')


def video_2018(v: Video) -> str:
    t = escape(v.title)
    tag = (f'<span data-sn="tags"><a class="v-tag" href="javascript:;">{v.tag}</a></span>'
           if v.tag else "")
    return (f'<html><head><title>{t} - 优酷</title></head><body><div class="yk-title-box">'
            f'<code id="bpmodule-playpage-lefttitle-code"><div class="base_info">'
            f'<h1 class="title"><span id="subtitle" title="{t}">{t}</span></h1>\n'
            f'<div class="desc"><span id="module_basic_sub"><a href="//i.youku.test/i/{v.uid}=="'
            f' target="_blank"><img src="//vthumb.ykimg.test/{v.thumb}" alt="">\n    {v.channel}'
            f'\n</a><a class="v-sub-btn" href="javascript:void(0);">+订阅</a></span>{tag}'
            f'<span class="play-count">{v.plays}</span></div></div></code></div>'
            f'<div id="player"></div></body></html>')


# --- the redesign ------------------------------------------------------------------------


def card_new(v: Video, spm: str) -> str:
    t = escape(v.title)
    dur = "i" if v.n % 2 else "span"  # an A/B test: the tag varies from card to card
    return (f'<div class="yk-pack yk-pack--video" data-spm="{spm}">\n'
            f'<div class="yk-pack__info"><h4 class="yk-pack__title"><a href="{v.href}" '
            f'target="_blank">{t}</a></h4>\n<ul class="yk-pack__stats">'
            f'<li class="yk-stat"><em class="yk-stat__val" title="评论">{v.comments}</em></li>'
            f'<li class="yk-stat"><em class="yk-stat__val" title="播放" data-count="{v.plays}">'
            f'<i class="yk-icon yk-icon--play"></i></em></li></ul></div>\n'
            f'<div class="yk-pack__cover" data-href="{v.href}" data-vid="{v.vid}">'
            f'<img src="//vthumb.ykimg.test/{v.thumb}" alt="{t}">'
            f'<{dur} class="yk-pack__dur" data-duration="{v.duration}"></{dur}></div>\n</div>')


AD_CARD = ('<div class="yk-pack yk-pack--ad" data-spm="ad"><div class="yk-pack__info">'
           '<h4 class="yk-pack__title"><a href="//ad.youku.test/c?id=7">夏季大促 全场五折</a></h4>'
           '</div><div class="yk-pack__cover" data-href="//ad.youku.test/c?id=7">'
           '<img src="//ad.youku.test/banner.jpg" alt="广告"></div></div>')


def _pager_new(page: int) -> str:
    window = range(max(1, page - 3), min(PAGES, max(1, page - 3) + 6) + 1)
    items = "".join(
        f'<li class="yk-pagination__page is-active"><em>{n}</em></li>' if n == page else
        f'<li class="yk-pagination__page"><a href="{page_href(n)}">{n}</a></li>' for n in window)
    prev = (f'<a class="yk-pagination__btn" href="{page_href(page - 1)}">上一页</a>'
            if page > 1 else "")
    nxt = (f'<a class="yk-pagination__btn" rel="next" href="{page_href(page + 1)}">下一页</a>'
           if page < PAGES else "")
    return (f'<nav class="yk-pagination" aria-label="分页">{prev}<ol class="yk-pagination__pages">'
            f'{items}</ol>{nxt}<a class="yk-pagination__btn" href="{page_href(PAGES)}">末页</a>'
            f'</nav>')


def catalogue_new(page: int) -> str:
    videos = page_videos(page)
    cards = [card_new(v, f"d{i}") for i, v in enumerate(videos)]
    cards.insert(3, AD_CARD)
    first = videos[0]
    banner = (f'<div class="yk-banner"><a class="yk-banner__link" href="{first.href}" '
              f'title="{escape(first.title)}">今日推荐</a></div>' if page == 1 else "")
    return (f'<html><head><meta charset="utf-8"><title>今日热门 - 优酷</title></head><body>'
            f'<div class="yk-topbar"><a class="yk-logo" href="//www.youku.test/">优酷</a></div>'
            f'{banner}<main class="yk-main" id="app"><section class="yk-feed" id="feed-{MOD}" '
            f'data-page="{page}"><h2 class="yk-feed__name">今日热门</h2>'
            f'<div class="yk-feed__grid">\n{chr(10).join(cards)}\n</div>{_pager_new(page)}'
            f'</section></main></body></html>')


def video_new(v: Video, *, views: bool = True) -> str:
    t = escape(v.title)
    others = [video(v.n + k) for k in (101, 202, 303)]
    # A decoy: on every seventh page it shows this video's own channel/views, elsewhere not.
    same = v.n % 7 == 0
    decoy_up = v.channel if same else "热点资讯"
    decoy_views = v.plays if same else others[0].plays
    tag = (f'<span data-sn="tags"><a class="v-tag" href="javascript:;">{v.tag}</a></span>'
           if v.tag else "")
    views_html = (f'<span class="vinfo__views" data-count="{v.plays}" title="播放量">'
                  f'<i class="icon-eye"></i></span>' if views else "")
    recs = "".join(f'<li class="rec-item"><a href="{o.href}" title="{escape(o.title)}">'
                   f'{escape(o.title)}</a><span class="rec-item__views">{o.plays}</span></li>'
                   for o in others)
    return (f'<html><head><title>{t} - 优酷</title></head><body><div class="yk-header">'
            f'<a class="yk-logo" href="//www.youku.test/">优酷</a></div><div class="play-layout">'
            f'<div class="play-main"><div class="player-box" id="ykPlayer"><video></video></div>'
            f'<div class="video-info" data-slot="video-info"><div class="vinfo">'
            f'<h1 class="vinfo__head"><span class="title-text">{t}</span>'
            f'<em class="vinfo__badge">独播</em></h1><div class="vinfo__meta">{views_html}{tag}'
            f'<span class="vinfo__date">2018-05-20</span></div></div></div></div>'
            f'<aside class="play-side"><div class="up-card" data-href="//i.youku.test/i/{v.uid}=="'
            f' data-uid="{v.uid}"><img class="up-card__avatar" src="//vthumb.ykimg.test/'
            f'{v.thumb}" alt=""><p class="up-card__name">\n    {v.channel}\n</p>'
            f'<button class="up-card__follow">订阅</button></div><div class="rec-hd">'
            f'<span class="rec-hd__up">{decoy_up}</span><span class="rec-hd__views">{decoy_views}'
            f'</span></div><ul class="rec-list">{recs}</ul></aside></div></body></html>')
