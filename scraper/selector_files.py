"""Site profiles and versioned selector files: loading, validation, new versions.

Layout (data only, no Python under ``selectors/``)::

    selectors/
      <site>/site.toml                     a site profile: scheme, hosts, URLs, categories
      <set>/pages/<page>/v<N>.toml         selector files; a profile names its <set>

Several profiles may share one selector set (``youku`` and ``youku-replica`` do). A released
``v<N>.toml`` is never edited: a layout change gets a new version recording
``derived_from``, ``created`` and ``reason``, and the extractor tries versions newest first.

Every malformed file raises :class:`SelectorFileError` with one line naming the file, the
key or field, and what is wrong.
"""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import parsel  # noqa: F401  (importing parsel registers has-class() for lxml XPath)
import tomli_w
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from .convert import CONVERTER_NAMES, absolutize
from .errors import ConfigError, SelectorFileError

__all__ = [
    "HOST_ROLES",
    "Category",
    "FieldSpec",
    "SelectorSet",
    "SiteProfile",
    "compile_xpath",
    "default_selectors_dir",
    "list_sites",
    "load_page_dir",
    "load_profile",
    "load_selectors",
    "native_xpath",
    "next_version_path",
    "write_version",
]

HOST_ROLES = ("catalogue", "video", "tracker", "static", "ups", "comments", "thumbs", "channel")
_PROFILE_TABLES = {
    "hosts": HOST_ROLES,
    "api": ("ups", "comments", "comment_app", "comment_page_size", "ccode"),
    "urls": ("catalogue_first", "catalogue_page", "video"),
}
_PROFILE_KEYS = {"name", "selectors", "scheme", "paths", "categories", "media_hosts",
                 *_PROFILE_TABLES}
_CATEGORY_KEYS = {"slug", "module", "label"}
_META_KEYS = {"page", "version", "created", "derived_from", "reason", "items"}
_FIELD_KEYS = {"xpath", "vars", "regex", "convert", "required", "default", "many"}
_VERSION_FILE = re.compile(r"^v(\d+)\.toml$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

# XPath 1.0 functions and node tests, parsel's has-class() and EXSLT regular expressions.
_XPATH_NS = {"re": "http://exslt.org/regular-expressions"}
_XPATH_FUNCTIONS = frozenset(
    "last position count id local-name namespace-uri name string concat starts-with contains "
    "substring-before substring-after substring string-length normalize-space translate "
    "boolean not true false lang number sum floor ceiling round node text comment "
    "processing-instruction has-class re:test re:match re:replace and or div mod".split()
)
_XPATH_LITERAL = re.compile(r"\"[^\"]*\"|'[^']*'")
_XPATH_CALL = re.compile(r"(?<![\w$.-])([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)\s*\(")
_XPATH_VAR = re.compile(r"\$([A-Za-z_][\w.-]*)")
# has-class() is parsel's Python function, called once per node tested: 4-5 times slower
# than the same test in native XPath. The files say has-class("x") (readable, parsel's
# idiom); what is compiled is the native equivalent, for class names given as literals.
_HAS_CLASS = re.compile(
    r"(?P<literal>\"[^\"]*\"|'[^']*')"
    r"|(?<![\w.-])has-class\(\s*(?P<args>(?:\"[^\"\s]+\"|'[^'\s]+')"
    r"(?:\s*,\s*(?:\"[^\"\s]+\"|'[^'\s]+'))*)\s*\)"
)
_PROBE = etree.fromstring("<html><body><div class='x'>1</div></body></html>")


def _fail(path: Path, where: str, reason: str) -> SelectorFileError:
    return SelectorFileError(f"{path}: {where}: {reason}".replace("\n", " "))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SelectorFileError(f"{path}: invalid TOML: {exc}".replace("\n", " ")) from exc
    except OSError as exc:
        raise SelectorFileError(f"{path}: cannot read: {exc.strerror}") from exc


def _get(path: Path, table: Mapping[str, Any], key: str, kind: type | tuple[type, ...],
         *, label: str = "key", prefix: str = "") -> Any:
    where = f"{label} '{prefix}{key}'"
    if key not in table:
        raise _fail(path, where, "missing")
    value = table[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _fail(path, where, f"expected {_kind_name(kind)}, got {value!r}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({str: "a string", int: "an integer", bool: "true or false",
                        dict: "a table", date: "a date"}.get(k, k.__name__) for k in kinds)


def _no_unknown(path: Path, table: Mapping[str, Any], allowed: set[str], *,
                label: str = "key", prefix: str = "") -> None:
    for key in table:
        if key not in allowed:
            raise _fail(path, f"{label} '{prefix}{key}'",
                        f"unknown key; expected one of: {', '.join(sorted(allowed))}")


# --- where the files are ---------------------------------------------------------------


def default_selectors_dir() -> Path:
    """The repository's ``selectors/`` beside the package, else the packaged copy."""
    repo = Path(__file__).resolve().parent.parent / "selectors"
    if any(repo.glob("*/site.toml")):
        return repo
    packaged = importlib.resources.files("scraper").joinpath("selectors_data")
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    raise ConfigError("no selectors directory found: pass --selectors-dir")


def _root(selectors_dir: Path | None) -> Path:
    if selectors_dir is None:
        return default_selectors_dir()
    if not selectors_dir.is_dir():
        raise ConfigError(f"selectors directory {selectors_dir} does not exist")
    return selectors_dir


def list_sites(selectors_dir: Path | None = None) -> list[str]:
    """Names of the site profiles (directories holding a ``site.toml``), sorted."""
    return sorted(p.parent.name for p in _root(selectors_dir).glob("*/site.toml"))


# --- site profiles ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Category:
    """A catalogue category: the CLI's name for it and the site's slug, module id, label."""

    name: str
    slug: str
    module: int
    label: str


@dataclass(frozen=True, slots=True)
class SiteProfile:
    """One site as the crawl sees it: scheme, hosts by role, URL templates, categories."""

    name: str
    scheme: str
    hosts: Mapping[str, str]
    selector_set: str
    selectors_dir: Path
    categories: Mapping[str, Category]
    ups_path: str
    comments_path: str
    comment_app: str
    comment_page_size: int
    ccode: str
    catalogue_first: str
    catalogue_page: str
    video_path: str
    paths: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Hosts that serve only media (segment CDNs): the browser never needs them.
    media_hosts: tuple[str, ...] = ()

    def url(self, role: str, path: str = "") -> str:
        """``{scheme}://{host of role}{path}``."""
        if role not in self.hosts:
            raise ConfigError(f"site {self.name} has no host for role {role!r}; "
                              f"roles: {', '.join(self.hosts)}")
        return f"{self.scheme}://{self.hosts[role]}{path}"

    def category(self, name: str) -> Category:
        """The category by CLI name (``today-hot``) or site slug (``jrrm``)."""
        for category in self.categories.values():
            if name in (category.name, category.slug):
                return category
        raise ConfigError(f"unknown category {name!r} for site {self.name}; "
                          f"choose from: {', '.join(self.categories)}")

    def catalogue_url(self, category: str, page: int = 1) -> str:
        """URL of catalogue page ``page`` (1-based) of a category."""
        cat = self.category(category)
        if page < 1:
            raise ConfigError(f"catalogue pages start at 1, not {page}")
        template = self.catalogue_first if page == 1 else self.catalogue_page
        return self.url("catalogue", template.format(slug=cat.slug, mod=cat.module, n=page))

    def video_url(self, vid: str) -> str:
        """URL of a video page; ``vid`` may carry its ``==`` padding or not."""
        return self.url("video", self.video_path.format(vid=vid.rstrip("=")))

    @property
    def ups_url(self) -> str:
        return self.url("ups", self.ups_path)

    @property
    def comments_url(self) -> str:
        return self.url("comments", self.comments_path)

    @property
    def pages_dir(self) -> Path:
        """Where this profile's selector files live: ``<selectors>/<set>/pages``."""
        return self.selectors_dir / self.selector_set / "pages"

    def absolute(self, url: str) -> str:
        """A protocol-relative link (``//host/p``) with this site's scheme."""
        return absolutize(url, self.scheme)


def load_profile(site: str, *, selectors_dir: Path | None = None) -> SiteProfile:
    """Read and validate ``<selectors_dir>/<site>/site.toml``."""
    root = _root(selectors_dir)
    path = root / site / "site.toml"
    if not path.is_file():
        known = ", ".join(list_sites(root)) or "none"
        raise ConfigError(f"unknown site {site!r}; known sites: {known} (in {root})")
    doc = _read_toml(path)
    _no_unknown(path, doc, _PROFILE_KEYS)
    tables = {}
    for name, keys in _PROFILE_TABLES.items():
        table = _get(path, doc, name, dict)
        _no_unknown(path, table, set(keys), prefix=f"{name}.")
        tables[name] = {k: _get(path, table, k, int if k == "comment_page_size" else str,
                                prefix=f"{name}.") for k in keys}
    scheme = _get(path, doc, "scheme", str)
    if scheme not in ("http", "https"):
        raise _fail(path, "key 'scheme'", f"expected 'http' or 'https', got {scheme!r}")
    if _get(path, doc, "name", str) != site:
        raise _fail(path, "key 'name'", f"{doc['name']!r} differs from the directory {site!r}")
    selector_set = _get(path, doc, "selectors", str)
    if not (root / selector_set / "pages").is_dir():
        raise _fail(path, "key 'selectors'", f"no selector set at {root / selector_set}/pages")
    _check_templates(path, tables["urls"])
    paths = _get(path, doc, "paths", dict) if "paths" in doc else {}
    media = _get(path, doc, "media_hosts", list) if "media_hosts" in doc else []
    if not all(isinstance(h, str) and h for h in media):
        raise _fail(path, "key 'media_hosts'", "expected a list of host patterns")
    api, urls = tables["api"], tables["urls"]
    return SiteProfile(
        name=site, scheme=scheme, hosts=MappingProxyType(tables["hosts"]),
        selector_set=selector_set, selectors_dir=root,
        categories=MappingProxyType(_categories(path, _get(path, doc, "categories", dict))),
        ups_path=api["ups"], comments_path=api["comments"], comment_app=api["comment_app"],
        comment_page_size=api["comment_page_size"], ccode=api["ccode"],
        catalogue_first=urls["catalogue_first"], catalogue_page=urls["catalogue_page"],
        video_path=urls["video"], paths=MappingProxyType({k: str(v) for k, v in paths.items()}),
        media_hosts=tuple(media),
    )


def _check_templates(path: Path, urls: Mapping[str, str]) -> None:
    needs = {"catalogue_first": ("{slug}",), "catalogue_page": ("{slug}", "{mod}", "{n}"),
             "video": ("{vid}",)}
    for key, placeholders in needs.items():
        for placeholder in placeholders:
            if placeholder not in urls[key]:
                raise _fail(path, f"key 'urls.{key}'", f"template lacks {placeholder}")


def _categories(path: Path, table: Mapping[str, Any]) -> dict[str, Category]:
    if not table:
        raise _fail(path, "key 'categories'", "no category defined")
    categories = {}
    for name, entry in table.items():
        prefix = f"categories.{name}."
        if not isinstance(entry, dict):
            raise _fail(path, f"key 'categories.{name}'", "expected a table")
        _no_unknown(path, entry, _CATEGORY_KEYS, prefix=prefix)
        categories[name] = Category(
            name=name, slug=_get(path, entry, "slug", str, prefix=prefix),
            module=_get(path, entry, "module", int, prefix=prefix),
            label=_get(path, entry, "label", str, prefix=prefix),
        )
    return categories


# --- selector files --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How one field is read: XPath (with variables), optional regex, converter."""

    name: str
    xpath: str
    convert: str = "text"
    required: bool = False
    default: Any = None
    many: bool = False
    regex: re.Pattern[str] | None = None
    vars: Mapping[str, str | int | float] = field(default_factory=lambda: MappingProxyType({}))
    # lxml's compiled form of ``xpath``, evaluated by the extractor (compiling costs more
    # than evaluating, and a catalogue page evaluates each item field 15 times).
    compiled: Any = field(default=None, compare=False, repr=False)
    # Fields reading the same nodes (``duration_text``/``duration_s``) share one evaluation.
    key: tuple[Any, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.xpath, *sorted(self.vars.items())))
        if self.compiled is None:  # built in code (a refresh), not loaded from a file
            object.__setattr__(self, "compiled", compile_xpath(self.xpath))

    def to_toml(self) -> dict[str, Any]:
        """The field as a selector-file table (only the keys that differ from defaults)."""
        table: dict[str, Any] = {"xpath": self.xpath, "convert": self.convert,
                                 "required": self.required}
        if self.vars:
            table["vars"] = dict(self.vars)
        if self.regex is not None:
            table["regex"] = self.regex.pattern
        if self.many:
            table["many"] = True
        if self.default is not None:
            table["default"] = self.default
        return table


@dataclass(frozen=True, slots=True)
class SelectorSet:
    """One version of the selectors of one page type (a ``v<N>.toml`` file)."""

    page: str
    version: int
    path: Path
    meta: Mapping[str, Any]
    fields: Mapping[str, FieldSpec]
    items: str | None = None
    items_compiled: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.items is not None and self.items_compiled is None:
            object.__setattr__(self, "items_compiled", compile_xpath(self.items))

    @property
    def label(self) -> str:
        """``page@vN``, as recorded with every extracted document."""
        return f"{self.page}@v{self.version}"

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(name for name, spec in self.fields.items() if spec.required)


def load_selectors(profile: SiteProfile, page: str) -> tuple[SelectorSet, ...]:
    """Every version of ``page``'s selectors for ``profile``, newest first."""
    return load_page_dir(profile.pages_dir / page)


def load_page_dir(page_dir: Path) -> tuple[SelectorSet, ...]:
    """Every ``v<N>.toml`` in one page directory, validated, newest first."""
    files = sorted(page_dir.glob("*.toml")) if page_dir.is_dir() else []
    if not files:
        raise SelectorFileError(f"{page_dir}: no selector files (expected v1.toml, v2.toml, …)")
    sets: dict[int, SelectorSet] = {}
    for path in files:
        selector_set = _parse_file(path, _read_toml(path), page=page_dir.name)
        if selector_set.version in sets:
            raise _fail(path, "meta 'version'", f"version {selector_set.version} also in "
                        f"{sets[selector_set.version].path.name}")
        sets[selector_set.version] = selector_set
    for selector_set in sets.values():
        parent = selector_set.meta["derived_from"]
        if parent and parent not in sets:
            raise _fail(selector_set.path, "meta 'derived_from'", f"no version {parent} here")
    return tuple(sets[v] for v in sorted(sets, reverse=True))


def _parse_file(path: Path, doc: dict[str, Any], *, page: str) -> SelectorSet:
    _no_unknown(path, doc, {"meta", "fields"}, label="table")
    meta = dict(_get(path, doc, "meta", dict, label="table"))
    _no_unknown(path, meta, _META_KEYS, label="meta")
    match = _VERSION_FILE.match(path.name)
    if not match:
        raise _fail(path, "file name", "expected v<N>.toml")
    version = _get(path, meta, "version", int, label="meta")
    if version != int(match[1]) or version < 1:
        raise _fail(path, "meta 'version'", f"{version} does not match the file name")
    if _get(path, meta, "page", str, label="meta") != page:
        raise _fail(path, "meta 'page'", f"{meta['page']!r} differs from the directory {page!r}")
    derived = _get(path, meta, "derived_from", int, label="meta")
    if not 0 <= derived < version:
        raise _fail(path, "meta 'derived_from'", f"must be 0 (none) or below {version}")
    _get(path, meta, "reason", str, label="meta")
    meta["created"] = _created(path, meta)
    items = meta.get("items")
    items_compiled = None
    if items is not None:
        items = _get(path, meta, "items", str, label="meta")
        items_compiled = _compile(path, "meta 'items'", items, {})
    table = _get(path, doc, "fields", dict, label="table")
    if not table:
        raise _fail(path, "table 'fields'", "no field defined")
    fields = {name: _parse_field(path, name, spec, relative=items is not None)
              for name, spec in table.items()}
    return SelectorSet(page=page, version=version, path=path, meta=MappingProxyType(meta),
                       fields=MappingProxyType(fields), items=items,
                       items_compiled=items_compiled)


def _created(path: Path, meta: Mapping[str, Any]) -> str:
    created = _get(path, meta, "created", (str, date), label="meta")
    try:
        day = created if isinstance(created, date) else date.fromisoformat(created)
        return day.isoformat()[:10]
    except ValueError:
        raise _fail(path, "meta 'created'", f"not a YYYY-MM-DD date: {created!r}") from None


def _parse_field(path: Path, name: str, spec: Any, *, relative: bool) -> FieldSpec:
    where = f"field '{name}'"
    if not _NAME.match(name):
        raise _fail(path, where, "field names are lower_snake_case")
    if not isinstance(spec, dict):
        raise _fail(path, where, "expected a table")
    for key in spec:
        if key not in _FIELD_KEYS:
            raise _fail(path, where, f"unknown key '{key}'; expected one of: "
                        f"{', '.join(sorted(_FIELD_KEYS))}")
    if "xpath" not in spec:
        raise _fail(path, where, "missing xpath")
    xpath, variables = spec["xpath"], spec.get("vars", {})
    if not isinstance(xpath, str) or not isinstance(variables, dict) or not all(
            isinstance(v, str | int | float) and not isinstance(v, bool)
            for v in variables.values()):
        raise _fail(path, where, "xpath must be a string and vars a table of strings/numbers")
    if relative and xpath.lstrip("( ").startswith("/"):
        raise _fail(path, where, f"item fields are relative to the item: start with './/', "
                    f"not '/': {xpath!r}")
    convert = spec.get("convert", "text")
    if convert not in CONVERTER_NAMES:
        raise _fail(path, where, f"unknown converter {convert!r}; expected one of: "
                    f"{', '.join(sorted(CONVERTER_NAMES))}")
    required, many = spec.get("required", False), spec.get("many", False)
    if not isinstance(required, bool) or not isinstance(many, bool):
        raise _fail(path, where, "required and many must be true or false")
    if required and spec.get("default") is not None:
        raise _fail(path, where, "a required field cannot have a default")
    return FieldSpec(name=name, xpath=xpath, convert=convert, required=required,
                     default=spec.get("default"), many=many,
                     regex=_regex(path, where, spec.get("regex", "")),
                     vars=MappingProxyType(variables),
                     compiled=_compile(path, where, xpath, variables))


def _regex(path: Path, where: str, pattern: Any) -> re.Pattern[str] | None:
    if not isinstance(pattern, str):
        raise _fail(path, where, "regex must be a string")
    try:
        return re.compile(pattern) if pattern else None
    except re.error as exc:
        raise _fail(path, where, f"bad regex {pattern!r}: {exc}") from None


def compile_xpath(xpath: str) -> Any:
    """``xpath`` compiled as the extractor evaluates it (raises lxml's ``XPathSyntaxError``)."""
    return etree.XPath(native_xpath(xpath), namespaces=_XPATH_NS, smart_strings=False)


def _compile(path: Path, where: str, xpath: str, variables: Mapping[str, Any]) -> Any:
    """Compile ``xpath``; lxml only reports syntax, so names are checked here too."""
    try:
        compiled = compile_xpath(xpath)
    except etree.XPathError as exc:
        raise _fail(path, where, f"xpath does not compile ({exc}): {xpath!r}") from None
    code = _XPATH_LITERAL.sub('""', xpath)
    for function in _XPATH_CALL.findall(code):
        if function not in _XPATH_FUNCTIONS:
            raise _fail(path, where, f"unknown XPath function {function}(): {xpath!r}")
    for variable in _XPATH_VAR.findall(code):
        if variable not in variables:
            raise _fail(path, where, f"xpath uses ${variable} but vars does not define it")
    try:
        compiled(_PROBE, **variables)
    except etree.XPathError as exc:
        raise _fail(path, where, f"xpath fails to evaluate ({exc}): {xpath!r}") from None
    return compiled


def native_xpath(xpath: str) -> str:
    """``xpath`` with each literal ``has-class("a", …)`` spelled in native XPath 1.0."""
    def replace(match: re.Match[str]) -> str:
        if match["literal"]:
            return match["literal"]
        names = _XPATH_LITERAL.findall(match["args"])
        return "(" + " and ".join(
            f"contains(concat(' ', normalize-space(@class), ' '), {name[0]} {name[1:-1]} {name[0]})"
            for name in names) + ")"
    return _HAS_CLASS.sub(replace, xpath)


# --- new versions ----------------------------------------------------------------------


def next_version_path(page_dir: Path) -> Path:
    """The path the next version of a page's selectors would take (``v<max+1>.toml``)."""
    versions = [int(m[1]) for p in page_dir.glob("v*.toml") if (m := _VERSION_FILE.match(p.name))]
    return page_dir / f"v{max(versions, default=0) + 1}.toml"


def write_version(base: SelectorSet, *, reason: str,
                  fields: Mapping[str, FieldSpec | Mapping[str, Any]],
                  derived_from: int | None = None, items: str | None = None,
                  created: date | None = None, version: int | None = None) -> Path:
    """Write a new version of ``base``'s page beside it and return its path.

    ``derived_from`` defaults to ``base.version``, ``items`` to ``base.items``, ``version``
    to the next free number. The file is validated before it is written, and an existing
    file is never overwritten.
    """
    page_dir = base.path.parent
    path = page_dir / f"v{version}.toml" if version else next_version_path(page_dir)
    derived = base.version if derived_from is None else derived_from
    meta: dict[str, Any] = {
        "page": base.page, "version": version or int(path.stem[1:]),
        "created": created or date.today(), "derived_from": derived, "reason": reason,
    }
    if (items := items or base.items) is not None:
        meta["items"] = items
    doc = {"meta": meta, "fields": {name: spec.to_toml() if isinstance(spec, FieldSpec)
                                    else dict(spec) for name, spec in fields.items()}}
    _parse_file(path, doc, page=base.page)
    if derived and not (page_dir / f"v{derived}.toml").is_file():
        raise _fail(path, "meta 'derived_from'", f"no version {derived} here")
    try:
        with path.open("xb") as fh:
            tomli_w.dump(doc, fh)
    except FileExistsError:
        raise _fail(path, "write", "file exists; a released version is never edited") from None
    return path
