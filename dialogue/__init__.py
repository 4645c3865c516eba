"""The booking dialogue both channels run: the menu engine's effects turned into booking calls.

``dialogue.effects`` is the one place effect names (docs/menus.md) meet ``booking.api``;
``dialogue.prefetch`` starts reading a caller's registered IDs as a dialogue begins;
``dialogue.languages`` remembers the language a phone chose. USSD (``ussd/``) and voice
(``ivr/``) are handed a ``menus.driver.Dialogue`` built by ``effects.booking_dialogue``; the
composition root (``hotline/``) builds it once at start-up and injects the counters.
"""
