"""flytecodec.sources.grpc and ``flytecodec export grpc://...`` against a real gRPC server (tests/sources/
_adminserver.py) serving a corpus with flyteadmin's paging rules: everything fetched equals what was served, on
both backends; filters, sorting, page sizes, pages in flight; node trees of three levels; TLS; bearer tokens;
errors that say what to do and leave no output file."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys

import pytest

grpc = pytest.importorskip("grpc", reason="the grpc extra (grpcio) is not installed")

import _adminserver  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from _adminserver import DOMAIN, PROJECT, TREE  # noqa: E402
from flyteidl.core import execution_pb2 as core_execution_pb2  # noqa: E402

import flytecodec  # noqa: E402
from flytecodec.bulk import concat  # noqa: E402
from flytecodec.shards import model_for  # noqa: E402
from flytecodec.sources import SourceError  # noqa: E402
from flytecodec.sources import grpc as admin  # noqa: E402

TOKEN = "s3cret-token"
COMMAND = [sys.executable, "-m", "flytecodec.cli"]
FAILED = core_execution_pb2.WorkflowExecution.FAILED
TIMED_OUT = core_execution_pb2.WorkflowExecution.TIMED_OUT


@pytest.fixture(scope="module")
def served():
    return _adminserver.build_corpus()


@pytest.fixture(scope="module")
def server(served):
    with _adminserver.AdminServer(served, token=TOKEN) as running:
        yield running


@pytest.fixture(scope="module")
def channel(server):
    with admin.connect(f"grpc://{server.address}", insecure=True) as opened:
        yield opened


def fetched(channel, kind="execution", **options):
    """The records read, as flyteidl messages, and the batches."""
    options = {"project": PROJECT, "domain": DOMAIN, "token": TOKEN, **options}
    batches = list(admin.read(channel, kind, **options))
    field = {"execution": "executions", "node-execution": "node_executions", "task-execution": "task_executions"}
    records = [record for batch in batches for record in getattr(batch.to_flyte_idl(), field[kind])]
    return records, batches


def listed(served):
    return [e for e in served.executions if e.id.project == PROJECT]


def test_executions_equal_what_was_served_page_by_page(channel, served, server, backend):
    before = len(server.calls)
    records, batches = fetched(channel)
    assert records == listed(served)
    assert [len(b) for b in batches] == [100] * 7 + [30]
    assert all(isinstance(e, admin.empty("execution").model) for b in batches for e in b)
    tokens = sorted(int(token or 0) for method, token in server.calls[before:])
    assert tokens[:8] == [0, 100, 200, 300, 400, 500, 600, 700]


@pytest.mark.parametrize("page_size", [7, 100, 365, 730, 1000])
@pytest.mark.parametrize("in_flight", [1, 3, 16])
def test_every_page_size_and_number_in_flight_gives_the_same_records(channel, served, page_size, in_flight):
    records, batches = fetched(channel, page_size=page_size, in_flight=in_flight)
    assert records == listed(served)
    assert all(len(b) == page_size for b in batches[:-1])


def test_four_fields_read_from_the_models(channel, served, backend):
    _, batches = fetched(channel)
    got = [(e.id.name, e.closure.phase, e.closure.started_at, e.closure.duration) for b in batches for e in b]
    want = listed(served)
    assert [name for name, *_ in got] == [e.id.name for e in want]
    assert [phase for _, phase, *_ in got] == [e.closure.phase for e in want]
    started = [e.closure.started_at.ToDatetime() for e in want]  # unset: the epoch, as flytekit's models give
    assert [s.replace(tzinfo=None) for _, _, s, _ in got] == started
    assert [d for *_, d in got] == [e.closure.duration.ToTimedelta() for e in want]


@pytest.mark.parametrize(
    ("filters", "phases"),
    [("eq(phase,FAILED)", {FAILED}), ("value_in(phase,FAILED;TIMED_OUT)", {FAILED, TIMED_OUT})],
)
def test_filters_go_to_flyteadmin(channel, served, filters, phases):
    records, _ = fetched(channel, filters=filters, page_size=10)
    want = [e for e in listed(served) if e.closure.phase in phases]
    assert len(want) > 10
    assert records == want


def test_sort_goes_to_flyteadmin(channel, served):
    records, _ = fetched(channel, sort_by="desc(created_at)", page_size=50)
    want = sorted(listed(served), key=lambda e: e.closure.created_at.ToNanoseconds(), reverse=True)
    assert records == want


def test_node_executions_of_an_execution_have_every_level(channel, served, backend):
    records, _ = fetched(channel, "node-execution", execution=TREE)
    assert len(records) == len(served.all_nodes()) == 515
    assert records == breadth_first(served)  # level by level, each parent's children in flyteadmin's order
    assert max(len(r.id.node_id.split("-0-")) for r in records) == 3


def test_node_filters_apply_at_every_level(channel, served):
    records, _ = fetched(channel, "node-execution", execution=TREE, filters="eq(phase,SUCCEEDED)")
    succeeded = core_execution_pb2.NodeExecution.SUCCEEDED
    assert records and all(r.closure.phase == succeeded for r in records)
    top = [n for n in served.nodes[(TREE, "")] if n.closure.phase == succeeded]
    assert [r for r in records if "-" not in r.id.node_id] == top


def test_task_executions_of_an_execution_are_those_of_every_node(channel, served, backend):
    records, _ = fetched(channel, "task-execution", execution=TREE, in_flight=8)
    want = [task for node in breadth_first(served) for task in served.tasks.get((TREE, node.id.node_id), [])]
    assert len(records) == len(served.all_tasks()) > 500
    assert records == want  # in the order of their nodes, each node's attempts in flyteadmin's order


def test_task_executions_of_one_node(channel, served, backend):
    (node, attempts) = next((k[1], v) for k, v in served.tasks.items() if len(v) == 130)
    records, batches = fetched(channel, "task-execution", execution=TREE, node=node, page_size=100)
    assert records == attempts
    assert [len(b) for b in batches] == [100, 30]


def test_the_token_comes_from_the_environment(channel, served, monkeypatch):
    monkeypatch.setenv(admin.TOKEN_ENV, TOKEN)
    batches = list(admin.read(channel, "execution", project=PROJECT, domain=DOMAIN))
    assert sum(map(len, batches)) == len(listed(served))


@pytest.mark.parametrize("token", [None, "wrong"])
def test_a_missing_or_wrong_token_is_unauthenticated(channel, token, monkeypatch):
    monkeypatch.delenv(admin.TOKEN_ENV, raising=False)
    with pytest.raises(admin.AdminError, match=r"UNAUTHENTICATED.*FLYTECODEC_TOKEN") as caught:
        list(admin.read(channel, "execution", project=PROJECT, domain=DOMAIN, token=token))
    assert caught.value.code == "UNAUTHENTICATED"
    assert isinstance(caught.value, SourceError)


def test_a_bad_filter_says_so(channel):
    with pytest.raises(admin.AdminError, match=r"INVALID_ARGUMENT: invalid filter expression.*eq\(phase,FAILED\)"):
        fetched(channel, filters="eq(colour,red)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_server_says_what_to_check():
    refused = pytest.raises(admin.AdminError, match=r"UNAVAILABLE.*check the address and port")
    with admin.connect(f"127.0.0.1:{free_port()}", insecure=True) as channel, refused as caught:
        list(admin.read(channel, "execution", project=PROJECT, domain=DOMAIN))
    assert caught.value.code == "UNAVAILABLE"


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("execution-spec", {}, "lists execution, node-execution, task-execution"),
        ("node-execution", {}, "needs the execution's name"),
        ("node-execution", {"execution": TREE, "node": "n1"}, "node= selects"),
        ("execution", {"page_size": 0}, "at least 1"),
        ("execution", {"sort_by": "created_at"}, "'asc\\(KEY\\)' or 'desc\\(KEY\\)'"),
    ],
)
def test_bad_arguments_are_refused_before_any_call(channel, kind, options, message):
    with pytest.raises(ValueError, match=message):
        admin.read(channel, kind, project=PROJECT, domain=DOMAIN, **options)


def _foreign_token(offset, response):
    if response.token:
        response.token = f"page-{offset // 100 + 1}"
    return response.SerializeToString()


def _cut_second_page(offset, response):
    data = response.SerializeToString()
    return data[: len(data) // 2] if offset == 100 else data


@contextlib.contextmanager
def tampered(served, tamper):
    with _adminserver.AdminServer(served, tamper=tamper) as odd, admin.connect(odd.address, insecure=True) as channel:
        yield channel


def test_a_token_that_is_not_the_next_offset_is_refused(served):
    refused = pytest.raises(SourceError, match=r"offset 0 came with the token 'page-1', not the offset .* \(100\)")
    with tampered(served, _foreign_token) as channel, refused:
        fetched(channel, token=None)


def test_a_page_that_does_not_decode_names_the_call_and_offset(served, backend):
    refused = pytest.raises(flytecodec.DecodeError, match=r"ListExecutions, page at offset 100: ")
    with tampered(served, _cut_second_page) as channel, refused as caught:
        fetched(channel, token=None)
    assert caught.value.index >= 100


class Flaky:
    """Refuses each page's first ``times`` calls with ``code`` (flyteadmin restarting, a load balancer's 503)."""

    def __init__(self, times: int, code=grpc.StatusCode.UNAVAILABLE):
        self.times, self.code = times, code
        self.seen: dict[tuple[str, str], int] = {}

    def __call__(self, method: str, token: str):
        count = self.seen[method, token] = self.seen.get((method, token), 0) + 1
        return self.code if count <= self.times else None


@contextlib.contextmanager
def refusing(served, refuse):
    with _adminserver.AdminServer(served, refuse=refuse) as odd, admin.connect(odd.address, insecure=True) as channel:
        yield odd, channel


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED])
def test_a_page_refused_for_a_while_is_asked_for_again(served, code, backend):
    with refusing(served, Flaky(2, code)) as (server, channel):
        records, _ = fetched(channel, token=None, page_size=200, in_flight=3)
    assert records == listed(served)
    for token in ("", "200", "400", "600"):  # each page read: refused twice, then served
        assert server.calls.count(("ListExecutions", token)) == 3


def test_retries_give_up_and_say_how_often_they_tried(served):
    with refusing(served, Flaky(10)) as (server, channel), pytest.raises(admin.AdminError) as caught:
        fetched(channel, token=None, retries=2)
    assert caught.value.code == "UNAVAILABLE"
    assert "ListExecutions (page at offset 0, 3 attempts): flyteadmin said UNAVAILABLE" in str(caught.value)
    assert [call for call in server.calls if call[1] == ""] == [("ListExecutions", "")] * 3


@pytest.mark.parametrize("code", [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED])
def test_errors_that_would_come_again_are_not_retried(served, code):
    with refusing(served, Flaky(1, code)) as (server, channel), pytest.raises(admin.AdminError) as caught:
        fetched(channel, token=None, in_flight=1)
    assert caught.value.code == code.name and "attempts" not in str(caught.value)
    assert server.calls == [("ListExecutions", "")]


def test_no_retries_gives_up_at_once(served):
    with refusing(served, Flaky(1)) as (server, channel), pytest.raises(admin.AdminError, match="UNAVAILABLE"):
        fetched(channel, token=None, retries=0, in_flight=1)
    assert server.calls == [("ListExecutions", "")]


def test_export_retries_an_unavailable_server(served, tmp_path):
    out = tmp_path / "out.csv"
    with _adminserver.AdminServer(served, refuse=Flaky(1)) as odd:
        done = export(odd.address, "--kind", "execution", "--to", str(out), "--columns", "name", "-q", token=None)
    assert done.returncode == 0, done.stderr
    assert len(out.read_text().splitlines()) == 1 + len(listed(served))


def test_tls_channel_with_the_servers_certificate(served, tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        capture_output=True,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"openssl could not make a certificate: {made.stderr.decode()[:200]}")
    certificate = (key.read_bytes(), cert.read_bytes())
    with _adminserver.AdminServer(served, certificate=certificate) as tls:
        with admin.connect(tls.address, root_certificates=certificate[1]) as channel:
            records, _ = fetched(channel, token=None)
        assert records == listed(served)
        with admin.connect(tls.address, insecure=True) as channel, pytest.raises(admin.AdminError, match="UNAVAILABLE"):
            fetched(channel, token=None, timeout=5)


def test_a_channel_from_flytekits_platform_config(served):
    configuration = pytest.importorskip("flytekit.configuration")
    with _adminserver.AdminServer(served) as open_server:
        config = configuration.PlatformConfig(endpoint=open_server.address, insecure=True)
        with admin.flytekit_channel(config) as channel:
            records, _ = fetched(channel, token=None)
    assert records == listed(served)


# -- the command ----------------------------------------------------------------------------------------------


def export(server_address: str, *args: str, backend: str | None = None, token: str | None = TOKEN):
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("FLYTECODEC_BACKEND", None)
    env.pop(admin.TOKEN_ENV, None)
    if backend:
        env["FLYTECODEC_BACKEND"] = backend
    if token:
        env[admin.TOKEN_ENV] = token
    argv = [*COMMAND, "export", f"grpc://{server_address}", "--insecure", "--project", PROJECT, "--domain", DOMAIN]
    return subprocess.run([*argv, *args], env=env, capture_output=True, text=True)


def expected_table(channel, kind: str, **options) -> pa.Table:
    with flytecodec.using_backend("python"):
        _, batches = fetched(channel, kind, **options)
        return concat(batches).to_arrow()


def breadth_first(served) -> list:
    """The tree's node executions level by level, each parent's children in flyteadmin's order."""
    order, parents = [], [""]
    while parents:
        parent = parents.pop(0)
        for node in served.nodes[(TREE, parent)]:
            order.append(node)
            if node.metadata.is_parent_node:
                parents.append(node.id.node_id)
    return order


def decoded_table(kind: str, messages) -> pa.Table:
    """The served messages, decoded by flytecodec as any dump (python backend)."""
    with flytecodec.using_backend("python"):
        return flytecodec.decode(model_for(kind), [m.SerializeToString() for m in messages]).to_arrow()


@pytest.mark.parametrize(("kind", "options"), [("execution", {}), ("node-execution", {"execution": TREE})])
def test_export_writes_the_served_messages(server, served, backend, tmp_path, kind, options):
    out = tmp_path / "out.parquet"
    extra = ["--execution", options["execution"]] if options else []
    done = export(server.address, "--kind", kind, "--to", str(out), "--batch-size", "250", *extra, backend=backend)
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    assert table.equals(decoded_table(kind, listed(served) if kind == "execution" else breadth_first(served)))
    assert f"exported {table.num_rows} " in done.stderr and f"{backend} backend: wrote {out}" in done.stderr
    assert os.listdir(tmp_path) == ["out.parquet"]


def test_export_of_task_executions_with_filters_and_columns(server, channel, tmp_path):
    out = tmp_path / "tasks.csv"
    columns = "node_id,retry_attempt,phase"
    args = ["--kind", "task-execution", "--execution", TREE, "--filters", "eq(phase,FAILED)", "--to", str(out)]
    done = export(server.address, *args, "--columns", columns, "--page-size", "20", "--in-flight", "2", "-q")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    want = expected_table(channel, "task-execution", execution=TREE, filters="eq(phase,FAILED)")
    assert 0 < want.num_rows == len(out.read_text().splitlines()) - 1


@pytest.mark.parametrize(
    ("args", "token", "message"),
    [
        (["--filters", "eq(colour,red)"], TOKEN, "INVALID_ARGUMENT: invalid filter expression"),
        ([], None, "UNAUTHENTICATED"),
        (["--token", "wrong"], TOKEN, "UNAUTHENTICATED"),
    ],
)
def test_export_errors_are_one_line_and_leave_no_file(server, tmp_path, args, token, message):
    out = tmp_path / "out.parquet"
    done = export(server.address, "--kind", "execution", "--to", str(out), *args, token=token)
    assert done.returncode == 1
    assert done.stderr.startswith("flytecodec: error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_export_from_a_server_that_is_down_leaves_no_file(tmp_path):
    out = tmp_path / "out.parquet"
    done = export(f"127.0.0.1:{free_port()}", "--kind", "execution", "--to", str(out))
    assert done.returncode == 1
    assert "UNAVAILABLE" in done.stderr and "check the address and port" in done.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "execution-spec"], "lists execution, node-execution, task-execution"),
        (["--kind", "node-execution"], "lists the records of one execution"),
        (["--kind", "execution", "--since", "2026-01-01"], "--since is for a database"),
        (["--kind", "execution", "--sort", "created_at"], "'asc(KEY)' or 'desc(KEY)'"),
        (["--kind", "execution", "--retries", "-1"], "--retries"),
    ],
)
def test_export_usage_errors(tmp_path, args, message):
    done = export("127.0.0.1:1", *args, "--to", str(tmp_path / "out.parquet"))
    assert done.returncode == 2
    assert message in done.stderr


@pytest.mark.parametrize(("option", "flag"), [(["--insecure"], "--insecure"), (["--retries", "0"], "--retries")])
def test_export_of_a_database_refuses_api_options(tmp_path, option, flag):
    argv = [*COMMAND, "export", "postgresql://nobody@127.0.0.1:1/db", "--kind", "execution", *option]
    done = subprocess.run([*argv, "--to", str(tmp_path / "out.parquet")], capture_output=True, text=True)
    assert done.returncode == 2
    assert f"{flag} is for the API (grpc://)" in done.stderr
