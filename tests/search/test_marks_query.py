"""is:favorite and collection:"Name" in the query language: parsing (pure), smart collections parsed in
with their own search, loops and depth refused, and what the SQL finds."""

from __future__ import annotations

from datetime import date

import pytest

from search.nodes import And, Favorite, InCollection, LabelTerm, Not, walk_deep
from search.query import CollectionRef, QueryError, parse_query

TODAY = date(2025, 3, 15)


def parse(text: str, refs: dict[str, CollectionRef] | None = None):
    found = {key.lower(): ref for key, ref in (refs or {}).items()}
    return parse_query(text, today=TODAY, collections=lambda names: {n.lower(): found[n.lower()]
                                                                     for n in names if n.lower() in found})


@pytest.mark.parametrize("text", ["is:favorite", "is:favourite", "IS:Fav", "is:hearted"])
def test_is_favorite(text):
    assert parse(text) == Favorite(span=(0, len(text)))


def test_not_favorite_and_with_labels():
    node = parse("dog -is:favorite")
    assert isinstance(node, And) and isinstance(node.items[1], Not) and isinstance(node.items[1].item, Favorite)
    assert parse("is!=favorite") == Not(Favorite(span=(0, 12)))


def test_unknown_is_says_what_works():
    with pytest.raises(QueryError) as error:
        parse("dog is:sad")
    assert error.value.message == "Unknown is:sad at position 7: use is:favorite."
    assert (error.value.position, error.value.token) == (7, "sad")


def test_collections_resolve_by_name_in_any_case():
    refs = {"Summer 2024": CollectionRef(id="c1", name="Summer 2024")}
    assert parse('collection:"summer  2024"', refs) == InCollection(name="Summer 2024", collection_id="c1",
                                                                     span=(0, 25))
    unknown = parse("album:Nowhere", refs)
    assert unknown == InCollection(name="Nowhere", span=(0, 13))  # matches nothing; the page says so
    with pytest.raises(QueryError) as error:
        parse('collection:""', refs)
    assert "needs a name" in error.value.message


def test_a_smart_collection_brings_its_search():
    refs = {"Dogs": CollectionRef(id="d", name="Dogs", query="dog@0.8 -cat")}
    node = parse("collection:dogs is:favorite", refs)
    assert isinstance(node, And)
    smart = node.items[0]
    assert isinstance(smart, InCollection) and smart.collection_id == "d"
    labels = [item.label for item in walk_deep(node) if isinstance(item, LabelTerm)]
    assert labels == ["dog", "cat"]


def test_smart_collections_that_include_themselves_are_refused():
    refs = {
        "A": CollectionRef(id="a", name="A", query="collection:B dog"),
        "B": CollectionRef(id="b", name="B", query="cat OR collection:A"),
    }
    with pytest.raises(QueryError) as error:
        parse("collection:A", refs)
    assert "includes itself" in error.value.message and error.value.token == "A"


def test_smart_collections_nest_only_so_deep():
    refs = {f"c{n}": CollectionRef(id=f"c{n}", name=f"c{n}", query=f"collection:c{n + 1}") for n in range(10)}
    refs["c10"] = CollectionRef(id="c10", name="c10", query="dog")
    with pytest.raises(QueryError) as error:
        parse("collection:c0", refs)
    assert "deep" in error.value.message
    assert isinstance(parse("collection:c8", refs), InCollection)


def test_a_broken_smart_search_is_named_in_the_error():
    refs = {"Old": CollectionRef(id="o", name="Old", query="(dog")}
    with pytest.raises(QueryError) as error:
        parse("collection:Old", refs)
    assert error.value.message.startswith("The smart collection “Old” cannot be searched:")


def test_a_field_name_alone_is_still_a_label():
    assert parse("collection") == LabelTerm(label="collection", known=False, span=(0, 10))
