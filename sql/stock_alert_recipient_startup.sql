--
-- A superuser's ALTER DATABASE ... SET allocation.stock_alert_recipient
-- holds for every session of the database, whatever a user does.  A user
-- who connects with the setting among its startup options (PGOPTIONS='-c
-- allocation.stock_alert_recipient=...') before the library is loaded is
-- refused (the WARNING), and the superuser's recipient must stay in force:
-- the user may not divert the alerts to the administrators' choice or the
-- default either.  Runs in a database of its own.
--
SELECT current_database() AS rr_home \gset
\set VERBOSITY terse
CREATE ROLE rr_user LOGIN IN ROLE allocation_user;
CREATE DATABASE rr_startup TEMPLATE template0;
\c rr_startup
\set VERBOSITY terse
CREATE EXTENSION allocation;
ALTER DATABASE rr_startup SET allocation.stock_alert_recipient = 'database@rr.example.com';
-- a plain session of the user: the superuser's recipient
\c rr_startup rr_user
SELECT allocation.stock_alert_recipient();
-- the same user with a startup option: still the superuser's recipient
\c 'dbname=rr_startup user=rr_user options=-callocation.stock_alert_recipient=me@rr.example.com'
SELECT allocation.stock_alert_recipient();
\c :rr_home postgres
DROP DATABASE rr_startup;
DROP ROLE rr_user;
