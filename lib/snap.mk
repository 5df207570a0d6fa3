# Snapshots (issue 7): sources, tests and benchmark.
