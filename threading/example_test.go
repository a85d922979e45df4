package threading_test

import (
	"fmt"
	"strings"

	"github.com/deskmail/deskmail/threading"
)

func ExampleKeyring_ReplyAddress() {
	// In the daemon: threading.LoadOrCreateKeyring(dataDir).
	k, _ := threading.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	addr, _ := k.ReplyAddress("c42", "p7", "help.example.com")
	fmt.Println(addr)

	// An MTA that lowercases local parts does no harm.
	tok, err := k.ParseReplyAddress(strings.ToUpper(addr), []string{"help.example.com"})
	fmt.Println(tok.Conversation, tok.Recipient, err)
	// Output:
	// reply+aebwgnbsajydonjy2ltskldrensfi@help.example.com
	// c42 p7 <nil>
}

func ExampleStripText() {
	body := "Works now, thanks!\n\nSent from my iPhone\n\n" +
		"> On 23 Nov 2026, at 10:15, Helpdesk <reply+abc@help.example.com> wrote:\n" +
		"> Did you restart it?\n"
	fmt.Println(threading.StripText(body))
	// Output:
	// Works now, thanks!
}

func ExampleThreadSubject() {
	fmt.Println(threading.ThreadSubject("AW: Re: [#1234] Printer on fire", "1234"))
	fmt.Println(threading.ParseTag("Re: [#1234] Printer on fire"))
	// Output:
	// [#1234] Printer on fire
	// 1234 true
}
