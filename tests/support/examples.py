"""How hypothesis draws generated messages in the suite: these settings as they are for the tests that do not
compare with an oracle field by field (tests/models/test_generated_messages.py, tests/arrow/test_arrow.py), and as
the parent of the oracles' (support/upb.py) and the differential tests' (tests/models/test_backends_corpus.py)."""

from hypothesis import HealthCheck, settings

# Derandomized: the suite runs the same examples every time (exploring is scripts/fuzz.sh's job), and big
# generated messages must not trip hypothesis's size health checks at random.
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
