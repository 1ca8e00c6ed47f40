"""`python manage.py create_token alice [--name NAME] [--expires-in-days N]`: a new API token, printed alone.

Only the token goes to standard output (messages go to standard error), so scripts can capture it:
``TOKEN=$(python manage.py create_token alice --name backup)``. It is shown this once; the database keeps
only its fingerprint.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from integrations.services import TokenInvalid, token_create


def create_for(username: str, *, name: str, expires_in_days: int | None) -> str:
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"There is no user {username!r}; create one with `manage.py create_user {username}`.")
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        _, key = token_create(user=user, name=name, expires_at=expires_at)
    except TokenInvalid as error:
        raise CommandError(error.message) from None
    return key


class Command(BaseCommand):
    help = "Create an API token for a user and print it (only it). Shown once: store it now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="Created with manage.py create_token", help="what the token is for")
        parser.add_argument("--expires-in-days", type=int, default=None, help="stop working after this many days")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["expires_in_days"] is not None and options["expires_in_days"] < 1:
            raise CommandError("--expires-in-days must be 1 or more.")
        key = create_for(options["username"], name=options["name"], expires_in_days=options["expires_in_days"])
        self.stdout.write(key)
