"""The job queue: a table of jobs written inside the caller's transaction, claimed by workers.

Modelled on database queues such as Solid Queue and Oban: jobs are claimed in batches (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL), each claim takes a lease and a fencing token, the lease is
renewed as each job starts, and a job is finished or failed only by the holder of its token.
Every failure is retried with capped exponential backoff; an unknown kind fails loudly and stays.
Handlers are registered in one place: ``app.jobs.registry``.
"""
