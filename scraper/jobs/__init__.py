"""Who crawls what and when: run, monitor, worker, leases, tiers, status."""
