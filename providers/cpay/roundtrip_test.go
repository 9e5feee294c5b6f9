package cpay

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

func TestRoundTripCashierDeposit(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	res, err := h.a.CreateDeposit(ctx, providers.DepositRequest{
		OrderNo: "D1", Amount: dec("100.5"), Currency: "USDT", CustomerID: "u1",
		ReturnURL: "https://shop.example/ok", FailURL: "https://shop.example/ko",
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ProviderOrderID == "" || res.Status != providers.StatusPending || !sameNull(res.Amount, nd("100.5")) || res.Fee.Valid {
		t.Fatalf("create result = %+v", res)
	}
	if !strings.HasPrefix(res.CashierURL, h.base+PathCashier+"?") {
		t.Fatalf("cashier URL %q is not under the simulator", res.CashierURL)
	}

	// The hosted page shows the order and the user's TRON address.
	addrs, err := h.a.WalletAddresses(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	page := get(t, res.CashierURL)
	if !strings.Contains(page, "100.5 USDT") || !strings.Contains(page, addrs[0].Address) || !strings.Contains(page, `id="pay"`) {
		t.Fatalf("cashier page:\n%s", page)
	}
	if forged := get(t, strings.Replace(res.CashierURL, "sign=", "sign=00", 1)); !strings.Contains(forged, msgBadSign) {
		t.Fatalf("cashier page with a bad sign:\n%s", forged)
	}

	ev, err := h.a.QueryOrder(ctx, providers.OrderQuery{OrderNo: "D1", Kind: providers.KindDeposit})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != providers.StatusPending || ev.ProviderStatus != "0" || ev.ProviderOrderID != res.ProviderOrderID || ev.Kind != providers.KindDeposit || !ev.Verified {
		t.Fatalf("pending order = %+v", ev)
	}
	checkAmounts(t, "pending", ev, "0", "0", "0")

	// The payer presses the page's button.
	u, _ := url.Parse(res.CashierURL)
	resp, err := http.PostForm(h.base+PathCashier, u.Query())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "14 succeeded") || !strings.Contains(string(b), "https://shop.example/ok") {
		t.Fatalf("page after paying:\n%s", b)
	}

	got := h.waitEvents(1)[0]
	if got.OrderNo != "D1" || got.ProviderOrderID != res.ProviderOrderID || got.Status != providers.StatusSucceeded ||
		got.Currency != "USDT" || got.UserID != "u1" || got.Network != NetworkTRON || len(got.TxHash) != 64 {
		t.Fatalf("callback = %+v", got)
	}
	// 1% fee: 100.5 paid, 1.005 fee, 99.495 credited.
	checkAmounts(t, "callback", got, "100.5", "99.495", "1.005")

	for _, q := range []providers.OrderQuery{{OrderNo: "D1"}, {ProviderOrderID: res.ProviderOrderID}, {TxHash: got.TxHash}, {OrderNo: "D1", TxHash: got.TxHash}} {
		ev, err := h.a.QueryOrder(ctx, q)
		if err != nil {
			t.Fatalf("query %+v: %v", q, err)
		}
		if ev.OrderNo != "D1" || ev.Status != providers.StatusSucceeded || ev.TxHash != got.TxHash || ev.Requested.Valid {
			t.Fatalf("query %+v = %+v", q, ev)
		}
		checkAmounts(t, "query", ev, "100.5", "99.495", "1.005")
	}
	checkBalance(t, h.balance("USDT"), "1099.495", "0")
}

func TestRoundTripCardDeposit(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	res, err := h.a.CreateDeposit(ctx, providers.DepositRequest{
		OrderNo: "C1", Amount: dec("25.5"), Currency: "USD", CustomerID: "u1", Method: MethodCreditCard,
		Payer: providers.Party{Email: "payer@example.com", Country: "US"}, Extra: map[string]string{ExtraIP: "203.0.113.7", ExtraLanguage: "en-US"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ProviderOrderID == "" || res.Status != providers.StatusPending || !sameNull(res.Amount, nd("25.5")) || !sameNull(res.Fee, nd("0")) ||
		!strings.HasPrefix(res.CashierURL, h.base+PathCashier) {
		t.Fatalf("create result = %+v", res)
	}
	if page := get(t, res.CashierURL); !strings.Contains(page, "Pay by card") || !strings.Contains(page, "25.5 USD") {
		t.Fatalf("card page:\n%s", page)
	}
	var o sim.Order
	h.control(http.MethodPost, "/orders/C1/pay", nil, &o)
	ev := h.waitEvents(1)[0]
	if ev.OrderNo != "C1" || ev.Status != providers.StatusSucceeded || ev.Currency != "USD" || ev.TxHash != "" {
		t.Fatalf("callback = %+v", ev)
	}
	checkAmounts(t, "card callback", ev, "25.5", "25.245", "0.255")
	checkBalance(t, h.balance("USD"), "25.245", "0")

	// The answer's sign is checked: a simulator with another secret for the
	// same merchant signs differently.
	other := h.adapterWith(testMerchant, "wrong-secret", nil)
	if _, err := other.CreateDeposit(ctx, providers.DepositRequest{OrderNo: "C2", Amount: dec("1"), Currency: "USD", CustomerID: "u1", Method: MethodCreditCard,
		Payer: providers.Party{Email: "p@example.com", Country: "US"}, Extra: map[string]string{ExtraIP: "203.0.113.7"}}); !errors.Is(err, providers.ErrRejected) {
		t.Fatalf("wrongly signed request: %v", err)
	}
}

func TestCardResponseSignatureChecked(t *testing.T) {
	// A C-Pay whose card answer is tampered with in transit.
	srv := newTamperingServer(t)
	a := testAdapter(t, srv.URL)
	_, err := a.CreateDeposit(context.Background(), providers.DepositRequest{OrderNo: "C9", Amount: dec("10"), Currency: "EUR", CustomerID: "u1", Method: MethodCreditCard,
		Payer: providers.Party{Email: "p@example.com", Country: "DE"}, Extra: map[string]string{ExtraIP: "203.0.113.7"}})
	if !errors.Is(err, providers.ErrBadSignature) {
		t.Fatalf("tampered card answer: err = %v, want a bad signature", err)
	}
}

func TestRoundTripWalletAndOrderlessDeposit(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	a1, err := h.a.WalletAddresses(ctx, "83430099")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := h.a.WalletAddresses(ctx, "83430099")
	other, _ := h.a.WalletAddresses(ctx, "55")
	if len(a1) != 7 || !slices.Equal(a1, again) || slices.Equal(a1, other) {
		t.Fatalf("addresses = %+v / %+v / %+v", a1, again, other)
	}
	byNet := map[string]string{}
	for _, w := range a1 {
		if prev, ok := byNet[w.Network]; ok && prev != w.Address {
			t.Fatalf("two addresses on %s", w.Network)
		}
		byNet[w.Network] = w.Address
	}
	if !strings.HasPrefix(byNet[NetworkTRON], "T") || len(byNet[NetworkTRON]) != 34 || !strings.HasPrefix(byNet[NetworkBSC], "0x") ||
		len(byNet[NetworkBSC]) != 42 || byNet[NetworkBSC] == byNet[NetworkEthereum] || !strings.HasPrefix(byNet[NetworkBitcoin], "3") {
		t.Fatalf("address formats: %+v", byNet)
	}

	res, err := h.a.CreateDeposit(ctx, providers.DepositRequest{Method: MethodWallet, CustomerID: "83430099", Currency: "USDT"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ProviderOrderID != "" || res.Status != providers.StatusPending || len(res.Addresses) != 3 {
		t.Fatalf("wallet deposit = %+v", res)
	}

	// The user sends 25.5 USDT on BSC straight to the address: no order.
	const hash = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"
	var o sim.Order
	h.control(http.MethodPost, "/deposits", map[string]any{"merchant_id": testMerchant, "user_id": "83430099", "currency": "USDT",
		"network": NetworkBSC, "address": byNet[NetworkBSC], "amount": "25.5", "tx_hash": hash}, &o)
	ev := h.waitEvents(1)[0]
	if ev.OrderNo != "" || ev.UserID != "83430099" || ev.TxHash != hash || ev.Kind != providers.KindDeposit || ev.Status != providers.StatusSucceeded ||
		ev.Network != NetworkBSC || ev.ProviderOrderID != o.ID {
		t.Fatalf("orderless callback = %+v", ev)
	}
	checkAmounts(t, "orderless", ev, "25.5", "25.245", "0.255")
	q, err := h.a.QueryOrder(ctx, providers.OrderQuery{TxHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	if q.OrderNo != "" || q.UserID != "83430099" || q.Kind != providers.KindDeposit || q.ProviderOrderID != o.ID {
		t.Fatalf("query by hash = %+v", q)
	}
	checkAmounts(t, "orderless query", q, "25.5", "25.245", "0.255")
	checkBalance(t, h.balance("USDT"), "1025.245", "0")

	// Without a hash the simulator makes one up, and finds the deposit by it.
	h.control(http.MethodPost, "/deposits", map[string]any{"merchant_id": testMerchant, "user_id": "55", "currency": "BTC", "network": NetworkBitcoin, "amount": "0.001"}, nil)
	ev = h.waitEvents(2)[1]
	if ev.UserID != "55" || len(ev.TxHash) != 64 {
		t.Fatalf("second orderless callback = %+v", ev)
	}
	if q, err := h.a.QueryOrder(ctx, providers.OrderQuery{TxHash: ev.TxHash}); err != nil || q.ProviderOrderID != ev.ProviderOrderID {
		t.Fatalf("query by made-up hash = %+v, %v", q, err)
	}
}

func TestRoundTripCryptoPayout(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	res, err := h.a.CreatePayout(ctx, providers.PayoutRequest{
		OrderNo: "W1", Amount: dec("50.12345678"), Currency: "USDT", CustomerID: "u1",
		Beneficiary: providers.Party{Network: NetworkTRON, Account: "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"},
		Extra:       map[string]string{ExtraTotalAmount: "51"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Fee 0.5% + 1, truncated to 8 decimals: 0.25061728 + 1.
	if res.ProviderOrderID == "" || res.Status != providers.StatusProcessing || !sameNull(res.Amount, nd("50.12345678")) || !sameNull(res.Fee, nd("1.25061728")) {
		t.Fatalf("create result = %+v", res)
	}
	if !strings.Contains(string(res.Raw), `"orderAmount":"51"`) {
		t.Fatalf("withdraw answer %s does not echo totalAmount", res.Raw)
	}
	checkBalance(t, h.balance("USDT"), "948.62592594", "51.37407406")
	h.control(http.MethodPost, "/orders/W1/settle", nil, nil)
	ev := h.waitEvents(1)[0]
	if ev.OrderNo != "W1" || ev.Status != providers.StatusSucceeded || len(ev.TxHash) != 64 || ev.Network != NetworkTRON {
		t.Fatalf("callback = %+v", ev)
	}
	checkAmounts(t, "payout callback", ev, "50.12345678", "51.37407406", "1.25061728")
	checkBalance(t, h.balance("USDT"), "948.62592594", "0")
	q, err := h.a.QueryOrder(ctx, providers.OrderQuery{OrderNo: "W1", Kind: providers.KindPayout})
	if err != nil || q.Kind != providers.KindPayout || q.Status != providers.StatusSucceeded {
		t.Fatalf("query = %+v, %v", q, err)
	}
}

func TestRoundTripFiatPayout(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	res, err := h.a.CreatePayout(ctx, providers.PayoutRequest{
		OrderNo: "F1", Amount: dec("5"), Currency: "BRL", CustomerID: "1001",
		Beneficiary: providers.Party{AccountType: "1", Account: "48643300000"},
		Extra:       map[string]string{ExtraRemark: "remark"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != providers.StatusProcessing || !sameNull(res.Amount, nd("5")) || !sameNull(res.Fee, nd("1.025")) ||
		!strings.Contains(string(res.Raw), `"orderAmount":"6.025"`) {
		t.Fatalf("create result = %+v %s", res, res.Raw)
	}
	checkBalance(t, h.balance("BRL"), "493.975", "6.025")
	h.control(http.MethodPost, "/orders/F1/fail", map[string]string{"reason": "invalid pix key"}, nil)
	ev := h.waitEvents(1)[0]
	if ev.Status != providers.StatusFailed || ev.ProviderStatus != "15" || ev.Remark != "invalid pix key" || ev.Currency != "BRL" {
		t.Fatalf("callback = %+v", ev)
	}
	checkAmounts(t, "failed payout", ev, "0", "0", "0")
	checkBalance(t, h.balance("BRL"), "500", "0")

	// A bank-card payout, and the doubled path the document prints.
	if _, err := h.a.CreatePayout(ctx, providers.PayoutRequest{OrderNo: "F2", Amount: dec("7.5"), Currency: "BRL", CustomerID: "1001", Method: MethodBankCard,
		Beneficiary: providers.Party{AccountType: "1", Account: "0001-123456", BankCode: "341", Country: "BRA"}}); err != nil {
		t.Fatal(err)
	}
	status, env := h.raw(http.MethodPost, PathCreateFiatPayoutOrderAsDocumented, map[string]string{
		"merchantId": testMerchant, "merchantTradeNo": "F3", "createTime": "1663674686509", "userId": "1001", "currency": "BRL",
		"payoutChannel": "1", "amount": "5", "country": "BRA", "accountType": "2", "toAccount": "a@example.com", "extInfo": "",
	}, testSecret)
	if status != http.StatusOK || env["code"].(interface{ String() string }).String() != "0" {
		t.Fatalf("doubled path: %d %v", status, env)
	}
	if q, err := h.a.QueryOrder(ctx, providers.OrderQuery{OrderNo: "F3"}); err != nil || q.Status != providers.StatusProcessing {
		t.Fatalf("order made through the doubled path: %+v %v", q, err)
	}
}

func TestRoundTripRatesAndExchange(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	r, err := h.a.ExchangeRate(ctx, RateQuery{Source: "USDT", Target: "BTC", PurchaseType: BySource, Amount: dec("100")})
	if err != nil || !r.Rate.Equal(dec("40000")) || r.AmountExchanged.Valid || !strings.Contains(string(r.Raw), `"40000.000000"`) {
		t.Fatalf("USDT->BTC = %+v, %v", r, err)
	}
	r, err = h.a.ExchangeRate(ctx, RateQuery{Source: "BTC", Target: "USDT", PurchaseType: ByTarget, Amount: dec("1")})
	if err != nil || !r.Rate.Equal(dec("0.000025")) {
		t.Fatalf("BTC->USDT = %+v, %v", r, err)
	}
	if _, err := h.a.ExchangeRate(ctx, RateQuery{Source: "USDT", Target: "XRP", Amount: dec("1")}); !errors.Is(err, providers.ErrRejected) {
		t.Fatalf("pair without a rate: %v", err)
	}
	r, err = h.a.ExchangeRateForCreditCard(ctx, RateQuery{Source: "USD", Target: "ETH", PurchaseType: BySource, Amount: dec("100")})
	if err != nil || !r.Rate.Equal(dec("2999.342")) || !sameNull(r.AmountExchanged, nd("0.03334064")) {
		t.Fatalf("card quote by source = %+v, %v", r, err)
	}
	r, err = h.a.ExchangeRateForCreditCard(ctx, RateQuery{Source: "USD", Target: "ETH", PurchaseType: ByTarget, Amount: dec("1")})
	if err != nil || !sameNull(r.AmountExchanged, nd("2999.35")) {
		t.Fatalf("card quote by target = %+v, %v", r, err)
	}
	if _, err := h.a.ExchangeRateForCreditCard(ctx, RateQuery{Source: "EUR", Target: "ETH", Amount: dec("1")}); !errors.Is(err, providers.ErrRejected) {
		t.Fatalf("card pair without a rate: %v", err)
	}

	// 400 USDT at 40000 = 0.01 BTC, 0.3% fee = 0.00003 BTC.
	x, err := h.a.Exchange(ctx, ExchangeRequest{OrderNo: "X1", UserID: "u1", Source: "USDT", SourceAmount: dec("400"), Target: "BTC"})
	if err != nil {
		t.Fatal(err)
	}
	if x.TargetCurrency != "BTC" || !x.TargetAmount.Equal(dec("0.00997")) || !x.Rate.Equal(dec("40000")) || !sameNull(x.Fee, nd("0.00003")) {
		t.Fatalf("exchange = %+v", x)
	}
	checkBalance(t, h.balance("USDT"), "600", "0")
	checkBalance(t, h.balance("BTC"), "0.00997", "0")
	if q, err := h.a.QueryOrder(ctx, providers.OrderQuery{OrderNo: "X1"}); err != nil || q.Status != providers.StatusSucceeded || q.Currency != "BTC" {
		t.Fatalf("exchange order = %+v, %v", q, err)
	}
	var pe *providers.Error
	if _, err := h.a.Exchange(ctx, ExchangeRequest{OrderNo: "X1", UserID: "u1", Source: "USDT", SourceAmount: dec("1"), Target: "BTC"}); !errors.As(err, &pe) ||
		pe.Kind != providers.ErrRejected || pe.Code != "1" || pe.Message != msgDuplicate {
		t.Fatalf("duplicate exchange: %v", err)
	}
	if _, err := h.a.Exchange(ctx, ExchangeRequest{OrderNo: "X2", UserID: "u1", Source: "USDT", SourceAmount: dec("600.00000001"), Target: "BTC"}); !errors.As(err, &pe) ||
		pe.Kind != providers.ErrRejected || pe.Message != msgInsufficient {
		t.Fatalf("exchange over balance: %v", err)
	}
	checkBalance(t, h.balance("USDT"), "600", "0")
}

func TestRoundTripBalancesListEveryCurrency(t *testing.T) {
	h := newHarness(t)
	bs, err := h.a.QueryBalances(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var curs []string
	for _, b := range bs {
		curs = append(curs, b.Currency)
	}
	if want := []string{"BNB", "BRL", "BTC", "ETH", "EUR", "TRX", "USD", "USDT"}; !slices.Equal(curs, want) {
		t.Fatalf("currencies = %v, want %v", curs, want)
	}
	checkBalance(t, bs[1], "500", "0")
	checkBalance(t, bs[7], "1000", "0")
	checkBalance(t, bs[0], "0", "0")
}

func TestQueryOrderNotFound(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.deposit("D1", "1")
	for _, q := range []providers.OrderQuery{{OrderNo: "nope"}, {ProviderOrderID: "123"}, {TxHash: "abc"}, {OrderNo: "D1", TxHash: "abc"}} {
		var pe *providers.Error
		if _, err := h.a.QueryOrder(ctx, q); !errors.Is(err, providers.ErrNotFound) || !errors.As(err, &pe) || pe.Message != msgOrderNotFound {
			t.Fatalf("query %+v: %v, want not found", q, err)
		}
	}
	if _, err := h.a.QueryOrder(ctx, providers.OrderQuery{}); !errors.Is(err, providers.ErrInvalidRequest) {
		t.Fatalf("empty query: %v", err)
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
