"""Redis as hotline uses it: the one client (``client``: one server or a Sentinel-watched
master), the embedded ``redis-server`` of the demo and the tests (``embedded``), waiting for a
Redis that cannot take writes yet (``readiness``), and the storage part of the service tree that
puts them together (``service``). What is stored, and how, belongs to the packages that store it
(``booking``, ``sms``, ``ussd``)."""
