"""What patients are told by SMS, and what they ask by SMS.

``events`` reads booking's ``hl:events`` stream (consumer group ``sms``) and writes each
notice to the durable SMS outbox before acknowledging it; ``templates`` renders
``config/sms.yaml``; ``mo`` answers the MO text commands (cancel, query, register, help).
Imports ``booking.api``, ``sms`` and ``pii``; never ``hotline``, which starts these parts.
"""
