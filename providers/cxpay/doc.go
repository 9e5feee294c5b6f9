// Package cxpay is tally's adapter for CXPay, a collect/payout gateway (its
// document names no brand; public copies call it CXPay), and a faithful
// simulator of it.
//
// The document names no API host (its only URL, http://localhost:8888/pay/xxx,
// is an example answer's cashier link): Hosts is empty, so a base URL comes
// from the operator (tally account add, or a host allowed with
// --provider-host-allow), never from a merchant alone.
//
// # What CXPay offers
//
// Four endpoints, all POST, answering the envelope {code, success, msg, desc,
// data} with code 200 (success), 400 (business error, the reason in desc) or
// 500 (other anomalies):
//
//	CreateDeposit  -> POST /collect/create  data {url}: the cashier page
//	CreatePayout   -> POST /pay/create      data {platOrderId}
//	QueryOrder     -> POST /order/query     data {amount, orderId, platOrderId, status, utr, fee}
//	QueryBalances  -> POST /order/balance   data {balanceAll, balanceUsable}
//
// and a JSON callback to the order's notifyUrl when a collection or payout is
// confirmed paid or failed: {platOrderId, orderId, amount, status, reverse,
// remark, fee, sign}, acknowledged with the lowercase string "success"
// (ParseCallback, Reply).
//
// # Signature
//
// MD5 of every parameter but sign whose value is neither null nor empty,
// sorted by name, joined name=value with "&", followed by "&key=" and the
// merchant key; lowercase hex (sign.go). Requests send every value as a string
// (amounts "100.00"). Callbacks are JSON with numbers and a boolean, signed as
// their JSON text ("1000", "0", "false"): the callback is read with
// json.Number semantics into name -> text, never through float64, so "100.50"
// and "100.5" are different texts and only the one sent verifies.
//
// # Config.Options
//
//	pay_code         required: the collection payCode ("merchant backend query")
//	payout_pay_code  the payout payCode; default pay_code
//	currency         required: the account's single currency, in which CXPay
//	                 settles every order (no request field names a currency,
//	                 so this option is what tally's books follow; there is no
//	                 default)
//	amount_decimals  0, 1 or 2: decimals an amount may carry; default 2 (IDR
//	                 payouts carry none whatever it says)
//
// Any other key is refused by New, so that a typo does not fall back to a
// default. Config.MerchantID is CXPay's "merchant", Config.Secret its key.
//
// # Request fields
//
// DepositRequest: Method, when set, replaces pay_code for that order; ReturnURL
// is callbackUrl; Payer.TaxID is remark (Brazil: CPF/CNPJ), Payer.Name
// customName, Payer.Phone number, Payer.Email email. PayoutRequest: Method
// replaces payout_pay_code; Beneficiary.Account is bankAccount, .Name
// customName, .Phone number, .Email email; remark is Beneficiary.AccountType in
// Brazil (CPF, CNPJ, PHONE, EMAIL, EVP — sent as given) and Beneficiary.BankCode
// elsewhere (India IFSC, Indonesia/Nigeria bank code). Extra accepts one key,
// "remark", which replaces the derived remark; any other key is refused.
//
// Validation (before any call, ErrInvalidRequest): the currency must be the
// account's, and a deposit's PayCurrency empty or the same; the amount positive with at most amount_decimals decimals, sent
// with exactly that many ("100.00"); an IDR payout takes none and is sent
// whole ("100000"): the document's "Indonesia does not allow decimal points"
// is written under /pay/create only, so IDR collections keep the two
// decimals /collect/create "supports" ("150000.50"); orderId at most 32
// characters without surrounding spaces; notifyUrl present (request or
// Config.NotifyURL) and, like callbackUrl, an absolute http(s) URL. Collections in BRL need remark, customName, number and
// email ("Brazil required"). Payouts always need bankAccount and customName;
// BRL also remark and email ("Brazil is required"), INR, IDR and NGN remark
// (IFSC, bank code). A payout's number is optional in every country: the
// document marks it "no"; "Brazil, India fill in mobile phone number" says
// what to put in it, not that it must be sent.
//
// # Status mapping (status.go)
//
//	0 Payment submission -> pending (deposit, or kind unknown), processing (payout)
//	1 pay success        -> succeeded; with reverse=true -> reversed
//	2 Payment failed     -> failed (CXPay has no expired status: an unpaid,
//	                        expired order is a failure too)
//	anything else        -> processing, not final, logged, ProviderStatus kept
//
// # Readings of what the document leaves open
//
//   - Requests may be JSON or form: the adapter sends JSON (every value a JSON
//     string); the simulator accepts both, and form without a Content-Type.
//     Every request field is typed "string"; a form cannot say otherwise,
//     and the simulator takes a JSON number or boolean as its JSON text
//     (amount 20.00 is "20.00", signed so), as a Java backend binding JSON to
//     String fields does, rather than refusing it.
//   - /collect/create returns only the cashier url, no platform order id:
//     CreateResult.ProviderOrderID is empty for deposits and learnt from the
//     callback or the query. A code-200 answer without url (or, for payouts,
//     without platOrderId) is ErrAmbiguous: the order may exist, query first.
//   - Code 400 is a definitive refusal (ErrRejected, Code "400", Message =
//     desc or msg); code 500 is ErrAmbiguous on a create and ErrTransient on a
//     query; HTTP 5xx and timeouts are classified by providers.Transport.
//   - An unknown order on /order/query: the document shows no such answer. The
//     reading (and the simulator) is code 400 with desc "order does not exist"
//     (DescOrderNotExist); the adapter maps exactly that answer (code 400,
//     message "order does not exist") to ErrNotFound, and any other 400 to
//     ErrRejected. The match is exact on purpose: ErrNotFound means "safe to
//     create again", and "merchant does not exist" (an unknown merchant, a
//     credentials problem) must not read as an unknown order. Other refusals
//     the simulator gives, in desc:
//     "sign error", "merchant does not exist", "orderId already exists",
//     "insufficient balance", "payCode is not enabled for this merchant",
//     "amount format error", "<field> is required".
//   - The query's amount is "the actual payment amount of the customer": once
//     paid (status 1) it is Event.Paid; before payment or after a failure the
//     provider shows the order amount, which is not a payment, so Paid is left
//     invalid. Requested is never stated by CXPay (invalid): tally compares
//     Paid with its own order. Credited is never stated either (invalid). Fee is
//     set whenever the answer carries fee. utr, the 12-digit transaction code,
//     goes to Event.TxHash. The answer always carries utr; it is "" until the
//     order is paid (the document's example, at status 0, shows one, but a
//     transaction code exists only once money moved). The query answers for deposits and payouts alike
//     and does not say which: Event.Kind is the OrderQuery.Kind given.
//   - The query has no reverse flag: a reversed order reads as paid (status 1);
//     only the callback's reverse=true reveals the reversal. The adapter honours
//     a "reverse" field in the query if CXPay ever sends one.
//   - Callbacks carry no kind: Event.Kind is empty. A payer-modified amount is a
//     callback whose amount differs from the order: Paid = amount, Requested
//     invalid. The callback is verified over every field it carries, not only
//     the documented ones, so an added field (utr) is covered by the signature.
//   - Retry: "a total of 8 pushes within 40 minutes" with no intervals; the
//     simulator pushes at 0, 1, 3, 6, 11, 18, 28 and 40 minutes
//     (RetrySchedule) until it receives "success" with HTTP 200.
//   - Callbacks are sent for final states only (paid, failed, expired as
//     failed with remark "order expired", reversed as status 1 + reverse true
//     with remark "order reversed"). A failed callback's amount is the order
//     amount and its fee 0.
//   - Brazil payout account types: the document lists "CPF, CNPJ, Phone, EMAIL,
//     EPV"; EPV is read as the Pix random key (EVP). The adapter sends
//     Beneficiary.AccountType as given and does not rewrite it.
//   - Currency: an account has one; the balance endpoint answers in it without
//     naming it, so balances are reported in Options "currency".
//
// # Simulator
//
// NewSimulator serves the four endpoints, a cashier page at GET /pay/{id}
// (the collection url) whose form pays the entered amount or cancels, and
// callbacks through the sim engine. Merchants' sim Options: "currency"
// (default BRL), "amount_decimals" (default 2; IDR payouts 0 whatever it
// says, "amount format error" otherwise), "pay_code" and "payout_pay_code"
// (comma-separated enabled payCodes; empty accepts any). Every answer is HTTP
// 200 with the envelope (a method other than POST gets the HTTP server's own
// 405); a bad signature is code 400 "sign error". utr is the
// last twelve digits of the platform order id. Deposit fees are DepositFeeRate
// of the amount paid; a payout freezes amount + fee at creation.
package cxpay
