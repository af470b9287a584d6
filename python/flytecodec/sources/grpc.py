"""flyteadmin's API (the gRPC service ``flyteidl.service.AdminService``) as a source of executions, node
executions and task executions.

Each response page is taken as the bytes that arrive (no protobuf parse in Python) and decoded by flytecodec's
bulk decoder into a :class:`~flytecodec.Batch` of lazy models. flyteadmin's page token is the offset of the next
page, so several pages are fetched at a time (``in_flight``); batches come out in order. Needs grpcio (installed
with flytekit, or ``pip install 'flytecodec[grpc]'``).

    from flytecodec.sources import grpc as admin

    channel = admin.connect("flyte.example.com:443")          # TLS; the token from $FLYTECODEC_TOKEN
    for batch in admin.read(channel, "execution", project="flytesnacks", domain="development",
                            filters="eq(phase,FAILED)"):
        for execution in batch:
            print(execution.id.name, execution.closure.phase)

Node executions of an execution come with all their levels (the children of every node whose metadata says
``is_parent_node``, fetched with ``unique_parent_id``); task executions of an execution are those of every node
of that tree, or of one node with ``node=``.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from flytecodec.bulk import Batch, decode
from flytecodec.kinds import LIST_KINDS
from flytecodec.sources import SourceError
from flytecodec.sources._paging import Page, PageList, fetch_pages

if TYPE_CHECKING:
    import grpc
    from flytekit.configuration import PlatformConfig

TOKEN_ENV = "FLYTECODEC_TOKEN"
TRANSIENT = frozenset({"UNAVAILABLE", "RESOURCE_EXHAUSTED"})  # the codes a page is asked for again after
RETRY_FIRST_WAIT = 0.25  # seconds before the first retry; each next one waits twice as long
RETRY_MAX_WAIT = 8.0
MAX_MESSAGE_BYTES = 64 << 20  # a page of 100 records is far smaller; flytekit's client allows 20 MiB
KINDS = LIST_KINDS  # the kinds flyteadmin's API lists in pages
_METHODS = {
    "execution": "ListExecutions",
    "node-execution": "ListNodeExecutions",
    "task-execution": "ListTaskExecutions",
}


class AdminError(SourceError):
    """flyteadmin answered a call with an error, or could not be reached. ``code`` is the gRPC status name
    (``UNAVAILABLE``, ``UNAUTHENTICATED``, ``INVALID_ARGUMENT``, …); the message says what to do."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def _grpc():
    try:
        import grpc
    except ImportError:
        raise ImportError("reading flyteadmin's API needs grpcio: pip install 'flytecodec[grpc]'") from None
    return grpc


def connect(
    target: str,
    *,
    insecure: bool = False,
    root_certificates: bytes | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.Channel:
    """A channel to flyteadmin at ``target`` (``HOST:PORT``, or ``grpc://HOST:PORT``): TLS unless ``insecure``,
    checked against ``root_certificates`` (PEM bytes) or the system's. Close it when done (``channel.close()``
    or ``with``)."""
    grpc = _grpc()
    address = target.split("://", 1)[1] if "://" in target else target
    if not address:
        raise ValueError(f"no address in {target!r}: give HOST:PORT")
    settings = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES), *options]
    if insecure:
        return grpc.insecure_channel(address, options=settings)
    return grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates), options=settings)


def flytekit_channel(config: PlatformConfig | None = None) -> grpc.Channel:
    """A channel built by flytekit from its ``PlatformConfig`` (endpoint, TLS settings, and its authentication
    flows, which add the credentials to every call), as its own client builds it; by default the config flytekit
    finds itself (``~/.flyte/config.yaml``, ``FLYTE_*`` variables). Needs flytekit."""
    try:
        from flytekit.clients import auth_helper
        from flytekit.configuration import PlatformConfig
    except ImportError:
        raise ImportError("flytekit_channel() needs flytekit: pip install flytekit") from None
    cfg = config if config is not None else PlatformConfig.auto()
    channel = auth_helper.get_channel(cfg, options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)])
    channel = auth_helper.upgrade_channel_to_proxy_authenticated(cfg, channel)
    return auth_helper.upgrade_channel_to_authenticated(cfg, channel)


def read(channel: grpc.Channel, kind: str = "execution", **options) -> Iterator[Batch]:
    """Stream the ``kind`` records of flyteadmin as one :class:`Batch` per page, in order; the options as
    :func:`read_pages` takes them."""
    return (page.batch for page in read_pages(channel, kind, **options))


def read_pages(
    channel: grpc.Channel,
    kind: str = "execution",
    *,
    project: str,
    domain: str,
    execution: str | None = None,
    node: str | None = None,
    filters: str = "",
    sort_by: str | None = None,
    page_size: int = 100,
    in_flight: int = 8,
    token: str | None = None,
    timeout: float = 60.0,
    retries: int = 3,
) -> Iterator[Page]:
    """Stream the ``kind`` records of flyteadmin a page at a time, in order: each a :class:`Page` with the
    decoded records (``batch``), the call (``list.method``), its ``offset`` and its size in bytes (``nbytes``).

    :param channel: a channel to flyteadmin (:func:`connect`, :func:`flytekit_channel`, or your own).
    :param kind: ``execution`` (the executions of ``project``/``domain``), ``node-execution`` (every node
        execution of ``execution``, level by level: the top level, then the children of each parent in the
        order the parents came) or ``task-execution`` (the task executions of every node of ``execution``, in
        that order of the nodes, or of its node ``node``).
    :param filters: flyteadmin's filter expression for each list call, e.g. ``"eq(phase,FAILED)"`` or
        ``"value_in(phase,FAILED;TIMED_OUT)+gte(created_at,2026-01-01T00:00:00Z)"``. For node executions it
        applies at every level: the children of a parent it leaves out are not listed.
    :param sort_by: ``"asc(KEY)"`` or ``"desc(KEY)"``, e.g. ``"desc(created_at)"`` (flyteadmin's default order
        when none).
    :param page_size: records per page (flyteadmin's ``limit``), at least 1.
    :param in_flight: pages requested at a time, at least 1.
    :param token: a bearer token, sent as ``authorization: Bearer TOKEN``; by default ``$FLYTECODEC_TOKEN``
        when it is set (a channel from :func:`flytekit_channel` adds its own credentials).
    :param timeout: seconds each call may take.
    :param retries: how many times a page is asked for again when flyteadmin is unavailable or out of
        resources (``UNAVAILABLE``, ``RESOURCE_EXHAUSTED``: a restart, a load balancer's hiccup, rate limiting),
        after 0.25 s, then twice as long each time (at most 8 s); 0 gives up at once. Other errors are not
        retried: they would come again.
    :raises AdminError: flyteadmin cannot be reached, refused the credentials, or rejected the request (a bad
        filter); the message says which, after how many attempts, and what to do.
    :raises DecodeError: a page that does not decode, naming the call and the page's offset.
    """
    if kind not in KINDS:
        raise ValueError(f"flyteadmin's API lists {', '.join(KINDS)}; not {kind!r}")
    if not project or not domain:
        raise ValueError("a project and a domain are required")
    if kind != "execution" and not execution:
        raise ValueError(f"listing {kind}s needs the execution's name (execution=)")
    if node is not None and kind != "task-execution":
        raise ValueError("node= selects the task executions of one node; kind must be 'task-execution'")
    if page_size < 1 or in_flight < 1:
        raise ValueError(f"page_size and in_flight must be at least 1, got {page_size} and {in_flight}")
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, got {retries}")
    bearer = token if token is not None else os.environ.get(TOKEN_ENV) or None
    caller = _Caller(channel, bearer, timeout, page_size, in_flight, retries)
    sort = check_sort(sort_by)
    if kind == "execution":
        return caller.walk(deque([caller.executions(project, domain, filters, sort)]))
    return _tree(caller, kind, (project, domain, str(execution)), node, filters, sort)


class _Caller:
    """Builds the list calls: each request a flyteidl message, each response the bytes of the page."""

    def __init__(
        self, channel: grpc.Channel, bearer: str | None, timeout: float, page_size: int, in_flight: int, retries: int
    ):
        from flyteidl.service import admin_pb2

        self._service = admin_pb2.DESCRIPTOR.services_by_name["AdminService"]
        self._channel = channel
        self._metadata = (("authorization", f"Bearer {bearer}"),) if bearer else None
        self._timeout = timeout
        self._page_size = page_size
        self._in_flight = in_flight
        self._retries = retries
        self._calls: dict[str, Any] = {}  # method -> grpc.UnaryUnaryMultiCallable

    def _list(self, kind: str, request, speculate: bool) -> PageList:
        from flytecodec.shards import model_for

        method = _METHODS[kind]
        if method not in self._calls:
            path = f"/{self._service.full_name}/{method}"
            self._calls[method] = self._channel.unary_unary(path, request_serializer=None, response_deserializer=None)
        request.limit = self._page_size
        return PageList(method, request, model_for(kind), self._page_size, speculate)

    def submit(self, plist: PageList, offset: int):
        request = type(plist.request)()
        request.CopyFrom(plist.request)
        request.token = str(offset) if offset else ""
        return self._calls[plist.method].future(
            request.SerializeToString(), timeout=self._timeout, metadata=self._metadata
        )

    def executions(self, project: str, domain: str, filters: str, sort) -> PageList:
        from flyteidl.admin import common_pb2

        request = common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=project, domain=domain), filters=filters, sort_by=sort
        )
        return self._list("execution", request, speculate=True)

    def nodes(self, execution, parent: str, filters: str, sort) -> PageList:
        from flyteidl.admin import node_execution_pb2

        request = node_execution_pb2.NodeExecutionListRequest(
            workflow_execution_id=execution, unique_parent_id=parent, filters=filters, sort_by=sort
        )
        return self._list("node-execution", request, speculate=not parent)

    def tasks(self, node_id, filters: str, sort) -> PageList:
        from flyteidl.admin import task_execution_pb2

        request = task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id, filters=filters, sort_by=sort)
        return self._list("task-execution", request, speculate=False)

    def walk(self, lists: deque[PageList]) -> Iterator[Page]:
        return fetch_pages(lists, self.submit, _admin_error, self._in_flight, self.retry)

    def retry(self, error: Exception, attempts: int) -> float | None:
        """Seconds to wait before asking again for a page whose call failed ``attempts`` times, or None."""
        if attempts > self._retries or _code(error) not in TRANSIENT:
            return None
        return min(RETRY_FIRST_WAIT * 2 ** (attempts - 1), RETRY_MAX_WAIT)


def _tree(
    caller: _Caller, kind: str, key: tuple[str, str, str], node: str | None, filters: str, sort
) -> Iterator[Page]:
    from flyteidl.core import identifier_pb2

    execution = identifier_pb2.WorkflowExecutionIdentifier(project=key[0], domain=key[1], name=key[2])
    if node is not None:
        node_id = identifier_pb2.NodeExecutionIdentifier(execution_id=execution, node_id=node)
        yield from caller.walk(deque([caller.tasks(node_id, filters, sort)]))
        return
    tasks = kind == "task-execution"
    node_filters, node_sort = ("", None) if tasks else (filters, sort)
    lists = deque([caller.nodes(execution, "", node_filters, node_sort)])
    for page in caller.walk(lists):
        if page.list.method == "ListTaskExecutions":
            yield page
            continue
        for record in page.batch:
            node_id = record.id.node_id
            if record.metadata.is_parent_node:
                lists.append(caller.nodes(execution, node_id, node_filters, node_sort))
            if tasks:
                ids = identifier_pb2.NodeExecutionIdentifier(execution_id=execution, node_id=node_id)
                lists.append(caller.tasks(ids, filters, sort))
        if not tasks:
            yield page


def check_sort(text: str | None):
    """The ``Sort`` message of ``sort_by`` text (``asc(KEY)``/``desc(KEY)``), or None; ValueError when malformed."""
    if text is None:
        return None
    from flyteidl.admin import common_pb2

    direction, _, rest = text.strip().partition("(")
    if direction not in ("asc", "desc") or not rest.endswith(")") or not rest[:-1].strip():
        raise ValueError(f"sort_by is 'asc(KEY)' or 'desc(KEY)', e.g. 'desc(created_at)'; got {text!r}")
    order = common_pb2.Sort.ASCENDING if direction == "asc" else common_pb2.Sort.DESCENDING
    return common_pb2.Sort(key=rest[:-1].strip(), direction=order)


_ADVICE = {
    "UNAVAILABLE": "check the address and port, and that the server speaks TLS (or pass insecure / --insecure)",
    "UNAUTHENTICATED": f"give a valid bearer token (token= / --token, or ${TOKEN_ENV})",
    "PERMISSION_DENIED": "the token's identity may not read this project",
    "INVALID_ARGUMENT": "check the filters (flyteadmin's syntax: eq(phase,FAILED), value_in(phase,A;B), "
    "gte(created_at,2026-01-01T00:00:00Z), joined by +) and the sort key",
    "DEADLINE_EXCEEDED": "the server is slow: give a longer timeout or a smaller page size",
    "NOT_FOUND": "check the project, domain, execution and node names",
}


def _code(error: Exception) -> str | None:
    """The gRPC status name of a failed call, or None for an error that is not a call's."""
    if not isinstance(error, _grpc().RpcError):
        return None
    return error.code().name if error.code() is not None else "UNKNOWN"


def _admin_error(error: Exception, plist: PageList, offset: int, attempts: int) -> Exception:
    code = _code(error)
    if code is None:
        return error
    details = (error.details() or "").strip().splitlines()
    said = details[0] if details else code
    advice = _ADVICE.get(code)
    where = f"{plist.method} (page at offset {offset}" + (f", {attempts} attempts)" if attempts > 1 else ")")
    return AdminError(f"{where}: flyteadmin said {code}: {said}" + (f"; {advice}" if advice else ""), code)


def empty(kind: str) -> Batch:
    """No records of ``kind``: its ``to_arrow()`` has the kind's columns."""
    from flytecodec.shards import model_for

    if kind not in KINDS:
        raise ValueError(f"flyteadmin's API lists {', '.join(KINDS)}; not {kind!r}")
    return decode(model_for(kind), [])
