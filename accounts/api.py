"""REST adapter for accounts: thin views that validate input, call a service, render output."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from imsuite.api_fields import ERROR_RESPONSES, query_input
from imsuite.validation import validate

from . import blocking, credentials, selectors, services
from .access import access_user
from .models import User
from .presence import online_user_ids
from .serializers import (
    AvatarUpload,
    BlockInput,
    BlockOut,
    BotCreateInput,
    BotItem,
    BotWithToken,
    EmailInput,
    EmailVerifyInput,
    FriendRequestInput,
    FriendRequestOut,
    LogoutInput,
    NotificationInput,
    NotificationOut,
    OwnUser,
    PasswordChangeInput,
    PasswordResetConfirmInput,
    PasswordResetInput,
    ProfileInput,
    PublicUser,
    RefreshInput,
    RegisterInput,
    SessionOut,
    SignedOut,
    TokenInput,
    TokenPair,
    UserSearchQuery,
)
from .sessions import SID_CLAIM

AUTH_TAG = ["auth"]


class SessionJWTScheme(SimpleJWTScheme):
    """The schema's bearer-JWT security scheme for the default authentication (simplejwt's, subclassed)."""

    target_class = "accounts.sessions.SessionJWTAuthentication"


def _link_base(request: Request) -> str:
    """Where links in mails lead when PUBLIC_BASE_URL is not set: the host this request came to."""
    return request.build_absolute_uri("/")


def _sid(request: Request) -> str | None:
    """The session of the access token this request came with."""
    return request.auth.payload.get(SID_CLAIM) if request.auth is not None else None


def _bot_with_token(bot: User, token: str) -> dict:
    return {"id": bot.pk, "username": bot.username, "nickname": bot.nickname, "token": token}


def presence_context(viewer: User, users: list[User]) -> dict[str, set[int]]:
    """Who of these users is online, as the viewer may see it: those who blocked the viewer show
    neither presence nor last_seen (PublicUser's context)."""
    ids = [u.pk for u in users]
    return {"online": online_user_ids(ids), "hidden": selectors.blockers_among(viewer.pk, ids)}


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(request=RegisterInput, responses={201: OwnUser, **ERROR_RESPONSES}, tags=AUTH_TAG, auth=[])
    def post(self, request: Request) -> Response:
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(
            address=request.META.get("REMOTE_ADDR", ""), link_base=_link_base(request), **data.validated_data
        )
        return Response(OwnUser(user, context={"online": set()}).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=AUTH_TAG, responses={200: TokenPair, **ERROR_RESPONSES}, auth=[])
class TokenView(TokenObtainPairView):
    serializer_class = TokenInput


@extend_schema(tags=AUTH_TAG, responses={200: TokenPair, **ERROR_RESPONSES}, auth=[])
class RefreshView(TokenRefreshView):
    """Rotates: the refresh token sent is blacklisted and a new pair comes back."""

    serializer_class = RefreshInput


class LogoutView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(request=LogoutInput, responses={204: None, **ERROR_RESPONSES}, tags=AUTH_TAG, auth=[])
    def post(self, request: Request) -> Response:
        data = LogoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.session_logout(refresh=data.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses={200: OwnUser, **ERROR_RESPONSES}, tags=["users"])
    def get(self, request: Request) -> Response:
        return Response(OwnUser(request.user).data)

    @extend_schema(request=ProfileInput, responses={200: OwnUser, **ERROR_RESPONSES}, tags=["users"])
    def patch(self, request: Request) -> Response:
        data = ProfileInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_update(actor=request.user, user_id=request.user.pk, **data.validated_data)
        return Response(OwnUser(user).data)


class MeAvatarView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": AvatarUpload},
        responses={200: OwnUser, 413: ERROR_RESPONSES[400], **ERROR_RESPONSES},
        tags=["users"],
    )
    def post(self, request: Request) -> Response:
        """Upload a picture as your avatar: cropped square, 256x256 WebP, metadata stripped; it is
        served publicly at the avatar_url it gets (/media/avatars/<random name>)."""
        upload = validate(AvatarUpload, request.data)["file"]
        user = services.user_avatar_upload(actor=request.user, user_id=request.user.pk, upload=upload)
        return Response(OwnUser(user).data)

    @extend_schema(responses={200: OwnUser, **ERROR_RESPONSES}, tags=["users"])
    def delete(self, request: Request) -> Response:
        """Clear your avatar (an uploaded one's file is removed)."""
        user = services.user_update(actor=request.user, user_id=request.user.pk, avatar_url="")
        return Response(OwnUser(user).data)


class MeEmailView(APIView):
    @extend_schema(request=EmailInput, responses={200: OwnUser, **ERROR_RESPONSES}, tags=["users"])
    def put(self, request: Request) -> Response:
        """Set your email address ("" removes it). A new address is unverified (email_verified
        false) until the link mailed to it is opened; setting it again sends a new link."""
        data = validate(EmailInput, request.data)
        user = credentials.email_set(actor=request.user, email=data["email"], link_base=_link_base(request))
        return Response(OwnUser(user).data)


class EmailVerifyView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(request=EmailVerifyInput, responses={204: None, **ERROR_RESPONSES}, tags=AUTH_TAG, auth=[])
    def post(self, request: Request) -> Response:
        """Verify an address with the token of the link mailed to it (signed in or not)."""
        credentials.email_verify(**validate(EmailVerifyInput, request.data))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MePasswordView(APIView):
    @extend_schema(request=PasswordChangeInput, responses={204: None, **ERROR_RESPONSES}, tags=["users"])
    def post(self, request: Request) -> Response:
        """Change your password (the current one is required). Every other session is signed out;
        this one stays."""
        data = validate(PasswordChangeInput, request.data)
        credentials.password_change(
            actor=request.user, sid=_sid(request), address=request.META.get("REMOTE_ADDR", ""), **data
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        request=PasswordResetInput, responses={202: None, **ERROR_RESPONSES}, tags=AUTH_TAG, auth=[]
    )
    def post(self, request: Request) -> Response:
        """Ask for a password reset link, mailed to the account's verified address. The answer is
        202 whether or not such an account exists."""
        data = validate(PasswordResetInput, request.data)
        credentials.password_reset_request(
            login=data["login"], address=request.META.get("REMOTE_ADDR", ""), link_base=_link_base(request)
        )
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        request=PasswordResetConfirmInput, responses={204: None, **ERROR_RESPONSES}, tags=AUTH_TAG, auth=[]
    )
    def post(self, request: Request) -> Response:
        """Set a new password with the uid and token of a reset link; every session is signed out."""
        credentials.password_reset_confirm(**validate(PasswordResetConfirmInput, request.data))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionsView(APIView):
    @extend_schema(responses={200: SessionOut(many=True), **ERROR_RESPONSES}, tags=["users"])
    def get(self, request: Request) -> Response:
        """Your signed-in sessions, the most recently used first; `current` marks this one."""
        sessions = credentials.session_list(actor=request.user)
        return Response(SessionOut(sessions, many=True, context={"sid": _sid(request)}).data)


class SessionDetailView(APIView):
    @extend_schema(responses={204: None, **ERROR_RESPONSES}, tags=["users"])
    def delete(self, request: Request, session_id: int) -> Response:
        """Sign a session out: its tokens stop working and its connections close."""
        credentials.session_revoke(actor=request.user, session_id=session_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignOutOthersView(APIView):
    @extend_schema(request=None, responses={200: SignedOut, **ERROR_RESPONSES}, tags=["users"])
    def post(self, request: Request) -> Response:
        """Sign out every session but this one."""
        count = credentials.sessions_revoke_others(actor=request.user, sid=_sid(request))
        return Response({"signed_out": count})


class UserDetailView(APIView):
    @extend_schema(responses={200: PublicUser, **ERROR_RESPONSES}, tags=["users"])
    def get(self, request: Request, user_id: int) -> Response:
        user = access_user(request.user, user_id)
        return Response(PublicUser(user, context=presence_context(request.user, [user])).data)


class UserSearchView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("search", str, required=True, description="Part of a username or nickname."),
            OpenApiParameter("limit", int, description="At most this many results (1-50, default 20)."),
        ],
        responses={200: PublicUser(many=True), **ERROR_RESPONSES},
        tags=["users"],
    )
    def get(self, request: Request) -> Response:
        query = query_input(UserSearchQuery, request, int_fields=("limit",), defaults={"search": ""})
        term = query["search"].strip()
        users = selectors.user_search(term, query["limit"])
        return Response(PublicUser(users, many=True, context=presence_context(request.user, users)).data)


class BotListView(APIView):
    @extend_schema(responses={200: BotItem(many=True), **ERROR_RESPONSES}, tags=["bots"])
    def get(self, request: Request) -> Response:
        bots = selectors.bots_of(request.user)
        return Response(BotItem(bots, many=True).data)

    @extend_schema(request=BotCreateInput, responses={201: BotWithToken, **ERROR_RESPONSES}, tags=["bots"])
    def post(self, request: Request) -> Response:
        data = BotCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        bot, token = services.bot_create(actor=request.user, **data.validated_data)
        return Response(_bot_with_token(bot, token), status=status.HTTP_201_CREATED)


class BotTokenView(APIView):
    @extend_schema(request=None, responses={200: BotWithToken, **ERROR_RESPONSES}, tags=["bots"])
    def post(self, request: Request, bot_id: int) -> Response:
        bot, token = services.bot_token_rotate(actor=request.user, bot_id=bot_id)
        return Response(_bot_with_token(bot, token))


class FriendRequestsView(APIView):
    @extend_schema(responses={200: FriendRequestOut(many=True), **ERROR_RESPONSES}, tags=["friends"])
    def get(self, request: Request) -> Response:
        """Pending requests, sent and received (compare from_user.id with your own id)."""
        pending = selectors.pending_friend_requests(request.user)
        return Response(FriendRequestOut([services.friend_request_data(r) for r in pending], many=True).data)

    @extend_schema(
        request=FriendRequestInput, responses={201: FriendRequestOut, **ERROR_RESPONSES}, tags=["friends"]
    )
    def post(self, request: Request) -> Response:
        """Ask someone to be friends; if they already asked you, you become friends at once."""
        data = validate(FriendRequestInput, request.data)
        friend_request = services.friend_request_send(actor=request.user, **data)
        return Response(FriendRequestOut(services.friend_request_data(friend_request)).data, status=201)


class FriendRequestAnswerView(APIView):
    accept = True

    @extend_schema(request=None, responses={200: FriendRequestOut, **ERROR_RESPONSES}, tags=["friends"])
    def post(self, request: Request, request_id: int) -> Response:
        answered = services.friend_request_answer(
            actor=request.user, request_id=request_id, accept=self.accept
        )
        return Response(FriendRequestOut(services.friend_request_data(answered)).data)


class FriendsView(APIView):
    @extend_schema(responses={200: PublicUser(many=True), **ERROR_RESPONSES}, tags=["friends"])
    def get(self, request: Request) -> Response:
        friends = selectors.friends_of(request.user, "nickname", "username")
        return Response(PublicUser(friends, many=True, context=presence_context(request.user, friends)).data)


class FriendDetailView(APIView):
    @extend_schema(responses={204: None, **ERROR_RESPONSES}, tags=["friends"])
    def delete(self, request: Request, user_id: int) -> Response:
        services.friend_remove(actor=request.user, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotificationsView(APIView):
    @extend_schema(
        request=NotificationInput, responses={201: NotificationOut, **ERROR_RESPONSES}, tags=["notifications"]
    )
    def post(self, request: Request) -> Response:
        """Staff only: a `notification` event to the listed users' connections, or to everyone."""
        data = validate(NotificationInput, request.data)
        note = services.notification_send(actor=request.user, **data)
        body = {
            "id": note.pk,
            "title": note.title,
            "message": note.message,
            "type": note.type,
            "action_url": note.action_url,
            "recipient_count": selectors.recipient_count(note),
            "created_at": note.created_at,
        }
        return Response(NotificationOut(body).data, status=201)


class BlocksView(APIView):
    @extend_schema(responses={200: BlockOut(many=True), **ERROR_RESPONSES}, tags=["users"])
    def get(self, request: Request) -> Response:
        """The people you blocked, newest first (clients collapse their messages in groups)."""
        blocks = selectors.blocks_of(request.user)
        return Response(BlockOut([blocking.block_data(b) for b in blocks], many=True).data)

    @extend_schema(
        request=BlockInput, responses={200: BlockOut, 201: BlockOut, **ERROR_RESPONSES}, tags=["users"]
    )
    def post(self, request: Request) -> Response:
        """Block someone: 201 when new, 200 when they were already blocked."""
        data = validate(BlockInput, request.data)
        block, created = blocking.block_create(actor=request.user, **data)
        return Response(BlockOut(blocking.block_data(block)).data, status=201 if created else 200)


class BlockDetailView(APIView):
    @extend_schema(responses={204: None, **ERROR_RESPONSES}, tags=["users"])
    def delete(self, request: Request, user_id: int) -> Response:
        """Unblock someone."""
        blocking.block_remove(actor=request.user, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
