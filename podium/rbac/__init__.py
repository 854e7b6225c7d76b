"""Who may do what, decided from the folded state: pure functions of the state, the request's
user and what it asks, with the time passed in. Owns the permission catalog (Puppet RBAC
triples), the built-in admin, authentication of a token's hash and the decisions over tasks,
deploys, plans, queries, node groups and jobs. Does no I/O: the nodes of a task-target's node
groups and query are resolved by the caller and handed in.
"""
