//go:build !race

package report_test

// largeFindings is the size of the large-summary test (see race_test.go).
const largeFindings = 100_000
