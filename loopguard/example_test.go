package loopguard_test

import (
	"fmt"
	"time"

	"github.com/deskmail/deskmail/loopguard"
)

func ExampleGuard_Classify() {
	g := loopguard.New(loopguard.Options{})
	raw := []byte("From: Maria <maria@example.org>\r\n" +
		"Subject: Re: [#1234] Your invoice question\r\n" +
		"Auto-Submitted: auto-replied\r\n" +
		"\r\n" +
		"I'm on holiday until 2 December.\r\n")
	v := g.Classify(loopguard.Envelope{MailFrom: "maria@example.org"}, raw)
	fmt.Println(v.Class, v.Notify())
	fmt.Println(v.Reasons[0])
	// Output:
	// auto_reply false
	// Auto-Submitted: auto-replied (RFC 3834 §5)
}

func ExampleGuard_Marker() {
	g := loopguard.New(loopguard.Options{Secrets: [][]byte{[]byte("current"), []byte("previous")}})
	id := "dm.c1.m2@help.example.com"
	sent := fmt.Sprintf("From: support@example.com\r\nMessage-ID: <%s>\r\n%s: %s\r\n\r\nhello\r\n",
		id, loopguard.MarkerHeader, g.Marker(id))
	v := g.Classify(loopguard.Envelope{MailFrom: "someone@example.org"}, []byte(sent))
	fmt.Println(v.Class)
	// Output: looping
}

func ExampleGuard_CheckRate() {
	g := loopguard.New(loopguard.Options{RateLimit: 2, RateWindow: 10 * time.Minute})
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	human := loopguard.Verdict{Class: loopguard.Human}
	for i := 0; i < 3; i++ {
		v := g.CheckRate(human, "robot@example.org", "conversation-7", now)
		fmt.Println(v.Class)
	}
	// Output:
	// human
	// human
	// looping
}
