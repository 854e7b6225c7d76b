"""The three roles: api (HTTP ingress), scheduler (job lifecycle), executor (node runs)."""
