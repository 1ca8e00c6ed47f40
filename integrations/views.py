"""Pages for integrations: the user's API tokens and their webhooks with the delivery log.

Every page here can show a secret (a new key, a signing secret), so none of their answers may be cached."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from assetsite.page_throttle import page_throttled
from integrations.models import ApiToken, Webhook, WebhookEvent
from integrations.selectors import deliveries_of, token_get, tokens_of, webhook_get, webhooks_of
from integrations.services import (
    TokenInvalid,
    WebhookInvalid,
    token_create,
    token_revoke,
    webhook_create,
    webhook_delete,
    webhook_ping,
    webhook_secret_rotate,
    webhook_update,
)

LOG_ROWS = 50


EXPIRY_CHOICES = [("", "Never"), ("7", "In 7 days"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="What it is for, e.g. “backup script”.")
    expires_in_days = forms.TypedChoiceField(
        label="Expires", choices=EXPIRY_CHOICES, coerce=int, empty_value=None, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cap = settings.API_TOKEN_MAX_DAYS
        if cap:  # only lifetimes the site allows; the longest is the default
            choices = [(value, text) for value, text in EXPIRY_CHOICES if value and int(value) <= cap]
            field = self.fields["expires_in_days"]
            field.choices = choices or [(str(cap), f"In {cap} days")]
            field.initial = field.choices[-1][0]


@method_decorator(never_cache, name="dispatch")
class ApiTokenView(LoginRequiredMixin, View):
    """The user's API tokens: create one (its key is shown on that answer only), see when each was last used,
    revoke any. Never cached: the answer that shows a key must not be kept by a browser or proxy."""

    template_name = "integrations/token.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request, TokenForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action", "")
        if action == "create":
            form = TokenForm(request.POST)
            if not form.is_valid():
                return self._page(request, form, status=400)
            days = form.cleaned_data["expires_in_days"]
            try:
                token, key = token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    expires_at=timezone.now() + timedelta(days=days) if days else None,
                )
            except TokenInvalid as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
                return self._page(request, form, status=400)
            return self._page(request, TokenForm(), new_token=token, new_key=key)
        if action == "revoke":
            token = token_get(user=request.user, token_id=request.POST.get("token", ""))
            if token is None:
                raise Http404("No such token.")
            token_revoke(token=token)
            messages.success(request, f"Token “{token.name}” revoked; requests with it are refused from now on.")
            return redirect("integrations-token")
        return self._page(request, TokenForm(), status=400, note="Unknown action.")

    def _page(
        self,
        request: HttpRequest,
        form: TokenForm,
        *,
        new_token: ApiToken | None = None,
        new_key: str = "",
        note: str = "",
        status: int = 200,
    ) -> HttpResponse:
        context = {
            "tokens": tokens_of(request.user),
            "form": form,
            "new_token": new_token,
            "new_key": new_key,
            "note": note,
            "now": timezone.now(),
            "max_tokens": settings.API_TOKEN_MAX_PER_USER,
        }
        return render(request, self.template_name, context, status=status)


class WebhookForm(forms.Form):
    url = forms.URLField(
        label="Payload URL", max_length=2000, assume_scheme="https", widget=forms.URLInput(attrs={"size": 60})
    )
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple, initial=WebhookEvent.values
    )


@method_decorator(never_cache, name="dispatch")
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


@method_decorator(never_cache, name="dispatch")
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
            back = reverse("integrations-webhook-detail", args=[webhook.pk])
            # As POST /api/webhooks/{id}/ping/: the same limits, counting the same requests.
            refused = page_throttled(request, scopes=("user", "pings"), action="send test deliveries", back=back)
            if refused is not None:
                return refused
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
