-- name: TryAdvisoryLock :one
SELECT pg_try_advisory_lock(@key::bigint)::boolean AS acquired;

-- name: AdvisoryUnlock :one
SELECT pg_advisory_unlock(@key::bigint)::boolean AS released;

-- name: AdvisoryLockHolder :many
-- The sessions holding a session advisory lock taken with a bigint key in
-- this database (none or one): the PostgreSQL backend, the holder's
-- application_name (tally sets it to the process's command, pid and host)
-- and address, and since when the session exists.
SELECT a.pid::integer AS backend_pid,
       coalesce(a.application_name, '')::text AS application_name,
       coalesce(host(a.client_addr), '')::text AS client_addr,
       a.backend_start::timestamptz AS backend_start
FROM pg_catalog.pg_locks l
JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database())
  AND l.classid::text::bigint = (@key::bigint >> 32)
  AND l.objid::text::bigint = (@key::bigint & 4294967295);
