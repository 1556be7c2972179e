"""REST adapter for chats and messages: the same services and events as the WebSocket."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import BOT_OR_PERSON
from imsuite.api_fields import ERROR_RESPONSES, query_input
from imsuite.errors import DomainError, validation_error
from imsuite.rendering import renderer
from imsuite.validation import validate
from media.rendering import attachment_view
from media.serializers import AttachmentOut

from . import forwarding, pins, reactions, schemas, search, selectors, services
from .access import access_attachment, access_chat
from .events import message_data, message_for_viewer
from .serializers import (
    ChatOut,
    ForwardOut,
    HistoryPage,
    HistoryQuery,
    HistoryWindow,
    MessageOut,
    NotifyOut,
    PinOut,
    PrivateChatInput,
    ReactionListOut,
    ReactionsOut,
    ReadOut,
    SearchPage,
    SearchQuery,
)

TAGS = ["chats"]


def _message_out(message, viewer_id: int) -> dict:
    return message_for_viewer(message_data(message), viewer_id)


def history_body(page: list, next_before: int | None, viewer_id: int) -> dict:
    """A history page as the API answers it (also served by chats.history_fast)."""
    results = reactions.mark_mine([_message_out(m, viewer_id) for m in page], viewer_id)
    return renderer(HistoryPage)({"results": results, "next_before": next_before})


class ChatListView(APIView):
    @extend_schema(responses={200: ChatOut(many=True), **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request) -> Response:
        return Response([renderer(ChatOut)(chat) for chat in selectors.chat_list(request.user)])


class PrivateChatView(APIView):
    @extend_schema(request=PrivateChatInput, responses={200: ChatOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request) -> Response:
        """Get or create the private chat with a friend or one's own bot."""
        data = validate(PrivateChatInput, request.data)
        chat = services.private_chat_open(actor=request.user, user_id=data["user_id"])
        return Response(ChatOut(selectors.chat_list(request.user, chat_id=chat.pk)[0]).data)


class ChatDetailView(APIView):
    @extend_schema(responses={200: ChatOut, **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request, chat_id: int) -> Response:
        access_chat(request.user, chat_id)
        return Response(ChatOut(selectors.chat_list(request.user, chat_id=chat_id)[0]).data)


class ChatNotifyView(APIView):
    @extend_schema(request=schemas.NotifyInput, responses={200: NotifyOut, **ERROR_RESPONSES}, tags=TAGS)
    def put(self, request: Request, chat_id: int) -> Response:
        """Your notification setting of the chat; every connection of yours hears chat.notify."""
        data = validate(schemas.NotifyInput, request.data)
        return Response(NotifyOut(services.chat_notify_set(actor=request.user, chat_id=chat_id, **data)).data)


class ChatMessagesView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("before", int, description="Only messages with a smaller id (the cursor)."),
            OpenApiParameter(
                "after",
                int,
                description="The page right after this id (the newer cursor); answers next_after too.",
            ),
            OpenApiParameter(
                "around",
                int,
                description="A page centred on this message of the chat; answers next_after too.",
            ),
            OpenApiParameter("limit", int, description="1-100, default 50."),
        ],
        responses={200: HistoryWindow, **ERROR_RESPONSES},
        tags=TAGS,
    )
    def get(self, request: Request, chat_id: int) -> Response:
        """History, newest first, keyset-paginated; or a window around a message (a search result)."""
        query = query_input(HistoryQuery, request, ("before", "after", "around", "limit"))
        if "around" in query or "after" in query:
            return Response(self._window(request, chat_id, query))
        page, next_before = selectors.history_page(
            chat_id, query.get("before"), query["limit"], member_id=request.user.pk
        )
        if not page:
            access_chat(request.user, chat_id)  # a stranger's empty page is NOT_FOUND
        return Response(history_body(page, next_before, request.user.pk))

    @staticmethod
    def _window(request: Request, chat_id: int, query: dict) -> dict:
        given = [name for name in ("before", "after", "around") if name in query]
        if len(given) > 1:
            raise validation_error(given[-1], "exclusive", f"Use only one of {', '.join(given)}.")
        access_chat(request.user, chat_id)
        if "around" in query:
            page, next_before, next_after = selectors.history_around(chat_id, query["around"], query["limit"])
        else:
            page, next_before, next_after = selectors.history_after(chat_id, query["after"], query["limit"])
        results = reactions.mark_mine([_message_out(m, request.user.pk) for m in page], request.user.pk)
        return renderer(HistoryWindow)(
            {"results": results, "next_before": next_before, "next_after": next_after}
        )

    @extend_schema(
        request=schemas.MessagePostInput, responses={201: MessageOut, **ERROR_RESPONSES}, tags=TAGS
    )
    def post(self, request: Request, chat_id: int) -> Response:
        """Send a message; a repeated client_msg_id answers 200 with the original message."""
        data = validate(schemas.MessagePostInput, request.data)
        message, created = services.message_send(actor=request.user, chat_id=chat_id, **data)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(MessageOut(_message_out(message, request.user.pk)).data, status=code)


class MessageDetailView(APIView):
    @extend_schema(
        request=schemas.MessageEditInput, responses={200: MessageOut, **ERROR_RESPONSES}, tags=TAGS
    )
    def patch(self, request: Request, message_id: int) -> Response:
        data = validate(schemas.MessageEditInput, request.data)
        message = services.message_edit(actor=request.user, message_id=message_id, **data)
        return Response(MessageOut(_message_out(message, request.user.pk)).data)

    @extend_schema(responses={200: MessageOut, **ERROR_RESPONSES}, tags=TAGS)
    def delete(self, request: Request, message_id: int) -> Response:
        message = services.message_delete(actor=request.user, message_id=message_id)
        return Response(MessageOut(_message_out(message, request.user.pk)).data)


class MessageSearchView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True, description="1-100 characters; every term must occur."),
            OpenApiParameter("chat_id", int, description="Only this chat (404 if you are not in it)."),
            OpenApiParameter("sender_id", int, description="Only this sender's messages."),
            OpenApiParameter("before", int, description="Only messages with a smaller id (the cursor)."),
            OpenApiParameter("after", int, description="Only messages with a greater id."),
            OpenApiParameter("limit", int, description="1-50, default 20."),
        ],
        responses={200: SearchPage, **ERROR_RESPONSES},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        """Messages you can read that hold every term, newest first, each with its chat and a snippet."""
        query = query_input(SearchQuery, request, ("chat_id", "sender_id", "before", "after", "limit"))
        results, next_before = search.search_messages(
            request.user,
            search.query_terms(query["q"]),
            chat_id=query.get("chat_id"),
            sender_id=query.get("sender_id"),
            before=query.get("before"),
            after=query.get("after"),
            limit=query["limit"],
        )
        return Response(renderer(SearchPage)({"results": results, "next_before": next_before}))


class AttachmentView(APIView):
    authentication_classes = BOT_OR_PERSON  # a bot refreshes the links of what it received

    @extend_schema(responses={200: AttachmentOut, **ERROR_RESPONSES}, tags=["media"])
    def get(self, request: Request, attachment_id: int) -> Response:
        """A file's attachment object with fresh links (when the links a client holds expired), for
        its uploader before it is sent and for the members of the chat it was sent to."""
        return Response(AttachmentOut(attachment_view(access_attachment(request.user, attachment_id))).data)


class MessageReadView(APIView):
    @extend_schema(request=None, responses={200: ReadOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request, message_id: int) -> Response:
        member = services.message_read(actor=request.user, message_id=message_id)
        summary = selectors.chat_list(request.user, chat_id=member.chat_id)[0]
        return Response(
            ReadOut(
                {
                    "chat_id": member.chat_id,
                    "last_read_message_id": member.last_read_message_id,
                    "unread_count": summary["unread_count"],
                    "unread_mention_count": summary["unread_mention_count"],
                }
            ).data
        )


class MessageReactionsView(APIView):
    @extend_schema(responses={200: ReactionListOut, **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request, message_id: int) -> Response:
        """Everyone's reactions on a message you can read, each emoji with every person who chose it."""
        return Response(
            renderer(ReactionListOut)(reactions.reactions_of(actor=request.user, message_id=message_id))
        )

    @extend_schema(request=schemas.ReactionInput, responses={200: ReactionsOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request, message_id: int) -> Response:
        """Add your emoji (idempotent); the chat's members hear message.reaction."""
        data = validate(schemas.ReactionInput, request.data)
        answer = reactions.reaction_set(actor=request.user, message_id=message_id, add=True, **data)
        return Response(renderer(ReactionsOut)(answer))


class MessageReactionView(APIView):
    @extend_schema(responses={200: ReactionsOut, **ERROR_RESPONSES}, tags=TAGS)
    def delete(self, request: Request, message_id: int, emoji: str) -> Response:
        """Remove your emoji (idempotent); the chat's members hear message.reaction."""
        answer = reactions.reaction_set(actor=request.user, message_id=message_id, emoji=emoji, add=False)
        return Response(renderer(ReactionsOut)(answer))


class MessageForwardView(APIView):
    @extend_schema(request=schemas.ForwardInput, responses={200: ForwardOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request, message_id: int) -> Response:
        """Forward a message you can read, with its files, to chats you may send in. Each chat has its
        own result; when every chat refuses, the answer is the first chat's refusal."""
        data = validate(schemas.ForwardInput, request.data)
        results = forwarding.message_forward(actor=request.user, message_id=message_id, **data)
        refusals = [r for _, r in results if isinstance(r, DomainError)]
        if len(refusals) == len(results):
            raise refusals[0]
        body = [
            {"chat_id": chat_id, "message": None, "created": False, "error": result.as_dict()}
            if isinstance(result, DomainError)
            else {
                "chat_id": chat_id,
                "message": _message_out(result[0], request.user.pk),
                "created": result[1],
                "error": None,
            }
            for chat_id, result in results
        ]
        return Response(renderer(ForwardOut)({"results": body}))


class MessagePinView(APIView):
    @extend_schema(request=None, responses={200: PinOut, **ERROR_RESPONSES}, tags=TAGS)
    def put(self, request: Request, message_id: int) -> Response:
        """Pin a message in its chat (group owner and admins; either person of a private chat)."""
        pin = pins.message_pin(actor=request.user, message_id=message_id)
        item = pins.pin_data(pin, pin.message, pin.pinned_by)
        item["message"] = message_for_viewer(item["message"], request.user.pk)
        return Response(renderer(PinOut)(item))

    @extend_schema(request=None, responses={204: None, **ERROR_RESPONSES}, tags=TAGS)
    def delete(self, request: Request, message_id: int) -> Response:
        pins.message_unpin(actor=request.user, message_id=message_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChatPinsView(APIView):
    @extend_schema(responses={200: PinOut(many=True), **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request, chat_id: int) -> Response:
        """The chat's pinned messages, newest pin first (at most PINS_PER_CHAT_MAX)."""
        return Response(
            [renderer(PinOut)(item) for item in pins.chat_pins(actor=request.user, chat_id=chat_id)]
        )
