"""WebSocket routes. The client protocol (/ws) and the bot protocol (/ws/bot) are added by their issues."""

websocket_urlpatterns: list = []
