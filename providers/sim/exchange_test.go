package sim_test

import (
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers/sim"
)

func TestExchangeMovesBalancesWithoutInjection(t *testing.T) {
	e := sim.New(sim.Options{Provider: "test", Protocol: exchangeProto{}, Seed: 1})
	t.Cleanup(e.Close)
	e.AddMerchant(sim.Merchant{ID: "m1", Balances: map[string]*sim.Balance{"USDT": {Available: decimal.RequireFromString("100")}}})
	o, err := e.Exchange(sim.Order{MerchantID: "m1", OrderNo: "X1", Kind: "exchange", Currency: "BTC", Credited: decimal.RequireFromString("0.0009")}, "USDT", decimal.RequireFromString("40"))
	if err != nil {
		t.Fatal(err)
	}
	if o.ID == "" || o.Status != "succeeded" {
		t.Fatalf("order = %+v", o)
	}
	b, _ := e.Balances("m1")
	if !b["USDT"].Available.Equal(decimal.RequireFromString("60")) || !b["BTC"].Available.Equal(decimal.RequireFromString("0.0009")) {
		t.Fatalf("balances = %+v %+v", b["USDT"], b["BTC"])
	}
	if _, err := e.Exchange(sim.Order{MerchantID: "m1", OrderNo: "X1", Currency: "BTC"}, "USDT", decimal.RequireFromString("1")); !errors.Is(err, sim.ErrDuplicateOrder) {
		t.Fatalf("duplicate: err = %v", err)
	}
	if _, err := e.Exchange(sim.Order{MerchantID: "m1", OrderNo: "X2", Currency: "BTC"}, "USDT", decimal.RequireFromString("61")); !errors.Is(err, sim.ErrInsufficientBalance) {
		t.Fatalf("short: err = %v", err)
	}
	if _, err := e.Exchange(sim.Order{MerchantID: "nobody", OrderNo: "X3"}, "USDT", decimal.RequireFromString("1")); !errors.Is(err, sim.ErrUnknownMerchant) {
		t.Fatalf("unknown merchant: err = %v", err)
	}
	if in := e.Injected(); len(in) != 0 {
		t.Fatalf("injected = %+v, want none", in)
	}
	if f, err := e.FindOrder("m1", "X1"); err != nil || f.ID != o.ID {
		t.Fatalf("find = %+v %v", f, err)
	}
}

type exchangeProto struct{}

func (exchangeProto) Callback(*sim.Merchant, *sim.Order, bool) (*sim.Outbound, error) {
	return nil, nil
}
func (exchangeProto) Schedule() []time.Duration { return nil }
func (exchangeProto) Ack() string               { return "ok" }
