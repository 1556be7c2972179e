"""ASGI entry point served by daphne: HTTP goes to Django, WebSockets to the realtime adapters."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imsuite.settings")
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application does

from imsuite.http_handler import SyncChainASGIHandler  # noqa: E402  (needs Django set up first)

django_asgi_app = SyncChainASGIHandler()

from django.conf import settings  # noqa: E402
from django.core.cache import caches  # noqa: E402

from chats.history_fast import HistoryFastPath  # noqa: E402
from imsuite.body_limit import BodyLimit  # noqa: E402
from imsuite.collector import settle as settle_collector  # noqa: E402
from imsuite.daphne_tuning import tune  # noqa: E402
from imsuite.flat_routing import PathRouter, TypeRouter  # noqa: E402
from imsuite.patches import check_all  # noqa: E402
from imsuite.proxy_headers import TrustedProxyHeaders  # noqa: E402
from imsuite.routing import websocket_urlpatterns  # noqa: E402
from imsuite.shutdown import install as install_graceful_shutdown  # noqa: E402
from imsuite.upload_slots import UploadSlots  # noqa: E402

tune()
install_graceful_shutdown()  # SIGTERM and SIGINT close the connections first (imsuite.shutdown)
check_all()  # the internals the other patches rely on: a mismatch is logged now, not at first use

# Django keeps one cache object per context (an asgiref Local), and every connection's and every
# request's task starts from a copy of this module's context. Made here, one cache object, with its
# Redis connection pool, serves them all (redis-py's pools are thread-safe); otherwise each
# connection and each request made its own, and with it a new Redis connection, left open until
# the garbage collector found it.
caches["default"]  # made now, for its side effect


# Proxy headers are read here, from TRUSTED_PROXIES only; daphne runs without --proxy-headers.
application = TrustedProxyHeaders(
    TypeRouter(
        {
            "http": BodyLimit(UploadSlots(HistoryFastPath(django_asgi_app))),
            "websocket": PathRouter(websocket_urlpatterns),
        }
    ),
    settings.TRUSTED_PROXIES,
)

settle_collector()  # last: what is loaded by now lives as long as the process (imsuite.collector)
