"""Storage: tables, migrations, repositories and the durable job queue."""
