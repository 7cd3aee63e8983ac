"""The write-path benchmark: ``python -m bench.run`` (through ``scripts/bench.sh``).

Modules: options and setups (``options``, ``config``), seeding (``seeding``), the servers
(``server``), load and its records (``scenarios``), baselines (``baselines``), correctness
checks (``checks``), CPU accounting (``cpu``) and the profile (``profile``).
"""
