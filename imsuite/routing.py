"""WebSocket routes: the client protocol at /ws (the bot protocol joins with the groups issue)."""

from django.urls import path

from chats.consumers import ClientConsumer

websocket_urlpatterns = [
    path("ws", ClientConsumer.as_asgi()),
]
