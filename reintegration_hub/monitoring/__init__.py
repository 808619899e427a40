"""Home-office monitoring: the dashboard, its outcome snapshots and the monitoring API."""
