"""Existing API keys keep working: each rest_framework.authtoken key becomes a hashed ApiToken.

The keys were stored in clear in ``authtoken_token``. Each is hashed into an ApiToken of the same
user (same creation time), so clients keep sending the same ``Authorization: Token <key>``; then the
clear keys are deleted. Databases created after this change have no such table: nothing to do.
Going back cannot restore the clear keys (that is the point); it leaves the hashed tokens in place.
"""

import hashlib
from datetime import UTC, datetime

from django.db import migrations
from django.utils.dateparse import parse_datetime

OLD_TABLE = "authtoken_token"


def _aware(value):
    if isinstance(value, str):
        value = parse_datetime(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def hash_drf_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("integrations", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name('key')}, user_id, created FROM {OLD_TABLE}")
        rows = cursor.fetchall()
    for key, user_id, created in rows:
        digest = hashlib.sha256(key.encode()).hexdigest()
        token, _ = ApiToken.objects.get_or_create(
            digest=digest, defaults={"user_id": user_id, "name": "Token from before the upgrade", "prefix": key[:6]}
        )
        if created is not None:
            ApiToken.objects.filter(pk=token.pk).update(created_at=_aware(created))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {OLD_TABLE}")


class Migration(migrations.Migration):
    dependencies = [("integrations", "0002_api_tokens")]

    operations = [migrations.RunPython(hash_drf_tokens, migrations.RunPython.noop, elidable=True)]
