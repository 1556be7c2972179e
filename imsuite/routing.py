"""WebSocket routes: the client protocol at /ws, the bot protocol (forward mode) at /ws/bot."""

from django.urls import path

from bots.consumers import BotConsumer
from chats.consumers import ClientConsumer

websocket_urlpatterns = [
    path("ws", ClientConsumer.as_asgi()),
    path("ws/bot", BotConsumer.as_asgi()),
]
