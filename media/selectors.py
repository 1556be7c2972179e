"""Reads of uploaded files for the adapters."""

from django.db.models import BigIntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .models import Attachment


def storage_used(user_field: str) -> Coalesce:
    """An annotation: the bytes of every file stored for the user named by the outer row's
    `user_field` (what the upload quota counts), 0 when none; sortable, one subquery per row."""
    files = Attachment.objects.filter(uploader_id=OuterRef(user_field)).values("uploader_id")
    total = Subquery(files.annotate(total=Sum("size")).values("total")[:1])
    return Coalesce(total, Value(0), output_field=BigIntegerField())
