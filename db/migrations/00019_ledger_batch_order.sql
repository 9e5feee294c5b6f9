-- +goose Up
-- Batches refuse an overdraft transfer by transfer, in batch order, as single
-- transfers do: a transfer that would take an account that may not go negative
-- below zero available refuses the whole batch even when a later transfer of the
-- batch would cover it (00002 checked only the batch's net effect, the CHECK
-- constraint on the balance row). ledger_post_transfers as in 00002, plus that
-- check after the balances are updated.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_post_transfers(
    t_merchant bigint[], t_key text[], t_hash bytea[], t_pending boolean[], t_expires timestamptz[],
    t_reference text[], t_metadata jsonb[],
    e_transfer integer[], e_account bigint[], e_nslots integer[], e_side text[], e_amount numeric[], e_currency text[])
RETURNS TABLE (o_idx integer, o_id bigint, o_state text, o_created timestamptz, o_replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    n_idx integer[];
    n_id bigint[];
    n_created timestamptz[];
    v_conflict text;
    v_account bigint;
    v_index integer;
    v_running numeric;
BEGIN
    -- Insert in (merchant, key) order, so that two batches sharing keys wait for
    -- each other in one order and never deadlock.
    WITH ins AS (
        INSERT INTO transfers AS t (merchant_id, idempotency_key, content_hash, state, expires_at, reference, metadata)
            SELECT u.m, u.k, u.h, CASE WHEN u.p THEN 'pending' ELSE 'posted' END, u.x, u.r, u.md
            FROM unnest(t_merchant, t_key, t_hash, t_pending, t_expires, t_reference, t_metadata) u(m, k, h, p, x, r, md)
            ORDER BY u.m, u.k
            ON CONFLICT (merchant_id, idempotency_key) DO NOTHING
            RETURNING t.id, t.merchant_id, t.idempotency_key, t.created_at
    )
    SELECT array_agg(u.i::integer), array_agg(ins.id), array_agg(ins.created_at)
        INTO n_idx, n_id, n_created
        FROM ins JOIN unnest(t_merchant, t_key) WITH ORDINALITY u(m, k, i)
            ON u.m = ins.merchant_id AND u.k = ins.idempotency_key;

    IF coalesce(cardinality(n_idx), 0) < cardinality(t_key) THEN
        SELECT t.idempotency_key INTO v_conflict
            FROM unnest(t_merchant, t_key, t_hash) WITH ORDINALITY u(m, k, h, i)
            JOIN transfers t ON t.merchant_id = u.m AND t.idempotency_key = u.k
            WHERE u.i <> ALL (coalesce(n_idx, '{}')) AND t.content_hash <> u.h
            LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger: idempotency key % was used for a different transfer', v_conflict
                USING ERRCODE = 'TL001', DETAIL = v_conflict;
        END IF;
    END IF;

    IF n_idx IS NOT NULL THEN
        PERFORM ledger_apply(
            array_agg(t_merchant[u.ti]), array_agg(n.id), array_agg(n.created), array_agg(u.a), array_agg(u.ns),
            array_agg(u.sd), array_agg(CASE WHEN t_pending[u.ti] THEN 'pending' ELSE 'posted' END),
            array_agg(u.amt), array_agg(u.cur))
        FROM unnest(e_transfer, e_account, e_nslots, e_side, e_amount, e_currency) u(ti, a, ns, sd, amt, cur)
        JOIN unnest(n_idx, n_id, n_created) n(i, id, created) ON n.i = u.ti;

        -- Accounts that may not go negative, transfer by transfer in batch order:
        -- the available balance before the batch (after it, less the batch's net
        -- effect) plus each prefix of the batch's transfers must stay >= 0. The
        -- CHECK constraint has checked the net result; an account that only one
        -- transfer of the batch touches is covered by it, so only accounts in
        -- two or more transfers are looked at.
        WITH e AS (
            SELECT u.ti, u.a, u.sd, u.amt, t_pending[u.ti] AS pend
            FROM unnest(e_transfer, e_account, e_side, e_amount) u(ti, a, sd, amt)
            JOIN unnest(n_idx) n(i) ON n.i = u.ti
        ), k AS (
            SELECT e.a FROM e GROUP BY e.a HAVING count(DISTINCT e.ti) > 1
        ), d AS (
            -- An account that may not go negative has one balance row (slot 0),
            -- which carries its normal side.
            SELECT e.a, e.ti,
                sum(CASE WHEN e.sd = b.normal_side THEN CASE WHEN e.pend THEN 0 ELSE e.amt END ELSE -e.amt END) AS delta,
                min(CASE b.normal_side WHEN 'credit' THEN b.credits_posted - b.debits_posted - b.debits_pending
                    ELSE b.debits_posted - b.credits_posted - b.credits_pending END) AS after_batch
            FROM e
            JOIN k ON k.a = e.a
            JOIN balances b ON b.account_id = e.a AND b.slot = 0 AND NOT b.allow_negative
            GROUP BY e.a, e.ti
        )
        SELECT x.a, x.ti, x.running INTO v_account, v_index, v_running FROM (
            SELECT d.a, d.ti, d.after_batch - sum(d.delta) OVER (PARTITION BY d.a)
                + sum(d.delta) OVER (PARTITION BY d.a ORDER BY d.ti) AS running
            FROM d
        ) x
        WHERE x.running < 0
        ORDER BY x.ti, x.a
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger: transfer % of the batch (%) would take account % to % available',
                v_index, t_key[v_index], v_account, v_running
                USING ERRCODE = 'check_violation', CONSTRAINT = 'balances_available_check',
                    DETAIL = format('Failing row contains (%s, 0, ...) after transfer %s of the batch.', v_account, v_index);
        END IF;
    END IF;

    RETURN QUERY
        SELECT n.i, n.id, CASE WHEN t_pending[n.i] THEN 'pending' ELSE 'posted' END, n.created, false
            FROM unnest(n_idx, n_id, n_created) n(i, id, created)
        UNION ALL
        SELECT u.i::integer, t.id, t.state, t.created_at, true
            FROM unnest(t_merchant, t_key) WITH ORDINALITY u(m, k, i)
            JOIN transfers t ON t.merchant_id = u.m AND t.idempotency_key = u.k
            WHERE u.i <> ALL (coalesce(n_idx, '{}'));
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_post_transfers(
    t_merchant bigint[], t_key text[], t_hash bytea[], t_pending boolean[], t_expires timestamptz[],
    t_reference text[], t_metadata jsonb[],
    e_transfer integer[], e_account bigint[], e_nslots integer[], e_side text[], e_amount numeric[], e_currency text[])
RETURNS TABLE (o_idx integer, o_id bigint, o_state text, o_created timestamptz, o_replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    n_idx integer[];
    n_id bigint[];
    n_created timestamptz[];
    v_conflict text;
BEGIN
    -- Insert in (merchant, key) order, so that two batches sharing keys wait for
    -- each other in one order and never deadlock.
    WITH ins AS (
        INSERT INTO transfers AS t (merchant_id, idempotency_key, content_hash, state, expires_at, reference, metadata)
            SELECT u.m, u.k, u.h, CASE WHEN u.p THEN 'pending' ELSE 'posted' END, u.x, u.r, u.md
            FROM unnest(t_merchant, t_key, t_hash, t_pending, t_expires, t_reference, t_metadata) u(m, k, h, p, x, r, md)
            ORDER BY u.m, u.k
            ON CONFLICT (merchant_id, idempotency_key) DO NOTHING
            RETURNING t.id, t.merchant_id, t.idempotency_key, t.created_at
    )
    SELECT array_agg(u.i::integer), array_agg(ins.id), array_agg(ins.created_at)
        INTO n_idx, n_id, n_created
        FROM ins JOIN unnest(t_merchant, t_key) WITH ORDINALITY u(m, k, i)
            ON u.m = ins.merchant_id AND u.k = ins.idempotency_key;

    IF coalesce(cardinality(n_idx), 0) < cardinality(t_key) THEN
        SELECT t.idempotency_key INTO v_conflict
            FROM unnest(t_merchant, t_key, t_hash) WITH ORDINALITY u(m, k, h, i)
            JOIN transfers t ON t.merchant_id = u.m AND t.idempotency_key = u.k
            WHERE u.i <> ALL (coalesce(n_idx, '{}')) AND t.content_hash <> u.h
            LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger: idempotency key % was used for a different transfer', v_conflict
                USING ERRCODE = 'TL001', DETAIL = v_conflict;
        END IF;
    END IF;

    IF n_idx IS NOT NULL THEN
        PERFORM ledger_apply(
            array_agg(t_merchant[u.ti]), array_agg(n.id), array_agg(n.created), array_agg(u.a), array_agg(u.ns),
            array_agg(u.sd), array_agg(CASE WHEN t_pending[u.ti] THEN 'pending' ELSE 'posted' END),
            array_agg(u.amt), array_agg(u.cur))
        FROM unnest(e_transfer, e_account, e_nslots, e_side, e_amount, e_currency) u(ti, a, ns, sd, amt, cur)
        JOIN unnest(n_idx, n_id, n_created) n(i, id, created) ON n.i = u.ti;
    END IF;

    RETURN QUERY
        SELECT n.i, n.id, CASE WHEN t_pending[n.i] THEN 'pending' ELSE 'posted' END, n.created, false
            FROM unnest(n_idx, n_id, n_created) n(i, id, created)
        UNION ALL
        SELECT u.i::integer, t.id, t.state, t.created_at, true
            FROM unnest(t_merchant, t_key) WITH ORDINALITY u(m, k, i)
            JOIN transfers t ON t.merchant_id = u.m AND t.idempotency_key = u.k
            WHERE u.i <> ALL (coalesce(n_idx, '{}'));
END
$$;
-- +goose StatementEnd
