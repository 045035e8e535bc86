/* src/sql/migrations/0.1.0--0.2.0-rights.sql: the rights of what 0.2.0 adds to allocation 0.1.0 */

--------------------------------------------------------------------------
-- The end of the upgrade script allocation--0.1.0--0.2.0.sql (make puts
-- it after the migration, src/sql/functions.sql and
-- src/sql/update-owners.sql).  The rights that src/sql/rights.sql gives
-- in a fresh install, for the objects that 0.1.0 did not have only: an
-- object 0.1.0 had keeps the rights the site left it with, and PostgreSQL
-- records nothing of the site's in pg_init_privs (any GRANT or REVOKE in
-- an extension script records the object's whole access list there as
-- the extension's; pg_dump leaves those out).  New functions are
-- executable by PUBLIC when created, so each has its REVOKE here.
-- sql/upgrade.sql proves this list complete: an updated database must
-- show the rights and initial rights of a fresh install.
--------------------------------------------------------------------------

--------------------------------------------------------------------------
-- The schema (0.1.0's): USAGE for the mailer's role, new in 0.2.0.  The
-- GRANT records the schema's whole access list in pg_init_privs, the
-- site's grants included, so the initial rights are set back to what
-- they were plus what the GRANT added.
--------------------------------------------------------------------------
DO $schema_rights$
DECLARE
	nsp pg_catalog.oid := 'allocation'::pg_catalog.regnamespace;
	acl_before pg_catalog.aclitem[];
	init_before pg_catalog.aclitem[];
	acl_after pg_catalog.aclitem[];
BEGIN
	SELECT n.nspacl INTO acl_before
	  FROM pg_catalog.pg_namespace n WHERE n.oid OPERATOR(pg_catalog.=) nsp;
	SELECT ip.initprivs INTO init_before
	  FROM pg_catalog.pg_init_privs ip
	 WHERE ip.objoid OPERATOR(pg_catalog.=) nsp
	   AND ip.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
	   AND ip.objsubid OPERATOR(pg_catalog.=) 0;

	GRANT USAGE ON SCHEMA allocation TO allocation_mailer;

	SELECT n.nspacl INTO acl_after
	  FROM pg_catalog.pg_namespace n WHERE n.oid OPERATOR(pg_catalog.=) nsp;
	IF init_before IS NOT NULL THEN
		UPDATE pg_catalog.pg_init_privs ip
		   SET initprivs = init_before OPERATOR(pg_catalog.||) ARRAY(
				SELECT a FROM pg_catalog.unnest(acl_after) WITH ORDINALITY AS x (a, i)
				 WHERE NOT a OPERATOR(pg_catalog.=) ANY (COALESCE(acl_before, '{}'))
				   AND NOT a OPERATOR(pg_catalog.=) ANY (init_before)
				 ORDER BY i)
		 WHERE ip.objoid OPERATOR(pg_catalog.=) nsp
		   AND ip.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
		   AND ip.objsubid OPERATOR(pg_catalog.=) 0;
	END IF;
END
$schema_rights$;

--------------------------------------------------------------------------
-- New tables and views (products and stock are new too: the migration
-- drops 0.1.0's), as "REVOKE ALL ON ALL TABLES" leaves them in a fresh
-- install, then their grants
--------------------------------------------------------------------------
REVOKE ALL ON
	allocation.orders,
	allocation.order_subscriptions,
	allocation.outbox_clock,
	allocation.inbox,
	allocation.settings,
	allocation.consumers,
	allocation.mail_identity,
	allocation.wal_secret,
	allocation.products,
	allocation.stock,
	allocation.mail_backlog,
	allocation.mail_dead,
	allocation.consumer_status
	FROM PUBLIC;
-- a type of its own (not a table's row type) is PUBLIC's by default too
REVOKE ALL ON TYPE allocation.order_line FROM PUBLIC;
GRANT USAGE ON TYPE allocation.order_line TO allocation_user;
GRANT SELECT ON allocation.products, allocation.stock TO allocation_user;
GRANT SELECT ON allocation.mail_backlog, allocation.mail_dead TO allocation_mailer, allocation_admin;
GRANT SELECT ON allocation.consumer_status TO allocation_admin;

--------------------------------------------------------------------------
-- New functions: nothing for PUBLIC, then the grants of rights.sql
--------------------------------------------------------------------------
REVOKE ALL ON FUNCTION
	allocation.handle(jsonb),
	allocation.create_order(text),
	allocation.order_status(text),
	allocation.change_order_status(text, text),
	allocation.subscribe_to_order(text, text),
	allocation.subscribe(text, regprocedure),
	allocation.unsubscribe(text, regprocedure),
	allocation.unsubscribe(text, text),
	allocation.stock_alert_recipient(),
	allocation.set_stock_alert_recipient(text),
	allocation.rebuild_read_model(),
	allocation.allocate_many(allocation.order_line[]),
	allocation._clock_offset(),
	allocation._register_consumer(text, boolean),
	allocation.register_consumer(text, boolean),
	allocation._unregister_consumer(text),
	allocation.unregister_consumer(text),
	allocation._read_events(text, integer),
	allocation.read_events(text, integer),
	allocation._ack_events(text, uuid),
	allocation.ack_events(text, uuid),
	allocation._purge_outbox(),
	allocation.purge_outbox(),
	allocation.shard_key(text),
	allocation.change_batch_quantity_here(text, integer),
	allocation._check_invariants(),
	allocation.check_invariants(),
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
	allocation.retry_notification(bigint),
	allocation._purge_cutoff(interval, timestamptz),
	allocation._shown_value(text),
	allocation._allocations(text),
	allocation._purge_inbox(interval),
	allocation.purge_inbox(interval),
	allocation._purge_notifications(interval),
	allocation.purge_notifications(interval),
	allocation._purge_outbox(interval),
	allocation.purge_outbox(interval),
	allocation._consumer_status(),
	allocation.consumer_status(),
	allocation._metrics(),
	allocation.metrics(),
	allocation.wal_message_prefix()
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
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
-- allocation_user too, so that a refusal names the roles it needs (checked in C)
GRANT EXECUTE ON FUNCTION
	allocation.claim_notifications(integer, interval),
	allocation.mark_notification_sent(bigint),
	allocation.mark_notification_failed(bigint, text, boolean, uuid),
	allocation.release_notifications(bigint[], uuid, text),
	allocation.retry_notification(bigint)
	TO allocation_mailer, allocation_user;
GRANT EXECUTE ON FUNCTION
	allocation.purge_inbox(interval),
	allocation.purge_notifications(interval),
	allocation.purge_outbox(interval),
	allocation.consumer_status(),
	allocation.metrics(),
	allocation.wal_message_prefix()
	TO allocation_user;
