"""The audit log, for admins: every change with its author, filtered by who, what action
and which object, a page at a time (newest first). The filter form narrows the list in
place with htmx, and the address keeps the filter, so a filtered view can be shared."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from bot.console.auth import requires
from bot.console.context import request_db
from models.accounts.roles import Permission
from models.audit import (
    AuditAction,
    AuditObject,
    audit_filter_from_args,
    audit_page,
    typed_number,
)

blueprint = Blueprint("audit", __name__, url_prefix="/audit")

ACTION_TEXT_KEYS = {
    AuditAction.ACCOUNT_ADD: "console_action_account_add",
    AuditAction.ACCOUNT_PASSWORD: "console_action_account_password",
    AuditAction.ACCOUNT_DISABLE: "console_action_account_disable",
    AuditAction.ACCOUNT_LANGUAGE: "console_action_account_language",
    AuditAction.ACCOUNT_WECHAT: "console_action_account_wechat",
    AuditAction.ACCOUNT_WEEKLY_REPORT: "console_action_account_weekly_report",
    AuditAction.NEED_UPDATE: "console_action_need_update",
    AuditAction.CONVERSATION_ASSIGN: "console_action_conversation_assign",
    AuditAction.CONVERSATION_UNASSIGN: "console_action_conversation_unassign",
    AuditAction.CONVERSATION_ANSWER: "console_action_conversation_answer",
    AuditAction.CONVERSATION_CLOSE: "console_action_conversation_close",
    AuditAction.NEED_CATEGORY: "console_action_need_category",
    AuditAction.RESIDENT_ERASE: "console_action_resident_erase",
    AuditAction.TEMPLATE_SAVE: "console_action_template_save",
    AuditAction.TEMPLATE_DELETE: "console_action_template_delete",
    AuditAction.VILLAGE_ADD: "console_action_village_add",
    AuditAction.VILLAGE_RENAME: "console_action_village_rename",
    AuditAction.VILLAGE_RETIRE: "console_action_village_retire",
    AuditAction.TAG_ADD: "console_action_tag_add",
    AuditAction.TAG_RENAME: "console_action_tag_rename",
    AuditAction.TAG_DEACTIVATE: "console_action_tag_deactivate",
    AuditAction.TAG_ACTIVATE: "console_action_tag_activate",
    AuditAction.TAG_MERGE: "console_action_tag_merge",
    AuditAction.EVENT_CREATE: "console_action_event_create",
    AuditAction.EVENT_UPDATE: "console_action_event_update",
    AuditAction.EVENT_PUBLISH: "console_action_event_publish",
    AuditAction.EVENT_CANCEL: "console_action_event_cancel",
    AuditAction.EVENT_CHECKIN: "console_action_event_checkin",
    AuditAction.PARTNER_ADD: "console_action_partner_add",
    AuditAction.BROADCAST_SEND: "console_action_broadcast_send",
    AuditAction.BROADCAST_SCHEDULE: "console_action_broadcast_schedule",
    AuditAction.BROADCAST_CANCEL: "console_action_broadcast_cancel",
    AuditAction.OUTBOX_RETRY: "console_action_outbox_retry",
    AuditAction.OUTBOX_RESUME: "console_action_outbox_resume",
    AuditAction.MENU_PUSH: "console_action_menu_push",
    AuditAction.SWITCH_CHANGE: "console_action_switch_change",
    AuditAction.VIEW_SAVE: "console_action_view_save",
    AuditAction.VIEW_RENAME: "console_action_view_rename",
    AuditAction.VIEW_DELETE: "console_action_view_delete",
    AuditAction.EXPORT_RUN: "console_action_export_run",
}
OBJECT_TEXT_KEYS = {
    AuditObject.ACCOUNT: "console_object_account",
    AuditObject.NEED: "console_object_need",
    AuditObject.CONVERSATION: "console_object_conversation",
    AuditObject.RESIDENT: "console_object_resident",
    AuditObject.TEMPLATE: "console_object_template",
    AuditObject.VILLAGE: "console_object_village",
    AuditObject.TAG: "console_object_tag",
    AuditObject.EVENT: "console_object_event",
    AuditObject.PARTNER: "console_object_partner",
    AuditObject.BROADCAST: "console_object_broadcast",
    AuditObject.OUTBOX: "console_object_outbox",
    AuditObject.MENU: "console_object_menu",
    AuditObject.SWITCH: "console_object_switch",
    AuditObject.SAVED_VIEW: "console_object_saved_view",
    AuditObject.EXPORT: "console_object_export",
}


@blueprint.get("/")
@requires(Permission.READ_AUDIT)
def index() -> str:
    wanted = audit_filter_from_args(request.args)
    page = audit_page(request_db(), wanted, typed_number(request.args.get("page", "")) or 1)
    return render_template(
        "console/audit.html",
        page=page,
        wanted=wanted,
        actions=ACTION_TEXT_KEYS,
        objects=OBJECT_TEXT_KEYS,
    )
