from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import api as accounts_api
from bots import api as bots_api
from calls import api as calls_api
from chats import api as chats_api
from chats import drafts_api, receipts_api
from groups import api as groups_api
from lifecycle import api as lifecycle_api
from media import api as media_api
from media import avatar_serving
from media import serving as media_serving
from previews import api as previews_api
from previews import serving as previews_serving
from push import api as push_api
from push import webpush_api
from reports import urls as reports_urls
from sso import api as sso_api
from sso import views as sso_views
from twofactor import api as twofactor_api

from .health import HealthView
from .security_headers import with_inline_styles

api = [
    path("health", HealthView.as_view(), name="health"),
    path("auth/register", accounts_api.RegisterView.as_view(), name="register"),
    path("auth/token", accounts_api.TokenView.as_view(), name="token"),
    path("auth/token/refresh", accounts_api.RefreshView.as_view(), name="token-refresh"),
    path("auth/oidc", sso_api.ProviderView.as_view(), name="oidc-provider"),
    path("auth/oidc/exchange", sso_api.ExchangeView.as_view(), name="oidc-exchange"),
    path("auth/logout", accounts_api.LogoutView.as_view(), name="logout"),
    path("auth/token/two-factor", twofactor_api.SecondStepView.as_view(), name="token-two-factor"),
    path("users/me/two-factor", twofactor_api.StatusView.as_view(), name="two-factor"),
    path("users/me/two-factor/enrol", twofactor_api.EnrolView.as_view(), name="two-factor-enrol"),
    path("users/me/two-factor/confirm", twofactor_api.ConfirmView.as_view(), name="two-factor-confirm"),
    path(
        "users/me/two-factor/recovery-codes",
        twofactor_api.RecoveryCodesView.as_view(),
        name="two-factor-recovery-codes",
    ),
    path("users/me/two-factor/disable", twofactor_api.DisableView.as_view(), name="two-factor-disable"),
    path("users/me/deletion", lifecycle_api.DeletionView.as_view(), name="account-deletion"),
    path("users/me/exports", lifecycle_api.ExportsView.as_view(), name="exports"),
    path("users/me/exports/<int:export_id>", lifecycle_api.ExportDetailView.as_view(), name="export"),
    path(
        "users/me/exports/<int:export_id>/download",
        lifecycle_api.ExportDownloadView.as_view(),
        name="export-download",
    ),
    path("auth/password-reset", accounts_api.PasswordResetView.as_view(), name="password-reset"),
    path(
        "auth/password-reset/confirm",
        accounts_api.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("auth/email/verify", accounts_api.EmailVerifyView.as_view(), name="email-verify"),
    path("users/me", accounts_api.MeView.as_view(), name="me"),
    path("users/me/avatar", accounts_api.MeAvatarView.as_view(), name="me-avatar"),
    path("users/me/email", accounts_api.MeEmailView.as_view(), name="me-email"),
    path("users/me/password", accounts_api.MePasswordView.as_view(), name="me-password"),
    path("users/me/sessions", accounts_api.SessionsView.as_view(), name="me-sessions"),
    path(
        "users/me/sessions/sign-out-others",
        accounts_api.SignOutOthersView.as_view(),
        name="me-sessions-others",
    ),
    path("users/me/sessions/<int:session_id>", accounts_api.SessionDetailView.as_view(), name="me-session"),
    path("users", accounts_api.UserSearchView.as_view(), name="user-search"),
    path("users/<int:user_id>", accounts_api.UserDetailView.as_view(), name="user-detail"),
    path("users/blocks", accounts_api.BlocksView.as_view(), name="user-blocks"),
    path("users/blocks/<int:user_id>", accounts_api.BlockDetailView.as_view(), name="user-block-detail"),
    path("bots", accounts_api.BotListView.as_view(), name="bots"),
    path("bots/<int:bot_id>/token", accounts_api.BotTokenView.as_view(), name="bot-token"),
    path("friends", accounts_api.FriendsView.as_view(), name="friends"),
    path("friends/<int:user_id>", accounts_api.FriendDetailView.as_view(), name="friend-detail"),
    path("friends/requests", accounts_api.FriendRequestsView.as_view(), name="friend-requests"),
    path(
        "friends/requests/<int:request_id>/accept",
        accounts_api.FriendRequestAnswerView.as_view(accept=True),
        name="friend-request-accept",
    ),
    path(
        "friends/requests/<int:request_id>/reject",
        accounts_api.FriendRequestAnswerView.as_view(accept=False),
        name="friend-request-reject",
    ),
    path("notifications", accounts_api.NotificationsView.as_view(), name="notifications"),
    path("chats", chats_api.ChatListView.as_view(), name="chats"),
    path("chats/private", chats_api.PrivateChatView.as_view(), name="chat-private"),
    path("chats/<int:chat_id>", chats_api.ChatDetailView.as_view(), name="chat-detail"),
    path("chats/<int:chat_id>/messages", chats_api.ChatMessagesView.as_view(), name="chat-messages"),
    path("chats/<int:chat_id>/notify", chats_api.ChatNotifyView.as_view(), name="chat-notify"),
    path("chats/<int:chat_id>/draft", drafts_api.DraftView.as_view(), name="chat-draft"),
    path("drafts", drafts_api.DraftListView.as_view(), name="drafts"),
    path("messages/<int:message_id>", chats_api.MessageDetailView.as_view(), name="message-detail"),
    path("search/messages", chats_api.MessageSearchView.as_view(), name="message-search"),
    path("uploads", media_api.UploadView.as_view(), name="uploads"),
    path("attachments/<int:attachment_id>", chats_api.AttachmentView.as_view(), name="attachment-detail"),
    path("messages/<int:message_id>/forward", chats_api.MessageForwardView.as_view(), name="message-forward"),
    path("messages/<int:message_id>/pin", chats_api.MessagePinView.as_view(), name="message-pin"),
    path("chats/<int:chat_id>/pins", chats_api.ChatPinsView.as_view(), name="chat-pins"),
    path("messages/<int:message_id>/read", chats_api.MessageReadView.as_view(), name="message-read"),
    path(
        "messages/<int:message_id>/readers", receipts_api.MessageReadersView.as_view(), name="message-readers"
    ),
    path("messages/<int:message_id>/edits", receipts_api.MessageEditsView.as_view(), name="message-edits"),
    path("chats/<int:chat_id>/delivered", receipts_api.ChatDeliveredView.as_view(), name="chat-delivered"),
    path(
        "messages/<int:message_id>/reactions",
        chats_api.MessageReactionsView.as_view(),
        name="message-reactions",
    ),
    path(
        "messages/<int:message_id>/reactions/<str:emoji>",
        chats_api.MessageReactionView.as_view(),
        name="message-reaction",
    ),
    path("groups", groups_api.GroupListView.as_view(), name="groups"),
    path("groups/<int:group_id>", groups_api.GroupDetailView.as_view(), name="group-detail"),
    path("groups/<int:group_id>/avatar", groups_api.GroupAvatarView.as_view(), name="group-avatar"),
    path("groups/<int:group_id>/members", groups_api.MembersView.as_view(), name="group-members"),
    path(
        "groups/<int:group_id>/members/<int:user_id>",
        groups_api.MemberDetailView.as_view(),
        name="group-member",
    ),
    path(
        "groups/<int:group_id>/join-requests",
        groups_api.JoinRequestsView.as_view(),
        name="group-join-requests",
    ),
    path(
        "groups/<int:group_id>/join-requests/<int:request_id>/approve",
        groups_api.JoinRequestDecisionView.as_view(approve=True),
        name="group-join-request-approve",
    ),
    path(
        "groups/<int:group_id>/join-requests/<int:request_id>/reject",
        groups_api.JoinRequestDecisionView.as_view(approve=False),
        name="group-join-request-reject",
    ),
    path("groups/<int:group_id>/bans", groups_api.BansView.as_view(), name="group-bans"),
    path("groups/<int:group_id>/banned", groups_api.BannedView.as_view(), name="group-banned"),
    path(
        "groups/<int:group_id>/banned/<int:user_id>",
        groups_api.BannedDetailView.as_view(),
        name="group-banned-detail",
    ),
    path("groups/<int:group_id>/transfer", groups_api.TransferView.as_view(), name="group-transfer"),
    path("groups/<int:group_id>/invites", groups_api.InvitesView.as_view(), name="group-invites"),
    path(
        "groups/<int:group_id>/invites/<int:invite_id>",
        groups_api.InviteDetailView.as_view(),
        name="group-invite",
    ),
    path("invites/<str:token>", groups_api.InvitePreviewView.as_view(), name="invite-preview"),
    path("invites/<str:token>/join", groups_api.InviteJoinView.as_view(), name="invite-join"),
    path("groups/<int:group_id>/leave", groups_api.LeaveView.as_view(), name="group-leave"),
    path("groups/<int:group_id>/notices", groups_api.NoticesView.as_view(), name="group-notices"),
    path("bots/<int:bot_id>/reverse-endpoints", bots_api.EndpointsView.as_view(), name="bot-endpoints"),
    path(
        "bots/<int:bot_id>/reverse-endpoints/<int:endpoint_id>",
        bots_api.EndpointDetailView.as_view(),
        name="bot-endpoint",
    ),
    path("calls", calls_api.CallHistoryView.as_view(), name="calls"),
    path("push/subscriptions", push_api.SubscriptionsView.as_view(), name="push-subscriptions"),
    path(
        "push/subscriptions/<int:subscription_id>",
        push_api.SubscriptionDetailView.as_view(),
        name="push-subscription",
    ),
    path("push/vapid-key", webpush_api.VapidKeyView.as_view(), name="push-vapid-key"),
    *reports_urls.api,
    path("link-previews/<int:preview_id>", previews_api.LinkPreviewDetailView.as_view(), name="link-preview"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Split: its script is a file of its own (?script), since the policy forbids inline scripts.
    path("docs/", with_inline_styles(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("media/<int:attachment_id>/<str:variant>", media_serving.media_file, name="media-file"),
    path("api/", include(api)),
    path("media/avatars/<path:name>", avatar_serving.avatar_file, name="avatar-file"),
    path("media/previews/<path:name>", previews_serving.preview_image, name="link-preview-image"),
    # The web client: one page of ES modules under static/app/, a client of the APIs above.
    path("oidc/start/", sso_views.StartView.as_view(), name="oidc-start"),  # single sign-on (sso.views)
    path("oidc/callback/", sso_views.CallbackView.as_view(), name="oidc-callback"),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the client's language switch
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("sw.js", webpush_api.service_worker, name="service-worker"),  # Web Push notifications
    path("", TemplateView.as_view(template_name="app.html"), name="home"),
]

handler404 = "imsuite.api_errors.json_not_found"
handler500 = "imsuite.api_errors.json_server_error"
