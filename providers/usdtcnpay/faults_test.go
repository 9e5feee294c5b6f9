package usdtcnpay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

func TestEndpoint5xx(t *testing.T) {
	e := newEnv(t)
	e.deposit("D-Q", "100") // warm the token
	eng := e.sim.Engine()
	cases := []struct {
		path string
		call func() error
		want error
	}{
		{PathCharge, func() error {
			_, err := e.ad.CreateDeposit(context.Background(), providers.DepositRequest{OrderNo: "D-5", Amount: dec("100"), Currency: "CNY"})
			return err
		}, providers.ErrAmbiguous},
		{PathWithdraw, func() error { _, err := e.ad.CreatePayout(context.Background(), bankPayout("W-5", "100")); return err }, providers.ErrAmbiguous},
		{PathGetCharge, func() error {
			_, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: "D-Q"})
			return err
		}, providers.ErrTransient},
		{PathGetWithdraw, func() error {
			_, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{Kind: providers.KindPayout, OrderNo: "W-5"})
			return err
		}, providers.ErrTransient},
	}
	for _, c := range cases {
		if err := eng.AddEndpointFault(sim.EndpointFault{Path: c.path, Mode: sim.ModeError5xx, Count: 1}); err != nil {
			t.Fatal(err)
		}
		err := c.call()
		if !errors.Is(err, c.want) {
			t.Errorf("%s with a 5xx: %v, want %v", c.path, err, c.want)
		}
		if c.want == providers.ErrTransient && errors.Is(err, providers.ErrAmbiguous) {
			t.Errorf("%s: a query is never ambiguous", c.path)
		}
	}
	// 5xx faults do not act: neither order exists.
	for _, no := range []string{"D-5", "W-5"} {
		if _, err := eng.FindOrder(testAccessKey, no); err == nil {
			t.Errorf("order %s created by a 5xx answer", no)
		}
	}
	// A 500 code inside a 200 envelope is read the same way.
	env500 := rewriter(PathCharge, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		writeEnvelope(w, http.StatusOK, CodeServer, "系统繁忙", nil)
		return true
	})
	e2 := newEnv(t, withWrap(env500))
	_, err := e2.ad.CreateDeposit(context.Background(), providers.DepositRequest{OrderNo: "D-6", Amount: dec("100"), Currency: "CNY"})
	if pe := providerError(t, err); !errors.Is(err, providers.ErrAmbiguous) || pe.Code != "500" {
		t.Errorf("code 500 on a create: %v, want ErrAmbiguous", err)
	}
}

// The platform creates the order but the answer never comes: ambiguous; the
// query then finds the order, and creating it again is refused as a duplicate.
func TestCreateTimeoutThenQueryFindsOrder(t *testing.T) {
	e := newEnv(t, withClientTimeout(300*time.Millisecond))
	for _, f := range []sim.EndpointFault{{Path: PathCharge, Mode: sim.ModeTimeout, Count: 1}, {Path: PathWithdraw, Mode: sim.ModeTimeout, Count: 1}} {
		if err := e.sim.Engine().AddEndpointFault(f); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.ad.CreateDeposit(context.Background(), providers.DepositRequest{OrderNo: "D-TO", Amount: dec("500"), Currency: "CNY"})
	if !errors.Is(err, providers.ErrAmbiguous) {
		t.Fatalf("deposit timeout: %v, want ErrAmbiguous", err)
	}
	_, err = e.ad.CreatePayout(context.Background(), bankPayout("W-TO", "500"))
	if !errors.Is(err, providers.ErrAmbiguous) {
		t.Fatalf("payout timeout: %v, want ErrAmbiguous", err)
	}
	if ev := e.query(providers.KindDeposit, "D-TO"); ev.Status != providers.StatusPending || !ev.Requested.Decimal.Equal(dec("500")) {
		t.Errorf("deposit after timeout %+v", ev)
	}
	if ev := e.query(providers.KindPayout, "W-TO"); ev.Status != providers.StatusPending || ev.ProviderOrderID == "" {
		t.Errorf("payout after timeout %+v", ev)
	}
	_, err = e.ad.CreateDeposit(context.Background(), providers.DepositRequest{OrderNo: "D-TO", Amount: dec("500"), Currency: "CNY"})
	if pe := providerError(t, err); !errors.Is(err, providers.ErrRejected) || pe.Code != "2002" {
		t.Errorf("create again: %v, want duplicate", err)
	}
	// A query that hangs is transient, not ambiguous.
	if err := e.sim.Engine().AddEndpointFault(sim.EndpointFault{Path: PathGetCharge, Mode: sim.ModeHang, Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = e.ad.QueryOrder(context.Background(), providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: "D-TO"})
	if !errors.Is(err, providers.ErrTransient) || errors.Is(err, providers.ErrAmbiguous) {
		t.Errorf("hanging query: %v, want ErrTransient", err)
	}
}

// getcharge/getwithdraw as the document shows them, without the envelope, and
// with the code as a string: the adapter reads both the same.
func TestQueryAnswerShapes(t *testing.T) {
	bare := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		status, body := recordAnswer(next, r)
		var env Envelope
		if err := json.Unmarshal(body, &env); err != nil || string(env.Code) != "0" {
			w.WriteHeader(status)
			_, _ = w.Write(body)
			return true
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(env.Data)
		return true
	}
	stringCode := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		_, body := recordAnswer(next, r)
		var env Envelope
		_ = json.Unmarshal(body, &env)
		_ = json.NewEncoder(w).Encode(map[string]any{"msg": env.Msg, "code": string(env.Code), "data": env.Data})
		return true
	}
	for name, rw := range map[string]func(http.ResponseWriter, *http.Request, http.Handler) bool{"bare": bare, "string code": stringCode} {
		t.Run(name, func(t *testing.T) {
			wrap := func(next http.Handler) http.Handler {
				return rewriter(PathGetCharge, rw)(rewriter(PathGetWithdraw, rw)(next))
			}
			e := newEnv(t, withWrap(wrap))
			e.deposit("D-S", "800")
			e.mustControl("POST", "/orders/D-S/pay", "")
			ev := e.query(providers.KindDeposit, "D-S")
			if ev.Status != providers.StatusSucceeded || ev.ProviderStatus != "已确认" || ev.ProviderOrderID == "" || !ev.Paid.Decimal.Equal(dec("800")) {
				t.Errorf("charge %+v", ev)
			}
			e.payout("W-S", "800")
			e.mustControl("POST", "/orders/W-S/settle-part", `{"amount":"100"}`)
			ev = e.query(providers.KindPayout, "W-S")
			if ev.Status != providers.StatusProcessing || len(ev.Parts) != 1 || !ev.Paid.Decimal.Equal(dec("100")) {
				t.Errorf("withdrawal %+v", ev)
			}
			if _, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{Kind: providers.KindPayout, OrderNo: "NOPE"}); !errors.Is(err, providers.ErrNotFound) {
				t.Errorf("unknown: %v", err)
			}
		})
	}
}

// The document's four fields only, no extension: amounts stay unstated.
func TestQueryWithoutExtensions(t *testing.T) {
	minimal := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		_, body := recordAnswer(next, r)
		var env struct {
			Data OrderData `json:"data"`
		}
		_ = json.Unmarshal(body, &env)
		d := env.Data
		_, _ = w.Write([]byte(`{"orderNo":"` + string(d.OrderNo) + `","chargeNo":` + string(d.ChargeNo) + `,"createTime":"` + string(d.CreateTime) + `","zt":"` + string(d.ZT) + `"}`))
		return true
	}
	e := newEnv(t, withWrap(rewriter(PathGetWithdraw, minimal)))
	e.payout("W-M", "800")
	e.mustControl("POST", "/orders/W-M/settle-part", `{"amount":"300"}`)
	ev := e.query(providers.KindPayout, "W-M")
	if ev.Status != providers.StatusProcessing || ev.ProviderStatus != "进行中" || ev.ProviderOrderID == "" {
		t.Errorf("minimal answer %+v", ev)
	}
	if ev.Requested.Valid || ev.Paid.Valid || ev.Fee.Valid || ev.Credited.Valid || ev.Parts != nil {
		t.Errorf("unstated amounts must stay invalid: %+v", ev)
	}
}

// Answers the adapter cannot trust.
func TestOddAnswers(t *testing.T) {
	cases := []struct {
		name   string
		path   string
		status int
		body   string
		create bool
		want   error
	}{
		{"html on create", PathCharge, 200, "<html>gateway</html>", true, providers.ErrAmbiguous},
		{"html on query", PathGetCharge, 200, "<html>gateway</html>", false, providers.ErrTransient},
		{"code 0 without data", PathGetCharge, 200, `{"msg":"操作成功","code":0,"data":null}`, false, providers.ErrNotFound},
		{"code 0 without data on create", PathCharge, 200, `{"msg":"操作成功","code":0}`, true, nil},
		{"another order", PathGetCharge, 200, `{"msg":"操作成功","code":0,"data":{"orderNo":"OTHER","zt":"已确认"}}`, false, providers.ErrTransient},
		{"another order on create", PathCharge, 200, `{"msg":"操作成功","code":0,"data":{"orderNo":"OTHER","zt":"待提交"}}`, true, providers.ErrAmbiguous},
		{"unknown zt", PathGetCharge, 200, `{"msg":"操作成功","code":0,"data":{"orderNo":"D-1","zt":"已退款"}}`, false, providers.ErrTransient},
		{"malformed amount", PathGetCharge, 200, `{"msg":"操作成功","code":0,"data":{"orderNo":"D-1","zt":"已确认","actualAmount":"8e2"}}`, false, providers.ErrTransient},
		{"unknown code", PathCharge, 200, `{"msg":"商户已冻结","code":3001}`, true, providers.ErrRejected},
		{"forbidden", PathGetCharge, 403, `Forbidden`, false, providers.ErrRejected},
		{"404", PathGetCharge, 404, `Not Found`, false, providers.ErrInvalidRequest},
		{"bad param", PathCharge, 200, `{"msg":"请求参数错误","code":400}`, true, providers.ErrInvalidRequest},
		{"amount", PathCharge, 200, `{"msg":"金额必须为100的整数倍","code":2001}`, true, providers.ErrInvalidRequest},
		{"redirect", PathGetCharge, 304, ``, false, providers.ErrTransient},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := rewriter(c.path, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
				return true
			})
			e := newEnv(t, withWrap(fake))
			var err error
			if c.create {
				var res *providers.CreateResult
				res, err = e.ad.CreateDeposit(context.Background(), providers.DepositRequest{OrderNo: "D-1", Amount: dec("100"), Currency: "CNY"})
				if c.want == nil && (err != nil || res.Status != providers.StatusPending || res.ProviderOrderID != "") {
					t.Fatalf("create %+v, %v", res, err)
				}
			} else {
				_, err = e.ad.QueryOrder(context.Background(), providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: "D-1"})
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("%v, want %v", err, c.want)
			}
			if c.want == providers.ErrTransient && errors.Is(err, providers.ErrAmbiguous) {
				t.Fatalf("%v: a query is never ambiguous", err)
			}
		})
	}
}
