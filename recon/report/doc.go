// Package report exports a reconciliation run's summary (recon.Summary) as
// CSV, JSON or XLSX, for `tally report` and the API. Every format carries the
// same seven sections: run, orders, discrepancies, balances, ledger, findings,
// notes.
// Money never passes through float64: amounts are written from their decimal
// digits in every format, and all three formats stream, so a run with 100,000
// findings exports in flat memory.
//
// # JSON
//
// The recon.Summary as is, indented by two spaces, with its own field names;
// amounts are decimal strings ("12.5").
//
// # CSV
//
// One stream of sections in the order above. Each section starts with a
// header row whose first field is "section"; each of its rows starts with the
// section's name, so that a spreadsheet filter or `grep ^orders,` picks one
// section. A section without rows still has its header. Fields are quoted per
// RFC 4180 (encoding/csv), lines end in "\n". Amounts are plain decimal
// strings (no exponent, no thousands separator) with the currency's number of
// decimals ("100.00" CNY, "0.00010000" BTC), or every digit they have when
// they have more, or as they are for a currency the ledger does not know;
// times are RFC 3339 in UTC ("" for a run not finished); booleans are "true"
// or "false". The columns after "section":
//
//	run            run_id, merchant, kind, provider_account, window_start,
//	               window_end, status, started_at, finished_at, error
//	               (one row; provider_account "" means every account)
//	orders         provider_account, provider, currency, checked, matched,
//	               matched_amount, unmatched, unmatched_amount, repaired,
//	               fees_completed, source
//	               (fees_completed: settled orders whose fee the provider did
//	               not state until the statement or query supplied it)
//	discrepancies  provider_account, currency, type, found, new, auto_closed,
//	               amount_delta
//	balances       provider_account, currency, provider_balance, ledger_balance,
//	               in_flight, difference, tolerance, ok
//	ledger         ok, transfers, entries, violation
//	               (one row per violation, each repeating ok, transfers and
//	               entries; one row with an empty violation when there is none)
//	findings       discrepancy_id, type, severity, status, provider_account,
//	               order_id, order_no, currency, expected, actual, amount_delta,
//	               summary, new, auto_closed, repaired
//	               (order_id "" when the finding has no order)
//	notes          note
//	               (what the run could not check, or a day's report left out)
//
// The column names are the JSON field names of recon.Summary.
//
// # XLSX
//
// One sheet per section, named after it, in the order above, with the CSV's
// columns and rows (without the section column): a bold header row frozen at
// the top, column widths set, counts and ids as numbers, booleans as
// TRUE/FALSE, times as RFC 3339 text, empty cells left out. Amounts are
// numeric cells holding the decimal's exact digits, formatted with the
// currency's scale in the ledger's currency registry, which the caller passes
// (Currencies; "0.00" for CNY, USD, EUR, BRL, MYR; "0" for JPY;
// "0.00000000" for USDT, TRX, BTC, ETH, BNB; General for a currency the
// registry does not know). A spreadsheet application computes with doubles, so
// it shows a figure beyond 15 significant digits rounded, but the file holds
// every digit.
package report
