package cpay

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// balanceCurrencies are listed by getMerchantBalance even at zero, as in the
// document's example.
var balanceCurrencies = []string{"BNB", "BTC", "ETH", "EUR", "TRX", "USD", "USDT"}

func (s *Simulator) getWalletAddress(w http.ResponseWriter, r *request) {
	if !s.need(w, r, "userId") {
		return
	}
	list := walletAddresses(r.m.ID, r.p["userId"])
	out := make([]map[string]string, 0, len(list))
	for _, a := range list {
		out = append(out, map[string]string{"address": a.Address, "currency": a.Currency, "network": a.Network})
	}
	s.ok(w, out)
}

func (s *Simulator) createOrder(w http.ResponseWriter, r *request) {
	if !s.need(w, r, "merchantTradeNo", "createTime", "userId", "amount", "cryptoCurrency") || !s.createTime(w, r) {
		return
	}
	cur := r.p["cryptoCurrency"]
	if !slices.Contains(cashierCurrencies, cur) {
		s.fail(w, "invalid param cryptoCurrency")
		return
	}
	amount, ok := s.amount(w, r, "amount", AmountDecimals)
	if !ok {
		return
	}
	network := defaultNetwork(cur)
	o, err := s.engine.CreateOrder(sim.Order{
		MerchantID: r.m.ID, OrderNo: r.p["merchantTradeNo"], Kind: providers.KindDeposit,
		Amount: amount, Currency: cur, UserID: r.p["userId"], Network: network,
		Address:   addressFor(r.m.ID, r.p["userId"], network),
		NotifyURL: callbackURL(r.p), ReturnURL: r.p["successURL"], FailURL: r.p["failURL"],
		Fields: map[string]string{fieldMethod: orderCashier},
	})
	if err != nil {
		s.failEngine(w, err)
		return
	}
	s.ok(w, map[string]any{
		"orderId": o.ID, "merchantId": o.MerchantID, "cryptoCurrency": o.Currency,
		"orderAmount": o.Amount.String(), "receivedAmount": o.Amount.String(), "pledgeAmount": "",
		"merchantTradeNo": o.OrderNo, "cashierURL": s.cashierURL(r.m, o.ID),
		"returnURL": "", "successURL": o.ReturnURL, "failURL": o.FailURL, "remark": "", "extInfo": "",
		"status": StatusCode(o.Status), "network": o.Network, "merchantUserId": o.UserID, "fee": "",
		"createTime": millis(o.CreatedAt),
	})
}

func (s *Simulator) createOrderByCreditCard(w http.ResponseWriter, r *request) {
	if !s.need(w, r, "merchantTradeNo", "userId", "currency", "amount", "products", "country", "email", "ip", "createTime") || !s.createTime(w, r) {
		return
	}
	cur := r.p["currency"]
	if !slices.Contains(cardCurrencies, cur) {
		s.fail(w, "invalid param currency")
		return
	}
	// country "ISO3166-1", ip "IPV4/V6", lanuage one of its "Available values".
	if !isISO3166(r.p["country"]) {
		s.fail(w, "invalid param country")
		return
	}
	if !isIP(r.p["ip"]) {
		s.fail(w, "invalid param ip")
		return
	}
	if l := r.p["lanuage"]; l != "" && !slices.Contains(cardLanguages, l) {
		s.fail(w, "invalid param lanuage")
		return
	}
	amount, err := providers.ParseAmount(r.p["amount"])
	// "The precision is two decimal places, higher precision rounds down."
	if err != nil || !amount.Truncate(fiatDecimals).IsPositive() {
		s.fail(w, "invalid param amount")
		return
	}
	amount = amount.Truncate(fiatDecimals)
	var products []map[string]any
	if json.Unmarshal([]byte(r.p["products"]), &products) != nil {
		s.fail(w, "invalid param products")
		return
	}
	o, err := s.engine.CreateOrder(sim.Order{
		MerchantID: r.m.ID, OrderNo: r.p["merchantTradeNo"], Kind: providers.KindDeposit,
		Amount: amount, Currency: cur, UserID: r.p["userId"],
		NotifyURL: callbackURL(r.p), ReturnURL: r.p["successURL"], FailURL: r.p["failURL"],
		Fields: map[string]string{fieldMethod: orderCreditCard},
	})
	if err != nil {
		s.failEngine(w, err)
		return
	}
	data := map[string]any{
		"merchantId": jsonID(o.MerchantID), "merchantTradeNo": o.OrderNo, "orderId": o.ID,
		"orderStatus": StatusCode(o.Status), "orderCurrency": o.Currency,
		"orderAmount": o.Amount.String(), "receivedAmount": "0.00", "pledgeAmount": "", "fee": "0.00",
		"cashierURL": s.cashierURL(r.m, o.ID), "successURL": o.ReturnURL, "failURL": o.FailURL,
	}
	data[SignField] = signData(data, r.m.Secret)
	s.ok(w, data)
}

func (s *Simulator) withdraw(w http.ResponseWriter, r *request) {
	if !s.need(w, r, "userId", "merchantTradeNo", "createTime", "cryptoCurrency", "network", "totalAmount", "receivedAmount", "toAddress") || !s.createTime(w, r) {
		return
	}
	cur, network := r.p["cryptoCurrency"], r.p["network"]
	if !slices.Contains(cryptoCurrencies, cur) {
		s.fail(w, "invalid param cryptoCurrency")
		return
	}
	if !slices.Contains(networkCurrencies[network], cur) {
		s.fail(w, "invalid param network")
		return
	}
	total, ok := s.amount(w, r, "totalAmount", AmountDecimals)
	if !ok {
		return
	}
	received, ok := s.amount(w, r, "receivedAmount", AmountDecimals)
	if !ok {
		return
	}
	if received.GreaterThan(total) {
		s.fail(w, "invalid param receivedAmount: greater than totalAmount")
		return
	}
	o, err := s.engine.CreateOrder(sim.Order{
		MerchantID: r.m.ID, OrderNo: r.p["merchantTradeNo"], Kind: providers.KindPayout,
		Amount: received, Currency: cur, UserID: r.p["userId"], Network: network, Address: r.p["toAddress"],
		NotifyURL: callbackURL(r.p), Status: providers.StatusProcessing,
		Fields: map[string]string{fieldMethod: orderWithdraw, fieldTotalAmount: total.String()},
	})
	if err != nil {
		s.failEngine(w, err)
		return
	}
	s.ok(w, map[string]any{
		"merchantId": o.MerchantID, "cryptoCurrency": o.Currency, "orderAmount": total.String(),
		"receivedAmount": o.Amount.String(), "fee": o.Fee.String(), "merchantTradeNo": o.OrderNo,
		"remark": "", "extInfo": "", "status": StatusCode(o.Status), "orderId": o.ID,
		"network": o.Network, "merchantUserId": o.UserID, "createTime": millis(o.CreatedAt),
	})
}

func (s *Simulator) createFiatPayoutOrder(w http.ResponseWriter, r *request) {
	if !s.need(w, r, "userId", "merchantTradeNo", "payoutChannel", "amount", "currency", "accountType", "toAccount", "country", "createTime") || !s.createTime(w, r) {
		return
	}
	cur, channel := r.p["currency"], r.p["payoutChannel"]
	switch channel {
	case payoutChannelPix:
		if cur != "BRL" {
			s.fail(w, "invalid param currency: Pix payouts are in BRL")
			return
		}
		if r.p["country"] != "BRA" {
			s.fail(w, "invalid param country: Pix payouts go to BRA")
			return
		}
		if !slices.Contains([]string{"1", "2", "3", "4"}, r.p["accountType"]) {
			s.fail(w, "invalid param accountType")
			return
		}
		// accountType 3: "mobile in format +55+AreaCode+Number".
		if r.p["accountType"] == "3" && !isPixMobile(r.p["toAccount"]) {
			s.fail(w, "invalid param toAccount")
			return
		}
	case payoutChannelBankCard:
		// currency is "ISO" for a bank card payout: any ISO 4217 code; the
		// merchant needs a balance in it.
		if !isISO4217(cur) {
			s.fail(w, "invalid param currency")
			return
		}
	default:
		s.fail(w, "invalid param payoutChannel")
		return
	}
	// extInfo: "The extension field, in json format".
	if e := r.p["extInfo"]; e != "" && !json.Valid([]byte(e)) {
		s.fail(w, "invalid param extInfo")
		return
	}
	amount, ok := s.amount(w, r, "amount", fiatDecimals)
	if !ok {
		return
	}
	o, err := s.engine.CreateOrder(sim.Order{
		MerchantID: r.m.ID, OrderNo: r.p["merchantTradeNo"], Kind: providers.KindPayout,
		Amount: amount, Currency: cur, UserID: r.p["userId"], Address: r.p["toAccount"],
		NotifyURL: callbackURL(r.p), ReturnURL: r.p["successURL"], FailURL: r.p["failURL"],
		Status: providers.StatusProcessing,
		Fields: map[string]string{fieldMethod: orderFiatPayout, "payoutChannel": channel, "accountType": r.p["accountType"],
			"accountCode": r.p["accountCode"], "country": r.p["country"], fieldRemark: r.p["remark"], fieldExtInfo: r.p["extInfo"]},
	})
	if err != nil {
		s.failEngine(w, err)
		return
	}
	s.ok(w, map[string]any{
		"merchantId": o.MerchantID, "currency": o.Currency, "orderAmount": o.Credited.String(),
		"receivedAmount": o.Amount.String(), "fee": o.Fee.String(), "merchantTradeNo": o.OrderNo,
		"remark": r.p["remark"], "status": StatusCode(o.Status), "orderId": o.ID,
		"merchantUserId": o.UserID, "createTime": millis(o.CreatedAt),
	})
}

func (s *Simulator) getMerchantBalance(w http.ResponseWriter, r *request) {
	bs, err := s.engine.Balances(r.m.ID)
	if err != nil {
		s.failEngine(w, err)
		return
	}
	curs := slices.Clone(balanceCurrencies)
	for c := range bs {
		if !slices.Contains(curs, c) {
			curs = append(curs, c)
		}
	}
	sort.Strings(curs)
	out := make([]map[string]string, 0, len(curs))
	for _, c := range curs {
		b := bs[c]
		out = append(out, map[string]string{"availableBalance": b.Available.String(), "freezeBalance": b.Frozen.String(), "cryptoCurrency": c})
	}
	s.ok(w, out)
}

func (s *Simulator) getExchangeRate(w http.ResponseWriter, r *request) {
	src, dst, _, _, ok := s.rateQuery(w, r)
	if !ok {
		return
	}
	rate, found := lookupRate(r.m.Options, "rate", src, dst)
	if !found {
		// The document's own example: no rate is "exchangeRate": 0.
		s.ok(w, map[string]any{"exchangeRate": json.Number("0")})
		return
	}
	s.ok(w, map[string]any{"exchangeRate": formatRate(rate)})
}

func (s *Simulator) getExchangeRateForCreditCard(w http.ResponseWriter, r *request) {
	src, dst, pt, amount, ok := s.rateQuery(w, r)
	if !ok {
		return
	}
	rate, found := lookupRate(r.m.Options, "ccrate", src, dst)
	if !found {
		rate, found = lookupRate(r.m.Options, "rate", src, dst)
	}
	if !found {
		s.fail(w, msgNoPair)
		return
	}
	var exchanged decimal.Decimal
	if pt == BySource {
		exchanged = amount.Div(rate).Truncate(AmountDecimals)
	} else {
		places := int32(AmountDecimals)
		if slices.Contains(fiatCurrencies, src) {
			places = fiatDecimals
		}
		exchanged = amount.Mul(rate).RoundCeil(places)
	}
	s.ok(w, map[string]any{"exchangeRate": formatRate(rate), "amountExchanged": exchanged.String()})
}

func (s *Simulator) exchange(w http.ResponseWriter, r *request) {
	if !s.need(w, r, "userId", "merchantTradeNo", "createTime", "sourceCurrency", "sourceAmount", "targetCurrency") || !s.createTime(w, r) {
		return
	}
	src, dst := r.p["sourceCurrency"], r.p["targetCurrency"]
	if src == dst {
		s.fail(w, "invalid param targetCurrency")
		return
	}
	amount, ok := s.amount(w, r, "sourceAmount", AmountDecimals)
	if !ok {
		return
	}
	rate, found := lookupRate(r.m.Options, "rate", src, dst)
	if !found {
		s.fail(w, msgNoPair)
		return
	}
	gross := amount.Div(rate).Truncate(AmountDecimals)
	feeRate, _ := decimal.NewFromString(r.m.Options["exchange_fee_rate"])
	fee := gross.Mul(feeRate).Truncate(AmountDecimals)
	net := gross.Sub(fee)
	if !net.IsPositive() {
		s.fail(w, "invalid param sourceAmount: too small")
		return
	}
	_, err := s.engine.Exchange(sim.Order{
		MerchantID: r.m.ID, OrderNo: r.p["merchantTradeNo"], Kind: kindExchange, UserID: r.p["userId"],
		Amount: gross, Paid: gross, Fee: fee, Credited: net, Currency: dst, Rate: rate,
		Fields: map[string]string{fieldMethod: orderExchange, "sourceCurrency": src, "sourceAmount": amount.String()},
	}, src, amount)
	if err != nil {
		s.failEngine(w, err)
		return
	}
	s.ok(w, map[string]any{"targetCurrency": dst, "targetAmount": net.String(), "exchangeRate": formatRate(rate), "fee": fee.String()})
}

func (s *Simulator) getOrderDetail(w http.ResponseWriter, r *request) {
	no, id, hash := r.p["merchantTradeNo"], r.p["cpayOrderId"], r.p["hash"]
	if no == "" && id == "" && hash == "" {
		s.fail(w, "invalid param: merchantTradeNo, cpayOrderId or hash is required")
		return
	}
	o := s.findOrder(r.m.ID, no, id, hash)
	if o == nil {
		s.fail(w, msgOrderNotFound)
		return
	}
	actual, received, fee := orderAmounts(o)
	s.ok(w, map[string]any{
		"orderId": o.ID, "status": StatusCode(o.Status), "merchantTradeNo": o.OrderNo, "merchantUserId": o.UserID,
		"hash": txHash(o), "actualAmount": actual, "receivedAmount": received, "pledgeAmount": "0", "fee": fee,
		"currency": o.Currency, "createTime": json.Number(millis(o.CreatedAt)), "merchantId": jsonID(o.MerchantID),
		"extInfo": o.Fields[fieldExtInfo], "network": o.Network, "remark": orderRemark(o),
	})
}

// findOrder finds the merchant's order matching every key given.
func (s *Simulator) findOrder(merchantID, no, id, hash string) *sim.Order {
	match := func(o *sim.Order) bool {
		return o.MerchantID == merchantID && (no == "" || o.OrderNo == no) && (id == "" || o.ID == id) && (hash == "" || txHash(o) == hash)
	}
	for _, ref := range []string{id, no} {
		if ref == "" {
			continue
		}
		if o, err := s.engine.FindOrder(merchantID, ref); err == nil && match(o) {
			return o
		}
	}
	for _, o := range s.engine.Orders() {
		if match(o) {
			return o
		}
	}
	return nil
}

// need answers "invalid param X" for the first missing parameter.
func (s *Simulator) need(w http.ResponseWriter, r *request, names ...string) bool {
	for _, n := range names {
		if r.p[n] == "" {
			s.fail(w, "invalid param "+n)
			return false
		}
	}
	return true
}

// createTime checks that createTime is a number (milliseconds).
func (s *Simulator) createTime(w http.ResponseWriter, r *request) bool {
	if n, err := strconv.ParseInt(r.p["createTime"], 10, 64); err != nil || n <= 0 {
		s.fail(w, "invalid param createTime")
		return false
	}
	return true
}

// amount reads a positive amount with at most places decimals.
func (s *Simulator) amount(w http.ResponseWriter, r *request, name string, places int32) (decimal.Decimal, bool) {
	d, err := providers.ParseAmount(r.p[name])
	if err != nil || !d.IsPositive() || providers.CheckDecimals(d, places) != nil {
		s.fail(w, "invalid param "+name)
		return decimal.Decimal{}, false
	}
	return d, true
}

func (s *Simulator) rateQuery(w http.ResponseWriter, r *request) (src, dst string, pt PurchaseType, amount decimal.Decimal, ok bool) {
	if !s.need(w, r, "sourceCurrency", "targetCurrency", "purchaseType", "amount") {
		return
	}
	switch r.p["purchaseType"] {
	case "0":
		pt = BySource
	case "1":
		pt = ByTarget
	default:
		s.fail(w, "invalid param purchaseType")
		return
	}
	if amount, ok = s.amount(w, r, "amount", AmountDecimals); !ok {
		return
	}
	return r.p["sourceCurrency"], r.p["targetCurrency"], pt, amount, true
}

// lookupRate reads "prefix:SRC:DST" (source units per target unit) from the
// merchant's options, or derives it from "prefix:DST:SRC".
func lookupRate(opts map[string]string, prefix, src, dst string) (decimal.Decimal, bool) {
	if src == dst {
		return decimal.NewFromInt(1), true
	}
	if v, err := decimal.NewFromString(opts[prefix+":"+src+":"+dst]); err == nil && v.IsPositive() {
		return v, true
	}
	if v, err := decimal.NewFromString(opts[prefix+":"+dst+":"+src]); err == nil && v.IsPositive() {
		return decimal.NewFromInt(1).DivRound(v, 12), true
	}
	return decimal.Decimal{}, false
}

// formatRate writes a rate as C-Pay does ("40000.000000"), keeping any finer
// decimals.
func formatRate(r decimal.Decimal) string {
	if r.Equal(r.Truncate(6)) {
		return r.StringFixed(6)
	}
	return r.String()
}

// callbackURL is the order's callback URL; the document spells it callbackURL
// for createOrder and withdraw and callBackURL for the others (and in
// createOrder's own example), so both are read.
func callbackURL(p params) string {
	return firstNonEmpty(p["callbackURL"], p["callBackURL"])
}

// signData signs a response's data members like a request (values as JSON
// text), for the card order's "sign".
func signData(data map[string]any, secret string) string {
	ps := make(map[string]string, len(data))
	for k, v := range data {
		switch t := v.(type) {
		case string:
			ps[k] = t
		case json.Number:
			ps[k] = t.String()
		}
	}
	return Sign(ps, secret)
}

// cashierURL is the hosted page of a deposit: {base}/payment?orderId=..&sign=..
func (s *Simulator) cashierURL(m sim.Merchant, orderID string) string {
	q := url.Values{"orderId": {orderID}, SignField: {cashierSign(m, orderID)}}
	return s.base + PathCashier + "?" + q.Encode()
}

func cashierSign(m sim.Merchant, orderID string) string {
	return Sign(map[string]string{"orderId": orderID}, m.Secret)
}

// walletNetworks lists, in the document's order, the currencies and networks
// a user gets an address for.
var walletNetworks = []struct{ currency, network string }{
	{"USDT", NetworkTRON}, {"TRX", NetworkTRON},
	{"USDT", NetworkBSC}, {"BNB", NetworkBSC},
	{"USDT", NetworkEthereum}, {"ETH", NetworkEthereum},
	{"BTC", NetworkBitcoin},
}

// walletAddresses are a user's deposit addresses: one per network, shared by
// the currencies of that network, the same on every call.
func walletAddresses(merchantID, userID string) []providers.WalletAddress {
	out := make([]providers.WalletAddress, 0, len(walletNetworks))
	for _, n := range walletNetworks {
		out = append(out, providers.WalletAddress{Currency: n.currency, Network: n.network, Address: addressFor(merchantID, userID, n.network)})
	}
	return out
}

// addressFor derives a user's address on a network from merchant, user and
// network, in the network's format.
func addressFor(merchantID, userID, network string) string {
	sum := sha512.Sum512([]byte("cpay-sim-address\x00" + merchantID + "\x00" + userID + "\x00" + network))
	const base58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	b58 := func(prefix string) string {
		b := []byte(prefix)
		for i := 0; i < 33; i++ {
			b = append(b, base58[int(sum[i])%len(base58)])
		}
		return string(b)
	}
	switch network {
	case NetworkTRON:
		return b58("T")
	case NetworkBitcoin:
		return b58("3")
	default:
		return "0x" + hex.EncodeToString(sum[:20])
	}
}

// defaultNetwork is the network a cashier order of currency is paid on.
func defaultNetwork(currency string) string {
	switch currency {
	case "BTC":
		return NetworkBitcoin
	case "ETH":
		return NetworkEthereum
	case "BNB":
		return NetworkBSC
	}
	return NetworkTRON
}
