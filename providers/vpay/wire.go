package vpay

// PathCreate is the document's section 6.3.2 endpoint: a fixed-amount crypto
// scan-pay order quoted in the merchant's own currency at the merchant's rate.
const PathCreate = "/wallet-trade-merchant/v1/receive/blockchain/fixed/custom/rate/create"

// PathPayPage is where MinPay's hosted pay page lives (paymentUrl in the
// create answer: https://walletapi.minpayapp.com/fixed-amount-pay/{publicKey}).
const PathPayPage = "/fixed-amount-pay/"

// Error codes of MinPay's answer envelope {code, success, message, data}. The
// document shows only code 0; these are the codes the simulator answers and
// the adapter classifies (any other non-zero code is a refusal).
const (
	CodeOK               = 0
	CodeInvalidParam     = 10001 // a field is missing or malformed
	CodeBadSignature     = 10002 // the request's sign does not verify
	CodeUnknownMerchant  = 10003 // no merchant has this key
	CodeDuplicateOrder   = 10004 // localOrderId already used by this merchant
	CodeRateNotSet       = 10005 // no rate configured for the quote currency
	CodeCurrencyRejected = 10006 // userCurrency not offered
)
