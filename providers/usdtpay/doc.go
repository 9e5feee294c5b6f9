// Package usdtpay is tally's adapter for UsdtPay, and a faithful simulator of it.
//
// UsdtPay (usdtpay.txt) speaks the Leanwork CRM deposit protocol. It offers one
// thing: a hosted pay page. The merchant's page posts a signed form
// (pickupUrl, receiveUrl, signType, orderNo, orderAmount, orderCurrency,
// customerId, sign, crmNo) from the payer's browser to the payment URL
// /pay/toConfirmIn; the payer pays in USDT; UsdtPay then posts a signed callback
// (signType, orderNo, orderAmount, orderCurrency, transactionId, status, sign)
// to receiveUrl, with the USDT amount in the URL's query string, and repeats it
// every minute, ten tries in all, until the merchant answers "success".
//
// # Adapter
//
//	CreateDeposit     builds the signed pay form (providers.PayForm, fields in the
//	                  document's order); no network call
//	RenderPayPage     the self-submitting HTML page for that form
//	SubmitPayForm     posts the form as the payer's browser does (demo, tests)
//	ParseCallback     verifies and normalizes the callback; Reply answers it
//	CreatePayout, QueryOrder, QueryBalances, ValidatePayout: ErrUnsupported
//
// Capabilities: Deposit, PayPage, SignedCallbacks; currencies CNY, USD, MYR;
// two decimals. There is no query, payout or balance API: orders without a
// callback stay pending until reconciliation against UsdtPay's statements.
//
// Config: BaseURL is the payment host (the part before /pay/toConfirmIn, e.g.
// "http://otc.globalokpaytech.com", the document's one host (Hosts), in the
// sandbox "http://127.0.0.1:9000/usdtpay");
// MerchantID is the crmNo (at most 8 characters); Secret is the MD5 key.
// Config.Options: none (an unknown key is refused). DepositRequest.Method must be
// empty and Extra must be empty: UsdtPay has no variants. ReturnURL is
// pickupUrl, NotifyURL (or Config.NotifyURL) receiveUrl, CustomerID customerId;
// all required. PayCurrency may be empty or the order currency: the payer
// pays in USDT at UsdtPay's rate, but only the order side is signed, so tally
// keeps UsdtPay's books in the order currency and refuses PayCurrency "USDT".
//
// # Signing (vectors file)
//
// Pay form: md5(pickupUrl + receiveUrl + signType + orderNo + orderAmount +
// orderCurrency + customerId + key); crmNo is not signed. Callback:
// md5(signType + orderNo + orderAmount + orderCurrency + transactionId + status
// + key). Lowercase hex, compared in constant time (hex case ignored); values are
// concatenated exactly as received, so "1" and "1.00" sign differently. The
// concatenation has no separators, so a signed callback for order "AB1" with
// amount "0.50" also verifies as order "AB" with amount "10.50": tally's order
// numbers for UsdtPay should have a fixed length (as Leanwork's do) so that none
// is a prefix of another, and the callback's amount is always compared with the
// order's.
//
// # Statuses
//
// The only status is "success" -> succeeded. UsdtPay calls back only after a
// successful payment: failures, expiries and reversals send nothing. An
// undocumented status (including "SUCCESS") is refused as ErrInvalidRequest:
// it must not move money, and UsdtPay's retries give an operator ten minutes to
// notice.
//
// # Readings of a silent or contradictory document
//
//   - orderAmount in the callback is what UsdtPay settled the order for, in
//     orderCurrency: Event.Paid. Requested, Credited and Fee are not stated
//     (invalid NullDecimals): tally knows what it requested, and a different
//     orderAmount is an amount mismatch. UsdtPay states no fee.
//   - The USDT amount: the document says to read `amount` "with GET", i.e. from
//     the query string of the callback URL; it is not signed. It becomes
//     Event.Quote = {Currency: "USDT", Amount: amount, Rate: 0}: the USDT
//     UsdtPay obtained for the order, information for reconciliation against
//     statements, never a basis for posting money. UsdtPay states no rate, so
//     Rate is left zero; the implied rate is Paid / Quote.Amount order-currency
//     units per USDT. When the query has no `amount`, a body field `amount` is
//     read instead; a malformed or repeated one is ignored and noted in Remark
//     (the signed part of the callback is still good).
//   - Event.ProviderOrderID is transactionId, the first UsdtPay id tally sees:
//     CreateDeposit returns none.
//   - crmNo: the Chinese table says required, the English one "if empty,
//     identify from the order number". The adapter always sends it. The
//     simulator reads an empty crmNo from the order number's Leanwork shape: 12
//     digits of time (yyMMddHHmmss), then the 8-character crmNo
//     ("180606174026TW0014780000081000012" carries "TW001478"); see
//     CrmNoFromOrderNo.
//   - orderNo is at most 32 characters, although the document's own example is
//     33 (the real vectors' order numbers are 32): the length column wins. The
//     adapter also keeps order numbers to letters, digits, '-' and '_'.
//   - orderAmount: the Chinese example is "1.01", the English "100.00", and the
//     real callbacks carry "1" and "1.00". The adapter always sends two decimals;
//     the simulator accepts up to two and echoes the request's string in the
//     callback when the payer paid exactly, else the paid amount with two
//     decimals. Ten characters at most: 9999999.99.
//   - Field lengths are maxima (pickupUrl and receiveUrl 100, signType 5,
//     orderNo 32, orderAmount 10, orderCurrency 3, customerId 32, crmNo 8),
//     counted in characters: the simulator refuses a longer value and accepts
//     one at the limit, whatever its script. The adapter counts UTF-8 bytes,
//     which is never more lenient, and refuses longer values before building
//     the form. Every field but crmNo must be non-empty (不为空 / "Null
//     allowed? No").
//   - Callbacks are form POSTs (application/x-www-form-urlencoded). The parser
//     refuses other methods and content types, a field sent twice, and any body
//     larger than MaxCallbackBytes.
//   - The acknowledgement is exactly "success"; Reply answers "fail" otherwise,
//     with 400 for a bad signature or a malformed callback and 500 for our own
//     failure. Retries: every minute, ten tries in all (Schedule: nine waits of
//     one minute).
//   - What UsdtPay answers to a bad pay form is not documented beyond "must
//     verify the signature". The simulator answers an HTML error page with HTTP
//     400 and <p id="error" data-code="CODE">message</p>: merchant_unknown,
//     sign_error, param_error (missing, too long or malformed field),
//     order_exists (an order number the merchant already used), bad_request
//     (unreadable form), method_not_allowed (405, anything but POST), not_found
//     (404, any other path), system_error (500). SubmitPayForm turns an error
//     page into ErrRejected with that code; a 5xx or no answer is ErrAmbiguous.
//
// # Simulator
//
// NewSimulator serves POST /pay/toConfirmIn (relative to its mount point,
// /usdtpay in the sandbox) and nothing else. Merchants: ID = crmNo, Secret =
// MD5 key, DepositFeeRate = UsdtPay's fee, taken from a balance the simulator
// keeps in the order currency (UsdtPay has no balance API; the balance is for
// the control API). Options "rate:CNY", "rate:USD", "rate:MYR" give the USDT
// rate in order-currency units per USDT (defaults DefaultRates: 7.20, 1, 4.70;
// "none" sends no USDT amount). The pay page shows the serial number
// (transactionId), the order, the amount and the USDT to pay (amount / rate,
// rounded down to 2 decimals) in a <dl id="order" data-...> element. The
// callback goes to receiveUrl + "?amount=<USDT of the paid amount>"; a forged
// callback carries ten times the amount under the genuine signature.
package usdtpay
