"""Test support for flytecodec: inputs to test and benchmark decoders with.

- :mod:`flytecodec.testing.corpus` builds deterministic, realistic Flyte admin records
  (``Execution``, ``NodeExecution``, ``TaskExecution`` and their ``*List`` pages) and the
  delimited stream format;
- :mod:`flytecodec.testing.strategies` gives hypothesis strategies for arbitrary valid messages of
  any pb2 class, and for serialized messages carrying unknown fields (needs ``hypothesis``).

The submodules are imported on demand, so using the corpus does not require hypothesis.
"""
