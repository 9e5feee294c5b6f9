-- name: TryAdvisoryLock :one
SELECT pg_try_advisory_lock(@key::bigint)::boolean AS acquired;

-- name: AdvisoryUnlock :one
SELECT pg_advisory_unlock(@key::bigint)::boolean AS released;
