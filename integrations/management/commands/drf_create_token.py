"""`python manage.py drf_create_token alice [-r]`: Django REST framework's command, kept for old scripts.

It now makes a hashed token like `create_token` (a new one on every call: the old keys are not stored,
so they cannot be printed again) and prints DRF's line ``Generated token <key> for user <name>``.
``-r`` revokes the user's other tokens first.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from integrations.management.commands.create_token import create_for
from integrations.services import token_revoke_all


class Command(BaseCommand):
    help = "Create an API token for a user (as Django REST framework's command did); prefer create_token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("-r", "--reset", action="store_true", dest="reset", help="revoke the user's other tokens")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        if options["reset"]:
            user = get_user_model().objects.filter(username=username).first()
            if user is not None:
                token_revoke_all(user=user)
        key = create_for(username, name="Created with manage.py drf_create_token", expires_in_days=None)
        self.stdout.write(f"Generated token {key} for user {username}")
