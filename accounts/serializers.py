"""Input schemas (shared by every adapter) and output shapes for accounts."""

from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed as SignInRefused
from rest_framework_simplejwt.exceptions import AuthenticationFailed, TokenError
from rest_framework_simplejwt.serializers import TokenObtainSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken

from imsuite.api_fields import InputSerializer, StrictCharField, StrictIntegerField, StrictURLField
from twofactor import services as two_factor

from . import services
from .models import Sex, User, UserSession
from .presence import online_user_ids
from .sessions import SID_CLAIM, session_revoked, session_used, start_session


class RegisterInput(InputSerializer):
    username = StrictCharField(max_length=32)
    password = StrictCharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})
    email = StrictCharField(
        max_length=254, required=False, allow_blank=True, help_text="Optional; sent a verification link."
    )
    nickname = StrictCharField(max_length=64, required=False, allow_blank=True)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False)
    age = StrictIntegerField(min_value=0, max_value=150, required=False, allow_null=True)


class ProfileInput(InputSerializer):
    nickname = StrictCharField(max_length=64, required=False, allow_blank=True)
    avatar_url = StrictURLField(max_length=500, required=False, allow_blank=True)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False)
    age = StrictIntegerField(min_value=0, max_value=150, required=False, allow_null=True)
    bio = StrictCharField(max_length=500, required=False, allow_blank=True)


class AvatarUpload(InputSerializer):
    """A multipart/form-data body with the picture (JPEG, PNG, GIF or WebP) in `file`."""

    file = serializers.FileField(help_text="The picture; read from its bytes, whatever its name says.")


class TokenInput(TokenObtainSerializer):
    """simplejwt's sign-in (the password check), with types checked rather than coerced, and the
    pair of tokens made by start_session."""

    token_class = RefreshToken

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = StrictCharField(write_only=True)
        self.fields["password"] = StrictCharField(write_only=True, trim_whitespace=False)

    def validate(self, attrs: dict) -> dict:
        """Throttled (accounts.services.signin_admit) before the password is checked; the outcome
        is counted for the client address that TrustedProxyHeaders left in REMOTE_ADDR. With a
        second factor on, a right password earns the challenge of the second step, not tokens; else
        the session starts with the device and address it signed in from (accounts.sessions)."""
        request = self.context.get("request")
        who = {"username": attrs[self.username_field], "address": request.META.get("REMOTE_ADDR", "")}
        services.signin_admit(**who)
        try:
            super().validate(attrs)  # the password check: sets self.user
        except SignInRefused:
            services.signin_failed(**who)
            raise
        services.signin_succeeded(**who)
        if two_factor.is_enabled(self.user):
            raise two_factor.second_factor_required(self.user)
        refresh = start_session(
            self.user, user_agent=request.META.get("HTTP_USER_AGENT", ""), address=who["address"]
        )
        return {"refresh": str(refresh), "access": str(refresh.access_token)}


class RefreshInput(TokenRefreshSerializer):
    refresh = StrictCharField()

    def validate(self, attrs: dict) -> dict:
        """A signed-out session's refresh token is refused even if it escaped the blacklist, and a
        refresh counts as a use of its session."""
        sid = _session_of(attrs["refresh"])
        if session_revoked(sid):
            raise AuthenticationFailed("This session has been signed out.", "session_revoked")
        try:
            data = super().validate(attrs)
        except User.DoesNotExist as exc:  # the account was deleted after the token was issued
            raise AuthenticationFailed(
                "No active account found for the given token.", "no_active_account"
            ) from exc
        session_used(sid)
        return data


def _session_of(raw: str) -> str | None:
    try:
        return RefreshToken(raw).payload.get(SID_CLAIM)
    except TokenError:
        return None  # simplejwt's own validation refuses it next, with its usual answer


class LogoutInput(InputSerializer):
    refresh = StrictCharField()


class TokenPair(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class PublicUser(serializers.ModelSerializer):
    """What anyone signed in may see of a user."""

    is_online = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "nickname",
            "avatar_url",
            "sex",
            "age",
            "bio",
            "is_bot",
            "is_online",
            "last_seen",
        ]

    def get_is_online(self, user: User) -> bool:
        online = self.context.get("online")
        if online is None:
            online = online_user_ids([user.pk])
        return user.pk in online

    def to_representation(self, instance: User) -> dict:
        """Someone who blocked the viewer (context `hidden`) shows no presence to them."""
        data = super().to_representation(instance)
        if instance.pk in self.context.get("hidden", ()):
            data["is_online"], data["last_seen"] = False, None
        return data


class OwnUser(PublicUser):
    """One's own account, with what only its owner sees."""

    owner_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta(PublicUser.Meta):
        fields = [*PublicUser.Meta.fields, "owner_id", "date_joined", "email", "email_verified"]


class EmailInput(InputSerializer):
    email = StrictCharField(max_length=254, allow_blank=True, help_text='"" removes the address.')


class EmailVerifyInput(InputSerializer):
    token = StrictCharField(max_length=500, help_text="From the link mailed to the address.")


class PasswordChangeInput(InputSerializer):
    old_password = StrictCharField(max_length=128, trim_whitespace=False)
    new_password = StrictCharField(max_length=128, trim_whitespace=False)


class PasswordResetInput(InputSerializer):
    login = StrictCharField(max_length=254, help_text="A username, or a verified email address.")


class PasswordResetConfirmInput(InputSerializer):
    uid = StrictCharField(max_length=64, help_text="From the mailed link.")
    token = StrictCharField(max_length=128, help_text="From the mailed link.")
    new_password = StrictCharField(max_length=128, trim_whitespace=False)


class SessionOut(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="The session this request came from.")

    class Meta:
        model = UserSession
        fields = ["id", "browser", "system", "user_agent", "address", "created_at", "last_used_at", "current"]

    def get_current(self, session: UserSession) -> bool:
        return session.sid == self.context.get("sid")


class SignedOut(serializers.Serializer):
    signed_out = serializers.IntegerField(help_text="How many sessions were signed out.")


class UserSearchQuery(InputSerializer):
    search = StrictCharField(max_length=64)
    limit = StrictIntegerField(min_value=1, max_value=50, required=False, default=20)


class BotCreateInput(InputSerializer):
    username = StrictCharField(max_length=32)
    nickname = StrictCharField(max_length=64, required=False, allow_blank=True)


class BotWithToken(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    nickname = serializers.CharField()
    token = serializers.CharField(help_text="Shown only now; store it, it cannot be read again.")


class BotItem(serializers.ModelSerializer):
    created_at = serializers.DateTimeField(source="date_joined")

    class Meta:
        model = User
        fields = ["id", "username", "nickname", "avatar_url", "is_active", "created_at"]


class FriendRequestInput(InputSerializer):
    user_id = StrictIntegerField(min_value=1)
    comment = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


class UserRef(serializers.Serializer):
    id = serializers.IntegerField()
    nickname = serializers.CharField()
    avatar_url = serializers.CharField()


class FriendRequestOut(serializers.Serializer):
    id = serializers.IntegerField()
    from_user = UserRef()
    to_user = UserRef()
    message = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "accepted", "rejected", "cancelled"])
    created_at = serializers.DateTimeField()
    responded_at = serializers.DateTimeField(allow_null=True)


class NotificationInput(InputSerializer):
    title = StrictCharField(max_length=100)
    message = StrictCharField(max_length=1000)
    type = serializers.ChoiceField(choices=["info", "success", "warning", "error"], default="info")
    action_url = StrictURLField(max_length=500, required=False, allow_blank=True, default="")
    user_ids = serializers.ListField(
        child=StrictIntegerField(min_value=1),
        required=False,
        allow_empty=False,
        max_length=10_000,
        help_text="Leave out to notify everyone; an empty list is refused rather than taken as everyone.",
    )


class NotificationOut(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    message = serializers.CharField()
    type = serializers.CharField()
    action_url = serializers.CharField(allow_blank=True)
    recipient_count = serializers.IntegerField(help_text="0 means everyone.")
    created_at = serializers.DateTimeField()


class BlockInput(InputSerializer):
    user_id = StrictIntegerField(min_value=1)


class BlockOut(serializers.Serializer):
    user_id = serializers.IntegerField(help_text="The person blocked.")
    user = UserRef()
    created_at = serializers.DateTimeField()
