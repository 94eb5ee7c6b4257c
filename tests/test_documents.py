"""The update and query language both stores share: what it refuses."""

from __future__ import annotations

import pytest

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


def test_an_unknown_update_operator_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"unsupported update operator \$push"):
        apply_update(None, "a", {"$push": {"tags": "x"}})
