"""A real gRPC server (grpcio, flyteidl's ``AdminServiceServicer``) serving ListExecutions, ListNodeExecutions and
ListTaskExecutions from a corpus with flyteadmin's paging rules: ``limit`` > 0, the token is the decimal offset of
the next page and comes only with a full page; filters on phase (``eq``, ``ne``, ``value_in``, joined by ``+``;
anything else is INVALID_ARGUMENT as flyteadmin answers a bad filter); ``sort_by`` on ``created_at``; with a
``token`` configured, calls without ``authorization: Bearer TOKEN`` are UNAUTHENTICATED."""

from __future__ import annotations

import re
import threading
from concurrent import futures

import grpc
from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2, admin_pb2_grpc

from flytecodec.testing import corpus

PROJECT, DOMAIN, TREE = "flytesnacks", "development", "tree-execution"
_REQUESTS = {
    "ListExecutions": common_pb2.ResourceListRequest,
    "ListNodeExecutions": node_execution_pb2.NodeExecutionListRequest,
    "ListTaskExecutions": task_execution_pb2.TaskExecutionListRequest,
}
_FILTER = re.compile(r"^(eq|ne|value_in)\(phase,([A-Z_;]+)\)$")


class Corpus:
    """What the server serves: executions; node executions by (execution name, unique parent id, "" for the top
    level); task executions by (execution name, node id)."""

    def __init__(self, executions, nodes, tasks):
        self.executions = executions
        self.nodes = nodes
        self.tasks = tasks

    def all_nodes(self):
        return [node for level in self.nodes.values() for node in level]

    def all_tasks(self):
        return [task for attempts in self.tasks.values() for task in attempts]


def build_corpus(executions: int = 730, seed: int = 1) -> Corpus:
    """``executions`` executions of PROJECT/DOMAIN (and a few of another project, which the lists leave out),
    and one execution, TREE, with a three-level tree of 515 node executions: 230 at the top; parents with 100
    children (a full last page), 150 (one of them a parent of 30) and 5 children, and a parent with none; task
    executions for the leaf nodes, 130 attempts for one of them (two pages)."""
    served = corpus.executions(executions + 20, seed=seed)
    for i, execution in enumerate(served):
        execution.id.project = PROJECT if i < executions else "other"
        execution.id.domain = DOMAIN
        execution.id.name = f"e{i:05d}"
    tree = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=TREE)
    templates = iter(corpus.node_executions(600, seed=seed + 1))
    children = {"n3": 100, "n7": 150, "n7-0-n5": 30, "n11": 0, "n20": 5}
    nodes: dict[tuple[str, str], list] = {}

    def level(parent: str, count: int):
        made = []
        for j in range(count):
            node_id = f"{parent}-0-n{j}" if parent else f"n{j}"
            node = next(templates)
            node.id.execution_id.CopyFrom(tree)
            node.id.node_id = node_id
            node.metadata.is_parent_node = node_id in children
            node.metadata.spec_node_id = f"n{j}"
            node.metadata.retry_group = "0" if parent else ""
            made.append(node)
        nodes[(TREE, parent)] = made
        for node in made:
            if node.id.node_id in children:
                level(node.id.node_id, children[node.id.node_id])

    level("", 230)
    task_templates = iter(corpus.task_executions(2000, seed=seed + 2))
    tasks: dict[tuple[str, str], list] = {}
    leaves = [node for level_nodes in nodes.values() for node in level_nodes if not node.metadata.is_parent_node]
    for k, node in enumerate(leaves):
        attempts = 130 if k == 1 else k % 4
        made = []
        for attempt in range(attempts):
            task = next(task_templates)
            task.id.node_execution_id.CopyFrom(node.id)
            task.id.retry_attempt = attempt
            made.append(task)
        tasks[(TREE, node.id.node_id)] = made
    return Corpus(served, nodes, tasks)


def _phase_filter(text: str, names):
    """The phase test of a flyteadmin filter expression, or None when the expression is not one this server
    (and flyteadmin's phase fields) takes."""
    if not text:
        return lambda phase: True
    tests = []
    for expression in text.split("+"):
        match = _FILTER.match(expression.strip())
        if match is None:
            return None
        function, values = match.groups()
        try:
            wanted = {names.Value(value) for value in values.split(";")}
        except ValueError:
            return None
        tests.append((function == "ne", wanted))
    return lambda phase: all((phase in wanted) != negated for negated, wanted in tests)


class _Servicer(admin_pb2_grpc.AdminServiceServicer):
    def __init__(self, served: Corpus, token: str | None, cache: bool, tamper=None, refuse=None):
        self.served = served
        self.tamper = tamper
        self.refuse = refuse
        self.cache: dict[tuple, bytes] | None = {} if cache else None
        self.scopes: dict[tuple[str, str], list] = {}
        for execution in served.executions:
            self.scopes.setdefault((execution.id.project, execution.id.domain), []).append(execution)
        self.token = token
        self.calls: list[tuple[str, str]] = []  # (method, page token)
        self.lock = threading.Lock()

    def _page(self, method: str, request, context, records, phases, response):
        with self.lock:
            self.calls.append((method, request.token))
            refused = None if self.refuse is None else self.refuse(method, request.token)
        if refused is not None:
            context.abort(refused, "upstream connect error or disconnect/reset before headers")
        if self.token is not None:
            sent = dict(context.invocation_metadata()).get("authorization")
            if sent != f"Bearer {self.token}":
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "Request unauthenticated with IdentityContext")
        if request.limit <= 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid value for limit")
        test = _phase_filter(request.filters, phases)
        if test is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid filter expression: {request.filters}")
        try:
            offset = int(request.token or "0")
        except ValueError:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid pagination token {request.token}")
        key = (method, request.SerializeToString(deterministic=True))
        if self.cache is not None and key in self.cache:
            return self.cache[key]
        chosen = [record for record in records if test(record.closure.phase)] if request.filters else list(records)
        if request.HasField("sort_by"):
            if request.sort_by.key != "created_at":
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid sort key {request.sort_by.key}")
            descending = request.sort_by.direction == request.sort_by.DESCENDING
            chosen.sort(key=lambda r: r.closure.created_at.ToNanoseconds(), reverse=descending)
        page = chosen[offset : offset + request.limit]
        token = str(offset + len(page)) if len(page) == request.limit else ""
        if self.tamper is not None:
            return self.tamper(offset, response(page, token))
        if self.cache is None:
            return response(page, token).SerializeToString()
        self.cache[key] = response(page, token).SerializeToString()
        return self.cache[key]

    def ListExecutions(self, request, context):
        records = self.scopes.get((request.id.project, request.id.domain), [])
        return self._page(
            "ListExecutions", request, context, records, core_execution_pb2.WorkflowExecution.Phase,
            lambda page, token: execution_pb2.ExecutionList(executions=page, token=token),
        )  # fmt: skip

    def ListNodeExecutions(self, request, context):
        records = self.served.nodes.get((request.workflow_execution_id.name, request.unique_parent_id), [])
        return self._page(
            "ListNodeExecutions", request, context, records, core_execution_pb2.NodeExecution.Phase,
            lambda page, token: node_execution_pb2.NodeExecutionList(node_executions=page, token=token),
        )  # fmt: skip

    def ListTaskExecutions(self, request, context):
        node = request.node_execution_id
        records = self.served.tasks.get((node.execution_id.name, node.node_id), [])
        return self._page(
            "ListTaskExecutions", request, context, records, core_execution_pb2.TaskExecution.Phase,
            lambda page, token: task_execution_pb2.TaskExecutionList(task_executions=page, token=token),
        )  # fmt: skip


class AdminServer:
    """The server on a free local port (``address``), plain text or TLS (``certificate``: (key PEM, cert PEM)).
    The servicer's methods give the response's bytes; with ``cache``, each distinct request's are serialized
    once (for the benchmarks, which measure the clients rather than this Python server); ``tamper(offset,
    response)`` gives the bytes to send instead (for the tests of a server that breaks the rules); ``refuse(method,
    page token)`` gives a status code to fail that call with instead of answering, or None (asked under a lock, in
    the order the calls come)."""

    def __init__(
        self,
        served: Corpus,
        token: str | None = None,
        certificate: tuple[bytes, bytes] | None = None,
        cache: bool = False,
        tamper=None,
        refuse=None,
    ):
        self.servicer = _Servicer(served, token, cache, tamper, refuse)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        service = admin_pb2.DESCRIPTOR.services_by_name["AdminService"]
        handlers = {}
        for name, request in _REQUESTS.items():
            assert service.methods_by_name[name].input_type is request.DESCRIPTOR
            handlers[name] = grpc.unary_unary_rpc_method_handler(
                getattr(self.servicer, name), request_deserializer=request.FromString, response_serializer=None
            )
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
        if certificate is None:
            port = self.server.add_insecure_port("127.0.0.1:0")
            self.address = f"127.0.0.1:{port}"
        else:
            credentials = grpc.ssl_server_credentials([certificate])
            port = self.server.add_secure_port("localhost:0", credentials)
            self.address = f"localhost:{port}"

    @property
    def calls(self) -> list[tuple[str, str]]:
        return self.servicer.calls

    def __enter__(self) -> AdminServer:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop(grace=None)


def main() -> None:
    """``python _adminserver.py N``: serve N executions of PROJECT/DOMAIN (inline outputs offloaded, so that
    flytekit reads them too) on a free local port, each page serialized once, print its address, and serve
    until stdin closes (the benchmarks run the server in a process of its own)."""
    import sys

    from flyteidl.admin import execution_pb2

    executions = corpus.offload_inline_outputs(
        execution_pb2.ExecutionList(executions=corpus.executions(int(sys.argv[1]), seed=1))
    ).executions
    for i, execution in enumerate(executions):
        execution.id.project, execution.id.domain, execution.id.name = PROJECT, DOMAIN, f"e{i:06d}"
    with AdminServer(Corpus(list(executions), {}, {}), cache=True) as server:
        print(server.address, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
