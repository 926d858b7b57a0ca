"""OpenAPI operations as tools, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from voice_agent import ToolCall, ToolDefinitionError, ToolRegistry

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Pets", "version": "1"},
    "servers": [{"url": "http://pets.example.invalid"}],
    "components": {
        "schemas": {
            "NewPet": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "tag": {"type": "string", "nullable": True},
                },
            }
        }
    },
    "paths": {
        "/pets": {
            "get": {
                "operationId": "listPets",
                "summary": "List pets.",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "maximum": 50},
                        "description": "How many to return.",
                    }
                ],
            },
            "post": {
                "operationId": "createPet",
                "summary": "Create a pet.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}
                    },
                },
            },
        },
        "/pets/{petId}": {
            "parameters": [
                {"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": {"operationId": "getPet", "summary": "Get one pet."},
            "delete": {"operationId": "deletePet", "summary": "Delete a pet."},
        },
        "/big": {"get": {"operationId": "big"}},
        "/redirect": {"get": {"operationId": "redirect"}},
        "/slow": {"get": {"operationId": "slow"}},
    },
}


class Handler(BaseHTTPRequestHandler):
    seen: list[str] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        Handler.seen.append(self.path)
        url = urlsplit(self.path)
        if url.path == "/pets":
            limit = int(parse_qs(url.query).get("limit", ["2"])[0])
            self._json(200, [{"id": i, "name": f"pet{i}"} for i in range(limit)])
        elif url.path == "/pets/1":
            self._json(200, {"id": 1, "name": "Rex", "key": self.headers.get("X-Api-Key")})
        elif url.path == "/big":
            self._json(200, "x" * 2_000_000)
        elif url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://example.com/")
            self.end_headers()
        elif url.path == "/slow":
            time.sleep(1.5)
            self._json(200, "late")
        else:
            self._json(404, {"detail": f"no pet at {url.path}"})

    def do_POST(self) -> None:
        Handler.seen.append(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._json(201, {"created": body})

    def do_DELETE(self) -> None:
        Handler.seen.append(self.path)
        self._json(200, {"deleted": self.path})


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.seen = []
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "pets.yaml"
    path.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    return path


def call(tool_name: str, /, **arguments: Any) -> ToolCall:
    return ToolCall(name=tool_name, arguments=arguments)


@pytest.mark.slow
async def test_operations_become_tools_and_call_the_server(server: str, spec_file: Path) -> None:
    registry = ToolRegistry()
    tools = registry.register_openapi(
        spec_file, base_url=server, headers={"X-Api-Key": "k1"}, confirm_methods={"DELETE"}
    )
    assert [t.name for t in tools] == [
        "listPets",
        "createPet",
        "getPet",
        "deletePet",
        "big",
        "redirect",
        "slow",
    ]
    create = registry.get("createPet")
    assert create is not None and create.parameters["required"] == ["name"]
    assert create.parameters["properties"]["tag"]["type"] == ["string", "null"]
    assert registry.get("deletePet").confirm  # type: ignore[union-attr]

    listed, created, got, missing, too_many = await registry.execute(
        [
            call("listPets", limit=3),
            call("createPet", name="Tom", tag=None),
            call("getPet", petId="1"),
            call("getPet", petId="9"),
            call("listPets", limit=99),
        ]
    )
    assert listed.value == [{"id": i, "name": f"pet{i}"} for i in range(3)]
    assert created.value == {"created": {"name": "Tom", "tag": None}}
    assert got.value == {"id": 1, "name": "Rex", "key": "k1"}
    assert missing.kind == "tool_error" and "HTTP 404" in missing.error
    assert too_many.kind == "invalid_arguments" and "maximum of 50" in too_many.error
    [unconfirmed] = await registry.execute([call("deletePet", petId="1")])
    assert unconfirmed.kind == "needs_confirmation"
    assert not any(p.startswith("/pets/1") and "DELETE" in p for p in Handler.seen)


@pytest.mark.slow
async def test_path_arguments_cannot_escape_and_limits_hold(server: str, spec_file: Path) -> None:
    registry = ToolRegistry()
    registry.register_openapi(spec_file, base_url=server, max_response_bytes=100_000, timeout=0.5)
    escape, big, redirect, slow = await registry.execute(
        [
            call("getPet", petId="../big?x=@evil.example"),
            call("big"),
            call("redirect"),
            call("slow"),
        ]
    )
    assert "/pets/..%2Fbig%3Fx%3D%40evil.example" in Handler.seen
    assert escape.kind == "tool_error"
    assert big.kind == "tool_error" and "larger than 100000 bytes" in big.error
    assert redirect.kind == "tool_error" and "was not followed" in redirect.error
    assert slow.kind in ("tool_error", "timeout")


def test_spec_server_host_must_be_allowed(spec_file: Path) -> None:
    with pytest.raises(ToolDefinitionError, match="not in allowed_hosts"):
        ToolRegistry().register_openapi(spec_file)
    tools = ToolRegistry().register_openapi(spec_file, allowed_hosts={"pets.example.invalid"})
    assert len(tools) == 7


def test_bad_specs_are_refused_clearly(tmp_path: Path) -> None:
    swagger = tmp_path / "old.json"
    swagger.write_text(json.dumps({"swagger": "2.0", "paths": {}}))
    with pytest.raises(ToolDefinitionError, match="not an OpenAPI 3 document"):
        ToolRegistry().register_openapi(swagger, base_url="http://127.0.0.1:1")
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: [3\n")
    with pytest.raises(ToolDefinitionError, match="not valid JSON/YAML"):
        ToolRegistry().register_openapi(broken, base_url="http://127.0.0.1:1")
    dangling = dict(SPEC, paths={"/x": {"get": {"parameters": [{"$ref": "#/nope"}]}}})
    with pytest.raises(ToolDefinitionError, match="points to nothing"):
        ToolRegistry().register_openapi(dangling, base_url="http://127.0.0.1:1")


async def test_dot_segments_are_refused_and_the_request_path_matches_the_template(
    server: str, spec_file: Path
) -> None:
    """``getPet(petId="..")`` requested ``/`` and ``petId="."`` requested ``/pets``: the URL's
    dot segments collapsed on the allowed host."""
    registry = ToolRegistry()
    registry.register_openapi(spec_file, base_url=server)
    up, here, empty, dotted, three = await registry.execute(
        [
            call("getPet", petId=".."),
            call("getPet", petId="."),
            call("getPet", petId=""),
            call("getPet", petId="a.b"),
            call("getPet", petId="..."),
        ]
    )
    for refused, value in ((up, ".."), (here, "."), (empty, "")):
        assert refused.kind == "tool_error"
        assert f"path parameter 'petId' cannot be {value!r}" in refused.error
    assert "HTTP 404" in dotted.error and "HTTP 404" in three.error
    # the calls run concurrently: the server may see them in either order
    assert sorted(Handler.seen) == ["/pets/...", "/pets/a.b"], (
        "only the two real segments were sent"
    )


async def test_a_spec_path_that_collapses_is_refused_before_sending(server: str) -> None:
    """The spec is untrusted too: a template whose dots resolve elsewhere never leaves."""
    spec = dict(SPEC, paths={"/pets/{petId}/../../big": {"get": {"operationId": "sneaky"}}})
    registry = ToolRegistry()
    registry.register_openapi(spec, base_url=server)
    [result] = await registry.execute([call("sneaky", petId="1")])
    assert result.kind == "tool_error"
    assert "refusing to call '/big': it does not match" in result.error
    assert Handler.seen == []


async def test_header_values_http_cannot_carry_name_the_parameter(server: str) -> None:
    greet = {"name": "X-Name", "in": "header", "required": True, "schema": {"type": "string"}}
    spec = dict(SPEC, paths={"/pets/1": {"get": {"operationId": "greet", "parameters": [greet]}}})
    registry = ToolRegistry()
    registry.register_openapi(spec, base_url=server)
    accented, injected, plain = await registry.execute(
        [
            call("greet", **{"X-Name": "Zoë"}),
            call("greet", **{"X-Name": "a\r\nX-Api-Key: stolen"}),
            call("greet", **{"X-Name": "Zoe"}),
        ]
    )
    assert accented.kind == "tool_error" and "details are in the log" not in accented.error
    assert "header parameter 'X-Name' cannot hold 'ë'" in accented.error
    assert "must be ASCII" in accented.error
    assert "header parameter 'X-Name' cannot hold control characters" in injected.error
    assert plain.ok and Handler.seen == ["/pets/1"]
