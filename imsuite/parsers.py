"""The REST API's body parser: DRF's JSONParser, through the one decoder every door shares."""

from typing import IO, Any

from django.conf import settings
from rest_framework.parsers import JSONParser

from . import safe_json


class SafeJSONParser(JSONParser):
    """JSON bodies, refused with a stable code when too large, too deep, not JSON or not finite
    (imsuite.safe_json); never a RecursionError. Reads one byte past the limit at most."""

    def parse(self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return safe_json.loads(stream.read(limit + 1), limit)
