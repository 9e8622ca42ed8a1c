# The official Python SDK's client (`mcp` on PyPI) signs in to a protected
# MCP server with its own OAuth provider (discovery, dynamic registration,
# PKCE, resource indicator) and calls one tool.
#
#   python tests/python/oauth_call.py <mcp-url> <tool> [<json arguments>]
#
# The sign-in needs a person at a browser; the test plays that part. When
# the SDK asks to open the authorization URL, this script prints
#   authorize: <url>
# and waits for one line on stdin:
#   redirect: <url>
# the URL the authorization server redirected the browser to (its code and
# state). The tool's result ends the output as
#   result: <json>
# Exits 1, saying why on stderr, when anything fails.

import asyncio
import json
import sys
from urllib.parse import parse_qs, urlparse

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

# Never listened on: the test answers the redirect itself.
REDIRECT_URI = "http://127.0.0.1:9/callback"


class MemoryStorage:
    """Tokens and the registration, for this run only."""

    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


async def open_browser(url: str) -> None:
    print(f"authorize: {url}", flush=True)


async def redirected() -> AuthorizationCodeResult:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if not line.startswith("redirect: "):
        raise RuntimeError(f"expected 'redirect: <url>' on stdin, got {line!r}")
    query = parse_qs(urlparse(line[len("redirect: "):].strip()).query)
    if "code" not in query:
        raise RuntimeError(f"the redirect carries no code: {query.get('error')}")
    return AuthorizationCodeResult(
        code=query["code"][0],
        state=query.get("state", [None])[0],
        iss=query.get("iss", [None])[0],
    )


async def main(url: str, tool: str, arguments: dict) -> None:
    auth = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="python-sdk-oauth-test",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=MemoryStorage(),
        redirect_handler=open_browser,
        callback_handler=redirected,
    )
    async with httpx2.AsyncClient(auth=auth, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            result = await client.call_tool(tool, arguments)
            print(f"result: {result.model_dump_json(by_alias=True, exclude_none=True)}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: oauth_call.py <mcp-url> <tool> [<json arguments>]")
    arguments = json.loads(sys.argv[3]) if len(sys.argv) == 4 else {}
    asyncio.run(main(sys.argv[1], sys.argv[2], arguments))
