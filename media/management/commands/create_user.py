"""Create (or update the password of) a user: `python manage.py create_user alice --password ...`."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Create a user who can log in to the site (or reset an existing user's password)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--password", help="the password (asked for when omitted)")
        parser.add_argument("--email", default="")
        parser.add_argument("--staff", action="store_true", help="may use /admin/")
        parser.add_argument("--superuser", action="store_true")
        parser.add_argument("--no-validate", action="store_true", help="accept a weak password (demo accounts)")
        parser.add_argument("--if-missing", action="store_true", help="do nothing when the user exists")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        username = options["username"]
        existing = User.objects.filter(username=username).first()
        if existing is not None and options["if_missing"]:
            self.stdout.write(f"User {username} already exists.")
            return
        password = options["password"] or getpass.getpass(f"Password for {username}: ")
        if not password:
            raise CommandError("A password is required.")
        user = existing or User(username=username, email=options["email"])
        if not options["no_validate"]:
            try:
                validate_password(password, user)
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from None
        user.set_password(password)
        user.is_staff = user.is_staff or options["staff"] or options["superuser"]
        user.is_superuser = user.is_superuser or options["superuser"]
        user.save()
        self.stdout.write(self.style.SUCCESS(f"{'Updated' if existing else 'Created'} user {username}."))
