"""Every HTTP surface that is not a USSD gateway: kiosk, admin, payments, health, live speech.

``root.build_root`` is the tree; ``kiosk`` (T-code verify and check-in), ``admin`` and
``sms_admin`` (the hospital's bearer-token API), ``payments`` (the provider's signed callback),
``health``, ``live_speech`` (free text for Asterisk), ``jsonapi`` (one JSON error shape) and
``clientaddr`` (who is asking, for rate limits). Imports ``booking.api``, ``sms``, ``pii`` and
``ivr.live``/``ivr.prompts``; never ``hotline``, which mounts these resources.
"""
