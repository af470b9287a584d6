"""Executions as ``FlyteRemote`` hands them out, as in ``flytekit.remote.executions``.

These are the execution models with the guards flytekit puts around them: ``error`` and ``outputs`` raise
:class:`~flytecodec.exceptions.FlyteAssertion` until the execution is done. There is no remote here: inputs and
outputs are filled from a ``*GetDataResponse`` with :meth:`RemoteExecutionBase.set_data` and are
:class:`~flytecodec.models.literals.LiteralMap` models (flytekit wraps them in a ``LiteralsResolver``).
"""

from __future__ import annotations

from flytecodec.exceptions import flyte_assertion
from flytecodec.models import execution as execution_models
from flytecodec.models import node_execution as node_execution_models
from flytecodec.models.admin import task_execution as admin_task_execution_models
from flytecodec.models.core import execution as core_execution_models
from flytecodec.models.literals import LiteralMap


class RemoteExecutionBase:
    """What the three remote executions share: inputs, outputs and their guards."""

    _inputs: LiteralMap | None = None
    _outputs: LiteralMap | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._inputs = None
        self._outputs = None

    @property
    def inputs(self) -> LiteralMap | None:
        return self._inputs

    @property
    def error(self) -> core_execution_models.ExecutionError | None:
        raise NotImplementedError

    @property
    def is_done(self) -> bool:
        raise NotImplementedError

    @property
    def outputs(self) -> LiteralMap | None:
        """The outputs; raises ``FlyteAssertion`` while the execution runs or if it failed."""
        if not self.is_done:
            raise flyte_assertion("Please wait until the execution has completed before requesting the outputs.")
        if self.error:
            raise flyte_assertion(
                "Outputs could not be found because the execution ended in failure. Error message: "
                f"{self.error.message}"
            )
        return self._outputs

    def set_data(self, data) -> None:
        """Fill ``inputs`` and ``outputs`` from a ``*GetDataResponse`` model (its ``full_inputs``/``full_outputs``)."""
        self._inputs = data.full_inputs
        self._outputs = data.full_outputs


class FlyteTaskExecution(RemoteExecutionBase, admin_task_execution_models.TaskExecution):
    """A task execution being run on a Flyte remote backend."""

    _flyte_task = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._flyte_task = None

    @property
    def task(self):
        return self._flyte_task

    @property
    def is_done(self) -> bool:
        """Whether the execution is complete."""
        return self.closure.phase in {
            core_execution_models.TaskExecutionPhase.ABORTED,
            core_execution_models.TaskExecutionPhase.FAILED,
            core_execution_models.TaskExecutionPhase.SUCCEEDED,
        }

    @property
    def error(self) -> core_execution_models.ExecutionError | None:
        """The error, or None if the task ended without one; raises ``FlyteAssertion`` while it runs."""
        if not self.is_done:
            raise flyte_assertion(
                "Please what until the task execution has completed before requesting error information."
            )
        return self.closure.error

    @classmethod
    def promote_from_model(cls, base_model: admin_task_execution_models.TaskExecution) -> FlyteTaskExecution:
        return cls(
            closure=base_model.closure, id=base_model.id, input_uri=base_model.input_uri, is_parent=base_model.is_parent
        )


class FlyteWorkflowExecution(RemoteExecutionBase, execution_models.Execution):
    """A workflow execution being run on a Flyte remote backend."""

    _node_executions = None
    _flyte_workflow = None
    _remote = None
    _type_hints = None

    def __init__(self, type_hints: dict[str, type] | None = None, remote=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._node_executions = None
        self._flyte_workflow = None
        self._remote = remote
        self._type_hints = type_hints

    @property
    def flyte_workflow(self):
        return self._flyte_workflow

    @property
    def node_executions(self) -> dict[str, FlyteNodeExecution]:
        """The node executions of this workflow execution, by node id."""
        return self._node_executions or {}

    @property
    def error(self) -> core_execution_models.ExecutionError | None:
        """The error, or None if the execution ended without one; raises ``FlyteAssertion`` while it runs."""
        if not self.is_done:
            raise flyte_assertion("Please wait until a workflow has completed before checking for an error.")
        return self.closure.error

    @property
    def execution_url(self) -> str | None:
        if self._remote is None:
            return None
        return self._remote.generate_console_url(self)

    @property
    def is_done(self) -> bool:
        """Whether the execution is complete."""
        return self.closure.phase in {
            core_execution_models.WorkflowExecutionPhase.ABORTED,
            core_execution_models.WorkflowExecutionPhase.FAILED,
            core_execution_models.WorkflowExecutionPhase.SUCCEEDED,
            core_execution_models.WorkflowExecutionPhase.TIMED_OUT,
        }

    @property
    def is_successful(self) -> bool:
        """Whether the execution succeeded."""
        return self.closure.phase == core_execution_models.WorkflowExecutionPhase.SUCCEEDED

    @classmethod
    def promote_from_model(
        cls,
        base_model: execution_models.Execution,
        remote=None,
        type_hints: dict[str, type] | None = None,
    ) -> FlyteWorkflowExecution:
        return cls(
            remote=remote, type_hints=type_hints, closure=base_model.closure, id=base_model.id, spec=base_model.spec
        )

    def sync(self, sync_nodes: bool = False) -> FlyteWorkflowExecution:
        """Refresh from the remote this execution came from (there is none without flytekit's FlyteRemote)."""
        if self._remote is None:
            raise flyte_assertion("Cannot sync without a remote")
        return self._remote.sync_execution(self, sync_nodes=sync_nodes)

    def wait(self, timeout=None, poll_interval=None, sync_nodes: bool = True) -> FlyteWorkflowExecution:
        """Block until the execution completes, through its remote."""
        if self._remote is None:
            raise flyte_assertion("Cannot wait without a remote")
        return self._remote.wait(self, timeout=timeout, poll_interval=poll_interval, sync_nodes=sync_nodes)

    def _repr_html_(self) -> str:
        if self.execution_url:
            link = f"<a href='{self.execution_url}'>{self.execution_url}</a>"
            status = "<b>Execution is in-progress. </b> "
            error = ""
            if self.is_done:
                phase = core_execution_models.WorkflowExecutionPhase.enum_to_string(self.closure.phase)
                status = f"<b>Execution {phase}. </b>"
                if self.error:
                    error = f"<pre>{self.error.message}</pre>"
            return status + link + error
        return super()._repr_html_()


class FlyteNodeExecution(RemoteExecutionBase, node_execution_models.NodeExecution):
    """A node execution being run on a Flyte remote backend."""

    _task_executions = None
    _underlying_node_executions = None
    _interface = None
    _flyte_node = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._task_executions = None
        self._workflow_executions = []
        self._underlying_node_executions = None
        self._interface = None
        self._flyte_node = None

    @property
    def task_executions(self) -> list[FlyteTaskExecution]:
        return self._task_executions or []

    @property
    def workflow_executions(self) -> list[FlyteWorkflowExecution]:
        return self.__dict__.setdefault("_workflow_executions", [])

    @property
    def subworkflow_node_executions(self) -> dict[str, FlyteNodeExecution]:
        """The node executions under this one when it is a (static or dynamic) subworkflow node."""
        if self._underlying_node_executions is None:
            return {}
        return {n.id.node_id: n for n in self._underlying_node_executions}

    @property
    def executions(self) -> list[FlyteTaskExecution | FlyteWorkflowExecution]:
        return self.task_executions or self._underlying_node_executions or []

    @property
    def error(self) -> core_execution_models.ExecutionError | None:
        """The error, or None if the node ended without one; raises ``FlyteAssertion`` while it runs."""
        if not self.is_done:
            raise flyte_assertion(
                "Please wait until the node execution has completed before requesting error information."
            )
        return self.closure.error

    @property
    def is_done(self) -> bool:
        """Whether the node execution is complete."""
        return self.closure.phase in {
            core_execution_models.NodeExecutionPhase.ABORTED,
            core_execution_models.NodeExecutionPhase.FAILED,
            core_execution_models.NodeExecutionPhase.SKIPPED,
            core_execution_models.NodeExecutionPhase.SUCCEEDED,
            core_execution_models.NodeExecutionPhase.TIMED_OUT,
        }

    @classmethod
    def promote_from_model(cls, base_model: node_execution_models.NodeExecution) -> FlyteNodeExecution:
        return cls(
            closure=base_model.closure, id=base_model.id, input_uri=base_model.input_uri, metadata=base_model.metadata
        )

    @property
    def interface(self):
        """The interface of the task or subworkflow behind this node, when known."""
        return self._interface
