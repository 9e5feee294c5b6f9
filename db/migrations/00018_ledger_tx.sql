-- +goose Up
-- The ledger inside callers' transactions (package ledger's ...Tx methods).
--
-- 1. A hot account's balance row is chosen per transaction, not per transfer: every
--    transfer of one transaction moves the same slot of a hot account. So a caller
--    transaction making several ledger calls through one hot account (a settlement,
--    then its fee) holds one row of it and never waits in its second call for a row
--    that another transaction, itself waiting for ours, holds (the deadlock the
--    per-transfer slot allowed). The slot is a hash of the top-level transaction id,
--    so transactions that use a fixed number of (sub)transaction ids still spread.
-- 2. The _tx forms of the posting functions replace the _caught forms of 00002 for
--    callers' transactions. Each attempt runs in a subtransaction (a plpgsql
--    exception block); a deadlock (40P01), or a serialization failure (40001) under
--    READ COMMITTED, rolls the attempt back, which releases every lock it took, and
--    the function tries again after a jittered backoff, up to p_attempts times: in
--    the same statement, so the retry costs no round trip and the success path
--    none either. Any other error, or the last retryable one, is returned as err_*
--    values instead of raised, so the caller's transaction stays usable.
--    What the attempt cannot release (locks the caller's transaction took before
--    the call, including earlier ledger calls) can make the retry futile: only the
--    caller can roll those back (see package ledger, "Caller transactions").
-- 3. The _tx functions find or create the accounts the caller's ledger does not
--    know yet themselves, inside the attempt (n_* arrays; an entry whose e_account
--    is -k is on the k-th of them): no second connection is needed while the
--    caller's transaction holds one, and a refused call leaves no new account.

-- 4. History's index is built by 00020, concurrently (no write is blocked).

-- ledger_apply as in 00002, with the slot of each entry's account chosen from the
-- current top-level transaction id (see 1. above) instead of the transfer id.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_apply(
    e_merchant bigint[], e_transfer bigint[], e_created timestamptz[], e_account bigint[], e_nslots integer[],
    e_side text[], e_phase text[], e_amount numeric[], e_currency text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_hash bigint := hashint8(pg_current_xact_id()::text::bigint)::bigint & 2147483647;
BEGIN
    FOR r IN
        SELECT u.a, (v_hash % u.n)::smallint AS s, u.m,
            coalesce(sum(u.amt) FILTER (WHERE u.ph = 'posted' AND u.sd = 'debit'), 0) AS dp,
            coalesce(sum(u.amt) FILTER (WHERE u.ph = 'posted' AND u.sd = 'credit'), 0) AS cp,
            coalesce(sum(CASE u.ph WHEN 'pending' THEN u.amt WHEN 'release' THEN -u.amt END)
                FILTER (WHERE u.sd = 'debit'), 0) AS dq,
            coalesce(sum(CASE u.ph WHEN 'pending' THEN u.amt WHEN 'release' THEN -u.amt END)
                FILTER (WHERE u.sd = 'credit'), 0) AS cq
        FROM unnest(e_account, e_nslots, e_merchant, e_side, e_phase, e_amount) u(a, n, m, sd, ph, amt)
        GROUP BY 1, 2, 3
        ORDER BY 1, 2
    LOOP
        UPDATE balances SET
            debits_posted   = debits_posted + r.dp,
            credits_posted  = credits_posted + r.cp,
            debits_pending  = debits_pending + r.dq,
            credits_pending = credits_pending + r.cq
        WHERE account_id = r.a AND slot = r.s AND merchant_id = r.m;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ledger: account % (slot %) of merchant % not found', r.a, r.s, r.m
                USING ERRCODE = 'TL011';
        END IF;
    END LOOP;

    INSERT INTO entries (merchant_id, transfer_id, account_id, slot, side, phase, amount, currency, created_at)
        SELECT u.m, u.t, u.a, (v_hash % u.n)::smallint, u.sd, u.ph, u.amt, u.cur, u.c
        FROM unnest(e_merchant, e_transfer, e_account, e_nslots, e_side, e_phase, e_amount, e_currency, e_created)
            u(m, t, a, n, sd, ph, amt, cur, c);
END
$$;
-- +goose StatementEnd

-- ledger_retry_tx says whether a _tx function tries again after an attempt failed
-- with SQLSTATE p_code: a deadlock always (its victim's attempt released its locks),
-- a serialization failure only under READ COMMITTED (where the next attempt takes
-- a new snapshot; under REPEATABLE READ or SERIALIZABLE the snapshot is the
-- caller's transaction's and the retry would fail the same way), and never after
-- p_attempts attempts.
-- +goose StatementBegin
CREATE FUNCTION ledger_retry_tx(p_code text, p_attempt integer, p_attempts integer)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p_attempt < p_attempts AND (p_code = '40P01'
        OR (p_code = '40001' AND current_setting('transaction_isolation') = 'read committed'))
$$;
-- +goose StatementEnd

-- ledger_new_accounts lists the accounts the current transaction created (in
-- a transaction-local setting that ledger_ensure_accounts appends to: a
-- rolled-back subtransaction's additions disappear with it, and the list ends
-- with the transaction). Every other account a call sees was committed by
-- another transaction: the ledger caches only those, whose ids stay valid
-- whatever the caller's transaction does. (Reading the row's xmin instead fails
-- on rows frozen long ago, whose xid has wrapped around.)
-- +goose StatementBegin
CREATE FUNCTION ledger_new_accounts()
RETURNS bigint[] LANGUAGE sql STABLE AS $$
    SELECT string_to_array(trim(both ',' from coalesce(current_setting('ledger.new_accounts', true), '')), ',')::bigint[]
$$;
-- +goose StatementEnd

-- ledger_ensure_accounts returns the accounts (n_merchant[k], n_code[k]) in order:
-- id (0 when missing), slot count, and whether the row is committed (not
-- created by this transaction: see ledger_new_accounts). With p_create, missing accounts are created with their
-- balance rows first, in (merchant, code) order; a concurrent creator of the same
-- account is waited for (ON CONFLICT), and the account is then found.
-- +goose StatementBegin
CREATE FUNCTION ledger_ensure_accounts(
    n_merchant bigint[], n_code text[], n_type text[], n_normal_side text[], n_currency text[],
    n_allow_negative boolean[], n_slots integer[], p_create boolean)
RETURNS TABLE (o_ord integer, o_id bigint, o_slots integer, o_committed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_new bigint[];
BEGIN
    IF p_create THEN
        WITH ins AS (
            INSERT INTO accounts AS a (merchant_id, code, type, normal_side, currency, allow_negative, slots)
                SELECT u.m, u.c, u.t, u.ns, u.cur, u.neg, u.s
                FROM unnest(n_merchant, n_code, n_type, n_normal_side, n_currency, n_allow_negative, n_slots)
                    u(m, c, t, ns, cur, neg, s)
                WHERE NOT EXISTS (SELECT 1 FROM accounts x WHERE x.merchant_id = u.m AND x.code = u.c)
                ORDER BY u.m, u.c
                ON CONFLICT (merchant_id, code) DO NOTHING
                RETURNING a.id, a.merchant_id, a.normal_side, a.allow_negative, a.slots
        )
        , bal AS (
            INSERT INTO balances (account_id, slot, merchant_id, normal_side, allow_negative)
                SELECT ins.id, g.s, ins.merchant_id, ins.normal_side, ins.allow_negative
                FROM ins, generate_series(0, ins.slots - 1) g(s)
        )
        SELECT array_agg(ins.id) INTO v_new FROM ins;
        IF v_new IS NOT NULL THEN
            PERFORM set_config('ledger.new_accounts',
                coalesce(current_setting('ledger.new_accounts', true), '') || ',' || array_to_string(v_new, ','), true);
        END IF;
    END IF;
    RETURN QUERY SELECT u.o::integer, coalesce(a.id, 0), coalesce(a.slots::integer, 1),
            CASE WHEN a.id IS NOT NULL THEN NOT (a.id = ANY(ledger_new_accounts())) ELSE false END
        FROM unnest(n_merchant, n_code) WITH ORDINALITY u(m, c, o)
        LEFT JOIN accounts a ON a.merchant_id = u.m AND a.code = u.c
        ORDER BY u.o;
END
$$;
-- +goose StatementEnd

-- ledger_entry_accounts resolves the n_* accounts (ledger_ensure_accounts) and
-- returns e_account and e_nslots with every reference -k replaced by the k-th
-- account's id and slot count. A missing account is TL011 with p_create, else
-- id 0 (on no hold).
-- +goose StatementBegin
CREATE FUNCTION ledger_entry_accounts(
    e_account bigint[], e_nslots integer[],
    n_merchant bigint[], n_code text[], n_type text[], n_normal_side text[], n_currency text[],
    n_allow_negative boolean[], n_slots integer[], p_create boolean,
    OUT o_account bigint[], OUT o_nslots integer[], OUT n_id bigint[], OUT n_nslots integer[], OUT n_committed boolean[])
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(cardinality(n_code), 0) = 0 THEN
        o_account := e_account; o_nslots := e_nslots;
        RETURN;
    END IF;
    SELECT array_agg(r.o_id ORDER BY r.o_ord), array_agg(r.o_slots ORDER BY r.o_ord),
           array_agg(r.o_committed ORDER BY r.o_ord)
        INTO n_id, n_nslots, n_committed
        FROM ledger_ensure_accounts(n_merchant, n_code, n_type, n_normal_side, n_currency,
            n_allow_negative, n_slots, p_create) r;
    IF p_create AND array_position(n_id, 0::bigint) IS NOT NULL THEN
        RAISE EXCEPTION 'ledger: account % of merchant % not found after creating it',
            n_code[array_position(n_id, 0::bigint)], n_merchant[array_position(n_id, 0::bigint)] USING ERRCODE = 'TL011';
    END IF;
    SELECT array_agg(CASE WHEN u.a < 0 THEN n_id[-u.a] ELSE u.a END ORDER BY u.o),
           array_agg(CASE WHEN u.a < 0 THEN n_nslots[-u.a] ELSE u.n END ORDER BY u.o)
        INTO o_account, o_nslots
        FROM unnest(e_account, e_nslots) WITH ORDINALITY u(a, n, o);
END
$$;
-- +goose StatementEnd

-- ledger_transfer_tx is ledger_transfer for a caller's transaction, retried as
-- described above, with the accounts n_* found or created in each attempt
-- (n_id, n_nslots; n_committed is NULL unless the call succeeded). o_attempts is
-- how many attempts it made; o_retried the SQLSTATE of the last failure it retried
-- (NULL when none).
-- +goose StatementBegin
CREATE FUNCTION ledger_transfer_tx(
    p_merchant bigint, p_key text, p_hash bytea, p_pending boolean, p_expires timestamptz,
    p_reference text, p_metadata jsonb,
    e_account bigint[], e_nslots integer[], e_side text[], e_amount numeric[], e_currency text[],
    n_code text[], n_type text[], n_normal_side text[], n_currency text[], n_allow_negative boolean[], n_slots integer[],
    p_attempts integer,
    OUT o_id bigint, OUT o_state text, OUT o_created timestamptz, OUT o_replayed boolean,
    OUT n_id bigint[], OUT n_nslots integer[], OUT n_committed boolean[],
    OUT o_attempts integer, OUT o_retried text,
    OUT err_code text, OUT err_message text, OUT err_detail text, OUT err_constraint text)
LANGUAGE plpgsql AS $$
DECLARE
    v_wait double precision := 0.002;
    v_account bigint[];
    v_nslots integer[];
    v_committed boolean[];
BEGIN
    o_attempts := 0;
    LOOP
        o_attempts := o_attempts + 1;
        BEGIN
            SELECT r.o_account, r.o_nslots, r.n_id, r.n_nslots, r.n_committed
                INTO v_account, v_nslots, n_id, n_nslots, v_committed
                FROM ledger_entry_accounts(e_account, e_nslots,
                    array_fill(p_merchant, ARRAY[coalesce(cardinality(n_code), 0)]), n_code, n_type, n_normal_side,
                    n_currency, n_allow_negative, n_slots, true) r;
            SELECT r.o_id, r.o_state, r.o_created, r.o_replayed INTO o_id, o_state, o_created, o_replayed
                FROM ledger_transfer(p_merchant, p_key, p_hash, p_pending, p_expires, p_reference, p_metadata,
                    v_account, v_nslots, e_side, e_amount, e_currency) r;
            n_committed := v_committed;
            RETURN;
        EXCEPTION WHEN others THEN
            GET STACKED DIAGNOSTICS err_code = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                err_detail = PG_EXCEPTION_DETAIL, err_constraint = CONSTRAINT_NAME;
        END;
        IF NOT ledger_retry_tx(err_code, o_attempts, p_attempts) THEN
            RETURN;
        END IF;
        o_retried := err_code;
        err_code := NULL; err_message := NULL; err_detail := NULL; err_constraint := NULL;
        PERFORM pg_sleep(v_wait * (0.5 + random()));
        v_wait := least(2 * v_wait, 0.2);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- ledger_post_transfers_tx is ledger_post_transfers for a caller's transaction,
-- retried as described above, with the accounts n_* found or created in each
-- attempt. A refusal is one row whose err_* say why; every row carries o_attempts
-- and o_retried, and the first row n_id, n_nslots and (on success) n_committed.
-- +goose StatementBegin
CREATE FUNCTION ledger_post_transfers_tx(
    t_merchant bigint[], t_key text[], t_hash bytea[], t_pending boolean[], t_expires timestamptz[],
    t_reference text[], t_metadata jsonb[],
    e_transfer integer[], e_account bigint[], e_nslots integer[], e_side text[], e_amount numeric[], e_currency text[],
    n_merchant bigint[], n_code text[], n_type text[], n_normal_side text[], n_currency text[],
    n_allow_negative boolean[], n_slots integer[],
    p_attempts integer)
RETURNS TABLE (o_idx integer, o_id bigint, o_state text, o_created timestamptz, o_replayed boolean,
               n_id bigint[], n_nslots integer[], n_committed boolean[],
               o_attempts integer, o_retried text,
               err_code text, err_message text, err_detail text, err_constraint text)
LANGUAGE plpgsql AS $$
DECLARE
    v_attempt integer := 0;
    v_retried text;
    v_code text; v_msg text; v_detail text; v_constraint text;
    v_wait double precision := 0.002;
    v_idx integer[]; v_id bigint[]; v_state text[]; v_created timestamptz[]; v_replayed boolean[];
    v_account bigint[]; v_nslots integer[]; v_nid bigint[]; v_nns integer[]; v_committed boolean[];
BEGIN
    LOOP
        v_attempt := v_attempt + 1;
        BEGIN
            SELECT r.o_account, r.o_nslots, r.n_id, r.n_nslots, r.n_committed
                INTO v_account, v_nslots, v_nid, v_nns, v_committed
                FROM ledger_entry_accounts(e_account, e_nslots, n_merchant, n_code, n_type, n_normal_side,
                    n_currency, n_allow_negative, n_slots, true) r;
            -- Collected first, so that a failing attempt returns no partial rows.
            SELECT array_agg(r.o_idx), array_agg(r.o_id), array_agg(r.o_state), array_agg(r.o_created),
                    array_agg(r.o_replayed)
                INTO v_idx, v_id, v_state, v_created, v_replayed
                FROM ledger_post_transfers(
                    t_merchant, t_key, t_hash, t_pending, t_expires, t_reference, t_metadata,
                    e_transfer, v_account, v_nslots, e_side, e_amount, e_currency) r;
            RETURN QUERY SELECT x.i, x.id, x.st, x.cr, x.rp,
                    CASE WHEN x.o = 1 THEN v_nid END, CASE WHEN x.o = 1 THEN v_nns END,
                    CASE WHEN x.o = 1 THEN v_committed END, v_attempt, v_retried,
                    NULL::text, NULL::text, NULL::text, NULL::text
                FROM unnest(v_idx, v_id, v_state, v_created, v_replayed) WITH ORDINALITY x(i, id, st, cr, rp, o);
            RETURN;
        EXCEPTION WHEN others THEN
            GET STACKED DIAGNOSTICS v_code = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
                v_detail = PG_EXCEPTION_DETAIL, v_constraint = CONSTRAINT_NAME;
        END;
        IF NOT ledger_retry_tx(v_code, v_attempt, p_attempts) THEN
            RETURN QUERY SELECT NULL::integer, NULL::bigint, NULL::text, NULL::timestamptz, NULL::boolean,
                v_nid, v_nns, NULL::boolean[], v_attempt, v_retried, v_code, v_msg, v_detail, v_constraint;
            RETURN;
        END IF;
        v_retried := v_code;
        PERFORM pg_sleep(v_wait * (0.5 + random()));
        v_wait := least(2 * v_wait, 0.2);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- ledger_resolve_tx is ledger_resolve for a caller's transaction, retried as
-- described above. The accounts of explicit entries (e_account) that the caller
-- does not know are looked up (n_code, never created: an account that does not
-- exist is on no hold).
-- +goose StatementBegin
CREATE FUNCTION ledger_resolve_tx(
    p_merchant bigint, p_key text, p_hash bytea, p_hold bigint, p_hold_key text, p_action text,
    p_now timestamptz, p_amount numeric, e_account bigint[], e_side text[], e_amount numeric[],
    p_reference text, p_metadata jsonb, n_code text[], p_attempts integer,
    OUT o_id bigint, OUT o_state text, OUT o_created timestamptz, OUT o_replayed boolean, OUT o_hold bigint,
    OUT n_id bigint[], OUT n_committed boolean[],
    OUT o_attempts integer, OUT o_retried text,
    OUT err_code text, OUT err_message text, OUT err_detail text, OUT err_constraint text)
LANGUAGE plpgsql AS $$
DECLARE
    v_wait double precision := 0.002;
    v_account bigint[];
    v_committed boolean[];
BEGIN
    o_attempts := 0;
    LOOP
        o_attempts := o_attempts + 1;
        BEGIN
            v_account := e_account;
            IF e_account IS NOT NULL THEN
                SELECT r.o_account, r.n_id, r.n_committed INTO v_account, n_id, v_committed
                    FROM ledger_entry_accounts(e_account, array_fill(1, ARRAY[cardinality(e_account)]),
                        array_fill(p_merchant, ARRAY[coalesce(cardinality(n_code), 0)]), n_code,
                        NULL, NULL, NULL, NULL, NULL, false) r;
            END IF;
            SELECT r.o_id, r.o_state, r.o_created, r.o_replayed, r.o_hold INTO o_id, o_state, o_created, o_replayed, o_hold
                FROM ledger_resolve(p_merchant, p_key, p_hash, p_hold, p_hold_key, p_action, p_now, p_amount,
                    v_account, e_side, e_amount, p_reference, p_metadata) r;
            n_committed := v_committed;
            RETURN;
        EXCEPTION WHEN others THEN
            GET STACKED DIAGNOSTICS err_code = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                err_detail = PG_EXCEPTION_DETAIL, err_constraint = CONSTRAINT_NAME;
        END;
        IF NOT ledger_retry_tx(err_code, o_attempts, p_attempts) THEN
            RETURN;
        END IF;
        o_retried := err_code;
        o_id := NULL; o_state := NULL; o_created := NULL; o_replayed := NULL; o_hold := NULL; n_id := NULL;
        err_code := NULL; err_message := NULL; err_detail := NULL; err_constraint := NULL;
        PERFORM pg_sleep(v_wait * (0.5 + random()));
        v_wait := least(2 * v_wait, 0.2);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION ledger_resolve_tx(bigint, text, bytea, bigint, text, text, timestamptz, numeric, bigint[], text[], numeric[], text, jsonb, text[], integer);
DROP FUNCTION ledger_post_transfers_tx(bigint[], text[], bytea[], boolean[], timestamptz[], text[], jsonb[], integer[], bigint[], integer[], text[], numeric[], text[], bigint[], text[], text[], text[], text[], boolean[], integer[], integer);
DROP FUNCTION ledger_transfer_tx(bigint, text, bytea, boolean, timestamptz, text, jsonb, bigint[], integer[], text[], numeric[], text[], text[], text[], text[], text[], boolean[], integer[], integer);
DROP FUNCTION ledger_entry_accounts(bigint[], integer[], bigint[], text[], text[], text[], text[], boolean[], integer[], boolean);
DROP FUNCTION ledger_ensure_accounts(bigint[], text[], text[], text[], text[], boolean[], integer[], boolean);
DROP FUNCTION ledger_new_accounts();
DROP FUNCTION ledger_retry_tx(text, integer, integer);
-- ledger_apply of 00002: the slot from the transfer id.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_apply(
    e_merchant bigint[], e_transfer bigint[], e_created timestamptz[], e_account bigint[], e_nslots integer[],
    e_side text[], e_phase text[], e_amount numeric[], e_currency text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT u.a, (u.t % u.n)::smallint AS s, u.m,
            coalesce(sum(u.amt) FILTER (WHERE u.ph = 'posted' AND u.sd = 'debit'), 0) AS dp,
            coalesce(sum(u.amt) FILTER (WHERE u.ph = 'posted' AND u.sd = 'credit'), 0) AS cp,
            coalesce(sum(CASE u.ph WHEN 'pending' THEN u.amt WHEN 'release' THEN -u.amt END)
                FILTER (WHERE u.sd = 'debit'), 0) AS dq,
            coalesce(sum(CASE u.ph WHEN 'pending' THEN u.amt WHEN 'release' THEN -u.amt END)
                FILTER (WHERE u.sd = 'credit'), 0) AS cq
        FROM unnest(e_account, e_transfer, e_nslots, e_merchant, e_side, e_phase, e_amount) u(a, t, n, m, sd, ph, amt)
        GROUP BY 1, 2, 3
        ORDER BY 1, 2
    LOOP
        UPDATE balances SET
            debits_posted   = debits_posted + r.dp,
            credits_posted  = credits_posted + r.cp,
            debits_pending  = debits_pending + r.dq,
            credits_pending = credits_pending + r.cq
        WHERE account_id = r.a AND slot = r.s AND merchant_id = r.m;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ledger: account % (slot %) of merchant % not found', r.a, r.s, r.m
                USING ERRCODE = 'TL011';
        END IF;
    END LOOP;

    INSERT INTO entries (merchant_id, transfer_id, account_id, slot, side, phase, amount, currency, created_at)
        SELECT u.m, u.t, u.a, (u.t % u.n)::smallint, u.sd, u.ph, u.amt, u.cur, u.c
        FROM unnest(e_merchant, e_transfer, e_account, e_nslots, e_side, e_phase, e_amount, e_currency, e_created)
            u(m, t, a, n, sd, ph, amt, cur, c);
END
$$;
-- +goose StatementEnd
