-- name: InsertMapping :one
INSERT INTO statement_mappings (merchant_id, name, format, delimiter, sheet, header_row, columns, date_format, time_zone,
                                amount_sign, decimal_comma, default_kind, default_status, default_currency,
                                status_values, kind_values, created_by)
VALUES (@merchant_id, @name, @format, @delimiter, @sheet, @header_row, @columns, @date_format, @time_zone,
        @amount_sign, @decimal_comma, @default_kind, @default_status, @default_currency,
        @status_values, @kind_values, @created_by)
ON CONFLICT (merchant_id, name) DO NOTHING
RETURNING *;

-- name: MappingByID :one
SELECT * FROM statement_mappings WHERE id = $1;

-- name: ListMappings :many
-- The mappings of some merchants (NULL: every merchant), by merchant and name.
SELECT * FROM statement_mappings
WHERE sqlc.narg(merchant_ids)::bigint[] IS NULL OR merchant_id = ANY(sqlc.narg(merchant_ids)::bigint[])
ORDER BY merchant_id, name
LIMIT 500;
