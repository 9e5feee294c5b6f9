package usdtcnpay

import (
	"time"

	"github.com/tallyhq/tally/egress"
)

// testClient reaches the test servers on 127.0.0.1, which an adapter built
// without a client may not: its default client is under the default egress
// policy (public addresses only).
var testClient = egress.New(egress.MustAllowList("127.0.0.0/8")).Client(30 * time.Second)
