"""SQLAlchemy tables, one module per concept. Import this package to register them all."""

from __future__ import annotations

from idgate.store.models.apikeys import ApiKeyRow, ServiceAccountRow
from idgate.store.models.audit import AuditRow
from idgate.store.models.base import Base
from idgate.store.models.federation import FederatedIdentityRow, PendingAuthorizationRow
from idgate.store.models.sessions import BrowserSessionRow
from idgate.store.models.tokens import RefreshFamilyRow, RefreshTokenRow, RevokedTokenRow
from idgate.store.models.users import RolePermissionRow, RoleRow, UserRoleRow, UserRow

__all__ = [
    "ApiKeyRow",
    "AuditRow",
    "Base",
    "BrowserSessionRow",
    "FederatedIdentityRow",
    "PendingAuthorizationRow",
    "RefreshFamilyRow",
    "RefreshTokenRow",
    "RevokedTokenRow",
    "RolePermissionRow",
    "RoleRow",
    "ServiceAccountRow",
    "UserRoleRow",
    "UserRow",
]
