"""REST adapter for groups: thin views over groups.services."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import AvatarUpload
from imsuite.api_fields import ERROR_RESPONSES
from imsuite.validation import validate

from . import selectors, services
from .access import access_group, require_manager
from .models import Group, JoinRequest
from .serializers import (
    BanInput,
    BanOut,
    GroupCreateInput,
    GroupOut,
    GroupUpdateInput,
    JoinRequestInput,
    JoinRequestOut,
    MemberAddInput,
    MemberOut,
    MemberUpdateInput,
    NoticeInput,
    NoticeOut,
)

TAGS = ["groups"]


def _group_out(group: Group, viewer_id: int) -> dict:
    return GroupOut(selectors.group_summary(group, viewer_id)).data


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
        if isinstance(result, JoinRequest):
            return Response(
                JoinRequestOut(services.join_request_data(result)).data, status=status.HTTP_202_ACCEPTED
            )
        member = services.member_data(result, selectors.active_mute_until(result))
        return Response(MemberOut(member).data, status=status.HTTP_201_CREATED)


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
        group, member = access_group(request.user, group_id)
        require_manager(member)
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
