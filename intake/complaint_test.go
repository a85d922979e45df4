package intake

import (
	"testing"

	"github.com/deskmail/deskmail/auth"
	"github.com/deskmail/deskmail/queue"
)

// TestComplaintTrust: which abuse reports may suppress (issue 21, item 9).
func TestComplaintTrust(t *testing.T) {
	c := &Complaints{FeedbackLoops: []string{"fbl.provider.test", "jmrp@other.test"}}
	j := queue.Job{ID: "j1", To: "ann@mail.client.test"}
	spf := func(from string) auth.Result {
		return auth.Result{From: from, FromDomain: domainOf(from), SPF: "pass", SPFDomain: domainOf(from), DMARC: "pass", Aligned: true}
	}
	dkim := func(from, d string) auth.Result {
		return auth.Result{From: from, FromDomain: domainOf(from), SPF: "none", DKIM: []auth.DKIM{{Domain: d, Result: "pass"}}, DMARC: "none", Aligned: true}
	}
	cases := []struct {
		name string
		src  complaintSource
		act  bool
	}{
		{"not checked", complaintSource{}, false},
		{"configured domain, authenticated", complaintSource{auth: spf("reports@fbl.provider.test"), checked: true}, true},
		{"subdomain of a configured domain", complaintSource{auth: spf("r@eu.fbl.provider.test"), checked: true}, true},
		{"configured address", complaintSource{auth: spf("jmrp@other.test"), checked: true}, true},
		{"another address of a configured address's domain", complaintSource{auth: spf("eve@other.test"), checked: true}, false},
		{"configured domain, not authenticated", complaintSource{auth: auth.Result{From: "reports@fbl.provider.test", FromDomain: "fbl.provider.test", SPF: "none", DMARC: "none"}, checked: true}, false},
		{"a look-alike domain", complaintSource{auth: spf("reports@evilfbl.provider.test.evil"), checked: true}, false},
		{"DKIM of the recipient's provider", complaintSource{auth: dkim("abuse@client.test", "client.test"), checked: true}, true},
		{"DKIM of another organization", complaintSource{auth: dkim("abuse@evil.test", "evil.test"), checked: true}, false},
		{"DKIM not aligned with From", complaintSource{auth: dkim("abuse@client.test", "evil.test"), checked: true}, false},
		{"SPF alone from the recipient's provider", complaintSource{auth: spf("abuse@client.test"), checked: true}, false},
	}
	for _, tc := range cases {
		got := c.trust(tc.src, j)
		if got.Act != tc.act || got.Why == "" {
			t.Errorf("%s: act %v (%s), want %v", tc.name, got.Act, got.Why, tc.act)
		}
	}
	var none *Complaints
	if got := none.trust(complaintSource{auth: spf("reports@fbl.provider.test"), checked: true}, j); got.Act {
		t.Error("no policy configured, yet a complaint acts")
	}
}

// TestComplaintTemporary: a configured loop's report whose checks hit a
// temporary DNS failure is tried again; anyone else's is not.
func TestComplaintTemporary(t *testing.T) {
	c := &Complaints{FeedbackLoops: []string{"fbl.provider.test"}}
	temp := func(from string) complaintSource {
		return complaintSource{auth: auth.Result{From: from, FromDomain: domainOf(from), SPF: "temperror", DMARC: "none"}, checked: true}
	}
	if c.temporary(temp("reports@fbl.provider.test")) == nil {
		t.Error("a loop's report with a DNS temperror is not retried")
	}
	if err := c.temporary(temp("abuse@isp.test")); err != nil {
		t.Errorf("another's report is retried: %v", err)
	}
	var none *Complaints
	if err := none.temporary(temp("reports@fbl.provider.test")); err != nil {
		t.Errorf("no policy: %v", err)
	}
}
