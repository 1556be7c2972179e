"""GET /media/avatars/<name>: uploaded avatars, public by link (the name is 128 random bits) and
never changed under their name (a new avatar is a new name), so browsers may keep them for a year."""

from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.http import require_safe

from imsuite.errors import not_found

from .avatars import AVATAR_DIR, NAME_RE, media_storage

CACHE_FOREVER = "public, max-age=31536000, immutable"
# An object store's link (presigned or not) is only followed for a while; the file it leads to keeps
# its long cache there.
REDIRECT_CACHE = "public, max-age=300"


@require_safe
def avatar_file(request: HttpRequest, name: str) -> HttpResponse:
    storage = media_storage()
    path = AVATAR_DIR + name
    if not NAME_RE.fullmatch(name):
        return _not_found()
    if isinstance(storage, FileSystemStorage):
        try:
            response: HttpResponse = FileResponse(storage.open(path), content_type="image/webp")
        except FileNotFoundError:
            return _not_found()
        response["Cache-Control"] = CACHE_FOREVER
    else:
        if not storage.exists(path):
            return _not_found()
        response = HttpResponseRedirect(storage.url(path))
        response["Cache-Control"] = REDIRECT_CACHE
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _not_found() -> HttpResponse:
    response = JsonResponse(not_found("Avatar").as_dict(), status=404)
    response["Cache-Control"] = "no-store"
    return response
