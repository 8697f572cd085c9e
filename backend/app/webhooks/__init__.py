"""Webhooks: an owner's HTTPS endpoints hear of each job that ends, in a signed JSON event.

`addresses` refuses URLs and addresses a server must not be made to call (SSRF); `signing` signs and
verifies events; `sender` posts one event to an address it has checked; `store` holds the SQL of
endpoints, deliveries and attempts. The events themselves are written by a trigger (migration 0010) in the
transaction that ends the job; the `webhook_delivery` job type (`app.jobs.webhooks`) sends them.
"""
