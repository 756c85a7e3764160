"""Real Celery workers for the e-mail fault tests: the transport tests' fixtures."""

from msdportaal.transport.tests.conftest import (  # noqa: F401 (fixtures)
    celery_processes,
    reference_data,
    start_worker,
    worker_queue,
)
