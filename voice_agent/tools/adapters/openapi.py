"""OpenAPI 3 → tools: every operation of a spec becomes a tool that calls the endpoint.

Safety first, because a spec and a model's arguments are both untrusted:

- requests go only to the base URL, whose host must be named by the caller (``base_url=`` or
  ``allowed_hosts=``); a server URL taken from the spec alone is refused;
- path parameters are percent-encoded, so an argument cannot change the host or path prefix;
  one of exactly ``.`` or ``..`` (or empty) is refused, since URL resolution would collapse it,
  and the final request path must match the operation's template;
- header parameters must be ASCII without control characters (no header injection);
- redirects are not followed; each response is read up to ``max_response_bytes`` and no further;
- an HTTP error status becomes a tool error the model can read (status and the start of the body).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import yaml

from voice_agent.errors import ToolDefinitionError
from voice_agent.tools._tool import DEFAULT_TIMEOUT, Tool
from voice_agent.tools._types import ToolError

__all__ = ["load_spec", "openapi_tools"]

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_CONFIRM_EXTENSION = "x-voice-agent-confirm"
_MAX_REF_DEPTH = 32


def load_spec(spec: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Read an OpenAPI 3 document from a JSON or YAML file (or take a parsed dict).

    Raises:
        ToolDefinitionError: the file is missing, does not parse, or is not OpenAPI 3.
    """
    if isinstance(spec, Mapping):
        doc: Any = dict(spec)
        where = "the spec"
    else:
        path = Path(spec)
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ToolDefinitionError(f"cannot read OpenAPI spec {where}: {e}") from e
        try:
            doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as e:
            raise ToolDefinitionError(f"{where} is not valid JSON/YAML: {e}") from e
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3"):
        raise ToolDefinitionError(
            f"{where} is not an OpenAPI 3 document (no 'openapi: 3.x' field); Swagger 2 specs "
            "must be converted first"
        )
    if not isinstance(doc.get("paths"), dict):
        raise ToolDefinitionError(f"{where} has no 'paths' object")
    return doc


def _resolve(doc: Mapping[str, Any], node: Any, depth: int = 0) -> Any:
    """Inline local ``$ref``s (``#/components/...``); cycles end in an open schema."""
    if depth > _MAX_REF_DEPTH:
        return {}
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/"):
                raise ToolDefinitionError(f"only local $refs are supported, got {ref!r}")
            target: Any = doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, Mapping) or part not in target:
                    raise ToolDefinitionError(f"$ref {ref!r} points to nothing in the spec")
                target = target[part]
            return _resolve(doc, target, depth + 1)
        return {k: _resolve(doc, v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(doc, v, depth + 1) for v in node]
    return node


def _tool_name(method: str, path: str, operation: Mapping[str, Any]) -> str:
    op_id = operation.get("operationId")
    if isinstance(op_id, str) and op_id:
        return re.sub(r"[^A-Za-z0-9_.\-]", "_", op_id)[:128]
    slug = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
    return f"{method}_{slug}"[:128] or method


def _clean_schema(schema: Any) -> dict[str, Any]:
    """OpenAPI 3.0 schema → JSON Schema: drop OpenAPI-only keywords."""
    if not isinstance(schema, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("example", "xml", "externalDocs", "discriminator", "readOnly", "writeOnly"):
            continue
        if key == "nullable":
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {k: _clean_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, Mapping):
            out[key] = _clean_schema(value)
        elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
            out[key] = [_clean_schema(v) for v in value]
        else:
            out[key] = value
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


class _Endpoint:
    """One operation: how to turn validated arguments into an HTTP request."""

    def __init__(
        self,
        *,
        method: str,
        path: str,
        base_url: str,
        params: list[Mapping[str, Any]],
        body_props: list[str] | None,
        timeout: float,
        max_bytes: int,
        headers: Mapping[str, str],
        allowed_hosts: frozenset[str],
    ) -> None:
        self.method, self.path, self.base_url = method.upper(), path, base_url.rstrip("/")
        self.params, self.body_props = params, body_props
        self.timeout, self.max_bytes = timeout, max_bytes
        self.headers, self.allowed_hosts = dict(headers), allowed_hosts
        prefix = urlsplit(self.base_url).path
        self.template = re.compile(
            re.escape(prefix)
            + "".join(
                "[^/]+" if part.startswith("{") else re.escape(part)
                for part in re.split(r"(\{[^}/]*\})", path)
            )
        )
        """What the final request path may be: the template with one segment per parameter."""

    def build(self, arguments: Mapping[str, Any]) -> httpx.Request:
        path = self.path
        query: dict[str, Any] = {}
        headers = dict(self.headers)
        for p in self.params:
            name, where = p["name"], p["in"]
            if name not in arguments:
                continue
            value = arguments[name]
            if where == "path":
                path = path.replace("{" + name + "}", _path_segment(name, str(value)))
            elif where == "query":
                query[name] = json.dumps(value) if isinstance(value, dict) else value
            elif where == "header":
                headers[name] = _header_value(name, str(value))
        body: Any = None
        if self.body_props is None:
            body = arguments.get("body")
        elif self.body_props:
            body = {k: arguments[k] for k in self.body_props if k in arguments}
        url = self.base_url + path
        host = urlsplit(url).hostname or ""
        if host not in self.allowed_hosts:  # defence in depth; the base URL was checked too
            raise ToolError(f"refusing to call host {host!r}: not in the allow-list")
        request = httpx.Request(
            self.method, url, params=query, headers=headers, json=body if body is not None else None
        )
        final = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
        if not self.template.fullmatch(final):  # defence in depth, as for the host
            raise ToolError(
                f"refusing to call {final!r}: it does not match the operation's path {self.path!r}"
            )
        return request

    async def __call__(self, **arguments: Any) -> Any:
        request = self.build(arguments)
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            try:
                response = await client.send(request, stream=True)
            except httpx.HTTPError as e:
                raise ToolError(f"{self.method} {request.url.path} failed: {e}") from e
            try:
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise ToolError(
                            f"response of {self.method} {request.url.path} is larger than "
                            f"{self.max_bytes} bytes; not read"
                        )
            finally:
                await response.aclose()
        text = data.decode(response.encoding or "utf-8", errors="replace")
        if response.status_code >= 400:
            raise ToolError(
                f"HTTP {response.status_code} from {self.method} {request.url.path}: {text[:500]}"
            )
        if 300 <= response.status_code < 400:
            raise ToolError(
                f"HTTP {response.status_code} redirect to "
                f"{response.headers.get('location')!r} was not followed"
            )
        if "json" in response.headers.get("content-type", ""):
            try:
                return json.loads(text) if text.strip() else None
            except ValueError:
                return text
        return text


def _path_segment(name: str, value: str) -> str:
    """``value`` percent-encoded as one path segment; refused if URL resolution would drop it
    or step out of it (``/pets/..`` is ``/``, ``/pets/.`` is ``/pets``)."""
    if value in ("", ".", ".."):
        raise ToolError(
            f"path parameter {name!r} cannot be {value!r}: it would change which endpoint is "
            "called; pass the identifier itself"
        )
    return quote(value, safe="")


def _header_value(name: str, value: str) -> str:
    """``value`` if HTTP can carry it as a header; otherwise the parameter and the reason."""
    if not value.isascii():
        bad = next(c for c in value if not c.isascii())
        raise ToolError(
            f"header parameter {name!r} cannot hold {bad!r}: HTTP header values must be ASCII "
            "text; transliterate it or pass it in another parameter"
        )
    if any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in value):
        raise ToolError(
            f"header parameter {name!r} cannot hold control characters such as line breaks"
        )
    return value


def _operation_tool(
    doc: Mapping[str, Any],
    path: str,
    method: str,
    operation: Mapping[str, Any],
    path_params: list[Any],
    **endpoint: Any,
) -> Tool:
    name = _tool_name(method, path, operation)
    params = [
        p
        for p in (*path_params, *_resolve(doc, operation.get("parameters", [])))
        if isinstance(p, Mapping) and p.get("in") in ("path", "query", "header")
    ]
    properties: dict[str, Any] = {}
    required: list[str] = []
    for p in params:
        schema = _clean_schema(p.get("schema", {}))
        if p.get("description"):
            schema["description"] = p["description"]
        properties[p["name"]] = schema
        if p.get("required") or p["in"] == "path":
            required.append(p["name"])
    body_props: list[str] | None = []
    body = _resolve(doc, operation.get("requestBody"))
    if isinstance(body, Mapping):
        content = body.get("content", {})
        media: Any = content.get("application/json") or next(iter(content.values()), {})
        schema = _clean_schema(media.get("schema", {}) if isinstance(media, Mapping) else {})
        props = schema.get("properties")
        if (
            schema.get("type", "object") == "object"
            and isinstance(props, Mapping)
            and not (set(props) & set(properties))
        ):
            properties.update(props)
            body_props = list(props)
            if body.get("required"):
                required += [r for r in schema.get("required", []) if r in props]
        else:
            properties["body"] = schema
            body_props = None
            if body.get("required"):
                required.append("body")
    description = (
        "\n\n".join(
            str(operation[k]).strip() for k in ("summary", "description") if operation.get(k)
        )
        or f"{method.upper()} {path}"
    )
    confirm = bool(operation.get(_CONFIRM_EXTENSION)) or method.upper() in endpoint.pop(
        "confirm_methods"
    )
    handler = _Endpoint(method=method, path=path, params=params, body_props=body_props, **endpoint)
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = list(dict.fromkeys(required))
    return Tool(
        name=name,
        description=description,
        parameters=parameters,
        handler=handler,
        timeout=handler.timeout,
        confirm=confirm,
        source="openapi",
    )


def openapi_tools(
    spec: str | Path | Mapping[str, Any],
    *,
    base_url: str | None = None,
    allowed_hosts: Iterable[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
    max_response_bytes: int = 1_000_000,
    headers: Mapping[str, str] | None = None,
    confirm_methods: Iterable[str] = (),
) -> list[Tool]:
    """One tool per operation of an OpenAPI 3 spec.

    Args:
        spec: path to a ``.json``/``.yaml`` file, or the parsed document.
        base_url: where to send requests; its host is allowed. Defaults to the spec's first
            server, which is used only if its host is in ``allowed_hosts``.
        allowed_hosts: further host names requests may go to.
        timeout: seconds for each HTTP request (connect, read, write).
        max_response_bytes: responses larger than this are refused, not read.
        headers: sent with every request (e.g. an API key); never shown to the model.
        confirm_methods: HTTP methods whose operations need the user's confirmation, e.g.
            ``{"DELETE", "POST"}``. An operation can also set ``x-voice-agent-confirm: true``.

    Raises:
        ToolDefinitionError: the spec is invalid, or the base URL's host is not allowed.
    """
    doc = load_spec(spec)
    allowed = set(allowed_hosts)
    if base_url is None:
        servers = doc.get("servers") or []
        base_url = servers[0].get("url") if servers and isinstance(servers[0], Mapping) else None
        if not base_url or not urlsplit(base_url).hostname:
            raise ToolDefinitionError(
                "the spec names no absolute server URL; pass base_url='http://host:port'"
            )
        if urlsplit(base_url).hostname not in allowed:
            raise ToolDefinitionError(
                f"the spec's server {base_url!r} is not in allowed_hosts; pass base_url= or add "
                "its host to allowed_hosts to allow requests there"
            )
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ToolDefinitionError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
    allowed.add(parts.hostname)
    endpoint = dict(
        base_url=base_url,
        timeout=timeout,
        max_bytes=max_response_bytes,
        headers=dict(headers or {}),
        allowed_hosts=frozenset(allowed),
    )
    upper_confirm = frozenset(m.upper() for m in confirm_methods)
    tools: list[Tool] = []
    for path, item in doc["paths"].items():
        item = _resolve(doc, item)
        if not isinstance(item, Mapping):
            continue
        path_params = list(item.get("parameters", []))
        for method in _METHODS:
            operation = item.get(method)
            if isinstance(operation, Mapping):
                tools.append(
                    _operation_tool(
                        doc,
                        path,
                        method,
                        operation,
                        path_params,
                        confirm_methods=upper_confirm,
                        **endpoint,
                    )
                )
    if not tools:
        raise ToolDefinitionError("the spec defines no operations under 'paths'")
    return tools
