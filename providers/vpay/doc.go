// Package vpay is tally's adapter for VPay, MinPay's merchant wallet gateway,
// and a faithful simulator of it.
//
// # What VPay offers
//
// Section 6.3.2 of vpay.txt: a fixed-amount crypto scan-pay order quoted in a
// currency of the merchant's choosing at the merchant's own rate (quoted in
// CNY, paid in USDT or TRX), created by
//
//	POST /wallet-trade-merchant/v1/receive/blockchain/fixed/custom/rate/create  (JSON)
//
// whose answer carries MinPay's hosted pay page (paymentUrl) and the order's
// chain addresses (BSC, TRON), and a signed JSON callback with a nested
// `extra` object, which the merchant answers with `success`; MinPay retries
// 15s, 15s, 30s, 180s, 600s, 1200s, 1800s after the first attempt, then stops.
// The document offers no payout, no order query and no balance query:
// CreatePayout, QueryOrder and QueryBalances return ErrUnsupported and
// reconciliation works from callbacks and imported statements.
//
// Capabilities: Deposit, PayPage, SignedCallbacks, QuotedDeposits; deposit
// currencies are the quote currencies (option quote_currencies, default CNY);
// amounts carry at most 2 decimals (QuoteDecimals).
//
// The document names no API host: the endpoint's host is written
// 网关域名 ("the gateway's domain"), and walletapi.minpayapp.com appears only as
// a pay page's host in an example answer. Hosts is empty: a base URL comes
// from the operator (tally account add, or --provider-host-allow).
//
// # Endpoints
//
//	CreateDeposit  -> POST /wallet-trade-merchant/v1/receive/blockchain/fixed/custom/rate/create
//	ParseCallback  <- POST {notifyUrl} (JSON), answered by Reply: 200 "success"
//
// # Signature
//
// vpay.txt refers to a signing section it does not contain. The rule is that
// of MinPay's own merchant SDK (shared/vectors/README.md), implemented in
// sign.go: the whole JSON object is signed, `key` included and `sign`
// excluded; entries sorted by name and joined name=value with "&"; null
// values and empty lists skipped, empty strings kept; a nested object signed
// as {k=v&k=v} sorted the same way (so the callback's `extra` is covered); a
// list as [a,b]; booleans true/false; numbers without trailing zeros (100.00
// signs as 100, 7.20 as 7.2); then "&secret=SECRET", MD5, lowercase hex.
// Bodies are read with their number texts kept (never through float64).
// Readings of points the SDK rule leaves open: a JSON string is signed exactly
// as sent (only JSON numbers are normalized, so "100.00" as a string signs as
// 100.00); a body with a duplicate name is refused, so that a signature covers
// one reading only; numbers with exponents are written out plainly (1E+2 ->
// 100) and exponents beyond ±64 are refused; a null inside a list is written
// "null"; an empty nested object is kept as name={}.
//
// # Create request
//
// Fields sent: key (Config.MerchantID), localOrderId (OrderNo), localUserId
// (CustomerID, omitted when empty), notifyUrl (the request's, else
// Config.NotifyURL; omitted when empty), successRedirectUrl (ReturnURL,
// omitted when empty), userCurrency (PayCurrency, required), quoteCurrency
// (Currency), quoteAmount, isBlockchain, sign. Empty optional fields are
// omitted rather than sent empty, because an empty string would be signed
// (name=). Readings:
//
//   - userCurrency is required, and a deposit without PayCurrency is refused
//     (ErrInvalidRequest; tally's merchant API answers 400 missing_field,
//     field pay_currency) rather than defaulted. The document marks
//     userCurrency 必填 (required), "the currency the user must pay in (USDT,
//     TRX)", and gives no default and no account setting for it (the
//     back-office settings it names are quote-currency rates). It is also
//     what MinPay settles the order in (the callback's currency and amount
//     are in it), so it decides what tally's books hold: an order quoted in
//     CNY whose pay currency went unsaid was sent as USDT while tally booked
//     it in CNY. Defaulting it to an account setting would be a choice the
//     document does not make, so the merchant states it on every deposit.
//     The former option user_currency (a default) is no longer read.
//   - quoteAmount is a JSON number (the field table says number; the JSON
//     example's "5" string contradicts it) written with two decimals, 100.00,
//     which signs as 100.
//   - isBlockchain=true is not in the field table but MinPay's SDK sends it on
//     this endpoint (it is part of the published request vector); the adapter
//     always sends it and the simulator accepts it, or its absence.
//   - localUserId is described as "platform-assigned merchant number" but named
//     and used as the merchant's own user id; it carries CustomerID.
//   - localOrderId: the document gives no length. The adapter keeps order
//     numbers to 64 characters (a client's caution, never more lenient than
//     MinPay); the simulator accepts any non-empty one and echoes it exactly.
//   - FailURL, Payer, Extra and CreatedAt have no field and are ignored;
//     Method must be "" (the endpoint has one way to pay).
//
// # Create answer
//
// {code, success, message, data}. code 0 with success true is success; data
// gives orderId (a JSON number in the example though the table says string:
// read as json.Number, accepting either), paymentUrl (CreateResult.CashierURL),
// publicKey, and addresses {BSC, TRON} (CreateResult.Addresses, currency =
// the pay currency, network = the map key). The USDT amount owed is not in
// the answer; it arrives in the callback (amount), and the pay page shows it.
// The document lists no error codes. The adapter and the simulator use:
//
//	10001 invalid parameter          -> ErrInvalidRequest
//	10002 sign error                 -> ErrRejected
//	10003 merchant key does not exist -> ErrRejected
//	10004 localOrderId already exists -> ErrRejected wrapping ErrDuplicateOrder
//	10005 no rate set for the quote currency -> ErrRejected
//	10006 userCurrency not supported -> ErrRejected
//
// any other non-zero code (or code 0 with success false) -> ErrRejected, with
// the provider's code and message kept in the *providers.Error. A non-200
// answer below 500 other than 429 (415 wrong media type, 404, 405) means our
// request was malformed: ErrInvalidRequest. 429 and a refused connection are
// ErrTransient; 5xx and timeouts are ErrAmbiguous (the create may have
// happened); an unreadable 200 answer is ErrAmbiguous too. Since
// VPay has no order query, the way to learn whether an ambiguous create took
// place is to send it again: ErrDuplicateOrder proves the order exists (its
// callback will come; do not fail it), success means the first try never
// reached MinPay.
//
// # Callback
//
// JSON POST, signed as above over every field but sign (including extra).
// Fields: amount, bizType, currency, extra {quoteAmount, quoteCurrency,
// quotePrice}, key, localOrderId, merchantActualAmount, merchantCurrency,
// merchantId, merchantPaidAmount, merchantUserId, notifyTime (ms),
// orderCreateTime (ms), orderId, sign, status, type, userAmount,
// userCurrency. The document's example is partly inconsistent; the readings:
//
//   - amount + currency: the order amount in the paid currency (the USDT the
//     payer was asked for: quoteAmount / quotePrice, 10 CNY / 10 = 1 USDT in
//     the example) -> Event.Requested, Event.Currency.
//   - userAmount + userCurrency: what the payer actually sent -> Event.Paid
//     (when userCurrency is the event currency). A payer who sends another
//     amount shows here; amount stays what was asked.
//   - extra: quoteCurrency (typed "number" in the table: it is a currency
//     code), quoteAmount, quotePrice = the merchant's rate, quote currency per
//     paid unit (CNY per USDT) -> Event.Quote{Currency, Amount, Rate}. Amounts
//     and the price are accepted as JSON numbers or numeric strings.
//   - merchantPaidAmount: the gross amount booked to the merchant, and
//     merchantActualAmount: the net after MinPay's fee, both in
//     merchantCurrency ("the merchant's default currency"). When
//     merchantCurrency is the event currency: Event.Credited =
//     merchantActualAmount and Event.Fee = merchantPaidAmount -
//     merchantActualAmount. The example's actual (22.72) above paid (7.33),
//     in CNY, unrelated to the 10 CNY quote, cannot be a net and a gross of
//     this order: it reads as sample data from a merchant whose default
//     currency differs. When merchantCurrency differs from the event
//     currency, the merchant's balance moved in merchantCurrency: that is the
//     money the event states (Event.Currency = merchantCurrency, Paid =
//     merchantPaidAmount, Credited = merchantActualAmount, Requested unset),
//     the payer's side goes to Event.Remark (and stays in the raw body), and
//     tally flags a currency its order does not settle in rather than book
//     the payer's USDT as if the merchant had received it. A net above the
//     gross states no fee (Fee unset, never guessed).
//   - type vs bizType: the example pairs type WITHDRAW with bizType
//     PAYMENT_FIXED_DIGITAL_SCAN. bizType decides (PAYMENT_* deposit,
//     WITHDRAW_* and BATCH_PAY payout); type only when bizType is unknown.
//   - orderId is a string in the callback and a number in the create answer;
//     both are read as text. merchantId likewise.
//   - merchantUserId (in the table, not in the example) is the localUserId ->
//     Event.UserID; absent means none.
//   - key must be this account's MerchantID, and when option merchant_id is
//     set, merchantId must equal it; otherwise ErrInvalidRequest.
//   - notifyTime -> Event.OccurredAt. The callback has no transaction hash.
//   - Amounts (amount, userAmount, merchant*Amount, extra.quoteAmount,
//     extra.quotePrice) are read as written, through providers.ParseAmount:
//     the document writes them plainly (1, 22.72, 10), so one with an
//     exponent (1E+2) is refused (ErrInvalidRequest), although the signature
//     rule writes such a number out plainly to verify it.
//
// Reply: 200 "success" when err is nil; 400 "fail" for a bad signature or an
// unreadable callback; 500 "fail" otherwise; MinPay retries any non-success.
//
// # Statuses
//
// The document shows only SUCCESS. The values a MinPay integrator expects,
// which the simulator sends and MapStatus maps (case-insensitively, with the
// aliases listed in status.go):
//
//	PENDING     -> pending     (created, unpaid; not notified by the simulator)
//	PROCESSING  -> processing  (payment seen on chain, awaiting confirmation)
//	SUCCESS     -> succeeded
//	FAIL        -> failed
//	EXPIRED     -> expired     (the payer did not pay in time)
//	REVERSED    -> reversed    (Event.Reversed is set)
//
// An unknown value maps to processing: the callback is verified and
// acknowledged, no money is posted, ProviderStatus keeps the value, and
// reconciliation flags the order if it lingers.
//
// # Config.Options (adapter)
//
//	user_currency     no longer read: every deposit states its PayCurrency (see Create request)
//	quote_currencies  comma-separated quote currencies enabled in the merchant back office (default CNY)
//	merchant_id       MinPay's numeric merchant number; when set, callbacks must carry it as merchantId
//
// DepositRequest.Method: only "" is understood. Extra: no keys are read.
//
// # Simulator
//
// The create endpoint checks the field table: key, localOrderId,
// userCurrency, quoteCurrency, quoteAmount and sign are required ("是"),
// localUserId, notifyUrl and successRedirectUrl optional ("否"), each
// refused with 10001 when missing or blank; userCurrency USDT or TRX (10006),
// quoteCurrency one the merchant has a rate for (10005), quoteAmount a
// positive JSON number or numeric string with at most QuoteDecimals decimals
// (the document is silent on decimals; quote currencies are fiat);
// notifyUrl and successRedirectUrl absolute http(s) URLs when sent, and
// isBlockchain a boolean when sent. A string field sent as a JSON number
// (localOrderId 1700000000, localUserId 55, as the SDK's request vector
// reads) is taken as its text.
//
// NewSimulator serves the create endpoint and the pay page
// GET /fixed-amount-pay/{publicKey} (a minimal HTML page: amount, quote,
// addresses, status), both wrapped in the engine's endpoint faults. Merchant
// options (sim.Merchant.Options):
//
//	rate:CNY       the merchant's quote rate, CNY per USDT (required to quote in CNY)
//	rate:CNY:TRX   the rate for payers in TRX, CNY per TRX
//	merchant_id    the merchantId sent in callbacks (default: 12 digits derived from the key)
//
// The payer owes quoteAmount / rate in the user currency, rounded UP to 6
// decimals (PayDecimals, the precision of USDT and TRX on TRON), so that the
// merchant never receives less than its quote: 100.00 CNY at 7.1 is
// 14.084508 USDT. The order settles in the user currency: sim.Order Amount
// and Currency are the USDT side, SettleCurrency = USDT, QuoteCurrency /
// QuoteAmount / Rate the quote. The deposit fee (sim.Merchant.DepositFeeRate)
// is taken in USDT, truncated to 6 decimals; callbacks carry
// merchantCurrency = the user currency, merchantPaidAmount = paid,
// merchantActualAmount = paid - fee. A payer who pays another amount (control
// API pay {"amount":...}) shows in userAmount and merchant*Amount; amount
// stays the ordered amount. Addresses and publicKey are derived from the
// merchant and order id (the same on every call): BSC and TRON for USDT,
// TRON only for TRX. orderId is numeric. Callbacks are sent for every state
// but pending; a forged callback alters userAmount under the genuine sign.
// Duplicate localOrderIds are refused with 10004, whatever the state of the
// first order. Numbers in callbacks are written plainly (22.72, 1), as in
// the document's example.
package vpay
