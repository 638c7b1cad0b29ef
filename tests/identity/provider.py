"""A small but real OpenID Connect provider, built with authlib's server side, for the SSO tests.

Run as a process: `python -m tests.identity.provider --port P --client-id ID --client-secret S
--redirect-uri URI`. It serves discovery, JWKS, the authorization endpoint (the signed-in person
approves at once: a test sets who is signed in at the provider with `POST /test/user`), the token
endpoint (client secret, PKCE S256, an RS256-signed ID token) and user info. Everything is kept in
memory; authlib does the protocol checks, as a company's provider would.
"""

from __future__ import annotations

import argparse
import hmac
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, ClassVar

import uvicorn
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SCOPES = ("openid", "email", "profile")


@dataclass
class Incoming:
    method: str
    url: str
    headers: Headers
    args: dict[str, str]
    form: dict[str, str]
    multi: list[tuple[str, str]]


class Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, incoming: Incoming) -> None:
        self._data = {**incoming.args, **incoming.form}
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in incoming.multi:
            self._datalist[key].append(value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, incoming: Incoming) -> None:
        super().__init__(incoming.method, incoming.url, headers=incoming.headers)
        self._incoming = incoming
        self.payload = Payload(incoming)

    @property
    def args(self) -> dict[str, str]:
        return self._incoming.args

    @property
    def form(self) -> dict[str, str]:
        return self._incoming.form


async def incoming(request: Request) -> Incoming:
    form = await request.form() if request.method == "POST" else None
    form_items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)] if form else []
    return Incoming(
        method=request.method,
        url=str(request.url),
        headers=request.headers,
        args=dict(request.query_params),
        form=dict(form_items),
        multi=[*request.query_params.multi_items(), *form_items],
    )


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: dict[str, Any]
    nonce: str | None
    auth_time: int
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


def build_app(issuer: str, client: Client) -> Starlette:
    key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"})
    codes: dict[str, Code] = {}
    tokens: dict[str, tuple[dict[str, Any], str]] = {}
    state: dict[str, Any] = {"user": None}

    class Server(AuthorizationServer):  # type: ignore[misc]
        def query_client(self, client_id: str) -> Client | None:
            return client if client_id == client.client_id else None

        def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
            tokens[token["access_token"]] = (request.user, token.get("scope", ""))

        def create_oauth2_request(self, request: Incoming) -> OAuth2Request:
            return StarletteOAuth2Request(request)

        def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
            if isinstance(body, dict):
                return JSONResponse(body, status_code=status, headers=dict(headers))
            return Response(body or b"", status_code=status, headers=dict(headers))

        def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
            return None

    class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

        def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
            data = request.payload.data
            codes[code] = Code(
                code=code,
                client_id=request.client.client_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                user=request.user,
                nonce=data.get("nonce"),
                auth_time=int(time.time()),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
            )

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            found = codes.get(code)
            return found if found is not None and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> dict[str, Any]:
            return authorization_code.user

    class OpenID(OpenIDCode):  # type: ignore[misc]
        def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
            return any(code.nonce == nonce for code in codes.values())

        def resolve_client_private_key(self, client: Client) -> RSAKey:
            return key

        def get_client_claims(self, client: Client) -> dict[str, Any]:
            return {"iss": issuer, "aud": [client.client_id]}

        def get_encode_header(self, client: Client) -> dict[str, str]:
            return {"alg": "RS256", "kid": "test-key"}

        def generate_user_info(self, user: dict[str, Any], scope: str) -> UserInfo:
            return UserInfo(user)

    server = Server(scopes_supported=list(SCOPES))
    server.register_token_generator("default", BearerTokenGenerator(lambda **_: secrets.token_urlsafe(32)))
    server.register_grant(CodeGrant, [OpenID(require_nonce=True), CodeChallenge(required=True)])

    async def discovery(request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "userinfo_endpoint": f"{issuer}/userinfo",
                "jwks_uri": f"{issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": list(SCOPES),
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def jwks(request: Request) -> Response:
        return JSONResponse(KeySet([key]).as_dict(private=False))

    async def authorize(request: Request) -> Response:
        if state["user"] is None:
            return JSONResponse({"error": "login_required"}, status_code=401)
        try:
            response: Response = server.create_authorization_response(
                await incoming(request), grant_user=state["user"]
            )
        except OAuth2Error as error:
            return JSONResponse(dict(error.get_body()), status_code=error.status_code)
        return response

    async def token(request: Request) -> Response:
        response: Response = server.create_token_response(await incoming(request))
        return response

    async def userinfo(request: Request) -> Response:
        found = tokens.get(request.headers.get("authorization", "")[7:])
        if found is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse(found[0])

    async def set_user(request: Request) -> Response:
        state["user"] = await request.json()
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks", jwks),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
            Route("/userinfo", userinfo),
            Route("/test/user", set_user, methods=["POST"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--redirect-uri", required=True)
    args = parser.parse_args()
    issuer = f"http://127.0.0.1:{args.port}"
    app = build_app(issuer, Client(args.client_id, args.client_secret, [args.redirect_uri]))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
