"""Reads about calls."""

from django.db.models import Q

from accounts.models import User

from .models import Call


def call_history_page(user: User, before: int | None, limit: int) -> tuple[list[Call], int | None]:
    """The user's finished calls, newest first, keyset-paginated by id, with both parties; returns
    the page and the `before` cursor of the next (older) page, or None at the end."""
    rows = Call.objects.filter(Q(caller=user) | Q(callee=user), state=Call.State.ENDED)
    if before is not None:
        rows = rows.filter(pk__lt=before)
    page = list(rows.select_related("caller", "callee").order_by("-pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].pk if more else None)
