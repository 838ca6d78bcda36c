"""Relay's data model (SQLAlchemy 2 typed models); one module per area, re-exported here."""

# Imported for its side effect: the append-only triggers attach to their tables for create_all().
from automation.models import append_only  # noqa: F401
from automation.models.accounts import ApiToken, Invitation, Membership, Role, User, Workspace
from automation.models.approvals import ApprovalStatus, ApprovalTask, AuditLog
from automation.models.base import Base, db, utcnow
from automation.models.executions import (
    FINISHED,
    Execution,
    ExecutionEvent,
    ExecutionStatus,
    StepRun,
    StepStatus,
)
from automation.models.schedules import FireStatus, ScheduleFire, ScheduleState
from automation.models.workflows import Connection, Workflow, WorkflowStatus, WorkflowVersion

__all__ = [
    "FINISHED",
    "ApiToken",
    "ApprovalStatus",
    "ApprovalTask",
    "AuditLog",
    "Base",
    "Connection",
    "Execution",
    "ExecutionEvent",
    "ExecutionStatus",
    "FireStatus",
    "Invitation",
    "Membership",
    "Role",
    "ScheduleFire",
    "ScheduleState",
    "StepRun",
    "StepStatus",
    "User",
    "Workflow",
    "WorkflowStatus",
    "WorkflowVersion",
    "Workspace",
    "db",
    "utcnow",
]
