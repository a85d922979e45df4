package auth

import (
	"net/mail"
	"testing"
)

// DMARC's From domain is found whatever charset the display name is in.
func TestFromDomainWithEncodedDisplayName(t *testing.T) {
	for _, from := range []string{
		"=?GB2312?B?1cXOsA==?= <zhang@client.test>",
		"=?ISO-2022-JP?B?GyRCOzNFREJATzobKEI=?= <yamada@client.test>",
		"=?KOI8-R?B?6dfBzg==?= <ivan@client.test>",
	} {
		if got := domainOf(fromAddress(mail.Header{"From": {from}})); got != "client.test" {
			t.Errorf("domainOf(fromAddress(%q)) = %q, want client.test", from, got)
		}
	}
}
