"""A node's processes (``node.workers``, docs/operations.md): the supervisor that keeps the
worker processes running (``workers``), the pipe pair between the main process and a worker
(``link``) and the listening sockets they share (``sharedport``).

It knows nothing of what a worker runs: the composition root hands it the worker's command
line and boot message (``hotline.role`` decides which part of the wiring each process runs,
``hotline.worker`` is a worker's entry point).
"""
