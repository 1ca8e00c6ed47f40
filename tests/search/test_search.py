"""Search on a hand-built library: each operator's meaning, owner scoping, facets, sorting, pages."""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from library.views import LibraryView
from media.models import Asset, TaggingStatus
from review import services as review_services
from search.query import parse_query
from search.selectors import assets_search, label_facets
from tagging import services
from tagging.boxes import Box, DetectedObject
from tagging.models import AssetTag, Detection, Label

pytestmark = pytest.mark.django_db

SIDE = 1000  # every test image is SIDE x SIDE pixels
BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif", "HEIF": "image/heif"}


def make_asset(
    owner,
    name: str,
    *,
    objects: tuple[tuple[str, float, float], ...] = (),
    manual: tuple[str, ...] = (),
    day: int = 0,
    taken: datetime | None = None,
    fmt: str = "JPEG",
    status: str | None = None,
) -> Asset:
    """An asset row with detections ``(label, confidence, share of the image)`` stored by the real services."""
    asset = Asset.objects.create(
        owner=owner,
        file=f"originals/{name}",
        original_filename=name,
        sha256=uuid.uuid4().hex * 2,
        format=fmt,
        mime_type=MIME[fmt],
        width=SIDE,
        height=SIDE,
        byte_size=1000,
        taken_at=taken,
    )
    if objects:
        found = []
        for label, confidence, share in objects:
            side = round(SIDE * math.sqrt(share))
            found.append(DetectedObject(label, confidence, Box(0, 0, side, side)))
        services.detections_replace(asset_id=asset.pk, objects=found, info=services.RunInfo(model_name="test"))
    for label in manual:
        review_services.detection_add_manual(asset=asset, label=label)
    update = {"created_at": BASE + timedelta(days=day)}
    if status:
        update["tagging_status"] = status
    Asset.objects.filter(pk=asset.pk).update(**update)
    asset.refresh_from_db()
    return asset


@pytest.fixture
def library(user, other_user) -> dict[str, Asset]:
    """Alice's library, newest last; Mallory has a confident big dog that Alice must never see."""
    return {
        "dog_frisbee": make_asset(
            user,
            "IMG_0001.jpg",
            objects=(("dog", 0.95, 0.30), ("frisbee", 0.7, 0.01)),
            day=1,
            taken=datetime(2023, 6, 10, tzinfo=UTC),
        ),
        "dog_small": make_asset(
            user, "beach.png", objects=(("dog", 0.6, 0.02), ("person", 0.9, 0.1)), day=2, fmt="PNG"
        ),
        "cat_people": make_asset(
            user,
            "IMG_0003.jpg",
            objects=(("cat", 0.85, 0.4), ("person", 0.9, 0.1), ("person", 0.8, 0.1), ("person", 0.7, 0.1)),
            day=3,
            taken=datetime(2021, 1, 5, tzinfo=UTC),
        ),
        "cat_dogs": make_asset(
            user,
            "IMG_0004.heic",
            objects=(("cat", 0.5, 0.05), ("dog", 0.55, 0.1), ("dog", 0.5, 0.06)),
            day=4,
            fmt="HEIF",
            taken=datetime(2024, 2, 1, tzinfo=UTC),
        ),
        "street": make_asset(
            user,
            "street.webp",
            objects=(("traffic light", 0.9, 0.01), ("car", 0.8, 0.2), ("car", 0.7, 0.1)),
            day=5,
            fmt="WEBP",
        ),
        "toy": make_asset(user, "toy.png", manual=("Teddy Bear",), day=6, fmt="PNG"),
        "broken": make_asset(user, "broken.gif", day=7, fmt="GIF", status=TaggingStatus.FAILED),
        "mallory_dog": make_asset(
            other_user, "IMG_0001.jpg", objects=(("dog", 0.99, 0.5), ("person", 0.9, 0.3)), day=8
        ),
    }


def found(user, library, text: str) -> set[str]:
    names = {asset.pk: name for name, asset in library.items()}
    return {names[asset.pk] for asset in assets_search(user=user, query=parse_query(text))}


ALICE = {"dog_frisbee", "dog_small", "cat_people", "cat_dogs", "street", "toy", "broken"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ALICE),
        ("dog", {"dog_frisbee", "dog_small", "cat_dogs"}),
        ("DOGS", {"dog_frisbee", "dog_small", "cat_dogs"}),
        ("puppies", {"dog_frisbee", "dog_small", "cat_dogs"}),
        ("dog frisbee", {"dog_frisbee"}),
        ("dog AND cat", {"cat_dogs"}),
        ("cat OR dog", {"dog_frisbee", "dog_small", "cat_people", "cat_dogs"}),
        ("(cat OR dog) -person", {"dog_frisbee", "cat_dogs"}),
        ("NOT dog", {"cat_people", "street", "toy", "broken"}),
        ("-dog -cat", {"street", "toy", "broken"}),
        ("cat OR dog frisbee", {"cat_people", "cat_dogs", "dog_frisbee"}),
        ('"traffic light"', {"street"}),
        ("traffic lights", {"street"}),
        ("teddy bear", {"toy"}),
        ("people", {"dog_small", "cat_people"}),
        ("person>=3", {"cat_people"}),
        ("person=1", {"dog_small"}),
        ("person=0", ALICE - {"dog_small", "cat_people"}),
        ("people<2", ALICE - {"cat_people"}),
        ("person!=1", ALICE - {"dog_small"}),
        ("car=2", {"street"}),
        ("dog>=2", {"cat_dogs"}),
        ("dog>1 cat", {"cat_dogs"}),
        ("-person>=3", ALICE - {"cat_people"}),
        ("dog@0.9", {"dog_frisbee"}),
        ("dog@60%", {"dog_frisbee", "dog_small"}),
        ("dog@conf<0.6", {"cat_dogs"}),
        ("dog<2@0.9", {"dog_frisbee"}),
        ("dog:big", {"dog_frisbee"}),
        ("cat:big", {"cat_people"}),
        ("dog@area>25%", {"dog_frisbee"}),
        ("dog:small", {"dog_small"}),
        ("dog:medium", {"cat_dogs"}),
        ("car:area>=0.15", {"street"}),
        ("car:area>0.25", set()),
        ("uploaded:2024-05-03", {"dog_small"}),
        ("uploaded>=2024-05-06", {"street", "toy", "broken"}),
        ("uploaded<2024-05-03", {"dog_frisbee"}),
        ("uploaded:2024-05-02..2024-05-04", {"dog_frisbee", "dog_small", "cat_people"}),
        ("taken:2023", {"dog_frisbee"}),
        ("taken<2022", {"cat_people"}),
        ("taken:none", {"dog_small", "street", "toy", "broken"}),
        ("-taken:none", {"dog_frisbee", "cat_people", "cat_dogs"}),
        ("-taken:2023", ALICE - {"dog_frisbee"}),
        ("dog taken>=2024", {"cat_dogs"}),
        ("status:failed", {"broken"}),
        ("status:pending", {"toy"}),
        ("status!=tagged", {"toy", "broken"}),
        ("source:manual", {"toy"}),
        ("source:auto", {"dog_frisbee", "dog_small", "cat_people", "cat_dogs", "street"}),
        ("format:heic", {"cat_dogs"}),
        ("format:jpg", {"dog_frisbee", "cat_people"}),
        ("filename:IMG_*", {"dog_frisbee", "cat_people", "cat_dogs"}),
        ("filename:img_000?.jpg", {"dog_frisbee", "cat_people"}),
        ("filename:BEACH", {"dog_small"}),
        ('filename:"100%_odd"', set()),
        ("unicorn", set()),
        ("-unicorn", ALICE),
        ("unicorn=0", ALICE),
        ("unicorn OR cat", {"cat_people", "cat_dogs"}),
        ("NOT (unicorn OR cat)", ALICE - {"cat_people", "cat_dogs"}),
        ("person>=0", ALICE),
        ("NOT person>=0", set()),
    ],
)
def test_operator_meaning(user, library, text, expected):
    assert found(user, library, text) == expected


def test_rejected_detections_do_not_match(user, library):
    frisbee = Detection.objects.get(asset=library["dog_frisbee"], label__name="frisbee")
    review_services.detection_review(detection=frisbee, accept=False)
    assert found(user, library, "frisbee") == set()
    assert found(user, library, "frisbee=0") == ALICE


def test_words_resolve_against_the_searchers_own_labels_only(user, other_user, api_client, web_client, library):
    """Mallory's private labels must not change how Alice's words are read, nor show in hints."""
    make_asset(other_user, "secret.jpg", manual=("garden gnome", "john smith"), day=9)
    both = make_asset(user, "garden.jpg", manual=("garden", "gnome"), day=10)

    def ids(**params) -> list[str]:
        return [item["id"] for item in api_client.get("/api/assets/", params).json()["results"]]

    assert ids(q="garden gnome") == [str(both.pk)]  # garden AND gnome, not Mallory's "garden gnome"
    assert ids(label="garden gnomes") == []
    page = web_client.get(reverse("library"), {"q": '"john smith"'}).content.decode()
    assert "No picture has a label called <q>john smith</q>." in page
    # Once Alice uses the label herself it resolves (quoted: she also has "garden" on its own).
    own = make_asset(user, "gnome.jpg", manual=("garden gnome",), day=11)
    assert ids(q='"garden gnomes"') == [str(own.pk)]
    assert ids(label="garden gnomes") == [str(own.pk)]


def test_unknown_label_that_exists_in_the_table_for_someone_else(user, other_user, library):
    make_asset(other_user, "zebra.jpg", objects=(("zebra", 0.9, 0.3),), day=9)
    assert found(user, library, "zebra") == set()
    assert found(user, library, "-zebra") == ALICE


# --- owner scoping ------------------------------------------------------------------------------


def test_results_never_include_other_users_assets(user, other_user, library):
    assert found(user, library, "dog@0.99") == set()
    assert found(user, library, "dog:huge") == set()
    assert found(other_user, library, "dog") == {"mallory_dog"}
    assert found(other_user, library, "-dog") == set()
    anonymous = type("Anonymous", (), {"is_authenticated": False})()
    assert list(assets_search(user=anonymous, query=parse_query("dog"))) == []


def test_facets_count_only_the_users_assets(user, other_user, library):
    facets = {facet.label: facet.count for facet in label_facets(user=user, query=None)}
    assert facets == {"dog": 3, "cat": 2, "person": 2, "car": 1, "frisbee": 1, "traffic light": 1, "teddy bear": 1}
    theirs = {facet.label: facet.count for facet in label_facets(user=other_user, query=None)}
    assert theirs == {"dog": 1, "person": 1}


def test_facets_follow_the_query_and_come_most_common_first(user, library):
    facets = label_facets(user=user, query=parse_query("dog"))
    assert [(facet.label, facet.count) for facet in facets] == [("dog", 3), ("cat", 1), ("frisbee", 1), ("person", 1)]
    assert label_facets(user=user, query=parse_query("unicorn")) == []
    assert [f.label for f in label_facets(user=user, query=None, limit=2)] == ["dog", "cat"]


def test_facet_prefix_for_autocomplete(user, library):
    def labels(prefix: str, text: str = "") -> list[str]:
        return [f.label for f in label_facets(user=user, query=parse_query(text), prefix=prefix)]

    assert labels("d") == ["dog"]
    assert labels("TRAF") == ["traffic light"]
    assert labels("peop") == ["person"]  # through the synonym
    assert labels("dogs") == ["dog"]  # through the plural
    assert labels("c") == ["cat", "car"]
    assert labels("c", "dog") == ["cat"]
    assert labels("x") == []


def test_api_lists_and_facets_are_scoped(api_client, other_api_client, library):
    ids = {item["id"] for item in api_client.get("/api/assets/", {"q": "dog"}).json()["results"]}
    assert ids == {str(library[name].pk) for name in ("dog_frisbee", "dog_small", "cat_dogs")}
    response = api_client.get("/api/labels/", {"q": "dog"})
    assert response.status_code == 200
    assert response.json() == [
        {"label": "dog", "count": 3, "exact": True}, {"label": "cat", "count": 1, "exact": True},
        {"label": "frisbee", "count": 1, "exact": True}, {"label": "person", "count": 1, "exact": True},
    ]  # fmt: skip
    assert other_api_client.get("/api/labels/").json() == [
        {"label": "dog", "count": 1, "exact": True},
        {"label": "person", "count": 1, "exact": True},
    ]
    theirs = other_api_client.get("/api/assets/", {"q": "dog frisbee"}).json()["results"]
    assert theirs == []


def test_api_needs_authentication(client, library):
    assert client.get("/api/labels/").status_code == 401
    assert client.get("/api/assets/", {"q": "dog"}).status_code == 401


# --- API parameters -----------------------------------------------------------------------------


def api_names(api_client, library, **params) -> list[str]:
    names = {str(asset.pk): name for name, asset in library.items()}
    response = api_client.get("/api/assets/", params)
    assert response.status_code == 200, response.json()
    return [names[item["id"]] for item in response.json()["results"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"label": "dog"}, {"dog_frisbee", "dog_small", "cat_dogs"}),
        ({"label": "dogs,cat"}, {"cat_dogs"}),
        ({"label": "dog", "min_confidence": "0.9"}, {"dog_frisbee"}),
        ({"label": "person", "min_count": "3"}, {"cat_people"}),
        ({"min_count": "2"}, {"cat_people", "cat_dogs", "street"}),
        ({"min_confidence": "0.9"}, {"dog_frisbee", "dog_small", "cat_people", "street", "toy"}),
        ({"label": "dog", "exclude_label": "person,frisbee"}, {"cat_dogs"}),
        ({"uploaded_after": "2024-05-06"}, {"street", "toy", "broken"}),
        ({"uploaded_after": "2024-05-03", "uploaded_before": "2024-05-04"}, {"dog_small", "cat_people"}),
        ({"taken_after": "2023-01-01", "taken_before": "2023-12-31"}, {"dog_frisbee"}),
        ({"status": "failed"}, {"broken"}),
        ({"source": "manual"}, {"toy"}),
        ({"image_format": "webp"}, {"street"}),
        ({"filename": "img_"}, {"dog_frisbee", "cat_people", "cat_dogs"}),
        ({"q": "dog OR car", "label": "person"}, {"dog_small"}),
    ],
)
def test_structured_filters(api_client, library, params, expected):
    assert set(api_names(api_client, library, **params)) == expected


def test_bad_query_is_a_400_with_the_position(api_client, library):
    for url in ("/api/assets/", "/api/labels/"):
        response = api_client.get(url, {"q": "dog AND (cat OR"})
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "invalid_query"
        assert body["position"] == 15 and body["token"] == ""
        assert "ends too early" in body["detail"]
    body = api_client.get("/api/assets/", {"q": "person>=many"}).json()
    assert (body["position"], body["token"]) == (8, "many")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_confidence": "2"}, "min_confidence"),
        ({"min_count": "x"}, "min_count"),
        ({"status": "lost"}, "status"),
        ({"image_format": "bmp"}, "image_format"),
        ({"image_format": "50%"}, "image_format"),
        ({"image_format": "%(x)s %s"}, "image_format"),
        ({"sort": "random"}, "sort"),
        ({"sort": "confidence"}, "sort"),
        ({"uploaded_after": "2024-02-30"}, "uploaded_after"),
        ({"uploaded_before": "9999-12-31"}, "uploaded_before"),
        ({"taken_after": "0001-01-01"}, "taken_after"),
        ({"uploaded_after": "2024-05-02", "uploaded_before": "2024-05-01"}, "uploaded_before"),
        ({"filename": "a\x00b"}, "filename"),
    ],
)
def test_bad_structured_parameters_are_400(api_client, library, params, field):
    response = api_client.get("/api/assets/", params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and field in body["errors"]


_QUERY_PIECES = st.sampled_from(
    ["dog", "cats", "person", " ", "(", ")", '"', "OR", "-", "NOT", ">=", "=0", "<2", "@0.9", "@", ":big", ":area>5%",
     "uploaded:", "taken:", "2024", "-06", "..", "none", "status:tagged", "source:manual", "format:heic", "filename:",
     "*", "?", "%", "_", "\\", "[", "unicorn", "traffic light", "\x00", "é", "9999", "0001"]
)  # fmt: skip
_PARAMS = st.dictionaries(
    st.sampled_from(["label", "exclude_label", "min_confidence", "min_count", "uploaded_after", "uploaded_before",
                     "taken_after", "taken_before", "status", "source", "image_format", "filename", "sort", "cursor",
                     "page_size", "prefix", "limit"]),
    st.one_of(st.text(max_size=12), st.sampled_from(["1", "0.5", "-1", "2024-01-01", "9999-12-31", "dog,cat",
                                                     "confidence", "objects", "tagged", "nan", "1e309"])),
    max_size=4,
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=40), st.lists(_QUERY_PIECES, max_size=12).map("".join)), params=_PARAMS)
def test_fuzz_the_api_never_fails(api_client, library, text, params):
    for url in ("/api/assets/", "/api/labels/"):
        response = api_client.get(url, {"q": text, **params})
        assert response.status_code in {200, 400}, (text, params, response.content[:300])
        if response.status_code == 400:
            assert response.json()["code"] in {"invalid_query", "invalid", "invalid_cursor"}


def test_detail_ignores_search_parameters(api_client, library):
    response = api_client.get(f"/api/assets/{library['street'].pk}/", {"q": "dog AND"})
    assert response.status_code == 200


def test_labels_limit(api_client, library):
    assert len(api_client.get("/api/labels/", {"limit": "2"}).json()) == 2
    assert api_client.get("/api/labels/", {"limit": "lots"}).status_code == 400


def test_schema_documents_search_parameters(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    names = {parameter["name"] for parameter in schema["paths"]["/api/assets/"]["get"]["parameters"]}
    assert {"q", "label", "exclude_label", "min_confidence", "min_count", "sort", "cursor", "page_size"} <= names
    facet_names = {parameter["name"] for parameter in schema["paths"]["/api/labels/"]["get"]["parameters"]}
    assert {"q", "prefix", "limit", "label"} <= facet_names


# --- sorting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["broken", "toy", "street", "cat_dogs", "cat_people", "dog_small", "dog_frisbee"]),
        ({"sort": "oldest"}, ["dog_frisbee", "dog_small", "cat_people", "cat_dogs", "street", "toy", "broken"]),
        ({"q": "dog", "sort": "confidence"}, ["dog_frisbee", "dog_small", "cat_dogs"]),
        ({"label": "dog", "sort": "confidence"}, ["dog_frisbee", "dog_small", "cat_dogs"]),
        # The first label asked for decides; assets without it come last, newest first.
        ({"q": "cat OR dog", "sort": "confidence"}, ["cat_people", "cat_dogs", "dog_small", "dog_frisbee"]),
        ({"q": "-person dog", "sort": "confidence"}, ["dog_frisbee", "cat_dogs"]),
        ({"sort": "objects"}, ["cat_people", "street", "cat_dogs", "dog_small", "dog_frisbee", "toy", "broken"]),
    ],
)
def test_sorting(api_client, library, params, expected):
    assert api_names(api_client, library, **params) == expected


# --- cursor pages -------------------------------------------------------------------------------


def walk_pages(api_client, params: dict, *, between=None) -> list[str]:
    """Every id across the pages, calling ``between`` after each page."""
    ids: list[str] = []
    response = api_client.get("/api/assets/", params)
    while True:
        assert response.status_code == 200, response.json()
        body = response.json()
        ids += [item["id"] for item in body["results"]]
        if between is not None:
            between()
        if not body["next"]:
            return ids
        response = api_client.get(body["next"])


@pytest.mark.parametrize("sort", ["newest", "oldest", "confidence", "objects"])
def test_pages_stay_stable_while_uploads_arrive(api_client, user, library, sort):
    params = {"q": "dog OR cat OR car OR teddy", "sort": sort, "page_size": 2}
    before = walk_pages(api_client, params)
    assert len(before) == len(set(before)) == 6
    added: list[Asset] = []

    def upload_more() -> None:
        # New uploads whose sort keys land before, between and after the rows already paged.
        number = len(added)
        added.append(
            make_asset(
                user,
                f"new{number}.jpg",
                objects=(("dog", 0.99 - 0.2 * (number % 5), 0.1),) * (number % 4 + 1),
                day=30 + number,
            )
        )
        added.append(
            make_asset(user, f"old{number}.jpg", objects=(("cat", 0.3 + 0.1 * (number % 6), 0.1),), day=-number)
        )

    during = walk_pages(api_client, params, between=upload_more)
    assert len(during) == len(set(during)), "a row came twice"
    # Every row that was there from the start comes exactly once, in its original order.
    assert [asset_id for asset_id in during if asset_id in before] == before


def test_pages_over_equal_sort_keys_use_the_id(api_client, user):
    assets = [make_asset(user, f"same{n}.jpg", objects=(("dog", 0.5, 0.1),)) for n in range(7)]
    Asset.objects.filter(pk__in=[a.pk for a in assets]).update(created_at=BASE)
    for sort in ("newest", "oldest", "confidence", "objects"):
        ids = walk_pages(api_client, {"q": "dog", "sort": sort, "page_size": 3})
        assert sorted(ids) == sorted(str(a.pk) for a in assets), sort


def test_previous_page_link(api_client, library):
    first = api_client.get("/api/assets/", {"page_size": 3}).json()
    assert first["previous"] is None
    second = api_client.get(first["next"]).json()
    back = api_client.get(second["previous"]).json()
    assert [item["id"] for item in back["results"]] == [item["id"] for item in first["results"]]
    assert back["previous"] is None or api_client.get(back["previous"]).json()["results"] == []


def test_bad_cursor_is_a_400(api_client, library):
    assert api_client.get("/api/assets/", {"cursor": "garbage!"}).json()["code"] == "invalid_cursor"
    newest = api_client.get("/api/assets/", {"page_size": 2}).json()["next"]
    cursor = newest.split("cursor=")[1].split("&")[0]
    response = api_client.get("/api/assets/", {"cursor": cursor, "sort": "oldest", "page_size": 2})
    assert response.status_code == 400 and response.json()["code"] == "invalid_cursor"


# --- the library page ---------------------------------------------------------------------------


def test_library_page_searches_and_shows_facets(web_client, library):
    response = web_client.get(reverse("library"), {"q": "dog"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "IMG_0001.jpg" in page and "beach.png" in page and "street.webp" not in page
    assert "3 images match" in page
    facets = {facet["label"]: facet for facet in response.context["facets"]}
    assert facets["dog"]["selected"] and facets["dog"]["count"] == 3
    assert facets["dog"]["url"] == "?"
    assert not facets["frisbee"]["selected"] and facets["frisbee"]["url"] == "?q=dog+frisbee"
    assert 'href="?q=dog+frisbee"' in page
    assert "mallory" not in page


def test_library_page_shows_the_bad_token(web_client, library):
    response = web_client.get(reverse("library"), {"q": "dog>=many cat"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Expected a whole number of objects" in page
    assert "dog&gt;=<mark>many</mark> cat" in page
    assert 'aria-invalid="true"' in page


def test_messages_with_percent_signs_are_shown_as_typed(web_client, library):
    page = web_client.get(reverse("library"), {"q": "dog@50%x", "image_format": "9%"}).content.decode()
    assert "got &#x27;50%x&#x27;" in page


def test_library_page_bad_parameters_are_400(web_client, library):
    response = web_client.get(reverse("library"), {"min_confidence": "5"})
    assert response.status_code == 400
    assert "min_confidence" in response.content.decode()
    assert web_client.get(reverse("library"), {"cursor": "nope"}).status_code == 400


def test_library_page_keyset_links(web_client, library, monkeypatch):
    monkeypatch.setattr(LibraryView, "page_size", 3)
    seen: list[str] = []
    url = reverse("library") + "?sort=oldest"
    while url:
        response = web_client.get(url)
        assert response.status_code == 200
        seen += [asset.original_filename for asset in response.context["assets"]]
        url = response.context["next_url"] and reverse("library") + response.context["next_url"]
    assert seen == [
        "IMG_0001.jpg",
        "beach.png",
        "IMG_0003.jpg",
        "IMG_0004.heic",
        "street.webp",
        "toy.png",
        "broken.gif",
    ]


def test_facet_toggle_for_a_label_parameter_and_sort(web_client, library):
    response = web_client.get(reverse("library"), {"label": "dog", "sort": "confidence"})
    assert response.status_code == 200
    assert response.context["facets"][0] == {"label": "dog", "count": 3, "exact": True, "selected": True, "url": "?"}
    assert "dog 0.95" in response.content.decode()


def test_library_page_says_when_a_label_does_not_exist(web_client, library):
    page = web_client.get(reverse("library"), {"q": "dgo OR cat"}).content.decode()
    assert "No picture has a label called <q>dgo</q>: did you mean" in page  # dog (search/suggestions.py)
    assert "label called" not in web_client.get(reverse("library"), {"q": "cats"}).content.decode()


def test_library_page_is_scoped(web_client, library):
    response = web_client.get(reverse("library"), {"q": "dog@0.99"})
    assert response.status_code == 200 and list(response.context["assets"]) == []


# --- PostgreSQL plans ---------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_answers_a_label_query_from_the_tag_indexes(user, other_user):
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are checked on PostgreSQL only")
    # Enough rows that a scan would cost more than the index: 3000 assets, one in 100 with a kite and
    # one in 100 with a dog. Both sides of the OR are rare: a common label would rightly be scanned.
    labels = {name: Label.objects.get_or_create(name=name)[0] for name in ("person", "car", "kite", "dog")}
    assets = Asset.objects.bulk_create(
        Asset(owner=user if n % 3 else other_user, file=f"f{n}", original_filename=f"{n}.jpg",
              sha256=f"{n:064d}", format="JPEG", mime_type="image/jpeg", width=10, height=10, byte_size=1)
        for n in range(3000)
    )  # fmt: skip
    AssetTag.objects.bulk_create(
        AssetTag(asset=asset, owner_id=asset.owner_id, label=labels[name], confidence=0.9, count=1, max_area=0.1)
        for n, asset in enumerate(assets)
        for name in (["person", "car"] + (["kite"] if n % 100 == 0 else []) + (["dog"] if n % 100 == 50 else []))
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE media_asset; ANALYZE tagging_assettag")
    for text in ("kite", "kite@0.8", "kite OR dog:big"):
        queryset = assets_search(user=user, query=parse_query(text))
        plan = queryset.explain()
        assert "Seq Scan on tagging_assettag" not in plan, plan
        # One of the covering indexes of migration 0002 (index-only once VACUUM has run, as in the bench).
        assert re.search(r"Index (Only )?Scan (using|on) asset_tag_(owner_label|asset)_cover", plan), plan
        assert len(list(queryset)) == 20


@pytest.mark.postgres
def test_postgres_checks_a_taken_range_on_the_newest_first_index(user, other_user):
    """``person taken:…`` walks the user's pictures newest first; the taken range and the trash are checked on
    the index entries (Index Cond), so rows outside the range are never read from the table."""
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are checked on PostgreSQL only")
    person = Label.objects.get_or_create(name="person")[0]
    assets = Asset.objects.bulk_create(
        Asset(owner=user if n % 3 else other_user, file=f"f{n}", original_filename=f"{n}.jpg",
              sha256=f"{n:064d}", format="JPEG", mime_type="image/jpeg", width=10, height=10, byte_size=1,
              created_at=BASE + timedelta(hours=n), taken_at=BASE - timedelta(days=400) + timedelta(hours=n))
        for n in range(3000)
    )  # fmt: skip
    AssetTag.objects.bulk_create(
        AssetTag(asset=asset, owner_id=asset.owner_id, label=person, confidence=0.9, count=1, max_area=0.1)
        for asset in assets
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE media_asset; ANALYZE tagging_assettag")
    queryset = assets_search(user=user, query=parse_query("person taken:2023-04..2023-05"))
    plan = queryset[:51].explain()
    walk = re.compile(
        r"Index Scan using asset_owner_newest on media_asset[^\n]*\n\s+Index Cond: \(\(owner_id = \d+\) AND "
        r"\(taken_at >= .*\) AND \(taken_at < .*\) AND \(trashed_at IS NULL\)\)"
    )
    assert walk.search(plan), plan
    expected = {a.pk for a in assets if a.owner_id == user.pk and datetime(2023, 4, 1, tzinfo=UTC) <= a.taken_at
                < datetime(2023, 6, 1, tzinfo=UTC)}  # fmt: skip
    assert {a.pk for a in queryset} == expected and expected
