// Package cpay is tally's adapter for C-Pay (cpay.ltd), a crypto payment
// provider, and a faithful simulator of it.
//
// # What C-Pay offers
//
// Per-user crypto wallet addresses (getWalletAddress) whose deposits arrive
// without any order; hosted cashier orders in USDT, ETH, BTC or BNB
// (createOrder); card orders in USD, EUR or BRL (createOrderByCreditCard);
// crypto payouts (withdraw) and fiat payouts (createFiatPayoutOrder: Pix or
// bank card); balances per currency (getMerchantBalance); exchange rates
// (getExchangeRate, getExchangeRateForCreditCard); conversions between
// currencies (exchange); order details by merchant order no, C-Pay order id or
// transaction hash (getOrderDetail); the H2H mode, users' KYC data (submitKYC)
// and card payments without a payment page (pwpp); and JSON webhooks
// answered "OK".
// Production is https://api.cpay.ltd, C-Pay's sandbox
// https://sandbox-api.cpay.ltd; tally's sandbox serves the simulator under
// /cpay. Those two hosts are Hosts, the base URLs a merchant may set through
// the API by default; the address some request examples use
// (http://8.142.157.45:9075) is an example's, not a documented environment,
// and is not among them.
//
// # Adapter
//
//	CreateDeposit Method ""            -> POST /openapi/v1/createOrder (CashierURL)
//	CreateDeposit Method "credit_card" -> POST /openapi/v1/createOrderByCreditCard (CashierURL)
//	CreateDeposit Method "wallet"      -> GET  /openapi/v1/getWalletAddress (Addresses, no order)
//	CreatePayout crypto currency       -> POST /openapi/v1/withdraw
//	CreatePayout fiat currency         -> POST /openapi/v1/createFiatPayoutOrder (Method "" or "pix": Pix; "bank_card")
//	QueryOrder                         -> GET  /openapi/v1/getOrderDetail
//	QueryBalances                      -> GET  /openapi/v1/getMerchantBalance
//	WalletAddresses                    -> GET  /openapi/v1/getWalletAddress
//	ExchangeRate                       -> GET  /openapi/v1/getExchangeRate
//	ExchangeRateForCreditCard          -> GET  /openapi/v1/getExchangeRateForCreditCard
//	Exchange                           -> POST /openapi/v1/exchange
//	SubmitKYC                          -> POST /openapi/v1/submitKYC (H2H: users' KYC data, up to 1000)
//	PayWithoutPaymentPage              -> POST /openapi/v1/pwpp (H2H: card payment without a payment page)
//	ParseCallback, Reply               <- the webhook (JSON POST), answered OK / FAIL
//
// Config: BaseURL, MerchantID (merchantId) and Secret are required; NotifyURL
// is sent as the orders' callback URL (when neither it nor the request's is
// set, C-Pay uses the URL configured in its merchant platform). C-Pay reads no
// Config.Options.
//
// What C-Pay settles an order in is always sent, never left to a default:
// Currency is cryptoCurrency (cashier deposits, crypto payouts) or currency
// (card deposits, fiat payouts), and a deposit's PayCurrency must be empty or
// equal to Currency (ErrInvalidRequest otherwise), since no field could carry
// another.
//
// Request fields taken from tally's requests: OrderNo is merchantTradeNo,
// CustomerID userId (required everywhere), ReturnURL successURL, FailURL
// failURL, CreatedAt createTime (milliseconds; zero means now). Card deposits
// need Payer.Email, Payer.Country and Extra["ip"]; Extra["products"] (a JSON
// array) defaults to one product named after the order, Extra["language"] is
// sent as the document's field "lanuage". Crypto payouts need
// Beneficiary.Network (TRON(TRC-20), BSC(BEP-20), Ethereum(ERC-20), Bitcoin,
// matching the currency) and Beneficiary.Account (toAddress); Amount is
// receivedAmount and Extra["totalAmount"] (default Amount) totalAmount. Fiat
// payouts need Beneficiary.Account (toAccount) and Beneficiary.AccountType
// (accountType; Pix: 1 cpf/cnpj, 2 email, 3 mobile, 4 random key),
// Beneficiary.Country (Pix: BRA, filled in), optionally Beneficiary.BankCode
// (accountCode), Extra["remark"], Extra["extInfo"].
//
// SubmitKYC and PayWithoutPaymentPage (h2h.go) are not reached through
// CreateDeposit: KYC data and card numbers must never be part of tally's
// stored order requests, so only a caller that holds them itself (a
// PCI-scoped card form) calls these methods. CardPayment's CardNumber and CVV
// are providers.Secret; no log line or error carries them. The card order
// pwpp creates is an ordinary C-Pay order afterwards: getOrderDetail finds it
// by merchantTradeNo, its webhook is like a card order's.
//
// Amounts go out as plain decimals, exactly as validated, at most 8 decimals
// ("Support 8 decimals"); fiat amounts (card orders, fiat payouts) at most 2,
// because C-Pay would round a third decimal down and tally never lets money be
// rounded silently. Such an amount, an unsupported currency or network, a
// missing field or an over-long order no is refused before any call with
// ErrInvalidRequest.
//
// Answers: code 0 is success. Any other code is a refusal: a msg starting
// "invalid param" wraps ErrInvalidRequest, anything else ErrRejected, with
// C-Pay's code and msg kept in providers.Error. getOrderDetail's "order not
// exist" (or a success with no data) wraps ErrNotFound. 5xx and network
// failures are transient, or ambiguous for creates (createOrder,
// createOrderByCreditCard, withdraw, createFiatPayoutOrder, exchange), as is a
// success whose data cannot be read.
//
// # Statuses
//
// 0 PENDING -> pending, 11 PROCESSING -> processing, 14 COMPLETED ->
// succeeded, 15 CLOSED -> failed. C-Pay has no expired or reversed status: an
// unpaid order closes (15), and a COMPLETED order that C-Pay later closes is a
// reversal only its history shows, so Event.Reversed is never set from C-Pay
// data; reconciliation must treat 15 after 14 as a reversal.
//
// # Webhooks
//
// A JSON POST with merchantId, merchantTradeNo, merchantUserId, orderId,
// orderStatus, hash, actualAmount, receivedAmount, fee, cryptoCurrency,
// network, remark, extInfo, createTime and sign. Event.Paid is actualAmount
// (what C.Pay received; for a payout what it sent), Credited receivedAmount
// (what moved on the merchant account: a deposit net of fee, a payout's amount
// plus fee), Fee fee, Currency cryptoCurrency (also for fiat and card orders),
// TxHash hash, UserID merchantUserId. The webhook carries no requested
// amount, so Requested is unset (QueryOrder's getOrderDetail has none either).
// A deposit to a user's wallet address that belongs to no order has no
// merchantTradeNo: its event has OrderNo "", UserID and TxHash set, Kind
// deposit; reconcile it by user and hash (the webhook names no address, so
// Event.Address stays empty). The answer is the text OK; failures
// are answered FAIL (400 when the webhook will never verify, 500 when tally
// could not store it, so that C-Pay retries).
//
// # Where the document is silent or contradicts itself, and the reading taken
//
//   - Signing (vectors README wins): HMAC-SHA256 keyed with the secret over the
//     sorted name=value pairs without sign and without empty values, plus
//     "&key=SECRET"; values signed exactly as sent. JSON (webhooks, the card
//     order's answer) signs each member's JSON text: a number as written
//     ("1663155010000"), never reformatted through float64; null is empty.
//   - The webhook's sign is marked optional; an unsigned webhook is refused.
//   - Requests: "this interface uses the form form": GET parameters in the query
//     string, POST parameters as an application/x-www-form-urlencoded body
//     (the curl examples put POST parameters in the URL; the simulator reads
//     both).
//   - createFiatPayoutOrder's URL is printed with "/openapi/v1" twice; its own
//     example uses /openapi/v1/createFiatPayoutOrder, which the adapter calls.
//     The simulator answers both paths.
//   - The callback URL is spelled callbackURL (createOrder's table, withdraw) and
//     callBackURL (createOrder's example, fiat payouts, card orders); the
//     adapter sends each endpoint's table spelling, the simulator reads both.
//   - The card order's "lanuage" field is sent with the document's spelling.
//   - Lengths: the simulator refuses a parameter longer than its table's
//     String(N) ("invalid param <name>"), counted in characters, on every
//     endpoint (fieldLimits in simlimits.go). Three columns contradict the
//     document itself and are not enforced: sign's String(32) (an
//     HMAC-SHA256 is 64 hex characters), createFiatPayoutOrder's toAccount
//     "String (12)" (its own accountType values name emails, +55 mobiles of
//     15 characters and random keys) and products' String(16) (its own
//     example is longer). The adapter checks merchantTradeNo, userId, the
//     URLs and toAddress itself and leaves the rest to C-Pay's answer.
//   - createOrderByCreditCard: country is "ISO3166-1" (the simulator takes
//     alpha-2, alpha-3 or numeric codes), ip "IPV4/V6" (either), lanuage one
//     of its "Available values" en-US and ru-RU when sent; its amount's
//     third decimal is rounded down as pwpp's table says for card amounts
//     (the adapter refuses it). The adapter leaves these checks to C-Pay.
//   - createFiatPayoutOrder: accountType and toAccount are mandatory for
//     both channels (the table's "Yes"); Pix (channel 1) is BRL to BRA with
//     accountType 1-4, and a mobile (3) in the format "+55+AreaCode+Number";
//     a bank card payout (channel 2) takes any ISO 4217 currency ("ISO"; the
//     simulator refuses it only for want of a balance in it), though the
//     adapter offers BRL, EUR and USD only; extInfo, when sent, must be JSON
//     ("in json format").
//   - withdraw takes totalAmount and receivedAmount: totalAmount is what the
//     user is charged at the merchant, receivedAmount what reaches toAddress
//     (must not exceed totalAmount); C-Pay debits receivedAmount plus its fee
//     from the merchant balance.
//   - createFiatPayoutOrder's amount is what the beneficiary receives; the
//     answer's orderAmount is amount plus fee (as in the document's example).
//   - Exchange rates are source units per one target unit (USDT to BTC 40000),
//     as the examples compute, not "1:exchangeRate" as the note says; a quote of
//     0 (the document's example) means no rate and is refused.
//   - Payouts are created PROCESSING (11), as the fiat example answers; C-Pay
//     calls back "after the order succeeds or fails" and when "a payout was
//     initiated": the simulator sends 11, 14 and 15, never 0.
//   - Retries: "ten tries" with no intervals; the simulator uses RetrySchedule
//     (10 s, 30 s, 1 min, 2 min, 5 min, 10 min, 30 min, 1 h, 2 h).
//   - getOrderDetail for an unknown order: code 1 "order not exist".
//   - The card order's answer carries a sign over its data members; the adapter
//     verifies it when present (ErrBadSignature otherwise: the order may exist,
//     query it).
//   - createTime is milliseconds; webhooks' createTime is the order's creation
//     time (Event.OccurredAt).
//   - submitKYC: data is the JSON array of the document's sample, sent as one
//     form parameter (and signed as that text), with the sample's member names
//     including "brithday" and "IdCardUrls"; every member is sent ("" and []
//     when empty), as the sample shows. The document marks no member
//     mandatory; the adapter requires userId (the records' key everywhere in
//     the API, at most 64 characters, once per batch) and refuses dates not
//     YYYY-MM-DD, a gender other than male/female, a country that is not two
//     capital letters and non-http(s) URLs. count is "quantity accepted": the
//     simulator skips (does not count) records those rules refuse, and a
//     user submitted again replaces the earlier data, so the call is safe to
//     repeat: it is not a create (5xx and timeouts are ErrTransient).
//   - pwpp: "user KYC data must be submitted" for H2H: the simulator refuses a
//     user without KYC with code 1 "user kyc not submitted". Mandatory fields
//     as the table says, except that cardNumber and expDate may be left out
//     when ccStorageID charges a stored card. addressLine "Alphanumeric, _ ,
//     -, . (1-50)" is read as ASCII letters, digits, spaces, '_', '-' and '.';
//     city "Alphabetic (1-15)" as ASCII letters and spaces; ip "IPV4" only;
//     currency USD or EUR; amount at most two decimals (the simulator rounds a
//     third down, as the document says, the adapter refuses it); the card
//     number must pass the Luhn check, the CVV be 3 or 4 digits, expDate MM/YY
//     not past its month; iddCode 1-4 digits, mobile 4-15 digits. The answer
//     has no status: the charge is pending until 3-D Secure completes, then
//     reported by the webhook (and getOrderDetail). A declined card is code
//     90751015 "pay fail" (the document's example), ErrRejected. storeCc=1
//     stores the card "in case of success": the simulator answers the
//     ccStorageID at once but accepts it for the same user only after that
//     charge succeeded.
//
// # Simulator
//
// NewSimulator serves the documented paths with their methods, the hosted
// page /payment (cashier and card orders; its button pays in full) and C-Pay's
// envelopes: {"code":0,"msg":"success","data":...,"traceid":"..."}, refusals
// as HTTP 200 with code 1 and a msg ("invalid param X", "verify sign fail",
// "merchant not exist", "merchantTradeNo already exists", "insufficient
// balance", "order not exist", "unsupported currency pair"). Wallet addresses
// are derived from merchant, user and network, stable across calls. Deposits
// without an order come from the control API (POST /deposits, Engine.Deposit)
// and are sent to Merchant.NotifyURL with the user id and hash (one is derived
// from the order when the control call gives none). Merchant Options the
// simulator reads: "rate:SRC:DST" (source units per target unit, e.g.
// "rate:USDT:BTC" = "40000"; the inverse pair is derived; a pair without a
// rate quotes 0 on getExchangeRate and is refused by exchange), "ccrate:SRC:DST"
// (card quotes; default the rate: key), "exchange_fee_rate" (fraction of the
// target amount, default 0). Fees come from Merchant.DepositFeeRate,
// PayoutFeeRate and PayoutFixedFee, truncated to 8 decimals.
//
// H2H in the simulator: submitKYC stores the records per merchant and user
// (Simulator.KYC). pwpp checks the parameters as the adapter does, declines
// DeclinedCard (4000000000000002) with 90751015 "pay fail" and no order, and
// otherwise creates a pending card order whose pageData is an HTML document
// that goes on to redirectURL, the simulator's hosted page standing in for
// 3-D Secure: its button pays the order (then the webhook), and its return
// link is successURL (or failURL) with "?txnRef=<orderId>". The control API
// pays, fails or expires the order like any other. Stored cards keep only
// the last four digits, never the CVV.
package cpay
