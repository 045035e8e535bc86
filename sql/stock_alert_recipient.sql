--
-- Who receives the out-of-stock alerts (setting
-- allocation.stock_alert_recipient): a fresh install alerts
-- postmaster@localhost; only allocation_admin members
-- (set_stock_alert_recipient) and superusers (SET, ALTER DATABASE ...
-- SET, which win) decide it; a user cannot steer alerts (42501); an empty
-- string turns them off.  SKUs and order ids start with "SA-", roles with
-- "sa_", addresses end in "sa.example.com".
--
\set VERBOSITY terse
SELECT current_database() AS sa_db \gset
CREATE ROLE sa_user NOLOGIN IN ROLE allocation_user;
CREATE ROLE sa_admin NOLOGIN IN ROLE allocation_admin;
GRANT SELECT ON allocation.notifications TO sa_user;

-- The alerts of this file (a view: it outlives the reconnections below).
CREATE VIEW sa_alerts AS
SELECT recipient, body FROM allocation.notifications WHERE subject LIKE '%SA-CUP%' ORDER BY id;

SELECT allocation.add_batch('SA-B1', 'SA-CUP', 1);

-- the default: the mailbox every mail host has
SELECT allocation.stock_alert_recipient();
SELECT allocation.allocate('SA-o1', 'SA-CUP', 5);
SELECT * FROM sa_alerts;

-- a user may neither SET the setting nor choose the recipient
SET ROLE sa_user;
SET allocation.stock_alert_recipient = 'me@sa.example.com';
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT set_config('allocation.stock_alert_recipient', 'me@sa.example.com', true);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.set_stock_alert_recipient('me@sa.example.com');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.allocate('SA-o2', 'SA-CUP', 5);
RESET ROLE;
SELECT * FROM sa_alerts;

-- an administrator chooses it with the function (not with SET) ...
SET ROLE sa_admin;
SET allocation.stock_alert_recipient = 'admin@sa.example.com';
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- ... validated like subscribe_to_order's addresses
SELECT allocation.set_stock_alert_recipient('not an address');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.set_stock_alert_recipient('stock@sa.example.com');
SELECT allocation.stock_alert_recipient();
RESET ROLE;
SET ROLE sa_user;
SELECT allocation.allocate('SA-o3', 'SA-CUP', 5);
RESET ROLE;
SELECT * FROM sa_alerts;

-- a superuser's SET wins over the administrator's choice, validated too
SET allocation.stock_alert_recipient = 'not an address';
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SET allocation.stock_alert_recipient = 'superuser@sa.example.com';
SELECT allocation.stock_alert_recipient();
SELECT allocation.allocate('SA-o4', 'SA-CUP', 5);
SELECT * FROM sa_alerts;
RESET allocation.stock_alert_recipient;

-- ALTER DATABASE ... SET by a superuser: new sessions of the database
SELECT format('ALTER DATABASE %I SET allocation.stock_alert_recipient = %L',
			  :'sa_db', 'database@sa.example.com') \gexec
\c
\set VERBOSITY terse
SHOW allocation.stock_alert_recipient;
SET ROLE sa_user;
SELECT allocation.allocate('SA-o5', 'SA-CUP', 5);
RESET ROLE;
SELECT * FROM sa_alerts;
SELECT format('ALTER DATABASE %I RESET allocation.stock_alert_recipient', :'sa_db') \gexec

-- a user's SET in a session that has not loaded the library yet is kept
-- as a placeholder, and dropped with a WARNING when the library defines
-- the setting
\c
\set VERBOSITY terse
SET ROLE sa_user;
SET allocation.stock_alert_recipient = 'me@sa.example.com';
SELECT allocation.stock_alert_recipient();
SHOW allocation.stock_alert_recipient;
RESET ROLE;

-- an empty string turns the alerts off; NULL brings the default back
SET ROLE sa_admin;
SELECT allocation.set_stock_alert_recipient('');
SELECT allocation.allocate('SA-o6', 'SA-CUP', 5);
SELECT allocation.set_stock_alert_recipient(NULL);
SELECT allocation.stock_alert_recipient();
RESET ROLE;
SELECT * FROM sa_alerts;

DELETE FROM allocation.notifications WHERE subject LIKE '%SA-CUP%';
REVOKE SELECT ON allocation.notifications FROM sa_user;
DROP VIEW sa_alerts;
DROP ROLE sa_user, sa_admin;
