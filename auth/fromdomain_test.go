package auth

import (
	"testing"

	"github.com/deskmail/deskmail/mailmsg"
)

// DMARC's From domain is found whatever charset the display name is in.
func TestFromDomainWithEncodedDisplayName(t *testing.T) {
	for _, from := range []string{
		"=?GB2312?B?1cXOsA==?= <zhang@client.test>",
		"=?ISO-2022-JP?B?GyRCOzNFREJATzobKEI=?= <yamada@client.test>",
		"=?KOI8-R?B?6dfBzg==?= <ivan@client.test>",
	} {
		msg := mailmsg.ParseHeader([]byte("From: "+from+"\r\n\r\n"), mailmsg.Limits{})
		if got := FromDomain(msg); got != "client.test" {
			t.Errorf("FromDomain(%q) = %q, want client.test", from, got)
		}
	}
}
