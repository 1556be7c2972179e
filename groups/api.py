"""REST adapter for groups: thin views over groups.services."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import AvatarUpload
from chats.models import ChatMember
from imsuite.api_fields import ERROR_RESPONSES
from imsuite.validation import validate

from . import invites, selectors, services
from .access import access_group, require_manager
from .models import Group, JoinRequest
from .serializers import (
    BanInput,
    BanOut,
    GroupBanInput,
    GroupBanOut,
    GroupCreateInput,
    GroupOut,
    GroupUpdateInput,
    InviteCreateInput,
    InviteOut,
    InvitePreviewOut,
    JoinRequestInput,
    JoinRequestOut,
    MemberAddInput,
    MemberOut,
    MemberUpdateInput,
    NoticeInput,
    NoticeOut,
    TransferInput,
)

TAGS = ["groups"]


def _group_out(group: Group, viewer_id: int) -> dict:
    return GroupOut(selectors.group_summary(group, viewer_id)).data


def _joined_or_requested(result: ChatMember | JoinRequest) -> Response:
    """201 with the new member, or 202 with the join request that now waits for a manager."""
    if isinstance(result, JoinRequest):
        return Response(
            JoinRequestOut(services.join_request_data(result)).data, status=status.HTTP_202_ACCEPTED
        )
    member = services.member_data(result, selectors.active_mute_until(result))
    return Response(MemberOut(member).data, status=status.HTTP_201_CREATED)


def _managed_group(request: Request, group_id: int) -> Group:
    """The group, for a read only its owner and admins (and site moderators) may make."""
    group, member = access_group(request.user, group_id)
    require_manager(member)
    return group


class GroupListView(APIView):
    @extend_schema(responses={200: GroupOut(many=True), **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request) -> Response:
        """The groups you are in, dissolved ones included (their history stays readable)."""
        return Response(GroupOut(selectors.group_list(request.user.pk), many=True).data)

    @extend_schema(request=GroupCreateInput, responses={201: GroupOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request) -> Response:
        data = validate(GroupCreateInput, request.data)
        group = services.group_create(actor=request.user, **data)
        return Response(_group_out(group, request.user.pk), status=status.HTTP_201_CREATED)


class GroupDetailView(APIView):
    @extend_schema(responses={200: GroupOut, **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request, group_id: int) -> Response:
        group, _ = access_group(request.user, group_id, allow_dissolved=True)
        return Response(_group_out(group, request.user.pk))

    @extend_schema(request=GroupUpdateInput, responses={200: GroupOut, **ERROR_RESPONSES}, tags=TAGS)
    def patch(self, request: Request, group_id: int) -> Response:
        data = validate(GroupUpdateInput, request.data)
        group = services.group_update(actor=request.user, group_id=group_id, **data)
        return Response(_group_out(group, request.user.pk))


class GroupAvatarView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": AvatarUpload},
        responses={200: GroupOut, 413: ERROR_RESPONSES[400], **ERROR_RESPONSES},
        tags=TAGS,
    )
    def post(self, request: Request, group_id: int) -> Response:
        """Owner or admin: upload a picture as the group's avatar (cropped square, 256x256 WebP,
        metadata stripped, public at its avatar_url)."""
        upload = validate(AvatarUpload, request.data)["file"]
        group = services.group_avatar_upload(actor=request.user, group_id=group_id, upload=upload)
        return Response(_group_out(group, request.user.pk))

    @extend_schema(responses={200: GroupOut, **ERROR_RESPONSES}, tags=TAGS)
    def delete(self, request: Request, group_id: int) -> Response:
        """Owner or admin: clear the group's avatar."""
        group = services.group_update(actor=request.user, group_id=group_id, avatar_url="")
        return Response(_group_out(group, request.user.pk))


class MembersView(APIView):
    @extend_schema(responses={200: MemberOut(many=True), **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request, group_id: int) -> Response:
        group, _ = access_group(request.user, group_id, allow_dissolved=True)
        members = selectors.group_members(group)
        return Response([MemberOut(services.member_data(m, m.muted_until)).data for m in members])

    @extend_schema(
        request=MemberAddInput,
        responses={
            201: MemberOut,
            202: OpenApiResponse(JoinRequestOut, description="A plain member's invitation: a join request."),
            **ERROR_RESPONSES,
        },
        tags=TAGS,
    )
    def post(self, request: Request, group_id: int) -> Response:
        data = validate(MemberAddInput, request.data)
        result = services.member_add(actor=request.user, group_id=group_id, **data)
        return _joined_or_requested(result)


class MemberDetailView(APIView):
    @extend_schema(request=MemberUpdateInput, responses={200: MemberOut, **ERROR_RESPONSES}, tags=TAGS)
    def patch(self, request: Request, group_id: int, user_id: int) -> Response:
        data = validate(MemberUpdateInput, request.data)
        member = services.member_update(actor=request.user, group_id=group_id, user_id=user_id, **data)
        return Response(MemberOut(services.member_data(member, selectors.active_mute_until(member))).data)

    @extend_schema(responses={204: None, **ERROR_RESPONSES}, tags=TAGS)
    def delete(self, request: Request, group_id: int, user_id: int) -> Response:
        """Kick: the owner kicks anyone, an admin only plain members."""
        services.member_kick(actor=request.user, group_id=group_id, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class JoinRequestsView(APIView):
    @extend_schema(responses={200: JoinRequestOut(many=True), **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request, group_id: int) -> Response:
        """Pending requests and invitations: owner and admins."""
        group = _managed_group(request, group_id)
        pending = selectors.pending_join_requests(group)
        return Response([JoinRequestOut(services.join_request_data(r)).data for r in pending])

    @extend_schema(request=JoinRequestInput, responses={201: JoinRequestOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request, group_id: int) -> Response:
        data = validate(JoinRequestInput, request.data)
        join_request = services.join_request_create(actor=request.user, group_id=group_id, **data)
        return Response(
            JoinRequestOut(services.join_request_data(join_request)).data, status=status.HTTP_201_CREATED
        )


class JoinRequestDecisionView(APIView):
    approve = True

    @extend_schema(request=None, responses={200: JoinRequestOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request, group_id: int, request_id: int) -> Response:
        decided = services.join_request_decide(
            actor=request.user, group_id=group_id, request_id=request_id, approve=self.approve
        )
        return Response(JoinRequestOut(services.join_request_data(decided)).data)


class BansView(APIView):
    @extend_schema(request=BanInput, responses={200: BanOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request, group_id: int) -> Response:
        """Mute a member, or everyone without user_id, for `duration` seconds; 0 lifts the mute."""
        data = validate(BanInput, request.data)
        mute = services.group_ban(actor=request.user, group_id=group_id, **data)
        body = {
            "group_id": group_id,
            "user_id": data.get("user_id"),
            "duration": data["duration"],
            "until": mute.until if mute else None,
        }
        return Response(BanOut(body).data)


class BannedView(APIView):
    @extend_schema(responses={200: GroupBanOut(many=True), **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request, group_id: int) -> Response:
        """Owner and admins: who is banned now (expired bans are left out)."""
        group = _managed_group(request, group_id)
        return Response([GroupBanOut(services.ban_data(b)).data for b in selectors.bans_in_force(group)])

    @extend_schema(request=GroupBanInput, responses={201: GroupBanOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request, group_id: int) -> Response:
        """Ban someone (a member is removed): refused from joining in any way until lifted or run out."""
        data = validate(GroupBanInput, request.data)
        ban = services.member_ban(actor=request.user, group_id=group_id, **data)
        return Response(GroupBanOut(services.ban_data(ban)).data, status=status.HTTP_201_CREATED)


class BannedDetailView(APIView):
    @extend_schema(responses={204: None, **ERROR_RESPONSES}, tags=TAGS)
    def delete(self, request: Request, group_id: int, user_id: int) -> Response:
        """Lift a ban: owner and admins."""
        services.ban_lift(actor=request.user, group_id=group_id, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TransferView(APIView):
    @extend_schema(request=TransferInput, responses={200: GroupOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request, group_id: int) -> Response:
        """The owner hands the group to another member and becomes an admin."""
        data = validate(TransferInput, request.data)
        group = services.group_transfer(actor=request.user, group_id=group_id, **data)
        return Response(_group_out(group, request.user.pk))


class InvitesView(APIView):
    @extend_schema(responses={200: InviteOut(many=True), **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request, group_id: int) -> Response:
        """Owner and admins: the links not revoked, newest first (expired and used-up ones too)."""
        group = _managed_group(request, group_id)
        return Response([InviteOut(invites.invite_data(link)).data for link in selectors.invite_links(group)])

    @extend_schema(request=InviteCreateInput, responses={201: InviteOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request, group_id: int) -> Response:
        data = validate(InviteCreateInput, request.data)
        link = invites.invite_create(actor=request.user, group_id=group_id, **data)
        return Response(InviteOut(invites.invite_data(link)).data, status=status.HTTP_201_CREATED)


class InviteDetailView(APIView):
    @extend_schema(responses={204: None, **ERROR_RESPONSES}, tags=TAGS)
    def delete(self, request: Request, group_id: int, invite_id: int) -> Response:
        """Revoke a link: owner and admins."""
        invites.invite_revoke(actor=request.user, group_id=group_id, invite_id=invite_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitePreviewView(APIView):
    @extend_schema(responses={200: InvitePreviewOut, **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request, token: str) -> Response:
        """Anyone signed in holding the link: the group it leads to."""
        return Response(InvitePreviewOut(invites.invite_preview(actor=request.user, token=token)).data)


class InviteJoinView(APIView):
    @extend_schema(
        request=JoinRequestInput,
        responses={
            201: MemberOut,
            202: OpenApiResponse(JoinRequestOut, description="The link needs approval: a join request."),
            **ERROR_RESPONSES,
        },
        tags=TAGS,
    )
    def post(self, request: Request, token: str) -> Response:
        """Join the group through the link, or ask to when it needs approval."""
        data = validate(JoinRequestInput, request.data)
        result = invites.invite_join(actor=request.user, token=token, **data)
        return _joined_or_requested(result)


class LeaveView(APIView):
    @extend_schema(request=None, responses={204: None, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request, group_id: int) -> Response:
        """Leave; when the owner leaves, the group is dissolved."""
        services.group_leave(actor=request.user, group_id=group_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NoticesView(APIView):
    @extend_schema(responses={200: NoticeOut(many=True), **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request, group_id: int) -> Response:
        group, _ = access_group(request.user, group_id, allow_dissolved=True)
        notices = selectors.group_notices(group)
        return Response([NoticeOut(services.notice_data(n)).data for n in notices])

    @extend_schema(request=NoticeInput, responses={201: NoticeOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request, group_id: int) -> Response:
        data = validate(NoticeInput, request.data)
        notice = services.notice_create(actor=request.user, group_id=group_id, **data)
        return Response(NoticeOut(services.notice_data(notice)).data, status=status.HTTP_201_CREATED)
