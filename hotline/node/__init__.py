"""One node's processes (``node.workers``, docs/operations.md): which part of the wiring this
process runs (``role``), the supervisor that keeps the workers running (``workers``), the worker
entry point (``worker``), the pipe pair between them (``link``) and the shared listening sockets
(``sharedport``).

A sub-package of ``hotline`` rather than a package of its own: a worker boots the same
composition root (``hotline.app``) and the role answers that root's questions, so it belongs to
the wiring; apart, it would have to import ``hotline`` back.
"""
