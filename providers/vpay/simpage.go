package vpay

import (
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"math/big"
	"net/http"
	"sort"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// payPage serves the hosted page paymentUrl points at: the amount to pay, the
// quote it settles, the chain addresses and the order's state.
func (s *Simulator) payPage(w http.ResponseWriter, r *http.Request) {
	pub := r.PathValue("publicKey")
	s.mu.Lock()
	id, ok := s.byPubKey[pub]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_ = payPageTmpl.Execute(w, nil)
		return
	}
	o, err := s.eng.FindOrder("", id)
	if err != nil {
		w.WriteHeader(http.StatusNotFound)
		_ = payPageTmpl.Execute(w, nil)
		return
	}
	addrs := addressesFor(o.Currency, o.MerchantID, o.ID)
	nets := make([]string, 0, len(addrs))
	for n := range addrs {
		nets = append(nets, n)
	}
	sort.Strings(nets)
	type addr struct{ Network, Address string }
	view := struct {
		OrderID, OrderNo, Amount, Currency, Quote, QuoteCurrency, Rate, Status, ReturnURL string
		Paid                                                                              bool
		Addresses                                                                         []addr
	}{
		OrderID: o.ID, OrderNo: o.OrderNo, Amount: o.Amount.String(), Currency: o.Currency,
		Quote: o.QuoteAmount.StringFixed(QuoteDecimals), QuoteCurrency: o.QuoteCurrency, Rate: o.Rate.String(),
		Status: wireStatus(o.Status), ReturnURL: o.ReturnURL, Paid: o.Status == providers.StatusSucceeded,
	}
	for _, n := range nets {
		view.Addresses = append(view.Addresses, addr{n, addrs[n]})
	}
	_ = payPageTmpl.Execute(w, view)
}

var payPageTmpl = template.Must(template.New("pay").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MinPay - fixed amount payment</title></head>
<body>
{{if .}}<main>
<h1>Pay <span id="amount">{{.Amount}}</span> <span id="currency">{{.Currency}}</span></h1>
<p>Order {{.OrderNo}} ({{.OrderID}}): {{.Quote}} {{.QuoteCurrency}} at {{.Rate}} {{.QuoteCurrency}}/{{.Currency}}</p>
<p>Status: <strong id="status">{{.Status}}</strong></p>
<p>Send exactly this amount to one of these addresses:</p>
<ul>{{range .Addresses}}<li>{{.Network}}: <code>{{.Address}}</code></li>{{end}}</ul>
{{if and .Paid .ReturnURL}}<p><a id="return" href="{{.ReturnURL}}">Back to the merchant</a></p>{{end}}
</main>{{else}}<main><h1>Order not found</h1></main>{{end}}
</body></html>
`))

// addressesFor returns the order's deposit addresses, derived from the
// merchant and order so that they are the same on every call: BSC (an EVM
// address) and TRON (a base58check T-address) for USDT, TRON only for TRX.
func addressesFor(currency, merchantID, orderID string) map[string]string {
	seed := sha256.Sum256([]byte("vpay-address\x00" + merchantID + "\x00" + orderID))
	tron := append([]byte{0x41}, seed[12:32]...)
	out := map[string]string{"TRON": base58Check(tron)}
	if currency != "TRX" {
		bsc := sha256.Sum256(append([]byte("bsc"), seed[:]...))
		out["BSC"] = "0x" + hex.EncodeToString(bsc[:20])
	}
	return out
}

// publicKey derives the order's public access key (the last segment of
// paymentUrl): 60 base58 characters, as in MinPay's example.
func publicKey(merchantID, orderID string) string {
	a := sha256.Sum256([]byte("vpay-public-key\x00" + merchantID + "\x00" + orderID))
	b := sha256.Sum256(a[:])
	s := base58(append(a[:], b[:]...))
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// merchantNumber is the numeric merchantId callbacks carry: the merchant
// option "merchant_id", or a 12-digit number derived from the key.
func merchantNumber(m *sim.Merchant) string {
	if v := m.Options["merchant_id"]; v != "" {
		return v
	}
	h := sha256.Sum256([]byte("vpay-merchant\x00" + m.ID))
	n := new(big.Int).SetBytes(h[:8])
	n.Mod(n, big.NewInt(900_000_000_000))
	return n.Add(n, big.NewInt(100_000_000_000)).String()
}

const b58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func base58(b []byte) string {
	n := new(big.Int).SetBytes(b)
	base, mod := big.NewInt(58), new(big.Int)
	var out []byte
	for n.Sign() > 0 {
		n.DivMod(n, base, mod)
		out = append(out, b58[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, b58[0])
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

func base58Check(payload []byte) string {
	h1 := sha256.Sum256(payload)
	h2 := sha256.Sum256(h1[:])
	return base58(append(append([]byte(nil), payload...), h2[:4]...))
}
