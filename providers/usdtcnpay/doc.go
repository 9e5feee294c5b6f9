// Package usdtcnpay is tally's adapter for USDTCNPAY (user.usdtcnpay.com), a
// platform where payers deposit CNY by bank transfer and upload a screenshot
// of it, and merchants withdraw CNY to a bank card or an Alipay account, paid
// out by an exchange, possibly in several parts. It also holds a simulator of
// the platform for tests and the sandbox. The document's endpoints are all
// under https://user.usdtcnpay.com, its one host (Hosts).
//
// # What the platform offers
//
//	Adapter method            platform call                      notes
//	(token cache)             POST /api/getAccessToken           plain JSON {accessKey, secretKey}
//	CreateDeposit             POST /api/invokecharge             orderNo, amount, successUrl, failUrl
//	CreatePayout              POST /api/submitwithdraw           + category, bankChannel, name, account
//	QueryOrder (deposit)      POST /api/getcharge                orderNo -> orderNo, chargeNo, createTime, zt
//	QueryOrder (payout)       POST /api/getwithdraw              same shape
//	QueryBalances             -                                  no balance endpoint: ErrUnsupported
//	ParseCallback, Reply      success/fail URLs                  unsigned; a hint to query
//
// Capabilities: deposits (with a hosted page) and payouts in CNY only, amounts
// positive whole multiples of 100 (refused before any call otherwise), order
// queries by merchant order number only, no balances, unsigned callbacks.
//
// # Authentication and encryption
//
// getAccessToken takes the accessKey (Config.MerchantID) and secretKey
// (Config.Secret), 1 to 30 characters each, as plain JSON, and answers
// {msg, code, data: {accessToken, expireTime, publicKey}}. Every other call
// carries the headers AccessKey, AccessToken and Timestamp, and its JSON body
// is encrypted under publicKey. Readings of what the document leaves open:
//
//   - Token lifetime: the prose says 15 minutes, the example expireTime 600. The
//     number the platform sends is authoritative, read as seconds of lifetime
//     (an absolute Unix time in s or ms is tolerated); without one, 600 s, the
//     shorter figure. The lifetime counts from before the request was sent.
//   - The token is cached and shared by all calls of the Adapter; it is replaced
//     60 s before it expires (a fifth of its life for tokens under 5 minutes);
//     concurrent callers share one fetch, which runs detached from any one
//     caller's context; if a refresh fails while the old token is still valid,
//     the old one is used. A call refused with code 401 (token) or 1001 (body
//     not decryptable: the key may have rotated) drops the token, fetches a new
//     token and key, and is sent once more; a refused request was not acted on,
//     so this is safe for creates too. Older tokens stay valid until they
//     expire (the simulator does not revoke a token when issuing the next).
//   - publicKey: base64 (standard, padded, one line) of the DER
//     SubjectPublicKeyInfo, Java's PublicKey.getEncoded(); PKCS#1 DER and PEM
//     of either are accepted too. One platform key for all merchants.
//   - Encryption (EncryptJSON): RSA PKCS#1 v1.5 (Java's Cipher "RSA"), the JSON
//     cut into blocks of key size - 11 bytes (245 for 2048 bits), each block
//     encrypted separately, ciphertexts concatenated, base64 (standard,
//     padded). Body: {"data":"<base64>"}, Content-Type application/json.
//     Options rsa_padding=oaep switches to OAEP-SHA1 should the platform need it.
//     Answers are plain JSON: the merchant holds only the public key.
//   - Timestamp: Unix milliseconds (Options timestamp_unit=s for seconds); the
//     document calls it only a Number. The simulator reads it in the unit of
//     its merchant's timestamp_unit option (ms by default, or s) and refuses
//     one more than 5 minutes off its clock (code 1002).
//   - Header names are sent as Go canonicalizes them (Accesskey, Accesstoken);
//     HTTP header names are case-insensitive.
//
// # Envelope and codes
//
// Every answer is HTTP 200 with {msg, code, data}; code 0 is success. The
// document names no error code; this package and its simulator use:
//
//	code  msg                       adapter error
//	0     操作成功                   -
//	400   请求参数错误               ErrInvalidRequest
//	401   Token无效或已过期          new token, send once more; then ErrRejected
//	403   accessKey或secretKey错误   ErrRejected (credentials or account)
//	405   请求方法不支持             ErrInvalidRequest
//	500   系统繁忙                   ErrTransient (ErrAmbiguous on a create)
//	1001  数据解密失败               new token and key, send once more; then ErrInvalidRequest
//	1002  请求时间戳无效             ErrInvalidRequest (clock skew)
//	2001  金额必须为100的整数倍      ErrInvalidRequest (ValidateDeposit/Payout refuse it first)
//	2002  商家订单号已存在           ErrRejected
//	2003  商家余额不足               ErrRejected
//	2004  订单不存在                 ErrNotFound
//	other                           ErrRejected, code and msg kept
//
// An HTTP 401/403/4xx without an envelope is read by its status (401 as a
// token refusal); 5xx and network failures are Transport's (ErrTransient, or
// ErrAmbiguous after a create was sent); an unreadable 200 after a create is
// ErrAmbiguous.
//
// getcharge and getwithdraw are shown in the document without the envelope
// that getAccessToken has. Reading: the envelope was left out of the example;
// the simulator wraps them like every answer, and the adapter accepts both (a
// body with code is an envelope, one with zt or orderNo the bare order). Code 0
// with no data is read as an unknown order (ErrNotFound).
//
// # Orders
//
//   - amount is sent as a JSON number (the field table says Number; the
//     example's quoted "800" is read as sloppiness; the simulator accepts both).
//     Only positive whole multiples of 100 are accepted; the adapter refuses
//     anything else, including 150 and 100.5, with ErrInvalidRequest before any
//     call.
//   - Required fields: the field tables have no "required" column. Reading:
//     every field they list is required — invokecharge orderNo, amount,
//     successUrl, failUrl; submitwithdraw the same and category, name,
//     account, and bankChannel for a bank (category 0; it "does not apply" to
//     Alipay, where the simulator ignores it). orderNo is any non-empty
//     string (the document gives no length); successUrl and failUrl must be
//     absolute http(s) URLs, since the platform calls them. Fields are read
//     as a lenient Java platform reads them: a String may come as a JSON
//     number and a Number as a numeric string ("800", category "0").
//   - "failUr" in the field tables is a typo for failUrl (the examples and
//     successUrl say so); the adapter sends failUrl, the simulator also accepts failUr.
//   - The invokecharge and submitwithdraw answers are not shown. Reading: the
//     envelope with the order as getcharge describes it (orderNo, chargeNo,
//     createTime, zt) plus payUrl, the hosted page where the payer sees the
//     account to transfer to and uploads the screenshot (the document's
//     deposit steps need one). Every field is optional to the adapter; an
//     answer about another order number, or unreadable, is ErrAmbiguous.
//   - submitwithdraw: category 0 (bank) or 1 (Alipay) from Beneficiary.Category
//     ("0"/"1") or Method ("bank"/"alipay"), which must agree; neither means
//     bank. bankChannel (a Number) is Beneficiary.BankCode, digits, required for
//     a bank and left out for Alipay ("category=1 不适用"). name and account are
//     Beneficiary.Name and Beneficiary.Account. The withdraw example omits these
//     fields; the table, which lists them, wins.
//   - Deposits have no Method (leave it empty). No Extra keys are read.
//     ReturnURL and FailURL are not used: successUrl and failUrl are server
//     callbacks ("业务成功回调URL"), not browser redirects.
//   - QueryOrder needs Kind (charges and withdrawals are queried separately)
//     and OrderNo (the only key the platform looks up by).
//   - createTime is "2006-01-02 15:04:05" in China Standard Time (UTC+8). It is
//     the order's creation time, not the time of its status, so
//     Event.OccurredAt stays zero for queries.
//   - Extensions the simulator sends and the adapter reads when present (the
//     real platform may not send them; the adapter then leaves the amounts
//     invalid, never zero): amount (ordered, Event.Requested), actualAmount
//     (received for a charge, paid out so far for a withdrawal, Event.Paid),
//     remark (failure reason) and parts (the payments of a split withdrawal:
//     partNo, amount, zt, finishTime; Event.Parts). The platform states no fee
//     and no credited amount: Event.Fee and Event.Credited are always invalid.
//     Its fees are charged in USDT on a balance no API shows; the simulator's
//     fees are the engine's, in CNY.
//
// # Status mapping (status.go)
//
//	charge zt   meaning                                   status
//	待提交      waiting for the transfer screenshot       pending
//	待确认      screenshot under review                   processing
//	已确认      deposit succeeded                         succeeded
//	已取消      not paid in time, or payment failed       failed
//
//	withdraw zt meaning                                   status
//	审核中      under review, being matched               pending
//	进行中      being paid, possibly in several parts     processing
//	已驳回      rejected                                  failed
//	已完成      every part paid                           succeeded
//
// 已取消 is failed, not expired: the platform uses one value for "timed out"
// and "failed" and offers no way to tell them apart; both mean no money moved.
// The platform has no reversed value: a confirmed charge or completed
// withdrawal it later takes back shows as 已取消 / 已驳回 (the simulator does
// so for the control API's reverse), so a succeeded order that a later query
// reports failed must be treated as a reversal by the orders layer.
//
// # Callbacks
//
// The platform calls successUrl or failUrl and signs nothing; the document
// gives no method, body, acknowledgement or retry schedule. The adapter builds
// both URLs from the notify URL (request NotifyURL, else Config.NotifyURL,
// which is therefore required) by adding result (success|fail), kind
// (deposit|payout), orderNo and sig, an HMAC-SHA256 of those three under
// Options callback_key (default the secretKey) — see CallbackURLs and
// CallbackSignature. ParseCallback accepts GET or POST, ignores the body,
// requires exactly one of each parameter, and refuses a URL whose sig does not
// match (ErrBadSignature): a URL this account never issued, or one altered.
// A matching sig does not make the platform's claim true, so the event has
// Verified false, Status succeeded or failed from result, OrderNo and Kind,
// and no amount: it is a hint to call QueryOrder, never a reason to post
// money. After a secretKey rotation, set callback_key to the old secretKey to
// keep older orders' URLs verifiable.
//
// Chosen for the simulator, and assumed by the adapter: the platform POSTs an
// empty body to successUrl once a charge is confirmed or a withdrawal
// completed (all parts paid), to failUrl once an order is cancelled, rejected
// or taken back, and nothing for pending or in-progress states, nor for each
// part. It waits for HTTP 200 with body "success" (Reply sends it only when
// err is nil; 400 "fail" for an unparsable or unverifiable callback; 500
// "fail" otherwise) and calls again 1, 2, 5, 10, 30 and 60 minutes after the
// first attempt (7 calls over about 1 h 48 min). Its forged callback (the
// control API's bad_signature) is the genuine URL with result flipped and an
// altered amount parameter, which ParseCallback refuses.
//
// # Config.Options
//
//	callback_key    HMAC key of the callback URL sig; default the secretKey
//	timestamp_unit  ms (default) or s
//	rsa_padding     pkcs1 (default) or oaep
//
// # Simulator
//
// NewSimulator serves the five endpoints at their documented paths, the pay
// page GET /pay/{chargeNo} (with a screenshot upload, POST
// /pay/{chargeNo}/upload, that moves a charge to 待确认), and the control API
// through its Engine. Merchants: ID the accessKey, Secret the secretKey, CNY
// balances; options token_ttl (seconds, default 600), timestamp_unit (ms or
// s, default ms) and rsa_padding. It
// checks, in order, method, token (401), Timestamp (1002), decryption (1001),
// fields (400), amount (2001), then duplicate order number (2002) and balance
// (2003). Withdrawals settle whole or in parts (control API settle-part, or a
// script with parts): while parts are paid getwithdraw says 进行中 and lists
// them. RevokeTokens and RotateKey exercise the adapter's token and key
// recovery; TokensIssued counts token fetches.
package usdtcnpay
