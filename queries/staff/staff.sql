-- name: CreateUser :one
INSERT INTO staff_users (email, role, password_hash, merchant_ids)
VALUES (@email, @role, @password_hash, sqlc.narg('merchant_ids')::bigint[])
RETURNING *;

-- name: UserByEmail :one
SELECT * FROM staff_users WHERE email = @email;

-- name: UserByID :one
SELECT * FROM staff_users WHERE id = @id;

-- name: ListUsers :many
SELECT * FROM staff_users ORDER BY email;

-- name: SetDisabled :one
UPDATE staff_users SET disabled = @disabled, updated_at = now() WHERE id = @id RETURNING *;

-- name: SetRole :one
UPDATE staff_users SET role = @role, merchant_ids = sqlc.narg('merchant_ids')::bigint[], updated_at = now()
WHERE id = @id RETURNING *;

-- name: SetPassword :one
UPDATE staff_users SET password_hash = @password_hash, must_change = @must_change,
    failed_logins = 0, locked_until = NULL, updated_at = now()
WHERE id = @id RETURNING *;

-- name: LoginFailed :one
-- One more failed login; from the fifth on, the account is locked for
-- 2^(failures-5) seconds (capped at 15 minutes).
UPDATE staff_users SET failed_logins = failed_logins + 1,
    locked_until = CASE WHEN failed_logins + 1 >= 5
        THEN now() + least(interval '15 minutes', make_interval(secs => power(2, failed_logins + 1 - 5)))
        ELSE locked_until END
WHERE id = @id RETURNING failed_logins, locked_until;

-- name: LoginSucceeded :exec
UPDATE staff_users SET failed_logins = 0, locked_until = NULL, last_login_at = now() WHERE id = @id;

-- name: CreateSession :exec
INSERT INTO staff_sessions (token_hash, user_id, expires_at, client_addr)
VALUES (@token_hash, @user_id, @expires_at, @client_addr);

-- name: TouchSession :one
-- The session's user when the session is alive (not past its absolute expiry,
-- seen within the idle timeout, its user enabled), marking it seen now.
UPDATE staff_sessions s SET last_seen_at = now()
FROM staff_users u
WHERE s.token_hash = @token_hash AND u.id = s.user_id
  AND s.expires_at > now() AND s.last_seen_at > now() - make_interval(secs => @idle_seconds::float8)
  AND NOT u.disabled
RETURNING u.id, u.email, u.role, u.merchant_ids, u.must_change, s.expires_at;

-- name: DeleteSession :exec
DELETE FROM staff_sessions WHERE token_hash = @token_hash;

-- name: DeleteUserSessions :exec
DELETE FROM staff_sessions WHERE user_id = @user_id;

-- name: DeleteOtherSessions :execrows
DELETE FROM staff_sessions WHERE user_id = @user_id AND token_hash <> @keep_hash;

-- name: DeleteExpiredSessions :execrows
DELETE FROM staff_sessions WHERE expires_at <= now() OR last_seen_at <= now() - make_interval(secs => @idle_seconds::float8);
