"""Pages for integrations: the user's API token and their webhooks with the delivery log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from integrations.models import Webhook, WebhookEvent
from integrations.selectors import deliveries_of, token_of, webhook_get, webhooks_of
from integrations.services import (
    WebhookInvalid,
    token_create,
    token_regenerate,
    token_revoke,
    webhook_create,
    webhook_delete,
    webhook_ping,
    webhook_secret_rotate,
    webhook_update,
)

LOG_ROWS = 50


class ApiTokenView(LoginRequiredMixin, View):
    """Show, create, regenerate or revoke the user's token for the API."""

    template_name = "integrations/token.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request, show=False)

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action", "")
        if action == "create":
            token_create(user=request.user)
            return self._page(request, show=True, note="Your token was created.")
        if action == "regenerate":
            token_regenerate(user=request.user)
            return self._page(request, show=True, note="A new token replaces the old one, which no longer works.")
        if action == "revoke":
            token_revoke(user=request.user)
            messages.success(request, "Your token was revoked; requests with it are refused from now on.")
            return redirect("integrations-token")
        if action == "show":
            return self._page(request, show=True)
        return self._page(request, show=False, status=400, note="Unknown action.")

    def _page(self, request: HttpRequest, *, show: bool, note: str = "", status: int = 200) -> HttpResponse:
        token = token_of(user=request.user)
        context = {"token": token, "show": show and token is not None, "note": note}
        return render(request, self.template_name, context, status=status)


class WebhookForm(forms.Form):
    url = forms.URLField(
        label="Payload URL", max_length=2000, assume_scheme="https", widget=forms.URLInput(attrs={"size": 60})
    )
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple, initial=WebhookEvent.values
    )


class WebhookListView(LoginRequiredMixin, View):
    template_name = "integrations/webhooks.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request, WebhookForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = WebhookForm(request.POST)
        if form.is_valid():
            try:
                webhook = webhook_create(
                    owner=request.user,
                    url=form.cleaned_data["url"],
                    events=form.cleaned_data["events"],
                    description=form.cleaned_data["description"],
                )
            except WebhookInvalid as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                # Rendered, not redirected: the secret is shown once without passing through the session.
                return _detail(request, webhook, secret_shown=True, note="Webhook added. Copy its secret now.")
        return self._page(request, form, status=400)

    def _page(self, request: HttpRequest, form: WebhookForm, status: int = 200) -> HttpResponse:
        hooks = webhooks_of(request.user)
        context = {"webhooks": hooks, "form": form, "max_hooks": settings.WEBHOOK_MAX_PER_USER}
        return render(request, self.template_name, context, status=status)


def _detail(
    request: HttpRequest, webhook: Webhook, *, secret_shown: bool = False, note: str = "", status: int = 200
) -> HttpResponse:
    context: dict[str, Any] = {
        "webhook": webhook,
        "deliveries": deliveries_of(webhook=webhook)[:LOG_ROWS],
        "secret_shown": secret_shown,
        "note": note,
        "log_rows": LOG_ROWS,
    }
    return render(request, "integrations/webhook_detail.html", context, status=status)


class WebhookDetailView(LoginRequiredMixin, View):
    """One webhook: its secret on demand, a test delivery, on/off, delete, and the delivery log."""

    def _webhook(self, request: HttpRequest, webhook_id: int) -> Webhook:
        webhook = webhook_get(user=request.user, webhook_id=webhook_id)
        if webhook is None:
            raise Http404("No such webhook.")
        return webhook

    def get(self, request: HttpRequest, webhook_id: int) -> HttpResponse:
        return _detail(request, self._webhook(request, webhook_id))

    def post(self, request: HttpRequest, webhook_id: int) -> HttpResponse:
        webhook = self._webhook(request, webhook_id)
        action = request.POST.get("action", "")
        if action == "show_secret":
            return _detail(request, webhook, secret_shown=True)
        if action == "rotate_secret":
            webhook = webhook_secret_rotate(webhook=webhook)
            return _detail(request, webhook, secret_shown=True, note="New secret; the old one no longer signs.")
        if action == "ping":
            webhook_ping(webhook=webhook)
            messages.success(request, "Test delivery queued; reload to see it in the log.")
        elif action in {"activate", "deactivate"}:
            webhook_update(webhook=webhook, active=action == "activate")
            messages.success(request, "Webhook turned on." if webhook.active else "Webhook turned off.")
        elif action == "delete":
            webhook_delete(webhook=webhook)
            messages.success(request, f"Webhook to {webhook.url} deleted.")
            return redirect("integrations-webhooks")
        else:
            return _detail(request, webhook, note="Unknown action.", status=400)
        return redirect("integrations-webhook-detail", webhook_id=webhook.pk)
