// Package statement is tally's settlement statement format: the CSV file a
// provider account's settlement report is converted to before `tally recon
// import` matches it against the ledger. Providers without an order query
// (UsdtPay, VPay) are reconciled only through statements; USDTCNPAY settles a
// withdrawal in several parts and lists one line per part.
//
// The package reads statements as a stream (Reader: one line at a time, with
// every bad row reported by its line number and never silently zeroed) and
// writes them (Writer), so that simulators, tests and benchmarks produce
// exactly what the importer reads.
//
// # Format
//
// A statement is RFC 4180 CSV, UTF-8, comma-separated, with a header row. A
// UTF-8 byte order mark, CRLF or LF line endings, and quoted fields holding
// commas, quotes or line breaks are all accepted. Columns are found by their
// header name, case-insensitively and ignoring surrounding spaces, in any
// order; columns with other names are ignored; a known column named twice is
// an error. Every row must have as many fields as the header. Blank lines are
// skipped. Surrounding spaces of every value are ignored; a value of only
// spaces is blank.
//
//	column             required  meaning
//	order_no           (1)       the merchant order number tally sent the provider
//	provider_order_id  (1)       the provider's own id for the order
//	kind               yes       deposit or payout
//	status             yes       succeeded, failed, expired, reversed, pending or processing
//	amount             yes       the gross amount the line settles, a positive decimal
//	fee                no        the provider's fee for the line, a decimal >= 0;
//	                             blank means "not stated", which is not zero
//	currency           yes       the currency of amount and fee: upper-case letters
//	                             and digits, at most 16 (USDT, CNY, BTC)
//	settled_at         yes       when the line settled: RFC 3339
//	                             (2025-03-01T12:30:00Z, 2025-03-01T20:30:00.25+08:00)
//	                             or YYYY-MM-DD HH:MM:SS read as UTC
//	part_id            no        the id of one part of an order settled in several
//	                             parts (one line per part)
//
// (1) The header needs order_no or provider_order_id (or both), and every row a
// value in at least one of them; a deposit that arrived without an order (a
// C-Pay wallet deposit) has only provider_order_id.
//
// kind and status are case-insensitive. Decimals are plain digits with an
// optional fraction ("1500", "99.90"): no sign, no exponent, no thousands
// separator or decimal comma, digits on both sides of the point. Their scale is
// kept ("99.90" stays two places) and is not checked against the currency's
// scale here; reconciliation compares values. Identifiers (order_no,
// provider_order_id, part_id) must be valid UTF-8 without control characters.
// No value may be longer than 128 characters.
//
// Lines of one order with distinct part_id values are the parts of one
// settlement, matched many-to-one against the order; the same part_id twice for
// one order is an error on the second line. An order is identified for this
// check by kind and order_no, or by kind and provider_order_id when order_no is
// blank. Repeated lines without part_id are not rejected here: matching them is
// reconciliation's business.
//
// # Line numbers
//
// Every line number is the 1-based physical line of the file: the header is
// line 1, and a quoted field holding line breaks makes its row span several
// lines. Line.LineNo is the line a row starts on. A RowError names the line the
// offending field starts on; for a row with the wrong number of fields, the
// line the row starts on; for malformed quoting, the line the problem was
// found on.
//
// # Memory
//
// The Reader holds one row at a time, whatever the size of the file, except
// for the duplicate part check: it remembers a 128-bit hash and a line number
// (35 to 60 bytes with the map's overhead: under 60 MB for a million part
// lines) for every line that carries a part_id, and nothing for lines without
// one. A row longer than MaxRowBytes stops the reader with
// ErrRowTooLong, so that a missing closing quote cannot make it buffer the rest
// of the file.
package statement
