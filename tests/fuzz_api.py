#!/usr/bin/env python3
"""Property-based fuzzer for Portcullis' HTTP API (Stack Auth REST API v1).

What it does
    Sends requests, generated with `hypothesis`, to every `/api/v1` route the server defines
    (see `ROUTES` below; taken from `grep -rn '.route(' src`), using every access type
    (none/client/server/admin, with and without a signed-in user, plus wrong keys and bogus
    access types).  Bodies are mostly-valid objects built from each route's known fields with
    one field mutated, arbitrary recursive JSON, wrong types, extra keys, huge/negative integers,
    floats and text with control characters, NUL and astral unicode, sent as JSON, form,
    text/plain, octet-stream or garbage bytes.  Query strings and path parameters are fuzzed
    too; path parameters are either real ids made during setup (a user, a team, an API key,
    permission definitions, a contact channel, a session, an item and products from a config
    override) or fuzzed strings.

    The property checked on every response:
      * status < 500, and
      * a 4xx answer is either a known error (JSON with a `code`, and header
        `x-stack-known-error` equal to it) or a `text/plain` body.
    A violation is recorded (method, path, access type, headers, body, status, response) and
    shrunk by hypothesis to a minimal example; exploration then goes on to find more distinct
    ones (deduplicated by route + method + status/kind).

How to run
    python3 -m pip install hypothesis requests
    python3 tests/fuzz_api.py --base http://127.0.0.1:18555 --project <project id> \
        --pck <publishable client key> --ssk <secret server key> --sak <super secret admin key> \
        --seconds 120 [--seed N] [--json-out failures.json]

    The project is modified (users, teams, keys, config overrides are created, changed and
    deleted), so point it at a throw-away project.  Rate limits should be off
    (PORTCULLIS_RATE_LIMITS=off).  The final line before the failure list is
        fuzz: N requests, M server errors
    Exit code: 1 if any 5xx (or a hang / lost connection) was seen, else 0.  4xx shape violations
    are reported but do not change the exit code.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import urllib.parse
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyFailure, HypothesisWarning

# --------------------------------------------------------------------------------------------
# Route table: (method, path template, body fields, query fields).  Field kinds drive the
# "valid value" strategy; see `valid_value`.
# --------------------------------------------------------------------------------------------

USER_WRITE = {
    "display_name": "name", "profile_image_url": "url", "client_metadata": "json",
    "client_read_only_metadata": "json", "server_metadata": "json", "primary_email": "email",
    "primary_email_verified": "bool", "primary_email_auth_enabled": "bool",
    "passkey_auth_enabled": "bool", "password": "password", "password_hash": "password_hash",
    "otp_auth_enabled": "bool", "totp_secret_base64": "base64", "selected_team_id": "team_id",
    "is_anonymous": "bool", "restricted_by_admin": "bool", "restricted_by_admin_reason": "name",
    "restricted_by_admin_private_details": "name", "country_code": "country",
    "risk_scores": "risk", "oauth_providers": "oauth_list",
}
CONFIG_UPDATE = {
    "sign_up_enabled": "bool", "credential_enabled": "bool", "magic_link_enabled": "bool",
    "passkey_enabled": "bool", "client_team_creation_enabled": "bool",
    "client_user_deletion_enabled": "bool", "allow_localhost": "bool",
    "allow_user_api_keys": "bool", "allow_team_api_keys": "bool",
    "create_team_on_sign_up": "bool", "require_email_verification": "bool",
    "oauth_account_merge_strategy": "merge_strategy", "email_config": "email_config",
    "email_theme": "name", "domains": "domains", "oauth_providers": "oauth_cfg_list",
    "team_creator_default_permissions": "perm_refs",
    "team_member_default_permissions": "perm_refs", "user_default_permissions": "perm_refs",
    "email_templates": "json",
}
PROJECT_UPDATE = {
    "display_name": "name", "description": "name", "logo_url": "url", "logo_full_url": "url",
    "logo_dark_mode_url": "url", "logo_full_dark_mode_url": "url",
    "is_production_mode": "bool", "onboarding_status": "name", "config": ("obj", CONFIG_UPDATE),
}
TEAM_WRITE = {
    "display_name": "name", "profile_image_url": "url", "client_metadata": "json",
    "client_read_only_metadata": "json", "server_metadata": "json", "creator_user_id": "user_id",
}
CHANNEL_WRITE = {
    "user_id": "user_id", "value": "email", "type": "channel_type", "used_for_auth": "bool",
    "is_primary": "bool", "is_verified": "bool",
}
SEND_EMAIL = {
    "user_ids": "user_ids", "all_users": "bool", "subject": "name",
    "notification_category_name": "name", "theme_id": "json", "is_high_priority": "bool",
    "scheduled_at_millis": "millis", "html": "html", "template_id": "uuid", "variables": "json",
    "draft_id": "uuid",
}
CODE = {"code": "code"}
PERM_DEF = {"id": "perm_new_id", "description": "name", "contained_permission_ids": "perm_ids"}
APIKEY_CREATE = {
    "user_id": "user_id", "team_id": "team_id", "description": "name",
    "expires_at_millis": "millis", "is_public": "bool",
}
APIKEY_UPDATE = {"description": "name", "revoked": "bool"}
BOOLQ = "boolstr"

ROUTES: list[tuple[str, str, dict, dict]] = [
    ("GET", "", {}, {}),   # the API root is /api/v1 (no trailing slash) ...
    ("GET", "/", {}, {}),  # ... and /api/v1/ should get the API's plain-text 404
    ("GET", "/projects/current", {}, {}),
    ("GET", "/internal/projects", {}, {}),
    ("POST", "/internal/projects", dict(PROJECT_UPDATE, owner_team_id="team_id"), {}),
    ("GET", "/internal/projects/current", {}, {}),
    ("PATCH", "/internal/projects/current", PROJECT_UPDATE, {}),
    ("DELETE", "/internal/projects/current", {}, {}),
    ("GET", "/projects/{project_id}/.well-known/jwks.json", {},
     {"include_restricted": BOOLQ, "include_anonymous": BOOLQ}),
    ("GET", "/projects-anonymous-users/{project_id}/.well-known/{rest}", {}, {}),
    ("POST", "/projects-anonymous-users/{project_id}/.well-known/{rest}", {}, {}),
    ("POST", "/check-feature-support", {"feature_name": "name"}, {}),
    ("GET", "/internal/config", {}, {}),
    ("GET", "/internal/config/override/{level}", {}, {}),
    ("PUT", "/internal/config/override/{level}", {"config_string": "config_string", "source": "json"}, {}),
    ("PATCH", "/internal/config/override/{level}", {"config_override_string": "config_string"}, {}),
    ("GET", "/users", {}, {
        "limit": "intstr", "cursor": "user_id", "order_by": "order_by", "desc": BOOLQ,
        "query": "name", "team_id": "team_id", "include_restricted": BOOLQ,
        "include_anonymous": BOOLQ, "only_anonymous": BOOLQ}),
    ("POST", "/users", USER_WRITE, {}),
    ("GET", "/users/{user_id}", {}, {}),
    ("PATCH", "/users/{user_id}", USER_WRITE, {}),
    ("DELETE", "/users/{user_id}", {}, {}),
    ("POST", "/auth/password/sign-up", {"email": "email", "password": "password",
                                        "verification_callback_url": "url"}, {}),
    ("POST", "/auth/password/sign-in", {"email": "email", "password": "password"}, {}),
    ("POST", "/auth/password/update", {"old_password": "password", "new_password": "password"}, {}),
    ("POST", "/auth/password/set", {"password": "password"}, {}),
    ("POST", "/auth/anonymous/sign-up", {}, {}),
    ("POST", "/auth/password/send-reset-code", {"email": "email", "callback_url": "url"}, {}),
    ("POST", "/auth/password/reset", {"code": "code", "password": "password"}, {}),
    ("POST", "/auth/password/reset/check-code", CODE, {}),
    ("POST", "/auth/otp/send-sign-in-code", {"email": "email", "callback_url": "url"}, {}),
    ("POST", "/auth/otp/sign-in", CODE, {}),
    ("POST", "/auth/otp/sign-in/check-code", CODE, {}),
    ("GET", "/auth/sessions", {}, {"user_id": "user_id"}),
    ("POST", "/auth/sessions", {"user_id": "user_id", "expires_in_millis": "millis",
                                "is_impersonation": "bool"}, {}),
    ("DELETE", "/auth/sessions/current", {}, {}),
    ("POST", "/auth/sessions/current/refresh", {}, {}),
    ("DELETE", "/auth/sessions/{session_id}", {}, {"user_id": "user_id"}),
    ("POST", "/auth/oauth/token", {"grant_type": "grant_type", "refresh_token": "refresh_token",
                                   "client_id": "project_id", "client_secret": "pck"}, {}),
    ("POST", "/auth/oauth/token", {"grant_type": "grant_type", "code": "code", "code_verifier": "name",
                                   "redirect_uri": "url", "client_id": "project_id", "client_secret": "pck"}, {}),
    ("GET", "/auth/oauth/authorize/{provider_id}", {}, {
        "client_id": "project_id", "client_secret": "pck", "redirect_uri": "url", "scope": "name",
        "state": "name", "grant_type": "grant_type", "code_challenge": "name",
        "code_challenge_method": "pkce_method", "response_type": "name", "type": "oauth_type",
        "token": "name", "provider_scope": "name", "error_redirect_url": "url",
        "after_callback_redirect_url": "url", "stack_response_mode": "name"}),
    ("GET", "/auth/oauth/callback/{provider_id}", {}, {"state": "name", "code": "name", "error": "name"}),
    ("POST", "/auth/oauth/callback/{provider_id}", {"state": "name", "code": "name", "error": "name"}, {}),
    ("GET", "/oauth-providers", {}, {"user_id": "user_id"}),
    ("POST", "/oauth-providers", {"user_id": "user_id", "provider_config_id": "provider_id", "email": "email",
                                  "allow_sign_in": "bool", "allow_connected_accounts": "bool",
                                  "account_id": "name"}, {}),
    ("GET", "/oauth-providers/{user_id}/{oauth_account_id}", {}, {}),
    ("PATCH", "/oauth-providers/{user_id}/{oauth_account_id}", {"allow_sign_in": "bool",
                                                               "allow_connected_accounts": "bool",
                                                               "email": "email", "account_id": "name"}, {}),
    ("DELETE", "/oauth-providers/{user_id}/{oauth_account_id}", {}, {}),
    ("GET", "/connected-accounts/{user_id}", {}, {}),
    ("POST", "/connected-accounts/{user_id}/{provider_id}/access-token", {"scope": "name"}, {}),
    ("POST", "/connected-accounts/{user_id}/{provider_id}/{oauth_account_id}/access-token", {"scope": "name"}, {}),
    ("POST", "/auth/oauth/connected-accounts/{provider_id}/access-token", {"scope": "name"}, {}),
    ("POST", "/auth/oauth/cross-domain/authorize", {"redirect_uri": "url", "state": "name",
                                                     "code_challenge": "name", "code_challenge_method": "pkce_method",
                                                     "after_callback_redirect_url": "url"}, {}),
    ("POST", "/auth/oauth/callback/apple/native", {"id_token": "name"}, {}),
    ("POST", "/auth/mfa/sign-in", {"type": "name", "totp": "name", "code": "code"}, {}),
    ("POST", "/auth/mfa/sign-in/check-code", CODE, {}),
    ("POST", "/auth/cli", {"expires_in_millis": "millis", "anon_refresh_token": "refresh_token"}, {}),
    ("POST", "/auth/cli/poll", {"polling_code": "name"}, {}),
    ("POST", "/auth/cli/complete", {"login_code": "name", "mode": "name", "refresh_token": "refresh_token"}, {}),
    ("POST", "/auth/passkey/initiate-passkey-registration", {}, {}),
    ("POST", "/auth/passkey/register", {"credential": "json", "code": "code"}, {}),
    ("POST", "/auth/passkey/initiate-passkey-authentication", {}, {}),
    ("POST", "/auth/passkey/sign-in", {"authentication_response": "json", "code": "code"}, {}),
    ("GET", "/users/{user_id}/passkeys", {}, {}),
    ("DELETE", "/users/{user_id}/passkeys/{passkey_id}", {}, {}),
    ("POST", "/emails/send-email", SEND_EMAIL, {}),
    ("GET", "/emails/outbox", {}, {"status": "name", "simple_status": "name",
                                   "limit": "intstr", "cursor": "uuid"}),
    ("GET", "/emails/outbox/{outbox_id}", {}, {}),
    ("GET", "/emails/unsubscribe-link", {}, {"code": "code"}),
    ("GET", "/emails/notification-preference/{user_id}", {}, {}),
    ("PATCH", "/emails/notification-preference/{user_id}/{category_id}", {"enabled": "bool"}, {}),
    ("GET", "/contact-channels", {}, {"user_id": "user_id", "contact_channel_id": "channel_id"}),
    ("POST", "/contact-channels", CHANNEL_WRITE, {}),
    ("POST", "/contact-channels/send-verification-code", {"email": "email", "callback_url": "url"}, {}),
    ("POST", "/contact-channels/verify", CODE, {}),
    ("POST", "/contact-channels/verify/check-code", CODE, {}),
    ("GET", "/contact-channels/{user_id}/{channel_id}", {}, {}),
    ("PATCH", "/contact-channels/{user_id}/{channel_id}", CHANNEL_WRITE, {}),
    ("DELETE", "/contact-channels/{user_id}/{channel_id}", {}, {}),
    ("POST", "/contact-channels/{user_id}/{channel_id}/send-verification-code", {"callback_url": "url"}, {}),
    ("GET", "/teams", {}, {"user_id": "user_id"}),
    ("POST", "/teams", TEAM_WRITE, {}),
    ("GET", "/teams/{team_id}", {}, {}),
    ("PATCH", "/teams/{team_id}", TEAM_WRITE, {}),
    ("DELETE", "/teams/{team_id}", {}, {}),
    ("POST", "/team-memberships/{team_id}/{user_id}", {}, {}),
    ("DELETE", "/team-memberships/{team_id}/{user_id}", {}, {}),
    ("GET", "/team-member-profiles", {}, {"team_id": "team_id", "user_id": "user_id"}),
    ("GET", "/team-member-profiles/{team_id}/{user_id}", {}, {}),
    ("PATCH", "/team-member-profiles/{team_id}/{user_id}", {"display_name": "name", "profile_image_url": "url"}, {}),
    ("GET", "/team-invitations", {}, {"team_id": "team_id", "user_id": "user_id"}),
    ("POST", "/team-invitations/send-code", {"team_id": "team_id", "email": "email", "callback_url": "url"}, {}),
    ("POST", "/team-invitations/accept", CODE, {}),
    ("POST", "/team-invitations/accept/details", CODE, {}),
    ("POST", "/team-invitations/accept/check-code", CODE, {}),
    ("DELETE", "/team-invitations/{invitation_id}", {}, {"team_id": "team_id"}),
    ("POST", "/team-invitations/{invitation_id}/accept", {}, {"user_id": "user_id"}),
    ("GET", "/team-permission-definitions", {}, {}),
    ("POST", "/team-permission-definitions", PERM_DEF, {}),
    ("PATCH", "/team-permission-definitions/{team_perm_id}", PERM_DEF, {}),
    ("DELETE", "/team-permission-definitions/{team_perm_id}", {}, {}),
    ("GET", "/project-permission-definitions", {}, {}),
    ("POST", "/project-permission-definitions", PERM_DEF, {}),
    ("PATCH", "/project-permission-definitions/{project_perm_id}", PERM_DEF, {}),
    ("DELETE", "/project-permission-definitions/{project_perm_id}", {}, {}),
    ("GET", "/team-permissions", {}, {"team_id": "team_id", "user_id": "user_id",
                                      "permission_id": "team_perm_id", "recursive": BOOLQ}),
    ("POST", "/team-permissions/{team_id}/{user_id}/{team_perm_id}", {}, {}),
    ("DELETE", "/team-permissions/{team_id}/{user_id}/{team_perm_id}", {}, {}),
    ("GET", "/project-permissions", {}, {"user_id": "user_id", "permission_id": "project_perm_id",
                                         "recursive": BOOLQ}),
    ("POST", "/project-permissions/{user_id}/{project_perm_id}", {}, {}),
    ("DELETE", "/project-permissions/{user_id}/{project_perm_id}", {}, {}),
    ("GET", "/user-api-keys", {}, {"user_id": "user_id"}),
    ("POST", "/user-api-keys", APIKEY_CREATE, {}),
    ("POST", "/user-api-keys/check", {"api_key": "api_key_value"}, {}),
    ("GET", "/user-api-keys/{user_key_id}", {}, {}),
    ("PATCH", "/user-api-keys/{user_key_id}", APIKEY_UPDATE, {}),
    ("GET", "/team-api-keys", {}, {"team_id": "team_id"}),
    ("POST", "/team-api-keys", APIKEY_CREATE, {}),
    ("POST", "/team-api-keys/check", {"api_key": "api_key_value"}, {}),
    ("GET", "/team-api-keys/{team_key_id}", {}, {}),
    ("PATCH", "/team-api-keys/{team_key_id}", APIKEY_UPDATE, {}),
    ("POST", "/integrations/credential-scanning/revoke", {"api_key": "api_key_value"}, {}),
    ("GET", "/payments/items/{customer_type}/{customer_id}/{item_id}", {}, {}),
    ("POST", "/payments/items/{customer_type}/{customer_id}/{item_id}/update-quantity",
     {"delta": "delta", "expires_at": "datetime", "description": "name"}, {"allow_negative": BOOLQ}),
    ("GET", "/payments/products/{customer_type}/{customer_id}", {}, {"cursor": "name", "limit": "intstr"}),
    ("POST", "/payments/products/{customer_type}/{customer_id}",
     {"product_id": "product_id", "product_inline": "product_inline", "quantity": "quantity"}, {}),
    ("DELETE", "/payments/products/{customer_type}/{customer_id}/{product_id}", {}, {"subscription_id": "uuid"}),
    ("POST", "/payments/products/{customer_type}/{customer_id}/switch",
     {"from_product_id": "product_id", "to_product_id": "product_id", "price_id": "price_id",
      "quantity": "quantity"}, {}),
    ("POST", "/payments/purchases/create-purchase-url",
     {"customer_type": "customer_type", "customer_id": "customer_id", "product_id": "product_id",
      "product_inline": "product_inline", "return_url": "url"}, {}),
    ("POST", "/payments/purchases/validate-code", {"full_code": "full_code", "return_url": "url"}, {}),
    ("GET", "/payments/purchases/validate-code", {}, {"full_code": "full_code", "return_url": "url"}),
    ("POST", "/payments/purchases/purchase-session",
     {"full_code": "full_code", "price_id": "price_id", "quantity": "quantity"}, {}),
    ("POST", "/internal/payments/test-mode-purchase-session",
     {"full_code": "full_code", "price_id": "price_id", "quantity": "quantity"}, {}),
    ("GET", "/internal/payments/transactions", {}, {"cursor": "name", "limit": "intstr",
                                                    "kind": "txn_kind", "customer_type": "customer_type"}),
    ("POST", "/internal/payments/transactions/refund",
     {"kind": "txn_kind", "id": "uuid", "refund_entries": "refund_entries"}, {}),
    ("POST", "/payments/products/{customer_type}/{customer_id}/{product_id}/reactivate", {},
     {"subscription_id": "uuid"}),
    ("GET", "/payments/billing/{customer_type}/{customer_id}", {}, {}),
    ("GET", "/payments/invoices/{customer_type}/{customer_id}", {}, {"cursor": "uuid", "limit": "intstr"}),
    ("POST", "/payments/payment-method/{customer_type}/{customer_id}/setup-intent", {}, {}),
    ("POST", "/payments/payment-method/{customer_type}/{customer_id}/set-default",
     {"setup_intent_id": "name"}, {}),
    ("POST", "/integrations/stripe/webhooks", {"id": "name", "type": "name"}, {"project_id": "name"}),
]
# Outside /api: only the health check is part of the public API surface.
PLAIN_ROUTES = [("GET", "/health", {}, {})]

# --------------------------------------------------------------------------------------------
# Fixtures made during setup (refreshed every round, since fuzzing deletes things).
# --------------------------------------------------------------------------------------------


@dataclass
class Fixtures:
    project_id: str
    pck: str
    ssk: str
    sak: str
    ids: dict[str, list[str]] = field(default_factory=dict)
    access_token: str | None = None
    refresh_token: str | None = None

    def pick(self, kind: str) -> list[str]:
        return self.ids.get(kind, [])


PAYMENTS_OVERRIDE = {
    "payments.testMode": True,
    "payments.items.credits": {"displayName": "Credits", "customerType": "user"},
    "payments.items.seats": {"displayName": "Seats", "customerType": "team"},
    "payments.productLines.plans": {"displayName": "Plans", "customerType": "user"},
    "payments.products.free": {
        "displayName": "Free", "customerType": "user", "productLineId": "plans",
        "prices": "include-by-default",
        "includedItems": {"credits": {"quantity": 5, "repeat": "never", "expires": "never"}},
    },
    "payments.products.pro": {
        "displayName": "Pro", "customerType": "user", "productLineId": "plans", "stackable": False,
        "prices": {"monthly": {"USD": "10", "interval": [1, "month"], "serverOnly": False}},
        "includedItems": {"credits": {"quantity": 100, "repeat": [1, "month"],
                                      "expires": "when-repeated"}},
    },
    "payments.products.pack": {
        "displayName": "Pack", "customerType": "user", "stackable": True,
        "prices": {"once": {"USD": "5"}},
        "includedItems": {"credits": {"quantity": 50}},
    },
    "payments.products.teamplan": {
        "displayName": "Team", "customerType": "team",
        "prices": {"once": {"USD": "50"}},
        "includedItems": {"seats": {"quantity": 3}},
    },
}


class Api:
    def __init__(self, base: str, fx: Fixtures, timeout: float = 20.0):
        self.base = base.rstrip("/")
        self.fx = fx
        self.timeout = timeout
        self.count = 0
        self.session = requests.Session()

    def headers(self, access: str | None, user: bool = False) -> dict[str, str]:
        fx = self.fx
        h: dict[str, str] = {}
        if access:
            h["x-stack-project-id"] = fx.project_id
            h["x-stack-access-type"] = access
            key = {"client": ("x-stack-publishable-client-key", fx.pck),
                   "server": ("x-stack-secret-server-key", fx.ssk),
                   "admin": ("x-stack-super-secret-admin-key", fx.sak)}[access]
            h[key[0]] = key[1]
        if user and fx.access_token:
            h["x-stack-access-token"] = fx.access_token
        return h

    def raw(self, method: str, url: str, headers: dict, data: bytes | None, params=None):
        self.count += 1
        req = requests.Request(method, url, headers=headers, data=data)
        prep = self.session.prepare_request(req)
        if params is not None:
            prep.url = url + ("?" + params if params else "")
        return self.session.send(prep, timeout=self.timeout, allow_redirects=False)

    def call(self, method: str, path: str, access: str | None, body: Any = None,
             user: bool = False) -> requests.Response:
        h = self.headers(access, user)
        data = None
        if body is not None:
            h["content-type"] = "application/json"
            data = json.dumps(body).encode()
        return self.raw(method, self.base + "/api/v1" + path, h, data)


def setup(api: Api) -> None:
    """(Re)creates the fixtures the path parameters refer to.  Best effort: a fixture that
    cannot be made (because fuzzing changed the project) is simply left out."""
    fx = api.fx
    ids: dict[str, list[str]] = {"project_id": [fx.project_id], "level": ["project", "branch", "environment"]}
    tag = uuid.uuid4().hex[:10]

    def j(resp):
        try:
            return resp.json()
        except ValueError:
            return {}

    # Keep the project usable: fuzzing may switch sign-up and friends off.
    api.call("PATCH", "/internal/projects/current", "admin", {"config": {
        "sign_up_enabled": True, "credential_enabled": True, "magic_link_enabled": True,
        "client_team_creation_enabled": True, "client_user_deletion_enabled": False,
        "allow_user_api_keys": True, "allow_team_api_keys": True, "passkey_enabled": True,
        "require_email_verification": False}})
    api.call("PATCH", "/internal/config/override/branch", "admin",
             {"config_override_string": json.dumps(PAYMENTS_OVERRIDE)})
    r = j(api.call("POST", "/auth/password/sign-up", "client",
                   {"email": f"fz-{tag}@example.com", "password": "Fuzz-pass-123"}))
    fx.access_token = r.get("access_token")
    fx.refresh_token = r.get("refresh_token")
    users = [u for u in [r.get("user_id")] if u]
    r2 = j(api.call("POST", "/users", "server", {"primary_email": f"fz2-{tag}@example.com",
                                                 "display_name": "Fuzz two",
                                                 "primary_email_auth_enabled": True,
                                                 "password": "Fuzz-pass-123"}))
    if r2.get("id"):
        users.append(r2["id"])
    ids["user_id"] = users + ["me"]
    team = j(api.call("POST", "/teams", "server",
                      {"display_name": "Fuzz team", **({"creator_user_id": users[0]} if users else {})}))
    ids["team_id"] = [team["id"]] if team.get("id") else []
    if ids["team_id"] and len(users) > 1:
        api.call("POST", f"/team-memberships/{ids['team_id'][0]}/{users[1]}", "server", {})
    tp = j(api.call("POST", "/team-permission-definitions", "admin",
                    {"id": f"fz_team_{tag}", "description": "fuzz"}))
    pp = j(api.call("POST", "/project-permission-definitions", "admin",
                    {"id": f"fz_proj_{tag}", "description": "fuzz"}))
    ids["team_perm_id"] = [x for x in [tp.get("id"), "$read_members", "team_admin", "team_member"] if x]
    ids["project_perm_id"] = [x for x in [pp.get("id")] if x]
    uk = j(api.call("POST", "/user-api-keys", "server",
                    {"user_id": users[0] if users else "", "description": "fuzz key"})) if users else {}
    tk = j(api.call("POST", "/team-api-keys", "server",
                    {"team_id": ids["team_id"][0], "description": "fuzz team key"})) if ids["team_id"] else {}
    ids["user_key_id"] = [x for x in [uk.get("id")] if x]
    ids["team_key_id"] = [x for x in [tk.get("id")] if x]
    ids["api_key_value"] = [x for x in [uk.get("value"), tk.get("value")] if x]
    if users:
        ch = j(api.call("GET", f"/contact-channels?user_id={users[0]}", "server"))
        ids["channel_id"] = [c["id"] for c in ch.get("items", []) if isinstance(c, dict) and "id" in c]
        ss = j(api.call("GET", f"/auth/sessions?user_id={users[0]}", "server"))
        ids["session_id"] = [c["id"] for c in ss.get("items", []) if isinstance(c, dict) and "id" in c]
    out = j(api.call("GET", "/emails/outbox", "server"))
    ids["outbox_id"] = [c["id"] for c in out.get("items", []) if isinstance(c, dict) and "id" in c][:3]
    if ids["team_id"]:
        inv = j(api.call("GET", f"/team-invitations?team_id={ids['team_id'][0]}", "server"))
        ids["invitation_id"] = [c["id"] for c in inv.get("items", []) if isinstance(c, dict) and "id" in c][:3]
    ids["customer_type"] = ["user", "team", "custom"]
    ids["customer_id"] = users + ids["team_id"] + ["custom-customer-1"]
    ids["item_id"] = ["credits", "seats"]
    ids["product_id"] = ["free", "pro", "pack", "teamplan"]
    ids["price_id"] = ["monthly", "once"]
    ids["category_id"] = ["transactional", "marketing", str(uuid.uuid4())]
    ids["rest"] = ["openid-configuration", "jwks.json", "oauth-authorization-server"]
    if users:
        cu = j(api.call("POST", "/payments/purchases/create-purchase-url", "server",
                        {"customer_type": "user", "customer_id": users[0], "product_id": "pack"}))
        url = cu.get("url", "")
        ids["full_code"] = [url.rstrip("/").rsplit("/", 1)[-1]] if url else []
    fx.ids = ids


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------

NASTY_STRINGS = [
    "", " ", "me", "null", "true", "0", "-1", "1e400", "NaN", "\x00", "a\x00b", "\u202e",
    "\ud7ff", "\U0001f600", "\ufeff", "%", "%00", "%ZZ", "..", "../..", "/", "\\", "'", "\"",
    "'; DROP TABLE users; --", "$1", "?", "#", "*", "{}", "[]", "a" * 300, "x" * 70_000,
    "9" * 40, "-9223372036854775809", "9223372036854775808", "18446744073709551616",
    "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "\r\n", "\t", "é", "ß", "İ", "𝔘𝔫𝔦", "<script>", "2024-13-45T99:99:99Z", "1970-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z", "-292277022657-01-27T08:29:52Z",
]
EDGE_INTS = [0, -1, 1, 2**31 - 1, 2**31, -2**31 - 1, 2**53, 2**53 + 1, 2**63 - 1, 2**63,
             -2**63, -2**63 - 1, 2**64, 10**30, -10**30, 8_640_000_000_000_000, 253402300799999]

nasty_text = st.one_of(
    st.sampled_from(NASTY_STRINGS),
    st.text(max_size=40),  # any code point but surrogates: NUL, controls, astral
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=8),
    st.text(alphabet=st.characters(categories=["Zs", "Cc", "Cf", "Co", "Mn"]), max_size=12),
)
big_ints = st.one_of(st.sampled_from(EDGE_INTS), st.integers(), st.integers(-10, 10))
floats = st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                   st.sampled_from([0.5, -0.0, 1e308, -1e308, 1e-310, 3.0, 2.0**63]))
json_scalars = st.one_of(st.none(), st.booleans(), big_ints, floats, nasty_text)
json_values = st.recursive(
    json_scalars,
    lambda c: st.one_of(st.lists(c, max_size=5), st.dictionaries(nasty_text, c, max_size=5)),
    max_leaves=12,
)


def real(fx: Fixtures, kind: str):
    vals = fx.pick(kind)
    return st.sampled_from(vals) if vals else st.just(str(uuid.uuid4()))


def valid_value(kind: Any, fx: Fixtures) -> st.SearchStrategy:
    if isinstance(kind, tuple) and kind[0] == "obj":
        return valid_object(kind[1], fx)
    u = st.uuids().map(str)
    table: dict[str, st.SearchStrategy] = {
        "name": st.one_of(st.text(min_size=1, max_size=30), st.just("Fuzz")),
        "email": st.one_of(st.from_regex(r"\A[a-z0-9.]{1,12}@example\.com\Z"), st.just("someone@example.com"),
                           st.emails().map(str.lower)),
        "password": st.one_of(st.just("Correct-horse-9"), st.from_regex(r"\A[A-Za-z0-9!-]{8,20}\Z"),
                              st.text(min_size=8, max_size=72)),
        "password_hash": st.sampled_from([
            "$2a$10$CwTycUXWue0Thq9StjUM0uJ8.eL1nEoK7vZmEFZWmJ8qT7IacUpJq", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
            "plain", "$2a$99$x"]),
        "url": st.sampled_from(["http://localhost:3000/cb", "https://example.com/x?y=1",
                                "data:image/png;base64,iVBORw0KGgo=", "javascript:alert(1)"]),
        "json": json_values,
        "bool": st.booleans(),
        "uuid": u,
        "millis": st.one_of(st.integers(0, 2**45), big_ints),
        "delta": st.one_of(st.integers(-100, 100), big_ints),
        "quantity": st.one_of(st.integers(0, 5), big_ints),
        "base64": st.sampled_from(["AAAAAAAAAAAAAAAAAAAA", "JBSWY3DPEHPK3PXP", "not base64!!", ""]),
        "country": st.sampled_from(["US", "DE", "zz", "", "USA"]),
        "risk": st.fixed_dictionaries({"sign_up": st.fixed_dictionaries(
            {"bot": big_ints, "free_trial_abuse": big_ints})}),
        "oauth_list": st.lists(st.fixed_dictionaries({"id": st.sampled_from(["github", "google", "x"]),
                                                      "account_id": nasty_text,
                                                      "email": st.one_of(st.none(), st.emails())}), max_size=2),
        "merge_strategy": st.sampled_from(["link_method", "raise_error", "allow_duplicates", "bogus"]),
        "email_config": st.one_of(st.fixed_dictionaries({"type": st.just("shared")}),
                                  st.fixed_dictionaries({"type": st.just("standard"), "host": nasty_text,
                                                         "port": big_ints, "username": nasty_text,
                                                         "password": nasty_text, "sender_name": nasty_text,
                                                         "sender_email": st.emails()})),
        "domains": st.lists(st.fixed_dictionaries({"domain": st.sampled_from(["https://a.example", "http://localhost:1", "nope"]),
                                                   "handler_path": st.sampled_from(["/handler", "", "x"])}), max_size=2),
        "oauth_cfg_list": st.lists(st.fixed_dictionaries({"id": st.sampled_from(["github", "google", "bogus"]),
                                                          "type": st.sampled_from(["shared", "standard"])}), max_size=2),
        "perm_refs": st.lists(st.fixed_dictionaries({"id": st.one_of(real(fx, "team_perm_id"), nasty_text)}), max_size=2),
        "perm_ids": st.lists(st.one_of(real(fx, "team_perm_id"), real(fx, "project_perm_id"), nasty_text), max_size=3),
        "perm_new_id": st.one_of(st.from_regex(r"\A[a-z_][a-z0-9_:]{0,20}\Z"), st.just("$bad"), nasty_text),
        "user_ids": st.lists(real(fx, "user_id"), max_size=3),
        "html": st.sampled_from(["<p>hi</p>", "", "<p>{{ x }}</p>", "{% if %}"]),
        "config_string": st.one_of(
            st.just(json.dumps(PAYMENTS_OVERRIDE)),
            json_values.map(json.dumps),
            st.dictionaries(st.sampled_from(["payments.items.x", "payments.products.y", "teams.allowClientTeamCreation",
                                             "rbac.permissions.p", "payments.productLines.z", "a..b", "", "."]),
                            json_values, max_size=3).map(json.dumps),
            nasty_text),
        "grant_type": st.sampled_from(["refresh_token", "authorization_code", "password", ""]),
        "refresh_token": st.one_of(st.just(fx.refresh_token or "x"), nasty_text),
        "project_id": st.just(fx.project_id),
        "pck": st.just(fx.pck),
        "channel_type": st.sampled_from(["email", "phone", "EMAIL"]),
        "boolstr": st.sampled_from(["true", "false", "TRUE", "1", ""]),
        "intstr": st.one_of(st.integers(-5, 200).map(str), big_ints.map(str), nasty_text),
        "order_by": st.sampled_from(["signed_up_at", "name"]),
        "datetime": st.sampled_from(["2030-01-01T00:00:00Z", "2000-01-01T00:00:00.000Z", "now", ""]),
        "product_inline": st.one_of(
            st.just({"display_name": "Inline", "customer_type": "user", "server_only": False,
                     "prices": {"p": {"USD": "1"}}, "included_items": {"credits": {"quantity": 1}}}),
            st.dictionaries(st.sampled_from(["display_name", "customer_type", "prices", "included_items",
                                             "server_only", "stackable", "displayName", "customerType"]),
                            json_values, max_size=5)),
        "customer_type": st.sampled_from(["user", "team", "custom", "USER", ""]),
        "customer_id": st.one_of(real(fx, "customer_id"), nasty_text),
        "txn_kind": st.sampled_from(["subscription", "one_time_purchase", "item_quantity_change",
                                     "purchase", "bogus"]),
        "refund_entries": st.lists(st.fixed_dictionaries({"entry_index": big_ints, "quantity": big_ints}), max_size=3),
        "code": st.one_of(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=45, max_size=45), nasty_text),
        "full_code": st.one_of(real(fx, "full_code"), nasty_text),
        "provider_id": st.sampled_from(["github", "google", "microsoft", "keycloak", "nope", "GitHub"]),
        "pkce_method": st.sampled_from(["S256", "plain", ""]),
        "oauth_type": st.sampled_from(["authenticate", "link", "other"]),
    }
    if kind in table:
        return table[kind]
    # Everything else names a fixture kind (user_id, team_id, product_id, …).
    return st.one_of(real(fx, kind), u)


def valid_object(fields: dict, fx: Fixtures) -> st.SearchStrategy:
    """A body with every known field (so required ones are there) or any subset of them."""
    if not fields:
        return st.just({})
    values = {k: valid_value(v, fx) for k, v in fields.items()}
    full = st.fixed_dictionaries(values)
    # Known-conflicting pairs (password/password_hash, product_id/product_inline) break "full".
    for a, b in (("password", "password_hash"), ("product_id", "product_inline"),
                 ("user_id", "team_id"), ("template_id", "html"), ("user_ids", "all_users")):
        if a in fields and b in fields:
            full = st.one_of(st.fixed_dictionaries({k: v for k, v in values.items() if k != a}),
                             st.fixed_dictionaries({k: v for k, v in values.items() if k != b}))
    return st.one_of(full, st.fixed_dictionaries({}, optional=values))


def wrong_value() -> st.SearchStrategy:
    return st.one_of(json_scalars, json_values, st.just([]), st.just({}), st.just(None))


@st.composite
def mutated_object(draw, fields: dict, fx: Fixtures):
    obj = dict(draw(valid_object(fields, fx)))
    how = draw(st.sampled_from(["replace", "replace", "delete", "extra", "null"]))
    keys = list(fields)
    if how == "extra" or not keys:
        obj[draw(nasty_text)] = draw(json_values)
    else:
        k = draw(st.sampled_from(keys))
        if how == "delete":
            obj.pop(k, None)
        elif how == "null":
            obj[k] = None
        else:
            obj[k] = draw(wrong_value())
    return obj


ACCESS = st.sampled_from([None, "client", "server", "admin", "client", "server", "admin"])


@dataclass
class Req:
    method: str
    route: str
    path: str
    query: str
    access: str | None
    headers: dict
    body: bytes | None
    note: str = ""

    def curl(self, base: str) -> str:
        parts = ["curl", "-sS", "-i", "-X", self.method]
        for k, v in self.headers.items():
            parts += ["-H", _sh(f"{k}: {v}")]
        if self.body is not None:
            try:
                text = self.body.decode("utf-8")
                if len(text) > 4000:
                    raise UnicodeDecodeError("utf-8", b"", 0, 1, "long")
                parts += ["--data-binary", _sh(text)]
            except UnicodeDecodeError:
                parts = ["printf", _sh("".join(f"\\x{b:02x}" for b in self.body[:4000])), "|"] + parts
                parts += ["--data-binary", "@-"]
        url = base + self.path + ("?" + self.query if self.query else "")
        parts.append(_sh(url))
        return " ".join(parts)


def _sh(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def encode_param(s: str) -> str:
    return urllib.parse.quote(s, safe="")


@st.composite
def request_for(draw, route, fx: Fixtures, prefix: str):
    method, template, body_fields, query_fields = route
    # Path parameters: a real id or a fuzzed string.
    path = template
    for name in [seg[1:-1] for seg in template.split("/") if seg.startswith("{")]:
        val = draw(st.one_of(real(fx, name), real(fx, name), valid_value(name, fx), nasty_text)
                   if name not in ("project_id",) else st.one_of(st.just(fx.project_id), nasty_text))
        if val == "":
            val = "x"
        path = path.replace("{" + name + "}", encode_param(val), 1)
    path = prefix + path

    # Query string.
    q: dict[str, str] = {}
    if query_fields:
        q = dict(draw(st.fixed_dictionaries({}, optional={
            k: st.one_of(valid_value(v, fx), nasty_text).map(lambda x: x if isinstance(x, str) else json.dumps(x))
            for k, v in query_fields.items()})))
    if draw(st.integers(0, 9)) == 9:
        q[draw(nasty_text) or "x"] = draw(nasty_text)
    query = urllib.parse.urlencode(q)
    if draw(st.integers(0, 19)) == 19:
        query = draw(st.sampled_from(["%", "a=%ZZ", "a&a&a", "=", "&&=&", "x=%00", "%FF%FE=1"]))

    # Access.
    access = draw(ACCESS)
    headers: dict[str, str] = {}
    if access:
        headers = {"x-stack-project-id": fx.project_id, "x-stack-access-type": access}
        key_name, key = {"client": ("x-stack-publishable-client-key", fx.pck),
                         "server": ("x-stack-secret-server-key", fx.ssk),
                         "admin": ("x-stack-super-secret-admin-key", fx.sak)}[access]
        twist = draw(st.integers(0, 19))  # 0..15: the right key; shrinks toward that
        if method == "DELETE" and template == "/internal/projects/current" and access == "admin":
            twist = 18  # never delete the fuzz project itself
        if twist == 19:
            headers["x-stack-access-type"] = draw(st.sampled_from(["CLIENT", "root", "", "admin "]))
        elif twist == 18:
            key = "wrong_" + key[:6]
        elif twist == 17:
            headers["x-stack-project-id"] = draw(st.sampled_from(["internal", "nope", str(uuid.uuid4()), "me"]))
        elif twist == 16:
            headers["x-stack-branch-id"] = draw(st.sampled_from(["main", "dev", "x" * 100]))
        headers[key_name] = key
    if fx.access_token and draw(st.booleans()):
        headers["x-stack-access-token"] = draw(st.sampled_from(
            [fx.access_token] * 6 + [fx.access_token[:-4] + "AAAA", "garbage", "a.b.c"]))
        if draw(st.booleans()):
            headers["x-stack-allow-anonymous-user"] = "true"
    if fx.refresh_token and ("sessions" in template or "oauth" in template) and draw(st.booleans()):
        headers["x-stack-refresh-token"] = draw(st.sampled_from([fx.refresh_token, "nope", ""]))

    # Body.
    body: bytes | None = None
    if method != "GET" or draw(st.integers(0, 9)) == 9:
        shape = draw(st.sampled_from(["valid", "mutated", "mutated", "mutated", "any", "none"]))
        if shape == "valid":
            value: Any = draw(valid_object(body_fields, fx))
        elif shape == "mutated":
            value = draw(mutated_object(body_fields, fx))
        elif shape == "any":
            value = draw(json_values)
        else:
            value = None
        ctype = draw(st.sampled_from(["json"] * 6 + ["form", "text", "garbage", "octet", "weird", "badjson"]))
        if value is not None or ctype in ("garbage", "badjson"):
            if ctype == "json":
                headers["content-type"] = "application/json"
                body = json.dumps(value).encode()
            elif ctype == "form":
                headers["content-type"] = "application/x-www-form-urlencoded"
                flat = value if isinstance(value, dict) else {"v": value}
                body = urllib.parse.urlencode({str(k): v if isinstance(v, str) else json.dumps(v)
                                               for k, v in flat.items()}).encode()
            elif ctype == "text":
                headers["content-type"] = "text/plain"
                body = json.dumps(value).encode()
            elif ctype == "octet":
                headers["content-type"] = "application/octet-stream"
                body = draw(st.binary(max_size=64))
            elif ctype == "garbage":
                headers["content-type"] = draw(st.sampled_from(["application/json", "application/json; charset=utf-8",
                                                                "text/plain", "application/x-www-form-urlencoded"]))
                body = draw(st.one_of(st.binary(max_size=64), st.just(b"\xff\xfe\x00"), st.just(b"\xc3\x28")))
            elif ctype == "badjson":
                headers["content-type"] = "application/json"
                body = draw(st.sampled_from([b"{", b"[1,", b'{"a":}', b"1e99999", b'"\\ud800"', b"nul",
                                             b'{"a":1}{"b":2}', b"[" * 500 + b"]" * 500, b'{"' + b"a" * 10 + b'":"\x00"}']))
            else:
                headers["content-type"] = draw(st.sampled_from(["application/xml", "multipart/form-data", "x/y", ";"]))
                body = json.dumps(value).encode()
    return Req(method, prefix + template, path, query, access, headers, body)


# --------------------------------------------------------------------------------------------
# Property
# --------------------------------------------------------------------------------------------


def check(resp: requests.Response | None, err: str | None) -> tuple[str, str] | None:
    """Returns (kind, explanation) when the response violates the property, else None."""
    if resp is None:
        return ("no-response", err or "no response")
    if resp.status_code >= 500:
        return (f"5xx:{resp.status_code}", f"server error, x-stack-request-id {resp.headers.get('x-stack-request-id')}")
    if 400 <= resp.status_code < 500:
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        known = resp.headers.get("x-stack-known-error")
        if ctype == "application/json":
            try:
                body = resp.json()
            except ValueError:
                return (f"4xx-shape:{resp.status_code}", "JSON content-type but body is not JSON")
            code = body.get("code") if isinstance(body, dict) else None
            if not isinstance(code, str):
                return (f"4xx-shape:{resp.status_code}", "JSON error without a `code`")
            if known != code:
                return (f"4xx-shape:{resp.status_code}", f"x-stack-known-error={known!r} != code {code!r}")
        elif ctype == "text/plain":
            if known:
                return (f"4xx-shape:{resp.status_code}", "plain-text error carries x-stack-known-error")
        else:
            return (f"4xx-shape:{resp.status_code}", f"content-type {ctype or '(none)'!r}, body {resp.text[:80]!r}")
    return None


def status_of(resp):
    return resp.status_code if resp is not None else None


def clip(s: str, n: int = 600) -> str:
    return s if len(s) <= n else s[:n] + f"…[{len(s)} chars; full text in --json-out]"


class Violation(Exception):
    def __init__(self, key, req: Req, status, text, kind, why):
        super().__init__(f"{key}: {why}")
        self.key, self.req, self.status, self.text, self.kind, self.why = key, req, status, text, kind, why


@dataclass
class Found:
    key: tuple
    req: Req
    status: int | None
    text: str
    kind: str
    why: str
    hits: int = 1


class Fuzzer:
    def __init__(self, api: Api, seconds: float, seed: int | None):
        self.api = api
        self.deadline = time.monotonic() + seconds
        self.found: dict[tuple, Found] = {}
        self.server_errors = 0  # every 5xx / hang response, not only distinct ones
        self.seed = seed
        self.dead = False
        self.stats: dict[tuple, dict] = {}  # (method, route) -> {status: count}

    def send(self, req: Req):
        url = self.api.base + req.path
        try:
            resp = self.api.raw(req.method, url, req.headers, req.body, params=req.query)
            return resp, None
        except requests.exceptions.Timeout:
            return None, "timeout"
        except requests.exceptions.ConnectionError:
            pass
        # A kept-alive connection the server closed: retry once on a fresh connection.
        self.api.session.close()
        self.api.session = requests.Session()
        try:
            resp = self.api.raw(req.method, url, req.headers, req.body, params=req.query)
            return resp, None
        except requests.exceptions.Timeout:
            return None, "timeout"
        except requests.exceptions.ConnectionError as e:
            return None, f"connection error: {e.__class__.__name__}"

    def run_route(self, route, examples: int, prefix: str) -> None:
        fx = self.api.fx
        target: list[tuple] = []  # the new violation this hypothesis run is shrinking

        @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                  phases=[Phase.generate, Phase.shrink], report_multiple_bugs=False,
                  suppress_health_check=list(HealthCheck))
        @given(request_for(route, fx, prefix))
        def prop(req: Req):
            if time.monotonic() > self.deadline and not target:
                return
            resp, err = self.send(req)
            self.stats.setdefault((route[0], route[1]), {}).setdefault(status_of(resp), 0)
            self.stats[(route[0], route[1])][status_of(resp)] += 1
            bad = check(resp, err)
            if bad is None:
                return
            kind, why = bad
            if kind.startswith(("5xx", "no-response")):
                self.server_errors += 1
            key = (route[0], route[1], kind)
            if status_of(resp) == 414:  # URI too long: rejected by the HTTP layer, same for all routes
                key = ("*", "*", kind)
            status = resp.status_code if resp is not None else None
            text = resp.text[:2000] if resp is not None else (err or "")
            if key in self.found:
                self.found[key].hits += 1
                return
            if not target:
                target.append(key)
            if key == target[0]:
                raise Violation(key, req, status, text, kind, why)
            # A different new violation seen while shrinking: keep it, unshrunk.
            self.found[key] = Found(key, req, status, text, kind, why)

        try:
            try:
                prop()
            except (FlakyFailure, BaseExceptionGroup) as group:
                found = [e for e in getattr(group, "exceptions", []) if isinstance(e, Violation)]
                if not found:
                    raise
                raise found[0] from None
        except Violation as v:
            f = self.found.get(v.key)
            if f is None:
                self.found[v.key] = Found(v.key, v.req, v.status, v.text, v.kind, v.why)
            else:  # replace with the shrunk example
                f.req, f.status, f.text = v.req, v.status, v.text
            if v.kind == "no-response" and "connection" in v.text:
                self.dead = True

    def run(self) -> None:
        rng = random.Random(self.seed)
        rounds = 0
        all_routes = [(r, "/api/v1") for r in ROUTES] + [(r, "") for r in PLAIN_ROUTES]
        while time.monotonic() < self.deadline and not self.dead:
            rounds += 1
            setup(self.api)
            order = list(all_routes)
            rng.shuffle(order)
            for route, prefix in order:
                if time.monotonic() >= self.deadline or self.dead:
                    break
                if rng.random() < 0.1 and prefix:
                    prefix = "/api/latest"
                before = len(self.found)
                self.run_route(route, examples=25 if rounds == 1 else 40, prefix=prefix)
                # A freshly shrunk bug: go on with the same route to look for other ones.
                if len(self.found) > before and time.monotonic() < self.deadline and not self.dead:
                    self.run_route(route, examples=25, prefix=prefix)


def main() -> int:
    warnings.filterwarnings("ignore", category=HypothesisWarning)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--pck", required=True)
    ap.add_argument("--ssk", required=True)
    ap.add_argument("--sak", required=True)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--stats", action="store_true", help="print a status histogram per route")
    ap.add_argument("--json-out", default=None, help="also write the failures as JSON here")
    args = ap.parse_args()

    fx = Fixtures(args.project, args.pck, args.ssk, args.sak)
    api = Api(args.base, fx)
    fuzzer = Fuzzer(api, args.seconds, args.seed)
    fuzzer.run()

    failures = sorted(fuzzer.found.values(), key=lambda f: (not f.kind.startswith(("5xx", "no-")), f.key))
    n5 = [f for f in failures if f.kind.startswith(("5xx", "no-response"))]
    if args.stats:
        for (m, r), hist in sorted(fuzzer.stats.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            print(f"{m:6} {r or '(root)':70} " + " ".join(f"{k}:{v}" for k, v in sorted(hist.items(), key=str)))
    print(f"fuzz: {api.count} requests, {fuzzer.server_errors} server errors")
    for f in failures:
        print(f"\n== {f.kind} {f.key[0]} {f.key[1]} (seen {f.hits}x): {f.why}")
        print(f"   access={f.req.access} status={f.status}")
        print("   " + clip(f.req.curl(args.base)))
        print("   -> " + clip(f.text, 400).replace("\n", "\n      "))
    if args.json_out:
        with open(args.json_out, "w") as out:
            json.dump([{"kind": f.kind, "method": f.key[0], "route": f.key[1], "why": f.why, "hits": f.hits,
                        "access": f.req.access, "path": f.req.path, "query": f.req.query,
                        "headers": f.req.headers,
                        "body": f.req.body.decode("utf-8", "replace") if f.req.body is not None else None,
                        "status": f.status, "response": f.text, "curl": f.req.curl(args.base)}
                       for f in failures], out, indent=1)
    return 1 if n5 else 0


if __name__ == "__main__":
    sys.exit(main())
