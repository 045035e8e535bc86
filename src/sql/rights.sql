/* src/sql/rights.sql: the rights of a fresh install of extension allocation */

--------------------------------------------------------------------------
-- Every GRANT and REVOKE on the extension's objects, for the install
-- script only: make builds allocation--<version>.sql from schema.sql,
-- functions.sql and this file, in that order, so that "ALL TABLES" and
-- "ALL FUNCTIONS" below reach every object of the version.
--
-- The upgrade script does not run this file.  A GRANT or REVOKE run by
-- ALTER EXTENSION ... UPDATE on an object that exists already would undo
-- what the site changed by hand (a right it revoked comes back), and
-- PostgreSQL would record the object's whole access list, the site's own
-- grants included, as the extension's initial rights (pg_init_privs),
-- which pg_dump leaves out.  An upgrade gives the rights of the objects
-- new in its version in a part of its own,
-- src/sql/migrations/<from>--<to>-rights.sql: a right added here needs
-- the same line there (sql/upgrade.sql compares an updated database with
-- a fresh install, rights and initial rights included).
--------------------------------------------------------------------------

--------------------------------------------------------------------------
-- Rights on the schema (the contract: security model).  Nothing for PUBLIC.
--------------------------------------------------------------------------

REVOKE ALL ON SCHEMA allocation FROM PUBLIC;
GRANT USAGE ON SCHEMA allocation TO allocation_user;

--------------------------------------------------------------------------
-- Rights (the contract: security model).  Nothing is granted to PUBLIC.  Admin-only
-- functions are executable by allocation_user so that a refusal can say
-- which role is needed (42501, checked in C); the allocation._<name>
-- implementations behind them are granted to nobody.
--------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA allocation FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA allocation FROM PUBLIC;
-- a type of its own (not a table's row type) is PUBLIC's by default too
REVOKE ALL ON TYPE allocation.order_line FROM PUBLIC;
GRANT USAGE ON TYPE allocation.order_line TO allocation_user;
GRANT SELECT ON allocation.products, allocation.stock TO allocation_user;
GRANT EXECUTE ON FUNCTION
	allocation.allocations(text),
	allocation.add_batch(text, text, integer, date),
	allocation.allocate(text, text, integer),
	allocation.deallocate(text, text),
	allocation.change_batch_quantity(text, integer),
	allocation.handle(jsonb),
	allocation.subscribe(text, regprocedure),
	allocation.unsubscribe(text, regprocedure),
	allocation.unsubscribe(text, text),
	allocation.rebuild_read_model(),
	allocation.create_order(text),
	allocation.order_status(text),
	allocation.change_order_status(text, text),
	allocation.subscribe_to_order(text, text),
	allocation.allocate_many(allocation.order_line[]),
	allocation.shard_key(text),
	allocation.change_batch_quantity_here(text, integer),
	allocation.register_consumer(text, boolean),
	allocation.unregister_consumer(text),
	allocation.read_events(text, integer),
	allocation.ack_events(text, uuid),
	allocation.purge_outbox(),
	allocation.check_invariants(),
	allocation.stock_alert_recipient(),
	allocation.set_stock_alert_recipient(text)
	TO allocation_user;
GRANT SELECT ON allocation.allocations_view TO allocation_user;
GRANT SELECT ON allocation.outbox, allocation.notifications TO allocation_admin;

--------------------------------------------------------------------------
-- The mailer (relay/README.md, "allocation-mailer"): the schema, the
-- claim/mark/retry functions and its views, nothing else.
--------------------------------------------------------------------------
GRANT USAGE ON SCHEMA allocation TO allocation_mailer;


REVOKE ALL ON allocation.mail_identity, allocation.mail_backlog, allocation.mail_dead FROM PUBLIC;
REVOKE ALL ON FUNCTION
	allocation._check_notification(),
	allocation._claim_notifications(integer, interval),
	allocation.claim_notifications(integer, interval),
	allocation._notification_row(bigint),
	allocation._mark_notification_sent(bigint),
	allocation.mark_notification_sent(bigint),
	allocation._mark_notification_failed(bigint, text, boolean, uuid),
	allocation.mark_notification_failed(bigint, text, boolean, uuid),
	allocation._release_notifications(bigint[], uuid, text),
	allocation.release_notifications(bigint[], uuid, text),
	allocation._retry_notification(bigint),
	allocation.retry_notification(bigint)
	FROM PUBLIC;
-- allocation_user too, so that a refusal names the roles it needs (checked in C)
GRANT EXECUTE ON FUNCTION
	allocation.claim_notifications(integer, interval),
	allocation.mark_notification_sent(bigint),
	allocation.mark_notification_failed(bigint, text, boolean, uuid),
	allocation.release_notifications(bigint[], uuid, text),
	allocation.retry_notification(bigint)
	TO allocation_mailer, allocation_user;
GRANT SELECT ON allocation.mail_backlog, allocation.mail_dead TO allocation_mailer, allocation_admin;

--------------------------------------------------------------------------
-- Retention and monitoring (docs/monitoring.md): administrators only.
--------------------------------------------------------------------------
REVOKE ALL ON allocation.consumer_status FROM PUBLIC;
REVOKE ALL ON FUNCTION
	allocation._purge_cutoff(interval, timestamptz),
	allocation._purge_inbox(interval),
	allocation.purge_inbox(interval),
	allocation._purge_notifications(interval),
	allocation.purge_notifications(interval),
	allocation._purge_outbox(interval),
	allocation.purge_outbox(interval),
	allocation._consumer_status(),
	allocation.consumer_status(),
	allocation._metrics(),
	allocation.metrics()
	FROM PUBLIC;
-- allocation_user too, so that a refusal names the role it needs (checked in C)
GRANT EXECUTE ON FUNCTION
	allocation.purge_inbox(interval),
	allocation.purge_notifications(interval),
	allocation.purge_outbox(interval),
	allocation.consumer_status(),
	allocation.metrics()
	TO allocation_user;
GRANT SELECT ON allocation.consumer_status TO allocation_admin;

--------------------------------------------------------------------------
-- The events' signature in the WAL: the secret is the owner's alone.
--------------------------------------------------------------------------
REVOKE ALL ON allocation.wal_secret FROM PUBLIC;
REVOKE ALL ON FUNCTION allocation.wal_message_prefix() FROM PUBLIC;
-- allocation_user too, so that a refusal names the role it needs (checked in C)
GRANT EXECUTE ON FUNCTION allocation.wal_message_prefix() TO allocation_user;
