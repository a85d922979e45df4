package console

import (
	"net/url"

	"github.com/deskmail/deskmail/version"
)

func urlQuery(s string) string { return url.QueryEscape(s) }

// buildVersion is the build's version as /readyz and the ready line say it.
var buildVersion = version.Get().Short()
