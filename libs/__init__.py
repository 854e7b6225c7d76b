"""Code shared by the services: one package per concern, no I/O policy of its own."""
