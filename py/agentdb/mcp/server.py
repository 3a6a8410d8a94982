"""The MCP server over one .rvf file: the low-level `mcp` Server (the SDK's 2.x) with the tools
of agentdb.mcp.tools, two resources (agentdb://status, agentdb://segments) that a client can
subscribe to (both change with every write), and the stdio and HTTP transports (one HTTP port
serves streamable HTTP at /mcp and the older HTTP+SSE transport at /sse).

The file is opened once, before the first message, and closed when the server stops (the
client closes stdin; SIGTERM, SIGINT or SIGHUP, once the running call has committed): the store's write lock (`<path>.lock`) is
held for the server's whole life, so a second writer is refused (LockHeldError, printed
before any MCP traffic) and `--readonly` opens beside it without a lock. A SIGKILL leaves the
file at its last commit: each write is one commit, fsynced before its answer is sent; the
lock file it leaves names a dead process, and the next open takes it over.

Errors: every agentdb error (and an argument that fails the tool's JSON schema) comes back as
a tool result with isError true, its text "<ErrorClass>: <message>" and structuredContent
{"error": {"name", "message"}}, so the model reads the library's own message; the server
itself never stops on a bad call. Calls run one at a time (they share one memory); a long one
(vector_ingest, verify, export) runs in a worker thread and reports progress when the client
asked for it.
"""
import array
import dataclasses
import json
import logging
import os
import signal
import socket
import sys
import traceback
from collections.abc import Sequence

from ..errors import AgentDBError, ArgumentError, EmbedderError, ReadOnlyError
from ..memory.core import Answer
from .tools import TOOLS

log = logging.getLogger("agentdb.mcp")
NAME = "agentdb"
RESOURCES = {"agentdb://status": "the store's status (the status tool's answer)",
             "agentdb://segments": "the segments of the .rvf file, in order: id, type, offset, payload bytes"}


def jsonable(value):
    """A result as plain JSON values: dataclasses (graph nodes, edges) as dicts, tuples and
    arrays as lists, bytes as hex."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (Sequence, set, frozenset, array.array)):      # lists, tuples, the graph's Ids
        return [jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return str(value)


class MemoryServer:
    """The state behind the MCP server: the open memory (or plain store) and the tools it
    serves. Usable without any transport (tests, benchmarks): call(name, arguments).

    >>> ms = MemoryServer("agent.rvf")                              # doctest: +SKIP
    >>> ms.call("remember", {"note": "ship on friday"})            # doctest: +SKIP
    {'id': 'note:1'}
    """

    def __init__(self, path, *, readonly=False, embedder=None, dim=None):
        """Opens path (created when missing, unless readonly): an agent memory when the store
        keeps string ids (or is new), else a plain vector store served with the tools that
        need no memory. embedder: "minilm" (the default for a new file) or "hash" (the
        hashing embedder, not semantic, with dim); an existing file's recorded one otherwise."""
        import agentdb
        import agentdb.memory

        from ..memory import AgentMemory

        self.path, self.readonly = os.path.abspath(os.fspath(path)), bool(readonly)
        chosen = _embedder(embedder, dim)
        self.memory, self._embedder, self._validators, self.calls = None, None, {}, None
        if os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            self.store = agentdb.open(self.path, readonly=self.readonly)
            try:
                if self.store.status()["id_kind"] != "int":
                    self.memory = AgentMemory(self.store, embedder=chosen)
            except BaseException:
                self.store.close()
                raise
        else:
            if self.readonly:
                raise FileNotFoundError(f"{self.path} does not exist (--readonly never creates a file)")
            self.memory = agentdb.memory.open(self.path, embedder=chosen)
            self.store = self.memory.store
        self.tools = {t.name: t for t in TOOLS if (self.memory is not None or not t.memory_only)
                      and not (t.writes and self.readonly)}

    def close(self):
        """Closes the file, releasing its lock."""
        if self.store is not None:
            (self.memory or self.store).close()
            self.store = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- the tools --------------------------------------------------------------------------------

    def _class_of(self, spec):
        return type(self._target(spec))

    def _target(self, spec):
        if spec.target == "graph":
            return self.memory.graph if self.memory is not None else self.store.graph
        return self.memory if spec.target == "memory" else self.store

    def describe(self, spec):
        """(description, input schema) of a tool as listed."""
        cls = self._class_of(spec) if spec.call is None else None
        description = spec.description or _first_line(getattr(cls, spec.method))
        return description, spec.schema(cls)

    def embed(self, texts):
        """Texts embedded as the store's vectors are (the memory's embedder, or the one the
        plain store records)."""
        if self.memory is not None:
            return self.memory.embedder.embed(texts)
        if self._embedder is None:
            from ..embed import embedder_for

            if self.store.embedder is None:
                raise EmbedderError("this store records no embedder, so no text can be embedded like its vectors: "
                                    "pass 'vector'")
            self._embedder = embedder_for(self.store.embedder, kernel=self.store.kernel)
        return self._embedder.embed(texts)

    def spec(self, name):
        """The served tool `name`; ReadOnlyError for a writing tool of a --readonly server,
        ArgumentError for an unknown name."""
        spec = self.tools.get(name)
        if spec is None:
            if any(t.name == name and t.writes for t in TOOLS) and self.readonly:
                raise ReadOnlyError(f"{name} writes, and this server opened {self.path} with --readonly")
            raise ArgumentError(f"no tool named {name!r} (tools: {', '.join(sorted(self.tools))})")
        return spec

    def check(self, spec, arguments):
        """ArgumentError naming the first argument that breaks the tool's schema."""
        validator = self._validators.get(spec.name)
        if validator is None:
            import jsonschema     # the SDK's dependency: loaded on the first call of each tool

            validator = self._validators[spec.name] = jsonschema.Draft202012Validator(self.describe(spec)[1])
        for err in sorted(validator.iter_errors(arguments), key=lambda e: list(e.path)):
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.path).lstrip(".")
            raise ArgumentError(f"{spec.name}: {where + ': ' if where else ''}{err.message}")

    def call(self, name, arguments=None, *, progress=None):
        """Runs a tool: its JSON-ready answer, or the typed error a bad call raises."""
        spec = self.spec(name)
        arguments = dict(arguments or {})
        self.check(spec, arguments)
        kwargs = {spec.rename.get(k, k): v for k, v in arguments.items()}
        if spec.call is not None:
            if spec.long:
                kwargs["progress"] = progress
            value = spec.call(self, **kwargs)
        else:
            value = getattr(self._target(spec), spec.method)(**kwargs)
        if isinstance(value, Answer):
            value = {"recall_id": value.recall_id, "hits": list(value)}
        elif spec.method == "cypher":
            value = {"columns": value.columns, "rows": value.rows, "updates": value.updates}
        elif isinstance(value, str) and spec.writes:
            value = {"id": value}
        return jsonable(value)

    def resource(self, uri):
        if check_resource(uri) == "agentdb://status":
            return self.call("status")
        return jsonable(self.store.segments())


def check_resource(uri):
    """uri, or ArgumentError when it names no resource of the server."""
    if uri not in RESOURCES:
        raise ArgumentError(f"no resource {uri!r} (resources: {', '.join(RESOURCES)})")
    return uri


def _first_line(fn):
    from .tools import _first_paragraph

    return _first_paragraph(fn)


def _embedder(name, dim):
    if name in (None, "minilm"):
        if dim not in (None, 384):
            raise ArgumentError(f"MiniLM makes 384-dimensional vectors; --dim {dim} needs --embedder hash")
        return None
    if name == "hash":
        from ..embed import HashEmbedder

        return HashEmbedder(dim=dim or 384)
    raise ArgumentError(f"--embedder must be minilm or hash, got {name!r}")


# ---- the MCP protocol side ------------------------------------------------------------------------

def error_result(exc):
    """A tool error the model reads: the error class and the library's message."""
    import mcp.types as t

    name = type(exc).__name__
    return t.CallToolResult(content=[t.TextContent(type="text", text=f"{name}: {exc}")],
                            structured_content={"error": {"name": name, "message": str(exc)}}, is_error=True)


def build(ms):
    """The low-level mcp Server serving `ms` (a MemoryServer)."""
    import anyio
    import mcp.types as t
    from mcp.server import Server

    from .. import __version__

    from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated
    from mcp.shared.exceptions import MCPError

    calls = ms.calls = anyio.Lock()    # one call at a time: they share the memory and its counters
    # who hears of a write: 2026-07-28 clients through subscriptions/listen streams (the bus),
    # older ones through resources/subscribe (their connection and the URIs they asked for)
    bus, subscribed = InMemorySubscriptionBus(), {}

    def connection(ctx):
        # the SDK makes a ServerSession per request around the client's one Connection
        return ctx.session._connection

    async def changed():
        """After a write's commit: every resource changed (the status counts, the segment list)."""
        for uri in RESOURCES:
            await bus.publish(ResourceUpdated(uri))
        for client, uris in list(subscribed.items()):
            try:
                for uri in sorted(uris):
                    await client.send_resource_updated(uri)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                subscribed.pop(client, None)           # that client has gone

    def resource_call(fn, *args):
        """fn(*args), a typed error raised as the protocol's invalid-params error carrying it."""
        try:
            return fn(*args)
        except AgentDBError as exc:
            raise MCPError(-32602, f"{type(exc).__name__}: {exc}") from None

    def known(uri):
        return resource_call(check_resource, str(uri))

    async def subscribe(ctx, params):
        subscribed.setdefault(connection(ctx), set()).add(known(params.uri))
        return t.EmptyResult()

    async def unsubscribe(ctx, params):
        subscribed.get(connection(ctx), set()).discard(known(params.uri))
        return t.EmptyResult()

    async def list_tools(ctx, params):
        tools = []
        for spec in ms.tools.values():
            description, schema = ms.describe(spec)
            tools.append(t.Tool(name=spec.name, description=description, input_schema=schema,
                                annotations=t.ToolAnnotations(read_only_hint=not spec.writes,
                                                              destructive_hint=spec.name == "forget",
                                                              open_world_hint=False)))
        return t.ListToolsResult(tools=tools)

    async def call_tool(ctx, params):
        async with calls:
            try:
                if ms.tools.get(params.name) is not None and ms.tools[params.name].long:
                    def progress(done, total=None):
                        anyio.from_thread.run(ctx.session.report_progress, float(done),
                                              None if total is None else float(total))
                    value = await anyio.to_thread.run_sync(lambda: ms.call(params.name, params.arguments,
                                                                           progress=progress))
                else:
                    value = ms.call(params.name, params.arguments)
                if ms.tools[params.name].writes:
                    await changed()
            except AgentDBError as exc:
                return error_result(exc)
            except Exception as exc:           # a bug, not a bad call: keep serving, say what it was
                log.error("tool %s failed:\n%s", params.name, traceback.format_exc())
                return error_result(exc)
        return t.CallToolResult(content=[t.TextContent(type="text", text=json.dumps(value))],
                                structured_content={"result": value})

    async def list_resources(ctx, params):
        return t.ListResourcesResult(resources=[t.Resource(uri=uri, name=uri.split("/")[-1], description=text,
                                                           mime_type="application/json")
                                                for uri, text in RESOURCES.items()])

    async def read_resource(ctx, params):
        uri = known(params.uri)
        async with calls:
            value = resource_call(ms.resource, uri)
        return t.ReadResourceResult(contents=[t.TextResourceContents(uri=uri, mime_type="application/json",
                                                                     text=json.dumps(value))])

    mode = "memory" if ms.memory is not None else "vector store"
    return Server(NAME, version=__version__, instructions=f"agentdb {mode} in {ms.path}"
                  f"{' (read-only)' if ms.readonly else ''}: tools remember/recall, episodes, skills, "
                  "reasoning patterns, causal memory, the router, Cypher and vectors; every write is one commit.",
                  on_list_tools=list_tools, on_call_tool=call_tool, on_list_resources=list_resources,
                  on_read_resource=read_resource, on_subscribe_resource=subscribe,
                  on_unsubscribe_resource=unsubscribe, on_subscriptions_listen=ListenHandler(bus))


def parse_http(address):
    """(host, port) of --http HOST:PORT (port 0: any free one)."""
    host, sep, port = (address or "").rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ArgumentError(f"--http takes HOST:PORT, e.g. 127.0.0.1:8765, got {address!r}")
    return host.strip("[]"), int(port)


async def _stdio(server, ms):
    import anyio
    from mcp.server.stdio import stdio_server

    async with anyio.create_task_group() as tg:
        tg.start_soon(_stop_on_signal, ms)
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
        tg.cancel_scope.cancel()


async def _stop_on_signal(ms):
    """SIGTERM, SIGINT, SIGHUP: once the running call (if any) has committed, close the file
    and exit. The SDK reads stdin in a worker thread that no cancellation reaches, so the
    process leaves with os._exit (after the file is closed, nothing is left to flush)."""
    import anyio

    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async for signum in signals:
            async with ms.calls:
                ms.close()
                _say_stopped(signal.Signals(signum).name, ms.path)
                os._exit(0)


def http_app(server, host):
    """The ASGI app of --http: streamable HTTP at /mcp, and for clients of the older HTTP+SSE
    transport (protocol 2024-11-05) its event stream at /sse with messages posted to /messages/.
    Both are the SDK's, with its DNS-rebinding guard on a loopback host."""
    from mcp.server.sse import SseServerTransport
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.responses import Response
    from starlette.routing import Mount, Route

    guard = None
    if host in ("127.0.0.1", "localhost", "::1"):
        guard = TransportSecuritySettings(enable_dns_rebinding_protection=True,
                                          allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
                                          allowed_origins=["http://127.0.0.1:*", "http://localhost:*",
                                                           "http://[::1]:*"])
    sse = SseServerTransport("/messages/", security_settings=guard)

    async def events(request):
        async with sse.connect_sse(request.scope, request.receive, request._send) as (read, write):
            await server.run(read, write, server.create_initialization_options())
        return Response()

    return server.streamable_http_app(host=host, transport_security=guard, custom_starlette_routes=[
        Route("/sse", endpoint=events, methods=["GET"]), Mount("/messages/", app=sse.handle_post_message)])


async def _http(server, host, port, announce):
    import uvicorn

    app = http_app(server, host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted sockets inherit it; without it a call waited on delayed ACKs: 60 ms -> 12 ms a recall, measured
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    shown = f"[{host}]" if ":" in host else host
    announce(f"http://{shown}:{sock.getsockname()[1]}/mcp")
    # uvicorn stops on SIGTERM / SIGINT by itself, then the caller closes the file
    await uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on")).serve(sockets=[sock])


def serve(path, *, readonly=False, http=None, embedder=None, dim=None, announce=None):
    """Serves path over stdio (http=None) or HTTP at http="HOST:PORT" (streamable HTTP at /mcp,
    HTTP+SSE at /sse) until stopped;
    the file (and its lock) is held until then. announce(url) is told the HTTP address
    (default: a line on stderr). The file is opened before the SDK loads, so a refusal
    (LockHeldError: another server writes it) comes at once."""
    address = parse_http(http) if http is not None else None
    if announce is None:
        def announce(url):
            sys.stderr.write(f"agentdb mcp: serving {path} at {url}\n")
            sys.stderr.flush()
    # from before the file opens: a SIGTERM while the SDK loads must close the file too (and
    # uvicorn re-raises the SIGTERM it caught)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    stopped = None
    try:
        with MemoryServer(path, readonly=readonly, embedder=embedder, dim=dim) as ms:
            try:
                import anyio
                server = build(ms)
            except ImportError as exc:
                from ..errors import BackendUnavailableError

                raise BackendUnavailableError(f"agentdb mcp needs the MCP SDK: pip install 'agentdb[mcp]' "
                                              f"({exc})") from None
            if address is None:
                anyio.run(_stdio, server, ms)
            else:
                anyio.run(_http, server, *address, announce)
    except KeyboardInterrupt as stop:
        stopped = stop.args[0] if stop.args else "SIGINT"
    finally:
        signal.signal(signal.SIGTERM, previous)
    if stopped is not None:
        _say_stopped(stopped, path)
        if address is None:
            # as in _stop_on_signal: the SDK's stdin reader thread may still be blocked in a read,
            # and an interpreter exit around it was measured to end by SIGINT now and then
            os._exit(0)
    return 0


def _say_stopped(signal_name, path):
    sys.stderr.write(f"agentdb mcp: stopped by {signal_name}, {path} closed\n")
    sys.stderr.flush()


def _interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)
