"""Running several gateway replicas on one PostgreSQL and one Redis.

Session locks order each conversation across replicas, a membership heartbeat tells which
replicas are alive (so their outbox rows can be taken over), and leases elect the one replica
that runs each long-poll / long-connection receiver. Imported only in that mode.
"""
