-- +goose Up
-- The double-entry ledger (package ledger). Entries are immutable; a transfer's
-- entries balance per currency; balances are the running sums of entries, kept per
-- (account, slot) so that a hot account spreads its updates over several rows.
-- Writes go through the plpgsql functions at the end of this file, which do a whole
-- transfer (or a batch of them) in one statement, so one database round trip.

CREATE TABLE currencies (
    code   text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9]{1,9}$'),
    scale  smallint NOT NULL CHECK (scale BETWEEN 0 AND 18)
);

INSERT INTO currencies (code, scale) VALUES
    ('CNY', 2), ('USD', 2), ('EUR', 2), ('BRL', 2), ('MYR', 2),
    ('USDT', 6), ('TRX', 6), ('BTC', 8), ('ETH', 8), ('BNB', 8);

-- Accounts are created on first use by the ledger from its chart of accounts (Go),
-- which decides type, normal side, negativity and slot count from the code.
CREATE TABLE accounts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES merchants (id),
    code            text NOT NULL CHECK (length(code) BETWEEN 1 AND 255),
    type            text NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
    normal_side     text NOT NULL CHECK (normal_side IN ('debit', 'credit')),
    currency        text NOT NULL REFERENCES currencies (code),
    allow_negative  boolean NOT NULL,
    -- Hot accounts have several balance rows; only accounts that may go negative
    -- may be slotted, because a per-row CHECK cannot see the sum over slots.
    slots           smallint NOT NULL DEFAULT 1
                    CHECK (slots BETWEEN 1 AND 256 AND (slots = 1 OR allow_negative)),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, code)
);

-- A transfer is posted (final), or a hold: pending until it is committed (posted,
-- maybe partially), voided or expired. Resolving a hold is itself a posted transfer
-- whose pending_id names the hold. The merchant is not a foreign key here: every
-- entry's account belongs to the transfer's merchant (the posting functions check
-- it, ledger.Check proves it), and an FK would share-lock the merchant row from
-- every concurrent transfer.
CREATE TABLE transfers (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id      bigint NOT NULL,
    idempotency_key  text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    content_hash     bytea NOT NULL,
    state            text NOT NULL CHECK (state IN ('posted', 'pending', 'committed', 'voided', 'expired')),
    pending_id       bigint REFERENCES transfers (id),
    expires_at       timestamptz,
    reference        text NOT NULL DEFAULT '',
    metadata         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, idempotency_key),
    CHECK (pending_id IS NULL OR state = 'posted'),
    CHECK (expires_at IS NULL OR state <> 'posted')
);
-- A hold is resolved at most once, whatever the application does.
CREATE UNIQUE INDEX transfers_pending_id_key ON transfers (pending_id) WHERE pending_id IS NOT NULL;
-- Open holds by deadline, for the expiry job.
CREATE INDEX transfers_due_idx ON transfers (expires_at) WHERE state = 'pending' AND expires_at IS NOT NULL;

-- Entries never change. phase: 'posted' moves the posted columns of the balance,
-- 'pending' (a hold's entries) adds to the pending column of its side, 'release'
-- (written when a hold is committed, voided or expired) subtracts the held amount
-- from that same pending column again. slot is the balances row the entry moved.
CREATE TABLE entries (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id  bigint NOT NULL,
    transfer_id  bigint NOT NULL REFERENCES transfers (id),
    account_id   bigint NOT NULL,
    slot         smallint NOT NULL,
    side         text NOT NULL CHECK (side IN ('debit', 'credit')),
    phase        text NOT NULL CHECK (phase IN ('posted', 'pending', 'release')),
    amount       numeric NOT NULL CHECK (amount > 0),
    currency     text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX entries_account_idx ON entries (account_id, id);
CREATE INDEX entries_transfer_idx ON entries (transfer_id);

-- +goose StatementBegin
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are immutable: % refused (post a correcting transfer instead)', TG_OP
        USING ERRCODE = 'TL100';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER entries_immutable
    BEFORE UPDATE OR DELETE OR TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- Running sums of entries per (account, slot). normal_side and allow_negative are
-- copied from the account so that the CHECK below can refuse an overdraft on the
-- row itself: the database, not the application, guarantees that an account that
-- forbids going negative never has a negative available balance.
CREATE TABLE balances (
    account_id       bigint NOT NULL REFERENCES accounts (id),
    slot             smallint NOT NULL CHECK (slot >= 0),
    merchant_id      bigint NOT NULL,
    normal_side      text NOT NULL CHECK (normal_side IN ('debit', 'credit')),
    allow_negative   boolean NOT NULL,
    debits_posted    numeric NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_posted   numeric NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    debits_pending   numeric NOT NULL DEFAULT 0,
    credits_pending  numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, slot),
    CONSTRAINT balances_pending_check CHECK (allow_negative OR (debits_pending >= 0 AND credits_pending >= 0)),
    CONSTRAINT balances_available_check CHECK (allow_negative OR
        CASE normal_side
            WHEN 'credit' THEN credits_posted - debits_posted - debits_pending
            ELSE debits_posted - credits_posted - credits_pending
        END >= 0)
) WITH (fillfactor = 50);

-- ledger_ensure_account returns the account (merchant, code), creating it and its
-- balance rows when missing. Race-safe: concurrent callers get the same row.
-- +goose StatementBegin
CREATE FUNCTION ledger_ensure_account(
    p_merchant bigint, p_code text, p_type text, p_normal_side text, p_currency text,
    p_allow_negative boolean, p_slots integer)
RETURNS TABLE (id bigint, type text, normal_side text, currency text, allow_negative boolean, slots integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_id bigint;
BEGIN
    RETURN QUERY SELECT a.id, a.type, a.normal_side, a.currency, a.allow_negative, a.slots::integer
        FROM accounts a WHERE a.merchant_id = p_merchant AND a.code = p_code;
    IF FOUND THEN
        RETURN;
    END IF;
    INSERT INTO accounts AS a (merchant_id, code, type, normal_side, currency, allow_negative, slots)
        VALUES (p_merchant, p_code, p_type, p_normal_side, p_currency, p_allow_negative, p_slots)
        ON CONFLICT (merchant_id, code) DO NOTHING
        RETURNING a.id INTO v_id;
    IF v_id IS NOT NULL THEN
        INSERT INTO balances (account_id, slot, merchant_id, normal_side, allow_negative)
            SELECT v_id, s, p_merchant, p_normal_side, p_allow_negative FROM generate_series(0, p_slots - 1) s;
    END IF;
    RETURN QUERY SELECT a.id, a.type, a.normal_side, a.currency, a.allow_negative, a.slots::integer
        FROM accounts a WHERE a.merchant_id = p_merchant AND a.code = p_code;
END
$$;
-- +goose StatementEnd

-- ledger_apply adds entries to the balances and inserts them. Entry i belongs to
-- transfer e_transfer[i] of merchant e_merchant[i]; its account has e_nslots[i]
-- balance rows and the entry moves row (transfer id mod slots). The rows are
-- updated one by one in (account_id, slot) order, so that concurrent transfers
-- lock them in one order and never deadlock; the CHECK constraints on balances
-- refuse an overdraft, aborting the whole statement. An account that does not
-- exist or belongs to another merchant is refused with TL011.
-- +goose StatementBegin
CREATE FUNCTION ledger_apply(
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

-- ledger_transfer stores one new transfer, posted or pending (a hold), in one
-- statement: the hot path. e_* describe its entries (e_nslots: the account's slot
-- count). A key already used with the same content hash returns that transfer
-- (o_replayed); with another hash it fails with TL001. Validation of amounts,
-- scales and balance is the caller's (package ledger).
-- +goose StatementBegin
CREATE FUNCTION ledger_transfer(
    p_merchant bigint, p_key text, p_hash bytea, p_pending boolean, p_expires timestamptz,
    p_reference text, p_metadata jsonb,
    e_account bigint[], e_nslots integer[], e_side text[], e_amount numeric[], e_currency text[],
    OUT o_id bigint, OUT o_state text, OUT o_created timestamptz, OUT o_replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_hash bytea;
    v_n integer := cardinality(e_account);
BEGIN
    o_state := CASE WHEN p_pending THEN 'pending' ELSE 'posted' END;
    INSERT INTO transfers AS t (merchant_id, idempotency_key, content_hash, state, expires_at, reference, metadata)
        VALUES (p_merchant, p_key, p_hash, o_state, p_expires, p_reference, p_metadata)
        ON CONFLICT (merchant_id, idempotency_key) DO NOTHING
        RETURNING t.id, t.created_at INTO o_id, o_created;
    IF o_id IS NULL THEN
        SELECT t.id, t.created_at, t.content_hash, t.state INTO o_id, o_created, v_hash, o_state
            FROM transfers t WHERE t.merchant_id = p_merchant AND t.idempotency_key = p_key;
        IF v_hash <> p_hash THEN
            RAISE EXCEPTION 'ledger: idempotency key % was used for a different transfer', p_key
                USING ERRCODE = 'TL001', DETAIL = p_key;
        END IF;
        o_replayed := true;
        RETURN;
    END IF;
    o_replayed := false;
    PERFORM ledger_apply(array_fill(p_merchant, ARRAY[v_n]), array_fill(o_id, ARRAY[v_n]),
        array_fill(o_created, ARRAY[v_n]), e_account, e_nslots, e_side,
        array_fill(CASE WHEN p_pending THEN 'pending' ELSE 'posted' END, ARRAY[v_n]), e_amount, e_currency);
END
$$;
-- +goose StatementEnd

-- ledger_post_transfers stores a batch of new transfers in one statement, all or
-- nothing. t_* arrays describe transfers; e_* arrays describe entries, e_transfer
-- being the 1-based index of the entry's transfer. Replays and conflicts are as
-- in ledger_transfer, per transfer.
-- +goose StatementBegin
CREATE FUNCTION ledger_post_transfers(
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

-- ledger_resolve commits (p_action 'post'), voids or expires one hold, named by id
-- or by key, writing one transfer whose 'release' entries return every held amount
-- and, for a post, 'posted' entries: the hold's own legs (full post), every leg at
-- p_amount (partial post of a hold whose legs carry one amount), or the explicit
-- e_* entries, each at most what the hold holds on that account and side.
-- The hold row is locked first, so racing resolutions of one hold serialise and
-- exactly one wins. A key already used for this hold with the same hash returns
-- its transfer (the hash leaves out how the hold was named: by id or by key).
-- +goose StatementBegin
CREATE FUNCTION ledger_resolve(
    p_merchant bigint, p_key text, p_hash bytea, p_hold bigint, p_hold_key text, p_action text,
    p_now timestamptz, p_amount numeric, e_account bigint[], e_side text[], e_amount numeric[],
    p_reference text, p_metadata jsonb,
    OUT o_id bigint, OUT o_state text, OUT o_created timestamptz, OUT o_replayed boolean, OUT o_hold bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_expires timestamptz;
    v_hash bytea;
    v_xhold bigint;
    v_bad text;
    v_n integer;
    h_account bigint[];
    h_nslots integer[];
    h_side text[];
    h_amount numeric[];
    h_currency text[];
    p_acc bigint[];
    p_sd text[];
    p_amt numeric[];
    v_phase text[];
BEGIN
    IF p_action NOT IN ('post', 'void', 'expire') THEN
        RAISE EXCEPTION 'ledger: unknown hold action %', p_action USING ERRCODE = 'TL012';
    END IF;
    IF p_hold IS NOT NULL THEN
        SELECT t.id, t.state, t.expires_at INTO o_hold, v_state, v_expires
            FROM transfers t WHERE t.id = p_hold AND t.merchant_id = p_merchant
            FOR NO KEY UPDATE;
    ELSE
        SELECT t.id, t.state, t.expires_at INTO o_hold, v_state, v_expires
            FROM transfers t WHERE t.merchant_id = p_merchant AND t.idempotency_key = p_hold_key
            FOR NO KEY UPDATE;
    END IF;
    IF o_hold IS NULL THEN
        RAISE EXCEPTION 'ledger: hold % not found', coalesce(p_hold::text, p_hold_key) USING ERRCODE = 'TL007';
    END IF;

    -- A replay (same key, same content) returns the first transfer even though the
    -- hold is no longer pending; so the key is looked up before the hold's state.
    SELECT t.id, t.created_at, t.content_hash, t.state, t.pending_id INTO o_id, o_created, v_hash, o_state, v_xhold
        FROM transfers t WHERE t.merchant_id = p_merchant AND t.idempotency_key = p_key;
    IF o_id IS NOT NULL THEN
        IF v_hash <> p_hash OR v_xhold IS DISTINCT FROM o_hold THEN
            RAISE EXCEPTION 'ledger: idempotency key % was used for a different transfer', p_key
                USING ERRCODE = 'TL001', DETAIL = p_key;
        END IF;
        o_replayed := true;
        RETURN;
    END IF;

    IF v_state <> 'pending' THEN
        RAISE EXCEPTION 'ledger: transfer % is %, not pending', o_hold, v_state
            USING ERRCODE = 'TL002', DETAIL = v_state;
    END IF;
    IF p_action = 'expire' THEN
        IF v_expires IS NULL OR v_expires > p_now THEN
            RAISE EXCEPTION 'ledger: hold % is not due to expire', o_hold USING ERRCODE = 'TL009';
        END IF;
    ELSIF v_expires IS NOT NULL AND v_expires <= now() THEN
        RAISE EXCEPTION 'ledger: hold % expired at %', o_hold, v_expires USING ERRCODE = 'TL003';
    END IF;

    SELECT array_agg(e.account_id ORDER BY e.id), array_agg(a.slots::integer ORDER BY e.id),
           array_agg(e.side ORDER BY e.id), array_agg(e.amount ORDER BY e.id), array_agg(e.currency ORDER BY e.id)
        INTO h_account, h_nslots, h_side, h_amount, h_currency
        FROM entries e JOIN accounts a ON a.id = e.account_id
        WHERE e.transfer_id = o_hold AND e.phase = 'pending';

    IF p_action = 'post' THEN
        IF e_account IS NOT NULL THEN
            SELECT x.a::text || ' ' || x.sd INTO v_bad FROM (
                SELECT u.a, u.sd, sum(u.amt) AS amt FROM unnest(e_account, e_side, e_amount) u(a, sd, amt) GROUP BY 1, 2
            ) x LEFT JOIN (
                SELECT h.a, h.sd, sum(h.amt) AS amt FROM unnest(h_account, h_side, h_amount) h(a, sd, amt) GROUP BY 1, 2
            ) y ON y.a = x.a AND y.sd = x.sd
            WHERE y.amt IS NULL OR x.amt > y.amt LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'ledger: posting more than hold % holds on account/side %', o_hold, v_bad
                    USING ERRCODE = 'TL004';
            END IF;
            p_acc := e_account; p_sd := e_side; p_amt := e_amount;
        ELSIF p_amount IS NOT NULL THEN
            IF p_amount <= 0 THEN
                RAISE EXCEPTION 'ledger: amount % is not positive', p_amount USING ERRCODE = 'TL008';
            END IF;
            IF p_amount > ANY (h_amount) THEN
                RAISE EXCEPTION 'ledger: posting % exceeds a leg of hold %', p_amount, o_hold USING ERRCODE = 'TL004';
            END IF;
            IF EXISTS (SELECT 1 FROM currencies c WHERE c.code = ANY (h_currency) AND p_amount <> round(p_amount, c.scale)) THEN
                RAISE EXCEPTION 'ledger: amount % has more digits than the currency allows', p_amount USING ERRCODE = 'TL006';
            END IF;
            IF EXISTS (SELECT 1 FROM unnest(h_side, h_currency) h(sd, cur) GROUP BY h.cur
                       HAVING count(*) FILTER (WHERE h.sd = 'debit') <> count(*) FILTER (WHERE h.sd = 'credit')) THEN
                RAISE EXCEPTION 'ledger: posting % on every leg of hold % would not balance', p_amount, o_hold
                    USING ERRCODE = 'TL005';
            END IF;
            p_acc := h_account; p_sd := h_side; p_amt := array_fill(p_amount, ARRAY[cardinality(h_account)]);
        ELSE
            p_acc := h_account; p_sd := h_side; p_amt := h_amount;
        END IF;
    END IF;

    -- Same-content callers of this key serialise on the hold lock above; a caller
    -- using the key for another hold can still race us here.
    INSERT INTO transfers AS t (merchant_id, idempotency_key, content_hash, state, pending_id, reference, metadata)
        VALUES (p_merchant, p_key, p_hash, 'posted', o_hold, p_reference, p_metadata)
        ON CONFLICT (merchant_id, idempotency_key) DO NOTHING
        RETURNING t.id, t.created_at INTO o_id, o_created;
    IF o_id IS NULL THEN
        RAISE EXCEPTION 'ledger: idempotency key % was used for a different transfer', p_key
            USING ERRCODE = 'TL001', DETAIL = p_key;
    END IF;
    o_state := 'posted';
    o_replayed := false;

    UPDATE transfers t SET state = CASE p_action WHEN 'post' THEN 'committed' WHEN 'void' THEN 'voided' ELSE 'expired' END
        WHERE t.id = o_hold;

    -- Release every held leg; post the posted ones (their slot counts and
    -- currencies are the hold's, as they are on the hold's accounts).
    IF p_acc IS NOT NULL THEN
        SELECT h_account || array_agg(p.a ORDER BY p.o), h_nslots || array_agg(h.ns ORDER BY p.o),
               h_side || array_agg(p.sd ORDER BY p.o), h_amount || array_agg(p.amt ORDER BY p.o),
               h_currency || array_agg(h.cur ORDER BY p.o),
               array_fill('release'::text, ARRAY[cardinality(h_account)]) || array_fill('posted'::text, ARRAY[count(*)::integer])
            INTO h_account, h_nslots, h_side, h_amount, h_currency, v_phase
            FROM unnest(p_acc, p_sd, p_amt) WITH ORDINALITY p(a, sd, amt, o)
            JOIN (SELECT DISTINCT hh.a, hh.ns, hh.cur FROM unnest(h_account, h_nslots, h_currency) hh(a, ns, cur)) h
                ON h.a = p.a;
    ELSE
        v_phase := array_fill('release'::text, ARRAY[cardinality(h_account)]);
    END IF;
    v_n := cardinality(h_account);
    PERFORM ledger_apply(array_fill(p_merchant, ARRAY[v_n]), array_fill(o_id, ARRAY[v_n]),
        array_fill(o_created, ARRAY[v_n]), h_account, h_nslots, h_side, v_phase, h_amount, h_currency);
END
$$;
-- +goose StatementEnd

-- The _caught forms run the same work in a subtransaction (a plpgsql exception
-- block) and return a refusal as err_* values instead of raising it, so that a
-- caller's own transaction stays usable (package ledger's ...Tx methods). The
-- plain forms raise, aborting the statement (the pool form, which can retry).
-- +goose StatementBegin
CREATE FUNCTION ledger_transfer_caught(
    p_merchant bigint, p_key text, p_hash bytea, p_pending boolean, p_expires timestamptz,
    p_reference text, p_metadata jsonb,
    e_account bigint[], e_nslots integer[], e_side text[], e_amount numeric[], e_currency text[],
    OUT o_id bigint, OUT o_state text, OUT o_created timestamptz, OUT o_replayed boolean,
    OUT err_code text, OUT err_message text, OUT err_detail text, OUT err_constraint text)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT r.o_id, r.o_state, r.o_created, r.o_replayed INTO o_id, o_state, o_created, o_replayed
        FROM ledger_transfer(p_merchant, p_key, p_hash, p_pending, p_expires, p_reference, p_metadata,
            e_account, e_nslots, e_side, e_amount, e_currency) r;
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS err_code = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
        err_detail = PG_EXCEPTION_DETAIL, err_constraint = CONSTRAINT_NAME;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION ledger_post_transfers_caught(
    t_merchant bigint[], t_key text[], t_hash bytea[], t_pending boolean[], t_expires timestamptz[],
    t_reference text[], t_metadata jsonb[],
    e_transfer integer[], e_account bigint[], e_nslots integer[], e_side text[], e_amount numeric[], e_currency text[])
RETURNS TABLE (o_idx integer, o_id bigint, o_state text, o_created timestamptz, o_replayed boolean,
               err_code text, err_message text, err_detail text, err_constraint text)
LANGUAGE plpgsql AS $$
DECLARE
    v_code text; v_msg text; v_detail text; v_constraint text;
BEGIN
    RETURN QUERY SELECT r.*, NULL::text, NULL::text, NULL::text, NULL::text FROM ledger_post_transfers(
        t_merchant, t_key, t_hash, t_pending, t_expires, t_reference, t_metadata,
        e_transfer, e_account, e_nslots, e_side, e_amount, e_currency) r;
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS v_code = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_constraint = CONSTRAINT_NAME;
    RETURN QUERY SELECT NULL::integer, NULL::bigint, NULL::text, NULL::timestamptz, NULL::boolean,
        v_code, v_msg, v_detail, v_constraint;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION ledger_resolve_caught(
    p_merchant bigint, p_key text, p_hash bytea, p_hold bigint, p_hold_key text, p_action text,
    p_now timestamptz, p_amount numeric, e_account bigint[], e_side text[], e_amount numeric[],
    p_reference text, p_metadata jsonb,
    OUT o_id bigint, OUT o_state text, OUT o_created timestamptz, OUT o_replayed boolean, OUT o_hold bigint,
    OUT err_code text, OUT err_message text, OUT err_detail text, OUT err_constraint text)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT r.o_id, r.o_state, r.o_created, r.o_replayed, r.o_hold INTO o_id, o_state, o_created, o_replayed, o_hold
        FROM ledger_resolve(p_merchant, p_key, p_hash, p_hold, p_hold_key, p_action, p_now, p_amount,
            e_account, e_side, e_amount, p_reference, p_metadata) r;
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS err_code = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
        err_detail = PG_EXCEPTION_DETAIL, err_constraint = CONSTRAINT_NAME;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION ledger_resolve_caught(bigint, text, bytea, bigint, text, text, timestamptz, numeric, bigint[], text[], numeric[], text, jsonb);
DROP FUNCTION ledger_post_transfers_caught(bigint[], text[], bytea[], boolean[], timestamptz[], text[], jsonb[], integer[], bigint[], integer[], text[], numeric[], text[]);
DROP FUNCTION ledger_transfer_caught(bigint, text, bytea, boolean, timestamptz, text, jsonb, bigint[], integer[], text[], numeric[], text[]);
DROP FUNCTION ledger_resolve(bigint, text, bytea, bigint, text, text, timestamptz, numeric, bigint[], text[], numeric[], text, jsonb);
DROP FUNCTION ledger_post_transfers(bigint[], text[], bytea[], boolean[], timestamptz[], text[], jsonb[], integer[], bigint[], integer[], text[], numeric[], text[]);
DROP FUNCTION ledger_transfer(bigint, text, bytea, boolean, timestamptz, text, jsonb, bigint[], integer[], text[], numeric[], text[]);
DROP FUNCTION ledger_apply(bigint[], bigint[], timestamptz[], bigint[], integer[], text[], text[], numeric[], text[]);
DROP FUNCTION ledger_ensure_account(bigint, text, text, text, text, boolean, integer);
DROP TABLE balances;
DROP TABLE entries;
DROP FUNCTION ledger_refuse_change();
DROP TABLE transfers;
DROP TABLE accounts;
DROP TABLE currencies;
