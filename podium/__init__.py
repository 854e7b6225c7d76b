"""The `podium` command: parses settings once and assembles the roles into processes."""
