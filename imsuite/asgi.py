"""ASGI entry point served by daphne: HTTP goes to Django, WebSockets to the realtime adapters."""

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imsuite.settings")
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application does

from imsuite.http_handler import SyncChainASGIHandler  # noqa: E402  (needs Django set up first)

django_asgi_app = SyncChainASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs Django set up first)

from chats.history_fast import HistoryFastPath  # noqa: E402
from imsuite.daphne_tuning import tune  # noqa: E402
from imsuite.routing import websocket_urlpatterns  # noqa: E402

tune()

application = ProtocolTypeRouter(
    {
        "http": HistoryFastPath(django_asgi_app),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

# What is loaded by now (Django, the apps, the URLconf: several hundred thousand objects) lives as
# long as the process. Frozen, it is left out of the collector's full passes, which walked all of
# it every time: 100-160 ms pauses of the whole process, the worst latencies of docs/performance.md.
gc.collect()
gc.freeze()
