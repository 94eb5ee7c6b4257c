"""The update and query language both stores share: what it refuses."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from bson.son import SON

from scraper.store.documents import apply_update, matches


@pytest.mark.parametrize("query", [
    {"state": {"$nin": ["pending", "claimed"]}},
    {"worker": {"$ne": None}},
    {"$and": [{"state": "pending"}]},
    {"$or": [{"due": {"$exists": True}}]},
    {"due": {"$lte": 3, "$exists": True}},
])
def test_an_unknown_query_operator_is_an_error(query: dict[str, object]) -> None:
    doc = {"_id": "a", "state": "pending", "worker": "w", "due": 2}
    with pytest.raises(ValueError, match=r"unsupported query operator \$"):
        matches(doc, query)


def test_known_operators_and_plain_dict_values() -> None:
    doc = {"_id": "a", "n": {"x": 1}, "due": 2, "lease": None}
    assert matches(doc, {"n": {"x": 1}, "n.x": 1, "due": {"$lte": 2, "$lt": 3}})
    assert not matches(doc, {"lease": {"$lt": 5}})  # null is below nothing
    assert matches(doc, {"$or": [{"due": 9}, {"lease": None}], "missing": None})
    # The dashboard's reads: sets, ranges and case-blind search.
    assert matches({"s": "claimed", "t": "Hot News"}, {"s": {"$in": ["pending", "claimed"]},
                                                       "t": {"$regex": "hot", "$options": "i"}})
    assert not matches(doc, {"due": {"$gt": 2}}) and matches(doc, {"due": {"$gte": 2}})


def test_elem_match_finds_an_element_and_equality_compares_the_whole_array() -> None:
    doc = {"_id": "a", "lists": ["category:jrrm", "channel:UMTIz"], "none": [], "n": [1, 7]}
    assert matches(doc, {"lists": {"$elemMatch": {"$eq": "category:jrrm"}}})
    assert not matches(doc, {"lists": {"$elemMatch": {"$eq": "category:jsqy"}}})
    assert matches(doc, {"n": {"$elemMatch": {"$gt": 5, "$lt": 8}}})  # one element, both
    assert not matches(doc, {"n": {"$elemMatch": {"$gt": 1, "$lt": 7}}})
    assert not matches(doc, {"none": {"$elemMatch": {"$eq": None}}})
    assert not matches({"lists": "category:jrrm"},
                       {"lists": {"$elemMatch": {"$eq": "category:jrrm"}}})  # no array
    assert matches(doc, {"lists": ["category:jrrm", "channel:UMTIz"]})  # the whole array
    # An empty array is no null, a missing field is no empty array.
    assert matches(doc, {"none": []}) and not matches(doc, {"none": None})
    assert not matches(doc, {"missing": []}) and matches(doc, {"missing": None})
    assert matches({"n": 1}, {"n": {"$eq": 1}}) and not matches({"n": 1}, {"n": {"$eq": True}})
    with pytest.raises(ValueError, match=r"\$elemMatch on documents"):
        matches(doc, {"lists": {"$elemMatch": {"kind": "category"}}})


def test_an_unknown_update_operator_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"unsupported update operator \$push"):
        apply_update(None, "a", {"$push": {"tags": "x"}})


def test_an_update_shares_nothing_mutable_with_the_document_or_the_update() -> None:
    when = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    doc = {"_id": "a", "crawl": {"errors": ["x"], "first": when}, "segments": [{"i": 0}],
           "raw": bytearray(b"ab"), "son": SON([("k", [1])]), "n": 1}
    before = copy.deepcopy(doc)
    tags = ["t1"]
    update = {"$set": {"crawl.last": when, "segments": [{"i": 1, "tags": tags}]},
              "$inc": {"n": 2}, "$addToSet": {"lists": {"$each": ["a", "b"]}}}
    new = apply_update(doc, "a", update)
    assert new == {"_id": "a", "crawl": {"errors": ["x"], "first": when, "last": when},
                   "segments": [{"i": 1, "tags": ["t1"]}], "raw": bytearray(b"ab"),
                   "son": SON([("k", [1])]), "n": 3, "lists": ["a", "b"]}
    assert type(new["son"]) is SON
    new["crawl"]["errors"].append("y")
    new["segments"][0]["tags"].append("t2")
    new["raw"].extend(b"c")
    new["son"]["k"].append(2)
    assert doc == before and tags == ["t1"]
