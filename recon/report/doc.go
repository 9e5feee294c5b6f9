// Package report exports a reconciliation run's summary (recon.Summary), or a
// day's, as CSV, JSON or XLSX, for `tally report` and the API. Every format
// carries the same nine sections: run, orders, discrepancies, balances,
// ledger, aging, open items, findings, notes (aging and open items are a
// day's report's: empty in a run's).
// Money never passes through float64: amounts are written from their decimal
// digits in every format, and all three formats stream, so a run with 100,000
// findings exports in flat memory.
//
// # JSON
//
// The recon.Summary as is, indented by two spaces, with its own (machine)
// field names; amounts are decimal strings ("12.5"), times RFC 3339.
//
// # CSV
//
// One stream of sections in the order above. Each section starts with a
// header row whose first field is "Section" and whose others are the column
// headers a person reads; each of its rows starts with the section's title
// ("Orders", "Open items"), so that a spreadsheet filter or `grep ^Orders,`
// picks one section. A section without rows still has its header. Fields are
// quoted per RFC 4180 (encoding/csv), lines end in "\n". Amounts are plain
// decimal strings (no exponent, no thousands separator) with the currency's
// number of decimals ("100.00" CNY, "0.00010000" BTC), or every digit they
// have when they have more, or as they are for a currency the ledger does not
// know; times are RFC 3339 in UTC with every digit ("" for a run not
// finished); booleans are "true" or "false". The columns after "Section",
// each as header (the JSON field it shows):
//
//	Run            Run (run_id), Merchant, Kind, Provider account, Window
//	               start (UTC), Window end (UTC), Status, Started (UTC),
//	               Finished (UTC), Error (one row; an empty provider account
//	               means every account)
//	Orders         Provider account, Provider, Currency, Orders checked,
//	               Matched, Money moved (matched) (matched_amount: what the
//	               ledger posted for the matched orders, never the amounts
//	               requested), Unmatched, Amount unmatched (requested)
//	               (unmatched_amount), Repaired, Fees completed (settled
//	               orders whose fee the provider did not state until the
//	               statement or query supplied it), Compared with (source)
//	Discrepancies  Provider account, Currency, Discrepancy type, Found, New,
//	               Auto-closed, Amount at stake (amount_delta)
//	Balances       Provider account, Currency, Provider balance, Ledger
//	               balance, In flight, Difference, Tolerance, Within
//	               tolerance (ok)
//	Ledger         Invariants hold (ok), Transfers, Entries, Violation (one
//	               row per violation, each repeating the figures; one row
//	               with an empty violation when there is none)
//	Aging          Provider account, Currency, Age (<1d, 1-7d, 7-30d, >30d),
//	               Open items (count), Amount at stake (amount_at_stake: the
//	               differences summed without their sign)
//	Open items     Discrepancy (discrepancy_id), Type, Severity, Provider
//	               account, Order (order_id), Order no., Currency, Amount at
//	               stake (amount_delta), First seen (UTC), Age, Summary
//	Findings       Discrepancy (discrepancy_id), Type, Severity, Status,
//	               Provider account, Order (order_id, "" when none), Order
//	               no., Currency, Expected (tally), Actual (provider),
//	               Amount at stake (amount_delta), Summary, New, Auto-closed,
//	               Repaired
//	Notes          Note (what the run could not check, or which runs a day's
//	               report holds or leaves out)
//
// # XLSX
//
// One sheet per section, named by its title, in the order above, with the
// CSV's headers and rows (without the section column): a bold header row
// frozen at the top, column widths set, counts and ids as numbers, booleans
// as TRUE/FALSE, empty cells left out. Times are date cells: the instant in
// UTC as a spreadsheet serial number, to the second, shown as
// "yyyy-mm-dd hh:mm:ss". Amounts are numeric cells holding the decimal's
// exact digits, formatted with the currency's scale in the ledger's currency
// registry, which the caller passes (Currencies; "0.00" for CNY, USD, EUR,
// BRL, MYR; "0" for JPY; "0.00000000" for USDT, TRX, BTC, ETH, BNB; General
// for a currency the registry does not know). A spreadsheet application
// computes with doubles, so it shows a figure beyond 15 significant digits
// rounded, but the file holds every digit.
package report
