"""Collection pages: the list (with create), one collection's images (rename, change a smart one's
search, remove images, download a zip, share), adding the library's selection to a collection, and
deleting one (its images stay). Plain form posts: every action works without JavaScript."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from albums.models import Collection
from albums.selectors import collection_get, collections_of, share_link_live
from albums.services import (
    CollectionInvalid,
    collection_add,
    collection_delete,
    collection_remove,
    share_link_create,
    share_link_revoke,
)
from assetsite.pagination import InvalidCursor, keyset_page
from library.asset_actions import back_to
from library.collection_ops import (
    collection_create_checked,
    collection_members,
    collection_problem,
    collection_summaries,
    collection_update_checked,
)
from library.views import viewer_opened
from review.forms import SelectionForm
from review.selectors import SearchInvalid, TooManyAssets, bulk_selection, form_selection
from search.query import QueryError
from tagging.models import AssetTag


def _collection_or_404(request: HttpRequest, collection_id: Any) -> Collection:
    collection = collection_get(user=request.user, collection_id=collection_id)
    if collection is None:
        raise Http404("No such collection.")
    return collection


def _problem(error: CollectionInvalid | QueryError) -> str:
    return error.message


class CollectionListView(LoginRequiredMixin, View):
    template_name = "library/collections.html"

    def get(self, request: HttpRequest, *, errors: dict[str, str] | None = None, status: int = 200,
            values: dict[str, str] | None = None) -> HttpResponse:
        summaries = collection_summaries(list(collections_of(request.user)), covers=True)
        context = {"summaries": summaries, "errors": errors or {}, "values": values or {}}
        return render(request, self.template_name, context, status=status)

    def post(self, request: HttpRequest) -> HttpResponse:
        name, query = request.POST.get("name", ""), request.POST.get("query", "")
        if request.POST.get("kind") != "smart":
            query = ""
        try:
            collection = collection_create_checked(owner=request.user, name=name, query=query)
        except CollectionInvalid as error:
            return self.get(request, errors={error.field: error.message}, status=400,
                            values={"name": name, "query": query})
        except QueryError as error:
            return self.get(request, errors={"query": error.message}, status=400,
                            values={"name": name, "query": query, "kind": "smart"})
        messages.success(request, f"Created the {'smart ' if collection.is_smart else ''}collection "
                                  f"“{collection.name}”.")
        return HttpResponseRedirect(reverse("collection-detail", args=[collection.pk]))


class CollectionDetailView(LoginRequiredMixin, View):
    """One collection's images, newest first, with everything to change it. POST renames it or changes a
    smart collection's search."""

    template_name = "library/collection_detail.html"
    page_size = 48

    def get(self, request: HttpRequest, collection_id: Any, *, extra: dict[str, Any] | None = None,
            status: int = 200) -> HttpResponse:
        collection = _collection_or_404(request, collection_id)
        viewing, params = viewer_opened(request)
        members = collection_members(collection).prefetch_related(
            Prefetch("tags", queryset=AssetTag.objects.select_related("label").order_by("-confidence"))
        )
        try:
            page = keyset_page(queryset=members, cursor=request.GET.get("cursor"), size=self.page_size)
        except InvalidCursor:
            return HttpResponseRedirect(reverse("collection-detail", args=[collection.pk]))
        context = {
            "collection": collection,
            "assets": page.items,
            "total": members.count(),
            "problem": collection_problem(collection) if collection.is_smart else "",
            "share": share_link_live(collection=collection),
            "next_url": f"?cursor={page.next_cursor}" if page.next_cursor else None,
            "previous_url": f"?cursor={page.previous_cursor}" if page.previous_cursor else None,
            # Where the page's forms come back to: without the viewer (an action closes it).
            "here": request.path + (f"?{params.urlencode()}" if params else ""),
            "viewing": viewing,
            "errors": {},
            **(extra or {}),
        }
        return render(request, self.template_name, context, status=status)

    def post(self, request: HttpRequest, collection_id: Any) -> HttpResponse:
        collection = _collection_or_404(request, collection_id)
        name = request.POST.get("name")
        query = request.POST.get("query") if collection.is_smart else None
        try:
            collection_update_checked(collection=collection, name=name, query=query)
        except (CollectionInvalid, QueryError) as error:
            field = getattr(error, "field", "query")
            collection.refresh_from_db()
            return self.get(request, collection_id, extra={"errors": {field: _problem(error)},
                                                           "values": {"name": name, "query": query}}, status=400)
        messages.success(request, f"Saved “{collection.name}”.")
        return HttpResponseRedirect(reverse("collection-detail", args=[collection.pk]))


class CollectionDeleteView(LoginRequiredMixin, View):
    def get(self, request: HttpRequest, collection_id: Any) -> HttpResponse:
        collection = _collection_or_404(request, collection_id)
        return render(request, "library/collection_delete.html", {"collection": collection})

    def post(self, request: HttpRequest, collection_id: Any) -> HttpResponse:
        collection = _collection_or_404(request, collection_id)
        name = collection.name
        collection_delete(collection=collection)
        messages.success(request, f"Deleted the collection “{name}”. Its images are still in your library.")
        return HttpResponseRedirect(reverse("collections"))


class CollectionAddView(LoginRequiredMixin, View):
    """The library's "Add to collection": the ticked images (or all matching the search) into the manual
    collection named in ``collection_name``, made on the spot if there is none by that name."""

    def post(self, request: HttpRequest) -> HttpResponse:
        back = back_to(request, reverse("library"))
        form = SelectionForm(request.POST)
        if not form.is_valid():
            messages.error(request, next(str(errors[0]) for errors in form.errors.values()))
            return HttpResponseRedirect(back)
        name = " ".join(request.POST.get("collection_name", "").split())
        if not name:
            messages.error(request, "Type the name of a collection to add the images to (a new name makes one).")
            return HttpResponseRedirect(back)
        collection = collections_of(request.user).filter(name__iexact=name).first()
        created = False
        try:
            selection = form_selection(user=request.user, data=form.cleaned_data)
            if collection is None:
                collection, created = collection_create_checked(owner=request.user, name=name), True
            added = collection_add(collection=collection, assets=selection.assets)
        except (CollectionInvalid, QueryError, TooManyAssets, SearchInvalid) as error:
            messages.error(request, getattr(error, "message", str(error)))
            return HttpResponseRedirect(back)
        already = selection.matched - added
        where = f"{'the new collection ' if created else ''}“{collection.name}”"
        text = f"Added {added} image{'s' if added != 1 else ''} to {where}."
        if already:
            text += f" {already} {'were' if already != 1 else 'was'} in it already."
        messages.success(request, text)
        return HttpResponseRedirect(back)


class CollectionRemoveView(LoginRequiredMixin, View):
    """Take the ticked images out of a manual collection; they stay in the library."""

    def post(self, request: HttpRequest, collection_id: Any) -> HttpResponse:
        collection = _collection_or_404(request, collection_id)
        back = reverse("collection-detail", args=[collection.pk])
        form = SelectionForm(request.POST)
        if not form.is_valid() or form.cleaned_data.get("matching"):
            messages.error(request, "Tick the images to take out of the collection first.")
            return HttpResponseRedirect(back)
        selection = bulk_selection(user=request.user, ids=form.cleaned_data["ids"])
        try:
            removed = collection_remove(collection=collection,
                                        asset_ids=list(selection.assets.values_list("pk", flat=True)))
        except CollectionInvalid as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(back)
        messages.success(request, f"Took {removed} image{'s' if removed != 1 else ''} out of “{collection.name}”; "
                                  f"{'they are' if removed != 1 else 'it is'} still in your library.")
        return HttpResponseRedirect(back)


class CollectionShareView(LoginRequiredMixin, View):
    """Make a share link (shown once, on the page this answers) or turn the live one off."""

    def post(self, request: HttpRequest, collection_id: Any) -> HttpResponse:
        collection = _collection_or_404(request, collection_id)
        if request.POST.get("action") == "revoke":
            revoked = share_link_revoke(collection=collection)
            messages.success(request, "The share link is off: it now answers that it was revoked."
                             if revoked else "There was no share link to turn off.")
            return HttpResponseRedirect(reverse("collection-detail", args=[collection.pk]))
        days_text = request.POST.get("expires_in_days", "").strip()
        try:
            days = int(days_text) if days_text else None
            link, key = share_link_create(collection=collection, expires_in_days=days,
                                          allow_download=request.POST.get("allow_download") in ("1", "on", "true"))
        except ValueError as error:  # CollectionInvalid is a ValueError too
            message = getattr(error, "message", "Days must be a whole number, or empty for no end.")
            view = CollectionDetailView()
            view.request = request
            return view.get(request, collection.pk, extra={"errors": {"expires_in_days": message}}, status=400)
        view = CollectionDetailView()
        view.request = request
        url = request.build_absolute_uri(reverse("share", args=[key]))
        response = view.get(request, collection.pk, extra={"new_link": url, "share": link})
        response["Cache-Control"] = "no-store"  # the link is shown this once
        return response
